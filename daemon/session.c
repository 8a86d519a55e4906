/* session.c - the per-ctx state machine: transaction state, request FIFO, the
 * statements each op sends, and the wind-down that backs the rollback guarantee.
 *
 *   READY --(op needs a backend, none linked)--> ACQUIRING --(pool cb)--> RUNNING
 *   READY --(op needs a statement, backend linked)-----------------------> RUNNING
 *   RUNNING --(driver cb: reply, release or keep backend)----------------> READY
 *
 * A session holds a backend only while a transaction is open on it (or for one
 * autocommit statement); the backend goes back to the pool when the transaction
 * ends, and the pool rolls back whatever a departing session left open. */
#include "daemon/session.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/client.h"
#include "daemon/log.h"
#include "protocol/errors.h"
#include "protocol/sqlclass.h"
#include "protocol/sqlstate.h"

static void advance(txs_session_t *s);
static void run_statement(txs_session_t *s, const txs_stmt_t *stmt, txs_step_t step);
static void on_pool(txs_pool_waiter_t *w, txs_backend_t *b, const txs_error_info_t *err);

txs_session_t *txs_session_create(txs_client_t *c, const char *ctx)
{
    txs_session_t *s = txs_xcalloc(1, sizeof *s);
    snprintf(s->ctx, sizeof s->ctx, "%s", ctx);
    s->client = c;
    s->state = TXS_SESSION_READY;
    s->tx = TXS_TX_IDLE;
    s->waiter.cb = on_pool;
    return s;
}

static void session_free(txs_session_t *s)
{
    txs_client_t *c = s->client;
    txs_client_session_freed(c, s);
    free(s);
}

/* ---- replies ---- */

static const txs_driver_t *driver(const txs_session_t *s)
{
    return txs_pool_driver(s->backend->pool);
}

static const txs_request_t *cur(const txs_session_t *s)
{
    return &s->current->req;
}

static void reply_ok(txs_session_t *s)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, cur(s)->id, cur(s)->id_len, true);
    txs_reply_close(out, true, s->tx, s->depth);
}

static void reply_error(txs_session_t *s, const txs_error_info_t *e)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, cur(s)->id, cur(s)->id_len, false);
    txs_reply_put_error(out, e);
    txs_reply_close(out, true, s->tx, s->depth);
}

