/* mysql_conn.h - the MySQL driver's connection, shared by drivers/mysql.c (its life:
 * connect, idle, report, cancel, close) and drivers/mysql_run.c (the library calls that
 * run statements). Private to the driver. */
#ifndef TXS_DRIVERS_MYSQL_CONN_H
#define TXS_DRIVERS_MYSQL_CONN_H

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "drivers/driver.h"
#include "drivers/mysql_cancel.h"
#include "drivers/mysql_dsn.h"
#include "drivers/mysql_io.h"
#include "drivers/mysql_types.h"
#include "drivers/stmt_copy.h"

typedef enum my_state {
    MY_RESOLVING,  /* uv_getaddrinfo for the dsn's host; the timer limits it */
    MY_CONNECTING, /* connecting, then the set-up statement; the timer still runs */
    MY_IDLE,       /* nothing runs; the poll waits for readable: that means death */
    MY_RUNNING,    /* an op's library calls (run, batch, reset, ping) */
    MY_QUEUED,     /* an op came while a KILL was under way: it starts when that is done */
    MY_REPORTING,  /* the op's callback is due on the next loop turn (timer at 0) */
    MY_DEAD,       /* lost, or never connected: only close() */
    MY_CLOSING,    /* close() was called: waiting for the handles */
} my_state_t;

typedef enum my_op {
    OP_CONNECT,
    OP_RUN,
    OP_BATCH,
    OP_RESET,
    OP_PING,
} my_op_t;

/* The library call under way: X_start returned a wait mask, X_cont is due. */
typedef enum my_call {
    CALL_NONE,
    CALL_CONNECT,    /* mysql_real_connect */
    CALL_QUERY,      /* mysql_real_query */
    CALL_STORE,      /* mysql_store_result */
    CALL_NEXT,       /* mysql_next_result */
    CALL_PREPARE,    /* mysql_stmt_prepare */
    CALL_EXECUTE,    /* mysql_stmt_execute */
    CALL_STMT_STORE, /* mysql_stmt_store_result */
    CALL_STMT_NEXT,  /* mysql_stmt_next_result */
    CALL_STMT_CLOSE, /* mysql_stmt_close */
    CALL_ROLLBACK,   /* mysql_rollback */
    CALL_RESET,      /* mysql_reset_connection */
    CALL_PING,       /* mysql_ping */
} my_call_t;

/* A parameter's binary value. */
typedef union my_num {
    long long i;
    unsigned long long u;
} my_num_t;

struct txs_dconn {
    uv_loop_t *loop;
    MYSQL *my;
    my_state_t state;
    txs_my_io_t io;
    uv_timer_t timer; /* the connect and ping deadlines, deferred callbacks, asking the
                         KILL again */
    uint64_t timeout_ms;
    uv_getaddrinfo_t gai;
    bool gai_busy;
    bool in_api; /* inside an op's call (connect, run, ...): a callback must wait a turn */

    txs_mysql_dsn_t dsn;
    char addr[64]; /* the host to connect to: an address, localhost, or "" (NULL) */
    char os_user[64];

    my_op_t op;
    my_call_t call;
    MYSQL *ret_my;
    int ret_int;
    my_bool ret_bool;
    MYSQL_RES *ret_res;

    txs_drv_cb op_cb;
    void *op_arg;
    txs_drv_cb watch_cb;
    void *watch_arg;
    txs_drv_status_t deferred; /* what the op reports in MY_REPORTING */
    bool lost_reported;        /* a LOST went to a callback: only close() from now on */

    /* The op's statements, copied: the library reads them across waits. */
    txs_stmt_copy_t held;
    const txs_stmt_t *stmts;
    int n;      /* statements in the op */
    int cur;    /* the one running */
    bool setup; /* the running statement is the set-up statement */
    MYSQL_STMT *stmt;
    MYSQL_BIND *params;
    my_num_t *nums;
    unsigned long *plens;
    int param_cap;
    bool sent;        /* the running statement went to the server (else: empty) */
    bool failed;      /* the statement failed: the error is in err; close stmt, report */
    bool fail_lost;   /* ... and the connection with it */
    bool dirty;       /* the session holds state a reset must clear */
    bool reset_full;  /* the reset clears the session whatever was seen (reset_always) */
    uint64_t ping_ms; /* the ping's timeout, for its message */
    bool tx_pending;  /* a SET TRANSACTION waits for the next transaction: only a rollback
                         or a reset clears it, and the server does not flag it */

    txs_my_result_t own;      /* the set-up statement's, ignored */
    txs_my_result_t *results; /* results[0..n) of the op */
    int res_cap;
    bool have_results; /* encode_result may read them */
    txs_buf_t scratch;

    txs_error_info_t err;
    char errcode[8];
    char errmsg[512];

    txs_my_kill_t *kill;    /* a KILL QUERY under way */
    bool cancel_wanted;     /* cancel() came for the running op */
    bool cancel_again;      /* cancel() came for the queued op */
    unsigned kill_retry_ms; /* the next pause before asking again */

    int pending; /* close: handles and requests still to come back */
    txs_drv_closed_cb closed_cb;
    void *closed_arg;
};

/* ---- drivers/mysql.c ---- */

/* The connection is unusable (08001 while connecting, else 08006); the error is in
 * c->err. to_watch: the death was seen while idle, so watch's callback hears it. */
void txs_my_conn_lost(txs_dconn_t *c, bool to_watch);
/* The op is over: go idle and tell its callback (on the next turn inside an API call). */
void txs_my_conn_finish(txs_dconn_t *c, txs_drv_status_t st);

/* ---- drivers/mysql_run.c ---- */

void txs_my_set_error(txs_dconn_t *c, const char *code, unsigned vendor, const char *msg,
                      bool from_db);
/* Continue the call under way with what happened (MYSQL_WAIT_*); its wait mask, or 0. */
int txs_my_run_cont(txs_dconn_t *c, int events);
/* End a suspended call at once, for close(). */
void txs_my_run_abort(txs_dconn_t *c);
/* The first call of the op begin_op set up (c->op): a wait mask, 0, or -1 (over). */
int txs_my_run_start(txs_dconn_t *c);
/* Go on from a call's wait mask st (0: it finished) until something must be waited for. */
void txs_my_run_drive(txs_dconn_t *c, int st);

#endif
