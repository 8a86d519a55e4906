/* server.h - the daemon: loop, config, pools, listeners, clients, flush and shutdown. */
#ifndef TXS_DAEMON_SERVER_H
#define TXS_DAEMON_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "conf/config.h"
#include "daemon/client.h"
#include "daemon/metrics.h"
#include "daemon/pool.h"

/* A pool whose db a reload removed: out of the lookup, it serves the sessions bound to
 * it until the last lets go, then closes and is freed (reload.c). */
typedef struct txs_retired_pool {
    txs_pool_t *pool;
    struct txs_server *server;
    struct txs_retired_pool *next;
} txs_retired_pool_t;

typedef struct txs_server {
    uv_loop_t *loop;
    txs_conf_t *conf;   /* a reload swaps it (each pool keeps its own copy of its db's) */
    txs_pool_t **pools; /* one per conf->dbs[i], same order */
    int npools;
    int pools_open;              /* pools not yet closed: these and the retired */
    txs_retired_pool_t *retired; /* removed by a reload and not yet closed */

    uv_tcp_t tcp;
    bool tcp_open;
    uv_pipe_t unix_sock;
    bool unix_open;

    txs_client_t *clients; /* ACTIVE and CLOSING, until freed */
    int nclients;
    int nactive; /* ACTIVE only: what max_clients limits */
    uint64_t next_client_id;
    char *read_buf; /* every client reads into this, then keeps only a leftover */

    txs_journals_t *journals; /* outcome journals, one per principal */

    uv_prepare_t flush; /* writes flushed before the loop sleeps */
    txs_client_t *flush_list;

    txs_metrics_t metrics;          /* bytes in/out, error replies by SQLSTATE */
    struct txs_admin *admin;        /* the admin HTTP listener (admin.c); NULL when closed */
    bool draining;                  /* SIGTERM: not accepting; /readyz fails */
    struct txs_drain *drain;        /* drain.c: drain_timeout's timer, while draining */
    uint64_t client_login_timeouts; /* clients closed by client_login_timeout */
    uint64_t client_idle_timeouts;  /* clients closed by client_idle_timeout */

    uv_signal_t sigint, sigterm, sigusr1, sighup;
    bool shutting_down;
    uv_timer_t shutdown_timer; /* bounds the wind-down at exit */
} txs_server_t;

int txs_server_init(txs_server_t *s, uv_loop_t *loop, txs_conf_t *conf);
/* Open the listeners; on failure logs why and returns an error. */
int txs_server_listen(txs_server_t *s);
/* The final wind-down: stop accepting; every client's waiting requests hear 57P01, its
 * transactions are rolled back, it gets a last 57P01 line and is closed
 * (txs_client_shut_down); then the pools close and the loop runs out. */
void txs_server_shutdown(txs_server_t *s, const char *why);
/* Free what is left once the loop ran out. */
void txs_server_free(txs_server_t *s);

txs_pool_t *txs_server_find_pool(txs_server_t *s, const char *name);
/* A pool finished closing (a retired one too): the last one closes the loop's handles. */
void txs_server_pool_closed(txs_server_t *s);
void txs_server_want_flush(txs_server_t *s, txs_client_t *c);
/* A client was accepted, starts closing, is freed. */
void txs_server_client_added(txs_server_t *s, txs_client_t *c);
void txs_server_client_closing(txs_server_t *s, txs_client_t *c);
void txs_server_client_gone(txs_server_t *s, txs_client_t *c);

/* listener.c */
int txs_listener_start(txs_server_t *s);
/* Bind an initialised tcp handle to host:port (IPv4, or IPv6 without brackets) and listen.
 * On failure logs why under the config key (`listen: "x" is not an IP address`,
 * `admin_listen on 127.0.0.1:7433: address already in use`) and returns TXS_ECONFIG or
 * TXS_EIO; the caller closes the handle. */
int txs_listen_tcp(uv_tcp_t *tcp, const char *key, const char *host, int port, int backlog,
                   uv_connection_cb on_connection);
void txs_listener_stop(txs_server_t *s);
/* Sessions and open transactions of every client (walked: /metrics, /stats, SIGUSR1 and
 * the drain's log lines ask for them, not the hot path). */
typedef struct txs_server_counts {
    long sessions;
    long open_tx;    /* sessions with a transaction open */
    long committing; /* of those, the ones whose COMMIT is under way */
} txs_server_counts_t;
txs_server_counts_t txs_server_count(const txs_server_t *s);
/* One log line per pool (txs_pool_log_stats), then the server's: clients, sessions, open
 * transactions and client timeouts. SIGUSR1 asks for it. */
void txs_server_log_stats(txs_server_t *s);
/* reload.c: SIGHUP. Re-read the config file and the environment; apply what may change
 * live, report and keep what may not; a bad config is rejected and the old one stays. */
void txs_server_reload(txs_server_t *s);
/* drain.c: SIGTERM. Stop accepting, fail /readyz, let clients go on up to drain_timeout,
 * then roll back what is left (57P01) and shut down. */
void txs_server_drain(txs_server_t *s);
/* The last client has gone (server.c): a drain ends early, with the final wind-down. */
void txs_server_drain_idle(txs_server_t *s);
/* The final wind-down starts (txs_server_shutdown): drain_timeout's timer stops. */
void txs_server_drain_stop(txs_server_t *s);
/* signals.c */
void txs_signals_start(txs_server_t *s);
void txs_signals_stop(txs_server_t *s);

#endif