static void reply_proxy(txs_session_t *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_proxy(txs_session_t *s, const char *code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    txs_error_info_t e = {.code = code, .message = msg};
    reply_error(s, &e);
}

/* A request is answered or dropped: free it and count it done for pipelining. */
static void drop_request(txs_session_t *s, txs_queued_t *q)
{
    txs_request_free(&q->req);
    free(q);
    txs_client_request_done(s->client);
}

/* The current request is answered: let the next one go. Inside advance() (a request
 * that failed before it could wait), advance()'s own loop goes on instead: it may
 * free the session, so nothing must run after it on this stack. */
static void finish_request(txs_session_t *s)
{
    bool nested = s->in_advance;
    txs_queued_t *q = s->current;
    s->current = NULL;
    s->state = TXS_SESSION_READY;
    s->step = TXS_STEP_NONE;
    s->cancel_sent = false;
    s->autobegun = false;
    drop_request(s, q);
    if (!nested)
        advance(s);
}

/* ---- backend link ---- */

static void release_backend(txs_session_t *s)
{
    txs_backend_t *b = s->backend;
    s->backend = NULL;
    s->tx_on_backend = false;
    txs_pool_release(b);
}

static void discard_backend(txs_session_t *s)
{
    txs_backend_t *b = s->backend;
    s->backend = NULL;
    s->tx_on_backend = false;
    txs_pool_discard(b);
}

static void set_idle(txs_session_t *s)
{
    s->tx = TXS_TX_IDLE;
    s->depth = 0;
}

/* ---- wind-down (client gone) ---- */

/* Nothing runs: give the backend back (the pool rolls back an open transaction or
 * closes the connection) and forget the session. */
static void wind_down_now(txs_session_t *s)
{
    if (s->current) {
        txs_queued_t *q = s->current;
        s->current = NULL;
        drop_request(s, q);
    }
    if (s->backend)
        release_backend(s);
    session_free(s);
}

void txs_session_wind_down(txs_session_t *s)
{
    s->winding_down = true;
    while (s->head) {
        txs_queued_t *q = s->head;
        s->head = q->next;
        drop_request(s, q);
    }
    s->tail = NULL;
    switch (s->state) {
    case TXS_SESSION_READY:
        wind_down_now(s);
        return;
    case TXS_SESSION_ACQUIRING:
        txs_pool_cancel_wait(s->pool, &s->waiter);
        wind_down_now(s);
        return;
    case TXS_SESSION_RUNNING:
        /* A commit is left to finish: cancelling it would make its outcome unknown. */
        if (s->step != TXS_STEP_COMMIT && !s->cancel_sent) {
            s->cancel_sent = true;
            driver(s)->cancel(s->backend->dconn);
        }
        return; /* the driver callback finishes the wind-down */
    }
}

/* ---- statements ---- */

static size_t begin_sql(const txs_session_t *s, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "BEGIN");
    const char *sep = " ";
    const char *iso = txs_isolation_sql(s->isolation);
    if (iso) {
        n += (size_t)snprintf(buf + n, len - n, "%sISOLATION LEVEL %s", sep, iso);
        sep = ", ";
    }
    if (s->read_only != TXS_UNSET) {
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep,
                              s->read_only == TXS_TRUE ? "READ ONLY" : "READ WRITE");
        sep = ", ";
    }
    if (s->deferrable != TXS_UNSET)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep,
                              s->deferrable == TXS_TRUE ? "DEFERRABLE" : "NOT DEFERRABLE");
    return n;
}

static void run_sql(txs_session_t *s, const char *sql, txs_step_t step)
{
    txs_stmt_t st = {.sql = sql, .sql_len = strlen(sql)};
    run_statement(s, &st, step);
}

/* The backend is linked: send what the current request needs next. */
static void run_next(txs_session_t *s)
{
    const txs_request_t *r = cur(s);
    if (r->op == TXS_OP_QUERY && s->tx != TXS_TX_IDLE && !s->tx_on_backend) {
        char sql[128];
        begin_sql(s, sql, sizeof sql);
        run_sql(s, sql, TXS_STEP_BEGIN);
        return;
    }
    run_statement(s, &r->stmt, TXS_STEP_STATEMENT);
}

static void on_backend(txs_session_t *s, txs_backend_t *b)
{
    s->backend = b;
    s->state = TXS_SESSION_RUNNING;
    run_next(s);
}

/* The request needs a backend: use the linked one or wait for the pool. */
static void need_backend(txs_session_t *s)
{
    if (s->backend) {
        run_next(s);
        return;
    }
    s->state = TXS_SESSION_ACQUIRING;
    txs_backend_t *b = txs_pool_acquire(s->pool, &s->waiter);
    if (b)
        on_backend(s, b);
}

static void on_pool(txs_pool_waiter_t *w, txs_backend_t *b, const txs_error_info_t *err)
{
    txs_session_t *s = (txs_session_t *)((char *)w - offsetof(txs_session_t, waiter));
    if (b) {
        on_backend(s, b);
        return;
    }
    /* The request never reached the database: the session stays as it was. */
    if (s->autobegun)
        set_idle(s);
    reply_error(s, err);
    finish_request(s);
}

static void on_done(txs_dconn_t *dc, txs_drv_status_t st, void *arg);

