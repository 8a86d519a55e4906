/* metrics.h - the daemon's own counters, beside each pool's (txs_pool_stats_t): bytes
 * in and out, client connections, and error replies by SQLSTATE. Pure counting; the
 * admin listener exposes them. */
#ifndef TXS_DAEMON_METRICS_H
#define TXS_DAEMON_METRICS_H

#include <stdint.h>

/* Distinct SQLSTATEs counted; a code beyond them counts under "other" (the protocol's
 * own codes are a dozen, and a database's errors in practice a few dozen). */
#define TXS_METRICS_MAX_CODES 128

typedef struct txs_error_count {
    char code[6]; /* five characters and a NUL */
    uint64_t n;
} txs_error_count_t;

typedef struct txs_metrics {
    uint64_t bytes_in;         /* read from client sockets */
    uint64_t bytes_out;        /* written to client sockets */
    uint64_t clients_accepted; /* connections accepted (refused by max_clients included) */
    uint64_t errors_total;     /* error replies, the sum of errors[] and errors_other */
    txs_error_count_t errors[TXS_METRICS_MAX_CODES]; /* first nerrors used, in order seen */
    int nerrors;
    uint64_t errors_other; /* codes past TXS_METRICS_MAX_CODES */
} txs_metrics_t;

/* An error reply with this SQLSTATE was written (a NULL or malformed code counts under
 * "XX000", internal error). */
void txs_metrics_count_error(txs_metrics_t *m, const char *code);

#endif
