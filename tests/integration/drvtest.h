/* drvtest.h - the fixture of the driver suites: one driver connection on a uv loop. */
#ifndef TXS_TESTS_DRVTEST_H
#define TXS_TESTS_DRVTEST_H

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "drivers/driver.h"
#include "protocol/buf.h"

#define DRVTEST_WAIT_MS 5000 /* how long an operation may take before the test fails */

/* One connection of the driver under test, on a loop of its own, and what its callbacks
 * saw last. */
typedef struct drvtest {
    const txs_driver_t *drv;
    uv_loop_t loop;
    txs_dconn_t *c;
    int done; /* op callbacks since the op started */
    txs_drv_status_t st;
    txs_drv_txstatus_t tx; /* tx_status inside the callback */
    /* last_error, after a callback with DB_ERROR or LOST (or a watch) */
    char code[8], message[512], detail[512], hint[256], constraint[128];
    int position;
    int vendor;
    bool from_db;
    bool has_index; /* last_error's batch index */
    int index;
    int batch_n;    /* on_batch: how many results to encode */
    int oob_rc;     /* encode_result just past the last index, when OK */
    int neg_rc;     /* encode_result at index -1, when OK */
    size_t oob_len; /* out->len unchanged by them? */
    txs_buf_t out;  /* encode_result inside the callback, when OK */
    size_t max_len;
    int enc_rc;
    int64_t done_at;
    int closed;
    int watched;
    txs_drv_status_t watch_st;
    /* drvtest_on_then: after saving, run this right away, from inside the callback */
    const char *then_sql;
    const txs_stmt_t *then_batch; /* or this batch */
    int then_batch_n;
    bool then_cancel;
    txs_drv_txstatus_t tx_after_then;
    int first_done;
    txs_drv_status_t first_st;
    char first_code[8];
    int64_t first_at;
} drvtest_t;

/* ---- the loop ---- */

/* Run the loop until *flag is non-zero or timeout_ms passed; true when the flag was set.
 * Its own handles are closed when it returns (freed on a later turn): the loop runs no
 * further callback after the one that set the flag's turn. */
bool drvtest_run_until(uv_loop_t *loop, const int *flag, uint64_t timeout_ms);
/* Run the loop for ms milliseconds (or until nothing is left to do). */
void drvtest_run_for(uv_loop_t *loop, uint64_t ms);
/* Run the loop until nothing is left and close it; fails the test, naming the open
 * handles, unless uv_loop_close succeeds. */
void drvtest_loop_finish(uv_loop_t *loop);
/* Milliseconds on a monotonic clock. */
int64_t drvtest_now_ms(void);
/* CPU time (user + system) this process used so far, in milliseconds. */
double drvtest_cpu_ms(void);

/* ---- connecting and closing ---- */

/* A fresh fixture for drv with a loop of its own; nothing connected yet. */
void drvtest_init(drvtest_t *t, const txs_driver_t *drv);
/* Connect to dsn and wait for the callback; returns its status. */
txs_drv_status_t drvtest_connect(drvtest_t *t, const char *dsn, uint64_t timeout_ms);
/* drvtest_init, then connect to the test server of drv; fails the test unless OK. */
void drvtest_open(drvtest_t *t, const txs_driver_t *drv);
/* Close, wait for closed_cb, and check the loop closes cleanly. */
void drvtest_close(drvtest_t *t);

/* ---- the server side of a connection ---- */

/* End the server side of the connection pid (drv->backend_pid) from a connection of its
 * own: pg_terminate_backend or KILL; fails the test unless the server took it. */
void drvtest_kill(const txs_driver_t *drv, int pid);
/* End it (PostgreSQL: if it still runs) and wait until the server no longer lists it. */
void drvtest_kill_and_wait(const txs_driver_t *drv, int pid);

/* ---- statements ---- */

/* A statement with n text parameters; lens (n of them) receives their lengths. */
txs_stmt_t drvtest_stmt(const char *sql, int n, const char *const *vals, int *lens);
/* Start run() with drvtest_on_op (kinds may be NULL). */
void drvtest_start(drvtest_t *t, const char *sql, int n, const char *const *vals);
void drvtest_start_k(drvtest_t *t, const char *sql, int n, const char *const *vals,
                     const unsigned char *kinds);
/* Wait for the operation's one callback; returns its status. */
txs_drv_status_t drvtest_wait(drvtest_t *t);
/* Start and wait. */
txs_drv_status_t drvtest_run(drvtest_t *t, const char *sql);
txs_drv_status_t drvtest_runp(drvtest_t *t, const char *sql, int n, const char *const *vals);
txs_drv_status_t drvtest_runk(drvtest_t *t, const char *sql, int n, const char *const *vals,
                              const unsigned char *kinds);
/* Run sql, expect OK, and return the encoded result. */
const char *drvtest_ok(drvtest_t *t, const char *sql);
/* The encoded result as a C string. */
const char *drvtest_out(drvtest_t *t);
/* Run sql and expect a one-row, one-column result of this JSON value. */
void drvtest_expect(drvtest_t *t, const char *sql, const char *json_value);

