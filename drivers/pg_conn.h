/* pg_conn.h - the PostgreSQL driver's connection, shared by drivers/pg.c (connect, run,
 * results, cancel, close) and drivers/pg_reset.c (reset, ping). Private to the driver. */
#ifndef TXS_DRIVERS_PG_CONN_H
#define TXS_DRIVERS_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "drivers/driver.h"
#include "drivers/pg_cache.h"
#include "drivers/pg_types.h"
#include "drivers/stmt_copy.h"
#include "protocol/buf.h"

typedef enum pg_state {
    PG_CONNECTING,    /* PQconnectPoll steps; the timer limits them */
    PG_LOADING_TYPES, /* connected; the user types are being read; the timer still runs */
    PG_IDLE,          /* nothing runs; the poll waits for readable (death, notices) */
    PG_RUNNING,       /* a statement, a batch or a ping was sent: flush it, collect the
                         results */
    PG_QUEUED,        /* run() or run_batch() came while a cancel request was under way:
                         the statements wait in `held` and are sent when it is done */
    PG_REPORTING,     /* the op's callback is due on the next loop turn (timer at 0) */
    PG_DEAD,          /* lost, or never connected: only close() */
    PG_CLOSING,       /* close() was called: waiting for the handles and the cancel work */
} pg_state_t;

struct txs_dconn {
    uv_loop_t *loop;
    PGconn *pg;
    pg_state_t state;

    uv_poll_t poll;
    int poll_fd;         /* the socket `poll` was made for; -1: poll not initialized */
    int poll_events;     /* what poll is started for (0: stopped) */
    int poll_want;       /* while poll closes to be remade: what to start it for then */
    bool poll_reopening; /* poll is closing; its close callback remakes it on PQsocket */
    bool flushing;       /* PQflush said 1: there is more to send, wait writable too */
    bool copy_out;       /* a COPY TO STDOUT is being drained (its data dropped) */
    uv_timer_t timer;    /* the connect timeout, the ping's, asking a cancel again, and
                            callbacks deferred to the next turn */
    uint64_t timeout_ms;

    txs_drv_cb op_cb; /* the op's callback (reset's and ping's own, inside the driver) */
    void *op_arg;
    txs_drv_cb watch_cb;
    void *watch_arg;
    txs_drv_status_t deferred; /* what the op reports in PG_REPORTING */
    bool lost_reported;        /* a LOST went to a callback: run() is refused from now on */

    PGresult *result;  /* the result of the statement that just ran */
    PGresult *err_res; /* after DB_ERROR: last_error's strings point into it */
    txs_error_info_t err;
    char errmsg[512];    /* last_error's message when the driver writes it */
    char fatal_msg[256]; /* the last FATAL the server sent while idle: why it hung up */

    /* run_batch(): each statement's last result, kept until the callback returns. The
     * array is reused from batch to batch. */
    bool is_batch;   /* the current (or just reported) op is a batch */
    PGresult **bres; /* bres[0..batch_n) */
    int bres_cap;
    int batch_n;        /* statements in the batch */
    int batch_cur;      /* the statement whose results come next */
    bool batch_cur_has; /* batch_cur gave a result: the next NULL from libpq ends it */
    int batch_fail;     /* the first statement that failed, -1: none */
    /* The statement cache (pg_cache.h): for each statement of the pipeline, the cache
     * id it was sent under (0: sent plain) and whether a PREPARE went before it, whose
     * results come first; both sized bres_cap. */
    uint32_t *bcache_id;
    bool *bprepare;
    bool batch_in_prepare;  /* the results coming are batch_cur's PREPARE's */
    bool batch_prepare_has; /* that PREPARE gave its result */

    txs_pg_cache_t cache;
    uint32_t named_id;    /* a single statement sent by name (not in a pipeline): its id */
    bool one_in_pipeline; /* a single statement sent as a pipeline (the use that
                             prepares it): its error has no batch index */
    bool stale;           /* the op's failure is a cached statement gone stale */
    bool cache_bypass;    /* the op drops prepared statements (DEALLOCATE, DISCARD): it is
                             sent plain, and the cache is cleared */

    txs_pg_typemap_t types;
    txs_buf_t scratch; /* encode_result's bytea decoding */

    /* cancel: the blocking PQcancel runs on the threadpool */
    uv_work_t work;
    PGcancel *cancel_obj;
    bool cancel_busy;         /* work queued and its after_work not run yet */
    bool cancel_again;        /* cancel() came for the statement waiting in the queue */
    bool cancel_wanted;       /* cancel() came for the running statement: ask until it ends */
    unsigned cancel_retry_ms; /* the next pause before asking again */
    bool cancel_ok;           /* written by the worker thread */
    char cancel_err[256];