static void run_statement(txs_session_t *s, const txs_stmt_t *stmt, txs_step_t step)
{
    s->state = TXS_SESSION_RUNNING;
    s->step = step;
    int rc = driver(s)->run(s->backend->dconn, stmt, on_done, s);
    if (rc != TXS_OK) {
        /* The driver refused to start: the connection is unusable. */
        txs_log_warn("client %llu ctx %s: backend refused a statement: %s",
                     (unsigned long long)s->client->id, s->ctx, txs_strerror(rc));
        discard_backend(s);
        if (step == TXS_STEP_ROLLBACK) {
            set_idle(s); /* the transaction died with the connection */
            reply_ok(s);
            if (cur(s)->op == TXS_OP_END)
                s->ended = true;
        } else {
            if (s->tx != TXS_TX_IDLE)
                s->tx = TXS_TX_FAILED;
            reply_proxy(s, TXS_SQLSTATE_CONNECTION_LOST, "backend connection unusable");
        }
        finish_request(s);
    }
}

static void reply_result(txs_session_t *s)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    size_t mark = out->len;
    size_t max = txs_client_max_result(s->client);
    txs_reply_open(out, cur(s)->id, cur(s)->id_len, true);
    txs_buf_putc(out, ',');
    if (driver(s)->encode_result(s->backend->dconn, out, mark + max) == TXS_OK) {
        txs_reply_close(out, true, s->tx, s->depth);
        return;
    }
    txs_buf_truncate(out, mark);
    /* The client did not get what the statement did: treat it as a failed statement. */
    if (s->tx != TXS_TX_IDLE)
        s->tx = TXS_TX_FAILED;
    reply_proxy(s, TXS_SQLSTATE_TOO_BIG, "result is larger than max_result_bytes (%zu bytes)", max);
}

static void on_statement_done(txs_session_t *s, txs_drv_status_t st)
{
    bool autocommit = cur(s)->autocommit;
    txs_error_info_t e;
    switch (st) {
    case TXS_DRV_OK:
        reply_result(s);
        if (autocommit)
            release_backend(s);
        break;
    case TXS_DRV_DB_ERROR:
        driver(s)->last_error(s->backend->dconn, &e);
        if (s->tx != TXS_TX_IDLE)
            s->tx = TXS_TX_FAILED;
        reply_error(s, &e);
        if (autocommit)
            release_backend(s);
        break;
    case TXS_DRV_LOST:
        driver(s)->last_error(s->backend->dconn, &e);
        e.code = TXS_SQLSTATE_CONNECTION_LOST;
        e.from_db = false;
        if (s->tx != TXS_TX_IDLE)
            s->tx = TXS_TX_FAILED;
        reply_error(s, &e);
        discard_backend(s);
        break;
    }
}

static void on_commit_done(txs_session_t *s, txs_drv_status_t st)
{
    txs_error_info_t e;
    set_idle(s);
    switch (st) {
    case TXS_DRV_OK:
        reply_ok(s);
        release_backend(s);
        break;
    case TXS_DRV_DB_ERROR:
        /* PostgreSQL ended the transaction (e.g. a deferred constraint): rolled back. */
        driver(s)->last_error(s->backend->dconn, &e);
        reply_error(s, &e);
        release_backend(s);
        break;
    case TXS_DRV_LOST:
        driver(s)->last_error(s->backend->dconn, &e);
        txs_log_warn("client %llu ctx %s: backend lost during commit: outcome unknown",
                     (unsigned long long)s->client->id, s->ctx);
        reply_proxy(s, TXS_SQLSTATE_COMMIT_UNKNOWN,
                    "backend connection lost during commit: the outcome is unknown (%s)",
                    e.message ? e.message : "connection closed");
        discard_backend(s);
        break;
    }
    if (s->winding_down)
        txs_log_info("client %llu ctx %s: commit finished after the client left: %s",
                     (unsigned long long)s->client->id, s->ctx,
                     st == TXS_DRV_OK     ? "committed"
                     : st == TXS_DRV_LOST ? "unknown"
                                          : "rolled back");
}