/* Start a batch with drvtest_on_batch. The statement array is freed as soon as
 * run_batch() returns: the driver may not keep it. */
void drvtest_batch_start(drvtest_t *t, const txs_stmt_t *stmts, int n);
/* s[0..n-1]: the statements sqls, without parameters. */
void drvtest_plain(txs_stmt_t *s, const char *const *sqls, int n);
/* A batch of statements without parameters, run and waited for. */
txs_drv_status_t drvtest_batch(drvtest_t *t, const char *const *sqls, int n);

/* reset(): 1 when clean already, else TXS_OK and the callback's status in *st (its
 * error saved, done_at set). drvtest_reset is drvtest_reset_full with full false. */
int drvtest_reset(drvtest_t *t, txs_drv_status_t *st);
int drvtest_reset_full(drvtest_t *t, bool full, txs_drv_status_t *st);
/* ping(): its return; when TXS_OK, the callback's status in *st (as drvtest_reset). */
int drvtest_ping(drvtest_t *t, uint64_t timeout_ms, txs_drv_status_t *st);

/* Run "select 1" with drvtest_on_then and cancel() it at once; wait for its callback,
 * which starts then_sql or then_batch: that is held back (tx_status ACTIVE) while the
 * cancel request is under way. */
void drvtest_hold_back(drvtest_t *t);

/* ---- callbacks, arg the fixture ---- */

/* run's: status, tx_status, and result 0 encoded (or the error) saved. */
void drvtest_on_op(txs_dconn_t *c, txs_drv_status_t st, void *arg);
/* run_batch's: the results of t->batch_n statements, one a line, in t->out. */
void drvtest_on_batch(txs_dconn_t *c, txs_drv_status_t st, void *arg);
/* reset's and ping's: status, tx_status, the error; done_at. */
void drvtest_on_reset(txs_dconn_t *c, txs_drv_status_t st, void *arg);
void drvtest_on_watch(txs_dconn_t *c, txs_drv_status_t st, void *arg);
void drvtest_on_closed(void *arg);
/* Saves its status as first_*, then starts then_sql or then_batch right away (and
 * cancels that when then_cancel). */
void drvtest_on_then(txs_dconn_t *c, txs_drv_status_t st, void *arg);
/* Checks encode_result's max_len against an OK result: refused, and out cut back. */
void drvtest_on_encode_limits(txs_dconn_t *c, txs_drv_status_t st, void *arg);
/* Fails the test: for operations that close() must silence. */
void drvtest_never(txs_dconn_t *c, txs_drv_status_t st, void *arg);

/* ---- checks both suites make ---- */

/* A connection just opened: a backend id (the server's own), idle. */
void drvtest_expect_new_session(drvtest_t *t);
/* Run s, with then_sql "select 2" sent from its callback, and cancel() it in 200 ms: s
 * fails with the backend's cancel code in time, and "select 2", held back meanwhile, is
 * not hit: it returns 2, idle. */
void drvtest_expect_cancel_spares_the_next(drvtest_t *t, const txs_stmt_t *s);

/* ---- what differs between the backends, for the tests both driver suites run ---- */

/* The tests both suites run (drvtest_*.c) are Check loop tests: the loop index picks the
 * backend, and what legitimately differs between the two comes from its entry here. */
typedef struct drvtest_backend {
    const txs_driver_t *drv;
    /* a dsn for 127.0.0.1 at port %d (libpq ignores connect_timeout in asynchronous mode:
     * the driver's own timer must act) */
    const char *port_dsn;
    const char *bad_dsn;   /* a dsn the driver cannot read */
    const char *sleep_fmt; /* a statement that sleeps %s seconds */
    bool numbered_markers; /* parameters are $1, $2... rather than ? */
    const char *int_type;  /* the type an int column is reported as, and count(*) */
    const char *count_type;
    const char *rows_5000;      /* a query of 5000 rows of 1000 bytes */
    const char *wide_rows;      /* 3 rows: 1000 bytes of text, bytes, JSON */
    const char *backend_id_sql; /* a query of drv->backend_pid */
    const char *begin;          /* a statement that opens a transaction, and its command */
    const char *begin_command;
    const char *cancel_code; /* a cancelled statement's SQLSTATE and vendor code */
    int cancel_vendor;
    int cancel_ms;         /* how late a cancel may land */
    const char *lost_idle; /* what a connection the server ended while idle says */
    bool batch_atomic;     /* a failed batch keeps nothing (one implicit transaction) */
    /* a statement of two statements: its error (a NULL message: MariaDB's names its version) */
    const char *multi_code;
    int multi_vendor;
    const char *multi_message;
} drvtest_backend_t;

