/* driver.h - the one interface between the daemon and a database driver.
 *
 * Every operation is asynchronous on the caller's uv loop and reports through one
 * callback; a call that returns an error never calls its callback. The driver owns
 * the uv_poll_t on its socket and re-arms it after every step. The daemon never
 * includes libpq or MariaDB headers; a driver never touches sessions or clients. */
#ifndef TXS_DRIVERS_DRIVER_H
#define TXS_DRIVERS_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/buf.h"
#include "protocol/reply.h"
#include "protocol/request.h"

typedef struct txs_dconn txs_dconn_t; /* a driver's connection: opaque here */

typedef enum txs_drv_status {
    TXS_DRV_OK = 0,   /* done; after run(): a result is ready for encode_result() */
    TXS_DRV_DB_ERROR, /* the database refused the statement; last_error() tells why.
                         The connection is still usable. */
    TXS_DRV_LOST,     /* the connection is broken, or connect failed or timed out;
                         last_error() tells why (08006 / 08001). Only close() may follow. */
} txs_drv_status_t;

/* What the backend says of its transaction, as libpq's PQtransactionStatus. */
typedef enum txs_drv_txstatus {
    TXS_DRV_TX_IDLE,    /* idle, no transaction open */
    TXS_DRV_TX_INTRANS, /* idle in a transaction */
    TXS_DRV_TX_INERROR, /* idle in a failed transaction */
    TXS_DRV_TX_ACTIVE,  /* a statement is running or a result is pending */
    TXS_DRV_TX_UNKNOWN, /* the connection is bad */
} txs_drv_txstatus_t;

typedef void (*txs_drv_cb)(txs_dconn_t *c, txs_drv_status_t st, void *arg);
typedef void (*txs_drv_closed_cb)(void *arg);

/* What a backend's SQL can do, for the checks the session makes before it sends. */
enum {
    TXS_DRV_DEFERRABLE = 1 << 0,        /* BEGIN ... DEFERRABLE means something */
    TXS_DRV_TRANSACTIONAL_DDL = 1 << 1, /* DDL runs inside a transaction; without it
                                           DDL commits the transaction (MySQL) */
};

/* At most this many statements open a transaction (begin_sql). */
#define TXS_DRV_BEGIN_MAX 2

