/* admin.h - the admin HTTP listener (admin_listen): /healthz, /readyz, /metrics in
 * Prometheus text format and /stats as JSON, all from one snapshot of the daemon. */
#ifndef TXS_DAEMON_ADMIN_H
#define TXS_DAEMON_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/pool.h"
#include "daemon/server.h"
#include "daemon/version.h"
#include "protocol/buf.h"

#define TXS_ADMIN_MAX_CONNS 64          /* more are accepted and closed at once */
#define TXS_ADMIN_MAX_HEADER 8192       /* request line and headers; more is a 400 */
#define TXS_ADMIN_IDLE_TIMEOUT_MS 10000 /* a connection with no traffic is closed */

/* Bind and listen on conf->admin_host:admin_port. On failure logs why (as the client
 * listener does) and returns TXS_ECONFIG or TXS_EIO; s->admin stays NULL. */
int txs_admin_start(txs_server_t *s);
/* Close the listener and every admin connection (a response being written is cut);
 * the admin state is freed in the last close callback. Safe to call twice. */
void txs_admin_stop(txs_server_t *s);

/* Ready: every pool has connected at least once, and the daemon is neither draining nor
 * shutting down. When not, the reasons are appended to why (may be NULL), one per line:
 * "shutting down", "draining", "db main: never connected". What /readyz answers. */
bool txs_server_ready(txs_server_t *s, txs_buf_t *why);

/* One pool as the snapshot sees it. */
typedef struct txs_admin_pool {
    const char *name;
    const txs_db_conf_t *conf; /* pool_size and max_overflow as configured now */
    txs_pool_stats_t st;
} txs_admin_pool_t;

/* Everything /metrics and /stats show, taken at one moment, so both say the same. */
typedef struct txs_admin_snap {
    bool ready;
    txs_buf_t not_ready; /* the reasons, one per line, when !ready */
    bool draining, shutting_down;
    uint64_t uptime_ms;
    long clients_active;  /* reading requests (what max_clients limits) */
    long clients_closing; /* socket closed, sessions winding down */
    long sessions;
    long transactions_open; /* sessions whose transaction is not idle */
    uint64_t client_login_timeouts, client_idle_timeouts;
    txs_metrics_t metrics; /* a copy: bytes, clients accepted, errors */
    int npools;
    txs_admin_pool_t *pools;
} txs_admin_snap_t;

void txs_admin_snap_take(txs_server_t *s, txs_admin_snap_t *snap);
void txs_admin_snap_free(txs_admin_snap_t *snap);

/* metrics_text.c: the Prometheus text exposition (format 0.0.4) of a snapshot. */
void txs_metrics_write_text(const txs_admin_snap_t *snap, txs_buf_t *out);
/* stats_json.c: the same numbers as one JSON object (docs/operations.md), ending in a
 * newline. */
void txs_stats_write_json(const txs_admin_snap_t *snap, txs_buf_t *out);
/* An approximate quantile (0 < q < 1) of a histogram in seconds, interpolated within
 * its bucket as Prometheus's histogram_quantile does; a negative value when empty. */
double txs_histogram_quantile(const txs_histogram_t *h, double q);

#endif