    /* The statements waiting in PG_QUEUED. */
    txs_stmt_copy_t held;
    bool held_batch; /* they came from run_batch() (else from run(): one) */

    /* reset() and ping(): their caller's callback (op_cb is the driver's own step) */
    txs_drv_cb user_cb;
    void *user_arg;
    bool reset_full;  /* reset(full): DISCARD ALL whatever was seen */
    bool pinging;     /* the op is a ping: the timer in PG_RUNNING is its deadline */
    uint64_t ping_ms; /* its timeout, for the message */
    /* Session state: whether the connection needs a DISCARD ALL before its next user. */
    bool dirty;        /* a statement may have left state behind (drivers/pg_state.h), or
                          a notification came (LISTEN is on) */
    txs_buf_t params0; /* the reported settings when clean: "value\0" per name */

    int pending; /* close: callbacks (handles, cancel work) still to come */
    txs_drv_closed_cb closed_cb;
    void *closed_arg;
};

/* ---- drivers/pg.c ---- */

/* A proxy-made error (not the server's) for last_error. */
void txs_pg_conn_set_error(txs_dconn_t *c, const char *code, const char *msg);
/* The connection is unusable: report LOST with code and msg to the op's callback (or to
 * the watch's, to_watch). */
void txs_pg_conn_lost(txs_dconn_t *c, const char *code, const char *msg, bool to_watch);
/* The start of an op: false when it ends here, with *rc to return (and cb due on the next
 * turn if *rc is TXS_OK); else the op's callback is cb and c is ready to send. */
bool txs_pg_conn_begin_op(txs_dconn_t *c, txs_drv_cb cb, void *arg, bool batch, int *rc);
/* Report st to the op's callback on the next loop turn (the error is in c->err). */
void txs_pg_conn_defer(txs_dconn_t *c, txs_drv_status_t st);
/* Push out what libpq holds and wait for the answer: 0, or -1 (the connection is dead). */
int txs_pg_conn_flush(txs_dconn_t *c);
/* c->timer fires in ms (in PG_RUNNING: the ping's deadline when c->pinging). */
void txs_pg_conn_timer(txs_dconn_t *c, uint64_t ms);
/* run() without the look at the statement's text: for the driver's own statements. */
int txs_pg_conn_run(txs_dconn_t *c, const txs_stmt_t *stmt, txs_drv_cb cb, void *arg);
/* The driver op tx_status. */
txs_drv_txstatus_t txs_pg_tx_status(txs_dconn_t *c);

/* ---- drivers/pg_send.c ---- */

/* Send one statement (the use that prepares it as a pipeline of one) or n statements in
 * one pipeline closed by a Sync. Returns 0 or -1 (PQerrorMessage says why; the
 * connection is not usable). */
int txs_pg_send_stmt(txs_dconn_t *c, const txs_stmt_t *s);
int txs_pg_send_batch(txs_dconn_t *c, const txs_stmt_t *stmts, int n);
/* Room for n statements' results in the batch arrays, and a fresh batch of n. */
void txs_pg_batch_start(txs_dconn_t *c, int n);
/* A statement sent under cache id `id` (0: plain) failed with res: forget it when its
 * server statement went stale, and say so in the op's error. */
void txs_pg_cache_check_error(txs_dconn_t *c, uint32_t id, const PGresult *res);
/* Before an op of user statements: one that may drop prepared statements empties the
 * cache, and the op is sent without it. */
void txs_pg_cache_watch(txs_dconn_t *c, const txs_stmt_t *stmts, int n);

/* ---- drivers/pg_reset.c ---- */

/* The driver ops reset and ping (driver.h). */
int txs_pg_reset(txs_dconn_t *c, bool full, txs_drv_cb cb, void *arg);
int txs_pg_ping(txs_dconn_t *c, uint64_t timeout_ms, txs_drv_cb cb, void *arg);
/* The ping got no answer within its timeout (c->timer fired): the connection is lost. */
void txs_pg_ping_expired(txs_dconn_t *c);
/* Remember the settings the server reports (DateStyle, TimeZone, ...) as they are now,
 * the clean state that reset() compares with. After connecting and after DISCARD ALL. */
void txs_pg_params_keep(txs_dconn_t *c);

#endif