typedef struct txs_driver {
    const char *name;  /* "postgresql", "mysql" */
    unsigned features; /* TXS_DRV_* above */

    /* Start connecting to `dsn` (driver syntax). cb runs once: OK (connected, idle,
     * ready for run()) or LOST (could not connect within timeout_ms; last_error()
     * has code 08001 and the reason). *out is set before this returns. */
    int (*connect)(uv_loop_t *loop, const char *dsn, uint64_t timeout_ms, txs_drv_cb cb, void *arg,
                   txs_dconn_t **out);

    /* Run one statement with its parameters bound by the driver (never spliced).
     * stmt and what it points to need only live until run() returns. cb runs once. */
    int (*run)(txs_dconn_t *c, const txs_stmt_t *stmt, txs_drv_cb cb, void *arg);

    /* Run n statements in order as one unit of work, each as run() would. On
     * PostgreSQL they go in one pipeline: one round trip to the server. The first
     * statement that fails stops the batch: cb reports DB_ERROR and last_error() has
     * has_index set and index = that statement (0-based); the statements after it do
     * not run. The statements are plain SQL to the driver: a BEGIN or COMMIT in them
     * is the caller's business. stmts need only live until run_batch() returns. */
    int (*run_batch)(txs_dconn_t *c, const txs_stmt_t *stmts, int n, txs_drv_cb cb, void *arg);

    /* Inside run's or run_batch's cb with TXS_DRV_OK: append the reply members of the
     * result of statement `index` (0 after run(); 0..n-1 after run_batch()),
     *   "command":"INSERT","rowCount":1,"fields":[{"name":..,"type":..}],"rows":[[..]]
     * (no leading comma) to out, values mapped as protocol-v1 section 4 says.
     * Returns TXS_OK, TXS_ESTATE for an index without a result, or TXS_ETOOBIG when
     * out->len would pass max_len (out is then truncated back to its length at the
     * call). */
    int (*encode_result)(txs_dconn_t *c, int index, txs_buf_t *out, size_t max_len);

    /* Append `name` as an identifier of this backend's SQL, quoted so that any text
     * is taken literally (PostgreSQL: "na""me", MySQL: `na``me`). */
    void (*quote_ident)(txs_buf_t *out, const char *name, size_t len);

    /* The statements that open a transaction with these options, to be run in order
     * (PostgreSQL: one BEGIN ISOLATION LEVEL ...; MySQL: SET TRANSACTION ISOLATION
     * LEVEL ... then START TRANSACTION READ ONLY). Their text goes into buf (NUL-
     * terminated, at most 160 bytes in all) and stmts[0..n-1] point into it; returns
     * n (1..TXS_DRV_BEGIN_MAX). An option the backend lacks (see features) is the
     * caller's to refuse; here it is left out. */
    int (*begin_sql)(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                     char *buf, size_t len, txs_stmt_t stmts[TXS_DRV_BEGIN_MAX]);

    /* Between operations, before the connection goes to its next user: roll back an
     * open transaction, and clear the session state this driver can tell was changed
     * (PostgreSQL: DISCARD ALL after SET, temporary tables, LISTEN, PREPARE, session
     * advisory locks ...; MySQL: user variables, temporary tables, GET_LOCK locks,
     * session variables, via mysql_reset_connection). `full`: clear session state even
     * when nothing was seen changing it (reset_always). Returns 1 when the connection is
     * clean already (cb is not called), TXS_OK when cb will run: OK = clean now;
     * DB_ERROR (e.g. a failed DISCARD ALL) or LOST = close it. Any other return (TXS_ELOST
     * after a reported LOST, TXS_ESTATE while an operation runs): close it. */
    int (*reset)(txs_dconn_t *c, bool full, txs_drv_cb cb, void *arg);

    /* Between operations: check that the server still answers (PostgreSQL: an empty
     * query; MySQL: COM_PING), in a transaction too. cb runs once: OK = alive (any answer,
     * an error too); LOST = dead, or no answer within timeout_ms (0: no limit), when the
     * driver gives up and the connection is unusable for good (08006 "no answer to ping
     * within N ms"). On a connection known dead: TXS_ELOST when a LOST was reported
     * already (cb not called), else cb with LOST, as run() does. The idle watch stays in
     * force; a death during the ping goes to cb, not to the watch. */
    int (*ping)(txs_dconn_t *c, uint64_t timeout_ms, txs_drv_cb cb, void *arg);

    /* After a cb with DB_ERROR or LOST: the error. Strings live until the next
     * operation on c, or close. */
    void (*last_error)(txs_dconn_t *c, txs_error_info_t *out);

    /* Ask the running statement to stop. Its run cb then reports as usual
     * (typically DB_ERROR 57014, or OK if it finished first). No-op when nothing
     * runs. The driver sends no further statement on c until the cancel request
     * was delivered, so a late cancel can never hit the next statement. */
    int (*cancel)(txs_dconn_t *c);

    /* The backend's transaction status now (between operations). */
    txs_drv_txstatus_t (*tx_status)(txs_dconn_t *c);

    /* While no operation runs, report through cb (with LOST) if the connection
     * dies (server shutdown, terminated backend). Notices are consumed. Stays in
     * force until replaced; cb NULL stops reporting. */
    void (*watch)(txs_dconn_t *c, txs_drv_cb cb, void *arg);

    /* Close in any state (a running operation's cb is not called). Frees c;
     * closed_cb(arg) runs when every handle is closed (a later loop turn). */
    void (*close)(txs_dconn_t *c, txs_drv_closed_cb closed_cb, void *arg);

    /* The server's id of this connection (PostgreSQL backend pid, MySQL
     * CONNECTION_ID()), 0 if unknown. */
    int (*backend_pid)(txs_dconn_t *c);
} txs_driver_t;

/* The driver registered under `name` ("postgresql", "mysql"), or NULL. */
const txs_driver_t *txs_driver_find(const char *name);
/* Comma-separated names of the known drivers, for error messages. */
const char *txs_driver_names(void);

extern const txs_driver_t txs_driver_pg;
extern const txs_driver_t txs_driver_mysql;

#endif
