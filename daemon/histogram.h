/* histogram.h - a fixed-bucket latency histogram, as Prometheus exposes one: counts per
 * upper bound, their total and the sum. Observing is a few compares, no allocation. */
#ifndef TXS_DAEMON_HISTOGRAM_H
#define TXS_DAEMON_HISTOGRAM_H

#include <stdint.h>

/* Upper bounds in microseconds, from 100 µs to 10 s; one more bucket (+Inf) holds the
 * rest. Loopback queries take ~0.1 ms, a pool wait up to pool_timeout. */
#define TXS_HISTOGRAM_NBOUNDS 16
extern const uint64_t txs_histogram_bounds_us[TXS_HISTOGRAM_NBOUNDS];

typedef struct txs_histogram {
    uint64_t counts[TXS_HISTOGRAM_NBOUNDS + 1]; /* per bucket, not cumulative; the last
                                                   is above every bound (+Inf) */
    uint64_t count;                             /* observations */
    uint64_t sum_us;                            /* their sum */
} txs_histogram_t;

void txs_histogram_observe(txs_histogram_t *h, uint64_t us);

/* Bucket i's upper bound in seconds, as Prometheus's `le` label writes it ("0.0001",
 * "2.5", "+Inf" for i = TXS_HISTOGRAM_NBOUNDS). */
const char *txs_histogram_le(int i);

#endif
