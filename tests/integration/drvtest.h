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

/* ---- tests both driver suites run (drvtest_ping.c) ---- */

/* Adds to tc, for drv, the tests of ping that hold on both backends:
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