static void on_done(txs_dconn_t *dc, txs_drv_status_t st, void *arg)
{
    txs_session_t *s = arg;
    txs_error_info_t e;
    switch (s->step) {
    case TXS_STEP_BEGIN:
        if (st == TXS_DRV_OK) {
            s->tx_on_backend = true;
            if (s->winding_down)
                break;
            run_statement(s, &cur(s)->stmt, TXS_STEP_STATEMENT);
            return;
        }
        driver(s)->last_error(dc, &e);
        s->tx = TXS_TX_FAILED;
        if (st == TXS_DRV_LOST) {
            e.code = TXS_SQLSTATE_CONNECTION_LOST;
            e.from_db = false;
        }
        reply_error(s, &e);
        if (st == TXS_DRV_LOST)
            discard_backend(s);
        else
            release_backend(s);
        break;
    case TXS_STEP_STATEMENT:
        on_statement_done(s, st);
        break;
    case TXS_STEP_COMMIT:
        on_commit_done(s, st);
        break;
    case TXS_STEP_ROLLBACK:
        set_idle(s);
        reply_ok(s);
        if (st == TXS_DRV_OK)
            release_backend(s);
        else
            discard_backend(s); /* the transaction died with the connection */
        if (cur(s)->op == TXS_OP_END)
            s->ended = true;
        break;
    case TXS_STEP_NONE:
        txs_log_error("client %llu ctx %s: driver completion in step %d",
                      (unsigned long long)s->client->id, s->ctx, (int)s->step);
        break;
    }
    if (s->winding_down) {
        s->state = TXS_SESSION_READY;
        wind_down_now(s);
        return;
    }
    finish_request(s);
}

/* ---- ops ---- */

static bool refuse_if_failed(txs_session_t *s)
{
    if (s->tx == TXS_TX_FAILED) {
        reply_proxy(s, TXS_SQLSTATE_FAILED_TX,
                    "current transaction is aborted, commands ignored until rollback");
        return true;
    }
    if (s->tx == TXS_TX_INACTIVE) {
        reply_proxy(s, TXS_SQLSTATE_FAILED_TX,
                    "this transaction was rolled back by an inner level; roll back every level");
        return true;
    }
    return false;
}

static void open_tx(txs_session_t *s, const txs_request_t *r)
{
    s->tx = TXS_TX_OPEN;
    s->depth = 1;
    s->tx_on_backend = false;
    s->isolation = r ? r->isolation : TXS_ISO_DEFAULT;
    s->read_only = r ? r->read_only : TXS_UNSET;
    s->deferrable = r ? r->deferrable : TXS_UNSET;
}

/* Returns true when the request was answered without waiting. */
static bool start_op(txs_session_t *s)
{
    const txs_request_t *r = cur(s);
    switch (r->op) {
    case TXS_OP_STATUS:
        reply_ok(s);
        return true;
    case TXS_OP_BEGIN:
        if (refuse_if_failed(s))
            return true;
        if (r->nested || r->join) {
            reply_proxy(s, TXS_SQLSTATE_NOT_SUPPORTED,
                        "begin with \"nested\" or \"join\" is not supported by this version");
            return true;
        }
        if (s->tx != TXS_TX_IDLE) {
            reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX,
                        "a transaction is already open; use \"nested\" or \"join\"");
            return true;
        }
        open_tx(s, r);
        reply_ok(s);
        return true;
    case TXS_OP_QUERY: {
        if (refuse_if_failed(s))
            return true;
        const char *what = NULL;
        if (txs_sql_is_tx_control(r->stmt.sql, r->stmt.sql_len, &what)) {
            reply_proxy(s, TXS_SQLSTATE_NOT_SUPPORTED,
                        "transaction control in SQL (%s) is refused: use the ops begin, commit, "
                        "rollback",
                        what ? what : "?");
            return true;
        }
        if (r->autocommit && s->tx != TXS_TX_IDLE) {
            reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX,
                        "\"autocommit\" query while a transaction is open");
            return true;
        }
        if (!r->autocommit && s->tx == TXS_TX_IDLE) {
            open_tx(s, NULL);
            s->autobegun = true;
        }
        need_backend(s);
        return false;
    }
    case TXS_OP_COMMIT:
        if (refuse_if_failed(s))
            return true;
        if (!s->backend) { /* idle, or begun without a statement yet */
            set_idle(s);
            reply_ok(s);
            return true;
        }
        if (driver(s)->tx_status(s->backend->dconn) == TXS_DRV_TX_UNKNOWN) {
            /* The connection died while the session was idle in its transaction:
             * COMMIT would not even be sent, so the outcome is known: rolled back. */
            discard_backend(s);
            s->tx = TXS_TX_FAILED;
            reply_proxy(s, TXS_SQLSTATE_CONNECTION_LOST,
                        "backend connection lost: the transaction was rolled back");
            return true;
        }
        run_sql(s, "COMMIT", TXS_STEP_COMMIT);
        return false;
    case TXS_OP_ROLLBACK:
    case TXS_OP_END:
        if (!s->backend) {
            set_idle(s);
            reply_ok(s);
            if (r->op == TXS_OP_END)
                s->ended = true;
            return true;
        }
        run_sql(s, "ROLLBACK", TXS_STEP_ROLLBACK);
        return false;
    case TXS_OP_BATCH:
    case TXS_OP_SAVEPOINT:
    case TXS_OP_RELEASE:
    case TXS_OP_ROLLBACK_TO:
    case TXS_OP_OUTCOME:
        reply_proxy(s, TXS_SQLSTATE_NOT_SUPPORTED, "op \"%s\" is not supported by this version",
                    txs_op_name(r->op));
        return true;
    case TXS_OP_HELLO:
    case TXS_OP_PING:
        break;
    }
    reply_proxy(s, TXS_SQLSTATE_PROTOCOL, "op \"%s\" takes no ctx", txs_op_name(r->op));
    return true;
}