/* The backend of loop index i, and drv's. */
const drvtest_backend_t *drvtest_backend(int i);
const drvtest_backend_t *drvtest_backend_of(const txs_driver_t *drv);
/* Adds test to tc as a loop test whose one index is drv's. */
void drvtest_add(TCase *tc, const TTest *test, const txs_driver_t *drv);
/* The test server's dsn for drv; fails the test when its variables are missing. */
const char *drvtest_dsn(const txs_driver_t *drv);
/* sql with its ? markers written as drv takes them, and a statement that sleeps secs
 * seconds; each in one of 8 buffers used in turn (valid for the next 7 calls). */
const char *drvtest_sql(const txs_driver_t *drv, const char *sql);
const char *drvtest_sleep(const txs_driver_t *drv, const char *secs);

/* ---- tests both driver suites run (drvtest_*.c) ---- */

/* drvtest_connect.c: connect_refused_is_lost_08001, connect_timeout_is_lost_08001. */
void drvtest_add_connect_tests(TCase *tc, const txs_driver_t *drv);
/* drvtest_stmt.c: large_statement_and_result, multi_statement_is_refused,
 * nul_bytes_are_refused_before_sending, too_big_result_is_refused_and_cut_back,
 * quote_ident_round_trips. */
void drvtest_add_stmt_tests(TCase *tc, const txs_driver_t *drv);
/* drvtest_watch.c: watch_reports_a_dead_connection, unwatched_death_is_told_to_the_next_run,
 * waiting_uses_no_cpu. */
void drvtest_add_watch_tests(TCase *tc, const txs_driver_t *drv);
/* drvtest_close.c: close_while_connecting, close_while_running. */
void drvtest_add_close_tests(TCase *tc, const txs_driver_t *drv);
/* drvtest_batch.c: batch_runs_in_order_and_encodes_each_result,
 * batch_with_a_nul_byte_sends_nothing, empty_batch_is_ok, cancel_stops_a_running_batch. */
void drvtest_add_batch_tests(TCase *tc, const txs_driver_t *drv);
/* 50 inserts into table (id int primary key), the 30th repeating a key, in a transaction
 * of the batch's own (explicit_tx) or none: the batch fails there, with the server's error
 * and its index, which it returns. */
int drvtest_dup_batch(drvtest_t *t, const char *table, bool explicit_tx);
/* drvtest_ping.c: adds to tc, for drv, the tests of ping that hold on both backends:
 * ping_answers_on_a_live_connection (at once, the transaction state kept, the idle watch
 * left on), ping_on_a_dead_connection_is_lost (08006, and refused once told), and
 * ping_and_reset_wait_their_turn (refused while a statement runs; cancel() leaves a ping
 * alone). */
void drvtest_add_ping_tests(TCase *tc, const txs_driver_t *drv);
/* After a ping with this timeout to a server that went silent, which took `took` ms: LOST
 * when the timeout passed, and the connection refuses everything from then on. (How the
 * server goes silent differs: each suite has that test.) */
void drvtest_expect_ping_timed_out(drvtest_t *t, uint64_t timeout_ms, int64_t took);

/* ---- timers, data the fixture ---- */

/* cancel() twice (the second is harmless). */
void drvtest_cancel_now(uv_timer_t *timer);
/* cb(timer) once, in ms; cb closes it with drvtest_timer_free. */
void drvtest_after_ms(drvtest_t *t, uint64_t ms, uv_timer_cb cb);
void drvtest_timer_free(uv_timer_t *timer);
/* drvtest_cancel_now in ms, on a timer that closes itself. */
void drvtest_cancel_after(drvtest_t *t, uint64_t ms);
/* drvtest_kill of the connection's server side in ms, on a timer that closes itself. */
void drvtest_kill_after(drvtest_t *t, uint64_t ms);

/* ---- a server that does not answer ---- */

/* SIGSTOP the process (a PostgreSQL backend; the tests run as root) and wait until every
 * thread of it has stopped: a multi-threaded process stops when one of its threads gets
 * to handle the signal, and the others run on until then. Returns whether all stopped;
 * never fails the test, so that the caller can SIGCONT it first. Not for the MariaDB
 * server: runuser, its parent, stops itself when its child stops, and stays stopped. */
bool drvtest_stop_process(int pid);

/* A TCP relay on loopback, on a thread of its own, for one connection to a server on
 * 127.0.0.1:target_port. Frozen, it stops passing bytes either way: to the client the
 * server is silent, as one behind a dead network path is. */
typedef struct drvtest_relay {
    int listen_fd;
    int port; /* where to connect */
    int target_port;
    uv_thread_t thread;
    atomic_bool frozen;
    atomic_bool stop;
} drvtest_relay_t;
void drvtest_relay_start(drvtest_relay_t *r, int target_port);
void drvtest_relay_freeze(drvtest_relay_t *r);
/* Close both ends of the connection (the server sees it go) and end the thread. */
void drvtest_relay_stop(drvtest_relay_t *r);

/* ---- ports ---- */

/* A listening socket on loopback that never accepts: the kernel completes the TCP
 * handshake, then nothing ever answers. Returns its descriptor, its port in *port. */
int drvtest_silent_listener(int *port);
/* A loopback port nobody listens on. */
int drvtest_closed_port(void);

#endif
