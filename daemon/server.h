/* server.h - the daemon: loop, config, pools, listeners, clients, flush and shutdown. */
#ifndef TXS_DAEMON_SERVER_H
#define TXS_DAEMON_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "conf/config.h"
#include "daemon/client.h"
#include "daemon/pool.h"

typedef struct txs_server {
    uv_loop_t *loop;
    txs_conf_t *conf;
    txs_pool_t **pools; /* one per conf->dbs[i], same order */
    int npools;
    int pools_open;

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

    uint64_t client_login_timeouts; /* clients closed by client_login_timeout */
    uint64_t client_idle_timeouts;  /* clients closed by client_idle_timeout */

    uv_signal_t sigint, sigterm, sigusr1;
    bool shutting_down;
    uv_timer_t shutdown_timer; /* bounds the wind-down at exit */
} txs_server_t;

int txs_server_init(txs_server_t *s, uv_loop_t *loop, txs_conf_t *conf);
/* Open the listeners; on failure logs why and returns an error. */
int txs_server_listen(txs_server_t *s);
/* Stop accepting, wind down every client (rolling back), close the pools; the
 * loop then runs out. */
void txs_server_shutdown(txs_server_t *s, const char *why);
/* Free what is left once the loop ran out. */
void txs_server_free(txs_server_t *s);

txs_pool_t *txs_server_find_pool(txs_server_t *s, const char *name);
void txs_server_want_flush(txs_server_t *s, txs_client_t *c);
/* A client was accepted, starts closing, is freed. */
void txs_server_client_added(txs_server_t *s, txs_client_t *c);
void txs_server_client_closing(txs_server_t *s, txs_client_t *c);
void txs_server_client_gone(txs_server_t *s, txs_client_t *c);

/* listener.c */
int txs_listener_start(txs_server_t *s);
void txs_listener_stop(txs_server_t *s);
/* One log line per pool (txs_pool_log_stats), then the server's: clients, sessions, open
 * transactions and client timeouts. SIGUSR1 asks for it. */
void txs_server_log_stats(txs_server_t *s);
/* signals.c */
void txs_signals_start(txs_server_t *s);
void txs_signals_stop(txs_server_t *s);

#endif