/* Bind the session to the request's db. Returns false when answered with an error. */
static bool bind_db(txs_session_t *s)
{
    const txs_request_t *r = cur(s);
    txs_pool_t *p = txs_client_find_pool(s->client, r->has_db ? r->db : NULL);
    if (!p) {
        reply_proxy(s, TXS_SQLSTATE_UNKNOWN_DB, "unknown db \"%s\"", r->db);
        return false;
    }
    if (s->pool && s->pool != p) {
        reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX, "session \"%s\" is bound to db \"%s\", not \"%s\"",
                    s->ctx, txs_pool_name(s->pool), txs_pool_name(p));
        return false;
    }
    s->pool = p;
    return true;
}

/* A request binds the session to a db when it names one, or when it may need a
 * backend. status, commit, rollback and end of a session with no backend touch no db,
 * so they bind nothing (as for a ctx that has no session yet). */
static bool needs_binding(const txs_session_t *s)
{
    const txs_request_t *r = cur(s);
    if (r->has_db)
        return true;
    if (s->pool)
        return false;
    switch (r->op) {
    case TXS_OP_STATUS:
    case TXS_OP_COMMIT:
    case TXS_OP_ROLLBACK:
    case TXS_OP_END:
        return false;
    default:
        return true;
    }
}

/* Start queued requests until one has to wait. */
static void advance(txs_session_t *s)
{
    s->in_advance = true;
    while (!s->current) {
        if (s->ended && !s->backend) {
            if (!s->head) {
                session_free(s);
                return;
            }
            /* `end` then more requests for the ctx: they get a fresh session. */
            s->ended = false;
            s->pool = NULL;
            set_idle(s);
        }
        if (!s->head)
            break;
        s->current = s->head;
        s->head = s->head->next;
        if (!s->head)
            s->tail = NULL;
        s->current->next = NULL;
        bool answered = needs_binding(s) && !bind_db(s);
        if (answered || start_op(s)) {
            txs_queued_t *q = s->current;
            s->current = NULL;
            s->autobegun = false;
            drop_request(s, q);
        }
    }
    s->in_advance = false;
}

void txs_session_enqueue(txs_session_t *s, txs_queued_t *q)
{
    q->next = NULL;
    if (s->tail)
        s->tail->next = q;
    else
        s->head = q;
    s->tail = q;
    if (!s->current && !s->in_advance)
        advance(s);
}
