/* session.c - the per-ctx state machine: transaction state and levels, request FIFO,
 * the statements each op sends, and the wind-down that backs the rollback guarantee.
 *
 *   READY --(op needs a backend, none linked)--> ACQUIRING --(pool cb)--> RUNNING
 *   READY --(op needs SQL, backend linked)-------------------------------> RUNNING
 *   RUNNING --(driver cb: reply, release or keep backend)----------------> READY
 *   READY --(outcome of a commit still under way elsewhere)--> WAITING --> READY
 *
 * A session holds a backend only while a transaction is open on it (or for one
 * autocommit statement); the backend goes back to the pool when the transaction
 * ends, and the pool rolls back whatever a departing session left open. Every ended
 * transaction is written to the client's principal's outcome journal. */
#include "daemon/session.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/client.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/session_int.h"
#include "daemon/tx_sql.h"
#include "protocol/errors.h"
#include "protocol/sqlstate.h"

static void advance(txs_session_t *s);
static void run_statement(txs_session_t *s, const txs_stmt_t *stmt, txs_step_t step);
static void run_statements(txs_session_t *s, const txs_stmt_t *stmts, int n, txs_step_t step);
static void run_main(txs_session_t *s);
static void on_pool(txs_pool_waiter_t *w, txs_backend_t *b, const txs_error_info_t *err);
static void on_outcome(txs_journal_waiter_t *w, txs_outcome_t o);
static void on_done(txs_dconn_t *dc, txs_drv_status_t st, void *arg);

/* SQL built for control statements; the driver copies it before run() returns. */
static txs_buf_t sql_scratch = TXS_BUF_INIT;

txs_session_t *txs_session_create(txs_client_t *c, const char *ctx)
{
    txs_session_t *s = txs_xcalloc(1, sizeof *s);
    snprintf(s->ctx, sizeof s->ctx, "%s", ctx);
    s->client = c;
    s->state = TXS_SESSION_READY;
    s->tx = TXS_TX_IDLE;
    s->waiter.cb = on_pool;
    s->outcome_waiter.cb = on_outcome;
    s->timing_out = -1;
    s->timeout_unreported = -1;
    s->idle_since = uv_now(c->server->loop);
    return s;
}

txs_log_who_t txs_session_who(const txs_session_t *s)
{
    txs_log_who_t w = txs_client_who(s->client);
    w.ctx = s->ctx;
    w.db = s->pool ? txs_pool_name(s->pool) : NULL;
    w.backend = s->backend ? s->backend->id : 0;
    return w;
}

static void session_free(txs_session_t *s)
{
    txs_client_t *c = s->client;
    if (s->pool)
        txs_pool_unbind(s->pool);
    txs_session_timer_free(s);
    txs_levels_clear(&s->levels);
    txs_client_session_freed(c, s);
    free(s);
}

/* ---- replies ---- */

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
    s->cancel_at = 0;
    s->timing_out = -1;
    s->abandoned = false;
    s->autobegun = false;
    drop_request(s, q);
    if (!nested)
        advance(s);
}

/* ---- the outcome journal ---- */

static uint64_t now_ms(const txs_session_t *s)
{
    return uv_now(s->client->server->loop);
}

/* The step about to run may commit: until it is recorded, `outcome` for this ctx
 * waits rather than answer with an older transaction's fate. */
static void announce_commit(txs_session_t *s)
{
    txs_journal_begin_commit(s->client->journal, s->ctx);
    s->committing = true;
}

static void journal(txs_session_t *s, txs_outcome_t o)
{
    txs_journal_record(s->client->journal, s->ctx, o, s->committing, now_ms(s));
    s->committing = false;
}

void txs_session_set_idle(txs_session_t *s)
{
    s->tx = TXS_TX_IDLE;
    txs_levels_clear(&s->levels);
    s->tx_gone = false;
    s->lost_unreported = false;
    s->tx_started = 0;
}

/* The transaction ended: journal how, and the session is idle. */
void txs_session_tx_ended(txs_session_t *s, txs_outcome_t o)
{
    journal(s, o);
    txs_session_set_idle(s);
}

/* The transaction ended on the database while levels are still open: journal it; the
 * levels now only wait for their rollbacks. */
void txs_session_tx_gone(txs_session_t *s, txs_outcome_t o)
{
    journal(s, o);
    s->tx_gone = true;
    txs_levels_drop_savepoints(&s->levels, 0);
}

/* ---- backend link ---- */

static void unwatch(txs_session_t *s)
{
    txs_session_driver(s)->watch(s->backend->dconn, NULL, NULL);
}

void txs_session_release_backend(txs_session_t *s)
{
    unwatch(s);
    txs_backend_t *b = s->backend;
    s->backend = NULL;
    s->tx_on_backend = false;
    txs_pool_release(b);
}

void txs_session_discard_backend(txs_session_t *s)
{
    unwatch(s);
    txs_backend_t *b = s->backend;
    s->backend = NULL;
    s->tx_on_backend = false;
    txs_pool_discard(b, s->abandoned ? TXS_CLOSE_CANCEL_FAILED : TXS_CLOSE_LOST);
}

/* The backend connection died under the open transaction: the connection leaves the
 * pool, the transaction is gone (rolled back by the server), the session is failed. */
void txs_session_lose_backend(txs_session_t *s)
{
    txs_session_discard_backend(s);
    if (s->tx == TXS_TX_IDLE)
        return;
    if (!s->tx_gone)
        txs_session_tx_gone(s, TXS_OUTCOME_ROLLED_BACK);
    if (s->tx == TXS_TX_OPEN)
        s->tx = TXS_TX_FAILED;
}

/* The linked backend died while the session sat between requests. */
static void on_linked_lost(txs_dconn_t *dc, txs_drv_status_t st, void *arg)
{
    txs_session_t *s = arg;
    txs_log_for(TXS_LOG_WARN, txs_session_who(s),
                "backend connection lost while the transaction was idle");
    txs_session_lose_backend(s);
    s->lost_unreported = true;
}

/* Between requests, a linked backend is watched so that its death frees its pool slot
 * at once and the session hears of it. */
static void watch_linked(txs_session_t *s)
{
    if (s->backend)
        txs_session_driver(s)->watch(s->backend->dconn, on_linked_lost, s);
}

/* ---- wind-down (client gone) ---- */

/* Nothing runs: give the backend back (the pool rolls back an open transaction or
 * closes the connection), journal what ended, and forget the session. */
static void wind_down_now(txs_session_t *s, bool dropped_work)
{
    if (s->current) {
        txs_queued_t *q = s->current;
        s->current = NULL;
        drop_request(s, q);
    }
    txs_log_for(TXS_LOG_DEBUG, txs_session_who(s), "session ended: wound down%s",
                s->tx != TXS_TX_IDLE && !s->tx_gone ? ", its transaction rolled back" : "");
    if ((s->tx != TXS_TX_IDLE && !s->tx_gone) || dropped_work)
        journal(s, TXS_OUTCOME_ROLLED_BACK);
    if (s->backend)
        txs_session_release_backend(s);
    session_free(s);
}

/* Would the request have run a transaction's statements? Then dropping it ends that
 * transaction, as far as `outcome` can tell. */
static bool is_work(const txs_request_t *r)
{
    return r->op == TXS_OP_QUERY || r->op == TXS_OP_BATCH || r->op == TXS_OP_COMMIT;
}

/* A commit, or a batch that commits, is left to finish: cancelling it would make its
 * outcome unknown (MySQL does not say whether a COMMIT hit by KILL QUERY committed). */
bool txs_session_step_commits(const txs_session_t *s)
{
    return s->step == TXS_STEP_COMMIT || s->step == TXS_STEP_DDL_COMMIT ||
           (s->step == TXS_STEP_BATCH && s->batch_own_tx);
}

void txs_session_wind_down(txs_session_t *s)
{
    s->winding_down = true;
    bool dropped_work = false;
    while (s->head) {
        txs_queued_t *q = s->head;
        s->head = q->next;
        dropped_work |= is_work(&q->req);
        drop_request(s, q);
    }
    s->tail = NULL;
    switch (s->state) {
    case TXS_SESSION_READY:
        wind_down_now(s, dropped_work);
        return;
    case TXS_SESSION_ACQUIRING:
        txs_pool_cancel_wait(s->pool, &s->waiter);
        wind_down_now(s, dropped_work || is_work(txs_session_cur(s)));
        return;
    case TXS_SESSION_WAITING:
        txs_journal_cancel_wait(&s->outcome_waiter);
        wind_down_now(s, dropped_work);
        return;
    case TXS_SESSION_RUNNING:
        if (!txs_session_step_commits(s))
            txs_session_cancel(s);
        return; /* the driver callback (or the hard stop) finishes the wind-down */
    }
}

/* Answers 57P01 to every queued request, in the order sent, and drops them. */
static void shut_down_queue(txs_session_t *s)
{
    while (s->head) {
        txs_queued_t *q = s->head;
        s->head = q->next;
        txs_session_reply_shutdown(s, &q->req);
        drop_request(s, q);
    }
    s->tail = NULL;
}

void txs_session_shut_down(txs_session_t *s)
{
    if (s->winding_down)
        return;
    if (s->state == TXS_SESSION_RUNNING && txs_session_step_commits(s))
        return; /* the COMMIT's own reply is its outcome and comes first; what is queued
                   behind it hears 57P01 after it (advance()) */
    if (s->current)
        txs_session_reply_shutdown(s, &s->current->req);
    shut_down_queue(s);
    txs_session_wind_down(s);
}

/* ---- timeouts (session_timeout.c decides when) ---- */

void txs_session_cancel(txs_session_t *s)
{
    if (s->cancel_sent)
        return;
    s->cancel_sent = true;
    s->cancel_at = now_ms(s);
    txs_session_driver(s)->cancel(s->backend->dconn);
}

void txs_session_abandon(txs_session_t *s)
{
    s->abandoned = true;
    on_done(NULL, TXS_DRV_LOST, s);
}

/* A timeout ends the transaction: journaled rolled back, the session idle, the backend
 * (if any) back to the pool, which rolls it back. */
static void roll_back_for_timeout(txs_session_t *s)
{
    if (!s->tx_gone)
        journal(s, TXS_OUTCOME_ROLLED_BACK);
    txs_session_set_idle(s);
    if (s->backend)
        txs_session_release_backend(s);
}

void txs_session_timeout_rollback(txs_session_t *s, txs_timeout_kind_t k)
{
    roll_back_for_timeout(s);
    s->timeout_unreported = (int)k;
}

void txs_session_timeout_acquiring(txs_session_t *s)
{
    txs_pool_cancel_wait(s->pool, &s->waiter);
    roll_back_for_timeout(s);
    txs_session_reply_timeout(s, TXS_TIMEOUT_TRANSACTION);
    finish_request(s);
}

void txs_session_forget(txs_session_t *s)
{
    session_free(s);
}

/* ---- SQL ---- */

/* "VERB txscope_sp_I" for the named savepoint at index i of the transaction's list, in
 * sql_scratch. The server never sees the client's names: PostgreSQL shadows a savepoint
 * whose name is used again, MySQL replaces it, so one name per savepoint makes both
 * behave as the daemon's list says. */
static const char *savepoint_sql(txs_session_t *s, const char *verb, int i)
{
    txs_buf_truncate(&sql_scratch, 0);
    txs_tx_sql_named(&sql_scratch, txs_session_driver(s)->quote_ident, verb, i);
    return sql_scratch.data;
}

/* "VERB txscope_level_N" for the innermost nested level (or the next one), in sql_scratch. */
static const char *level_sql(txs_session_t *s, const char *verb, int level)
{
    txs_buf_truncate(&sql_scratch, 0);
    txs_tx_sql_level(&sql_scratch, txs_session_driver(s)->quote_ident, verb, level);
    return sql_scratch.data;
}

static void run_sql(txs_session_t *s, const char *sql, txs_step_t step)
{
    txs_stmt_t st = {.sql = sql, .sql_len = strlen(sql)};
    run_statement(s, &st, step);
}

/* ---- running ---- */

/* Does the request's own SQL need the transaction begun on the backend first? */
static bool needs_begin(const txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    switch (r->op) {
    case TXS_OP_QUERY:
        return !s->run_alone;
    case TXS_OP_BEGIN:
    case TXS_OP_SAVEPOINT:
        return true;
    default:
        return false; /* a batch carries its BEGIN in the same round trip */
    }
}

#define TXS_BEGIN_SQL_MAX 160 /* driver.h: begin_sql's text fits */

/* The statements that open the transaction with the session's options, in the
 * backend's dialect (MySQL needs two when an isolation level is given). */
static int begin_sql(txs_session_t *s, char *buf, size_t len, txs_stmt_t *stmts)
{
    return txs_session_driver(s)->begin_sql(s->isolation, s->read_only, s->deferrable, buf, len,
                                            stmts);
}

/* The transaction's first statement goes with its BEGIN in one round trip (the
 * driver's pipeline), as a batch's do: the first query of every transaction would
 * otherwise wait a round trip more than it does behind PgBouncer. */
static void run_begin_and_statement(txs_session_t *s)
{
    char buf[TXS_BEGIN_SQL_MAX];
    txs_stmt_t stmts[TXS_DRV_BEGIN_MAX + 1];
    int n = begin_sql(s, buf, sizeof buf, stmts);
    stmts[n] = txs_session_cur(s)->stmt;
    s->batch_first = n;
    run_statements(s, stmts, n + 1, TXS_STEP_BEGIN_STATEMENT);
}

/* The backend is linked: send what the current request needs next. */
static void run_next(txs_session_t *s)
{
    if (needs_begin(s) && !s->tx_on_backend) {
        if (txs_session_cur(s)->op == TXS_OP_QUERY) {
            run_begin_and_statement(s);
            return;
        }
        char buf[TXS_BEGIN_SQL_MAX];
        txs_stmt_t begin[TXS_DRV_BEGIN_MAX];
        int n = begin_sql(s, buf, sizeof buf, begin);
        if (n == 1)
            run_statement(s, begin, TXS_STEP_BEGIN);
        else
            run_statements(s, begin, n, TXS_STEP_BEGIN);
        return;
    }
    run_main(s);
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
        unwatch(s); /* the step's own callback reports a death from now on */
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
        txs_session_set_idle(s);
    txs_session_reply_error(s, err);
    finish_request(s);
}

static void run_statement(txs_session_t *s, const txs_stmt_t *stmt, txs_step_t step)
{
    s->state = TXS_SESSION_RUNNING;
    s->step = step;
    s->step_started = now_ms(s);
    s->sent_ns = uv_hrtime();
    txs_session_timer_update(s);
    if (txs_session_driver(s)->run(s->backend->dconn, stmt, on_done, s) != TXS_OK)
        on_done(NULL, TXS_DRV_LOST, s); /* refused: the connection is unusable */
}

static void run_statements(txs_session_t *s, const txs_stmt_t *stmts, int n, txs_step_t step)
{
    s->state = TXS_SESSION_RUNNING;
    s->step = step;
    s->step_started = now_ms(s);
    s->sent_ns = uv_hrtime();
    txs_session_timer_update(s);
    if (txs_session_driver(s)->run_batch(s->backend->dconn, stmts, n, on_done, s) != TXS_OK)
        on_done(NULL, TXS_DRV_LOST, s);
}

/* A batch goes in one round trip: BEGIN first when the transaction is not on the
 * backend yet, COMMIT last when the batch is its own transaction. */
static void run_batch(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    int n = r->nstmts;
    txs_stmt_t *all = txs_xmalloc((size_t)(n + TXS_DRV_BEGIN_MAX + 1) * sizeof *all);
    char begin[TXS_BEGIN_SQL_MAX];
    int k = 0;
    if (!s->tx_on_backend)
        k = begin_sql(s, begin, sizeof begin, all);
    s->batch_first = k;
    memcpy(all + k, r->stmts, (size_t)n * sizeof *all);
    k += n;
    if (s->batch_own_tx) {
        all[k++] = (txs_stmt_t){.sql = "COMMIT", .sql_len = 6};
        announce_commit(s);
    }
    run_statements(s, all, k, TXS_STEP_BATCH);
    free(all);
}

/* The request's own SQL, once the transaction is on the backend. */
static void run_main(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    switch (r->op) {
    case TXS_OP_QUERY:
        s->batch_first = 0;
        if (s->ddl_commit) {
            const txs_stmt_t two[2] = {{.sql = "COMMIT", .sql_len = 6}, r->stmt};
            s->batch_first = 1;
            announce_commit(s);
            run_statements(s, two, 2, TXS_STEP_DDL_COMMIT);
            return;
        }
        if (s->run_alone)
            announce_commit(s);
        run_statement(s, &r->stmt, TXS_STEP_STATEMENT);
        return;
    case TXS_OP_BEGIN: /* nested */
        run_sql(s, level_sql(s, "SAVEPOINT", s->levels.depth + 1), TXS_STEP_LEVEL_OPEN);
        return;
    case TXS_OP_SAVEPOINT:
        run_sql(s, savepoint_sql(s, "SAVEPOINT", s->levels.nsavepoints), TXS_STEP_SAVEPOINT);
        return;
    case TXS_OP_BATCH:
        run_batch(s);
        return;
    default:
        txs_log_for(TXS_LOG_ERROR, txs_session_who(s), "op %s has no statement to run",
                    txs_op_name(r->op));
        return;
    }
}

/* The driver's cached form of the statement went stale (PostgreSQL: a table changed
 * its columns under a cached SELECT). Where the statement was all its transaction did,
 * nothing is lost by sending it again, once, and the client never hears of the cache:
 * alone (autocommit), it simply runs again; as the transaction's first statement, the
 * failed transaction is rolled back and begun again in the same round trip. */
static bool retry_stale(txs_session_t *s, txs_dconn_t *dc)
{
    bool alone = s->step == TXS_STEP_STATEMENT && s->run_alone;
    bool first = s->step == TXS_STEP_BEGIN_STATEMENT;
    if ((!alone && !first) || s->stale_retried || s->winding_down || s->timing_out >= 0)
        return false;
    txs_error_info_t e;
    txs_session_driver(s)->last_error(dc, &e);
    if (!e.stale || (first && (!e.has_index || e.index != s->batch_first)))
        return false;
    s->stale_retried = true;
    txs_log_for(TXS_LOG_DEBUG, txs_session_who(s), "cached statement went stale: sent again");
    if (alone) {
        run_statement(s, &txs_session_cur(s)->stmt, TXS_STEP_STATEMENT);
        return true;
    }
    char buf[TXS_BEGIN_SQL_MAX];
    txs_stmt_t stmts[TXS_DRV_BEGIN_MAX + 2];
    stmts[0] = (txs_stmt_t){.sql = "ROLLBACK", .sql_len = 8};
    int n = begin_sql(s, buf, sizeof buf, stmts + 1);
    stmts[n + 1] = txs_session_cur(s)->stmt;
    s->batch_first = n + 1;
    run_statements(s, stmts, n + 2, TXS_STEP_BEGIN_STATEMENT);
    return true;
}

static void on_done(txs_dconn_t *dc, txs_drv_status_t st, void *arg)
{
    txs_session_t *s = arg;
    if (dc)
        txs_pool_observe_query(s->pool, (uv_hrtime() - s->sent_ns) / 1000);
    if (st == TXS_DRV_DB_ERROR && retry_stale(s, dc))
        return;
    if (s->timing_out == TXS_TIMEOUT_TRANSACTION && st != TXS_DRV_LOST && !s->winding_down) {
        /* transaction_timeout cancelled the step: whatever it did, the transaction is
         * rolled back and the request hears 25P03. */
        roll_back_for_timeout(s);
        txs_session_reply_timeout(s, TXS_TIMEOUT_TRANSACTION);
        finish_request(s);
        return;
    }
    switch (s->step) {
    case TXS_STEP_BEGIN:
        if (st == TXS_DRV_OK) {
            s->tx_on_backend = true;
            if (s->winding_down)
                break;
            run_main(s);
            return;
        }
        txs_session_step_failed(s, dc, st);
        if (s->backend)
            txs_session_release_backend(s); /* nothing of the transaction is on it */
        break;
    case TXS_STEP_STATEMENT:
        txs_session_done_statement(s, dc, st);
        break;
    case TXS_STEP_BEGIN_STATEMENT:
        txs_session_done_begin_statement(s, dc, st);
        break;
    case TXS_STEP_DDL_COMMIT:
        txs_session_done_ddl_commit(s, dc, st);
        break;
    case TXS_STEP_BATCH:
        txs_session_done_batch(s, dc, st);
        break;
    case TXS_STEP_COMMIT:
        txs_session_done_commit(s, dc, st);
        break;
    case TXS_STEP_ROLLBACK:
        txs_session_done_rollback(s, st);
        break;
    case TXS_STEP_LEVEL_OPEN:
    case TXS_STEP_LEVEL_RELEASE:
    case TXS_STEP_LEVEL_UNDO:
    case TXS_STEP_SAVEPOINT:
    case TXS_STEP_RELEASE:
    case TXS_STEP_ROLLBACK_TO:
        txs_session_done_control(s, dc, st);
        break;
    case TXS_STEP_NONE:
        txs_log_for(TXS_LOG_ERROR, txs_session_who(s), "driver completion in step %d",
                    (int)s->step);
        break;
    }
    if (s->winding_down) {
        s->state = TXS_SESSION_READY;
        wind_down_now(s, false);
        return;
    }
    watch_linked(s);
    finish_request(s);
}

/* ---- ops ---- */

static void open_tx(txs_session_t *s, const txs_request_t *r)
{
    txs_session_set_idle(s);
    s->tx = TXS_TX_OPEN;
    s->tx_started = now_ms(s);
    txs_levels_push(&s->levels, TXS_LEVEL_TX);
    s->tx_on_backend = false;
    s->isolation = r ? r->isolation : TXS_ISO_DEFAULT;
    s->read_only = r ? r->read_only : TXS_UNSET;
    s->deferrable = r ? r->deferrable : TXS_UNSET;
}

static bool start_begin(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (txs_session_refuse_if_failed(s) || txs_session_refuse_deferrable(s, r))
        return true;
    if (s->tx == TXS_TX_IDLE) {
        open_tx(s, r);
        if (!r->nested) {
            txs_session_reply_ok(s);
            return true;
        }
        /* As SQLAlchemy's begin_nested(): the transaction, and a savepoint in it. */
        s->autobegun = true;
        need_backend(s);
        return false;
    }
    if (!r->nested && !r->join) {
        txs_session_reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX,
                                "a transaction is already open; use \"nested\" or \"join\"");
        return true;
    }
    if (txs_session_refuse_other_options(s, r) || txs_session_refuse_too_deep(s))
        return true;
    if (r->join) {
        txs_levels_push(&s->levels, TXS_LEVEL_JOINED);
        txs_session_reply_ok(s);
        return true;
    }
    need_backend(s);
    return false;
}

static bool start_query(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (txs_session_refuse_if_failed(s) || txs_session_refuse_tx_control(s, &r->stmt, -1))
        return true;
    if (r->autocommit && s->tx != TXS_TX_IDLE) {
        txs_session_reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX,
                                "\"autocommit\" query while a transaction is open");
        return true;
    }
    s->run_alone = r->autocommit;
    s->ddl_commit = false;
    const char *ddl = r->autocommit ? NULL : txs_session_implicit_commit(s, &r->stmt);
    if (txs_session_refuse_implicit_commit(s, ddl, -1))
        return true;
    if (ddl) {
        /* Allowed: as on the server, what is open ends committed and the DDL runs alone. */
        if (s->tx != TXS_TX_IDLE && s->tx_on_backend) {
            s->ddl_commit = true;
        } else {
            if (s->tx != TXS_TX_IDLE)
                txs_session_tx_ended(
                    s, TXS_OUTCOME_COMMITTED); /* begun, nothing sent: nothing to do */
            s->run_alone = true;
        }
    }
    if (!s->run_alone && s->tx == TXS_TX_IDLE) {
        open_tx(s, NULL);
        s->autobegun = true;
    }
    need_backend(s);
    return false;
}

static bool start_batch(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (txs_session_refuse_if_failed(s) || txs_session_refuse_deferrable(s, r))
        return true;
    for (int i = 0; i < r->nstmts; i++)
        if (txs_session_refuse_tx_control(s, &r->stmts[i], i) ||
            txs_session_refuse_implicit_commit(s, txs_session_implicit_commit(s, &r->stmts[i]), i))
            return true;
    if (s->tx != TXS_TX_IDLE && txs_session_refuse_other_options(s, r))
        return true;
    if (r->nstmts == 0) {
        txs_buf_t *out = txs_client_out(s->client);
        if (!s->winding_down) {
            txs_reply_open(out, r->id, r->id_len, true);
            txs_buf_puts(out, ",\"results\":[]");
            txs_reply_close(out, true, s->tx, s->levels.depth);
        }
        return true;
    }
    s->batch_own_tx = s->tx == TXS_TX_IDLE;
    if (s->batch_own_tx) {
        open_tx(s, r);
        s->autobegun = true;
    }
    need_backend(s);
    return false;
}

static bool start_commit(txs_session_t *s)
{
    if (txs_session_refuse_if_failed(s))
        return true;
    if (s->tx == TXS_TX_IDLE) {
        txs_session_reply_ok(s);
        return true;
    }
    switch (txs_levels_top(&s->levels)) {
    case TXS_LEVEL_JOINED: /* only the outermost commit commits */
        txs_levels_pop_joined(&s->levels);
        txs_session_reply_ok(s);
        return true;
    case TXS_LEVEL_SAVEPOINT:
        unwatch(s);
        run_sql(s, level_sql(s, "RELEASE SAVEPOINT", s->levels.depth), TXS_STEP_LEVEL_RELEASE);
        return false;
    case TXS_LEVEL_TX:
        break;
    }
    if (!s->backend) { /* begun, but no statement ran: nothing to commit */
        txs_session_tx_ended(s, TXS_OUTCOME_COMMITTED);
        txs_session_reply_ok(s);
        return true;
    }
    if (txs_session_driver(s)->tx_status(s->backend->dconn) == TXS_DRV_TX_UNKNOWN) {
        /* The connection is known dead: COMMIT would not even be sent, so the outcome is
         * known: rolled back. */
        txs_session_lose_backend(s);
        txs_session_reply_proxy(s, TXS_SQLSTATE_CONNECTION_LOST,
                                "backend connection lost: the transaction was rolled back");
        return true;
    }
    unwatch(s);
    announce_commit(s);
    run_sql(s, "COMMIT", TXS_STEP_COMMIT);
    return false;
}

static bool start_rollback(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    s->lost_unreported = false; /* the rollback's success says it all */
    if (s->tx == TXS_TX_IDLE) {
        txs_session_reply_ok(s);
        if (r->op == TXS_OP_END)
            s->ended = true;
        return true;
    }
    bool whole = r->op == TXS_OP_END || txs_levels_top(&s->levels) != TXS_LEVEL_SAVEPOINT;
    if (s->tx_gone) {
        /* The transaction already ended on the database: unwind a level (all, for end). */
        if (r->op == TXS_OP_END || s->levels.depth == 1) {
            txs_session_set_idle(s);
            s->ended = r->op == TXS_OP_END;
        } else {
            txs_levels_pop(&s->levels);
            s->tx = TXS_TX_INACTIVE;
        }
        txs_session_reply_ok(s);
        return true;
    }
    if (!whole) {
        /* A nested level: undo its work, and only its work, in one round trip. */
        txs_quote_fn quote = txs_session_driver(s)->quote_ident;
        txs_buf_truncate(&sql_scratch, 0);
        size_t undo =
            txs_tx_sql_level(&sql_scratch, quote, "ROLLBACK TO SAVEPOINT", s->levels.depth);
        size_t release =
            txs_tx_sql_level(&sql_scratch, quote, "RELEASE SAVEPOINT", s->levels.depth);
        const char *text = sql_scratch.data; /* both written: it no longer moves */
        txs_stmt_t two[2] = {{.sql = text + undo, .sql_len = strlen(text + undo)},
                             {.sql = text + release, .sql_len = strlen(text + release)}};
        unwatch(s);
        run_statements(s, two, 2, TXS_STEP_LEVEL_UNDO);
        return false;
    }
    if (s->backend) {
        unwatch(s);
        run_sql(s, "ROLLBACK", TXS_STEP_ROLLBACK);
        return false;
    }
    txs_session_whole_rolled_back(s); /* nothing reached the database: nothing to undo there */
    return true;
}

static bool start_savepoint_op(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    const char *name = r->name; /* folded to lower case by the decoder */
    switch (r->op) {
    case TXS_OP_SAVEPOINT:
        if (txs_session_refuse_if_failed(s))
            return true;
        if (s->levels.nsavepoints >= TXS_MAX_SAVEPOINTS) {
            txs_session_reply_proxy(s, TXS_SQLSTATE_TOO_BIG, "too many savepoints (at most %d)",
                                    TXS_MAX_SAVEPOINTS);
            return true;
        }
        if (s->tx == TXS_TX_IDLE) { /* as a query would, it begins the transaction */
            open_tx(s, NULL);
            s->autobegun = true;
        }
        need_backend(s);
        return false;
    case TXS_OP_RELEASE:
        if (txs_session_refuse_if_failed(s) || txs_session_refuse_unknown_savepoint(s, name))
            return true;
        unwatch(s);
        run_sql(s,
                savepoint_sql(s, "RELEASE SAVEPOINT", txs_levels_find_savepoint(&s->levels, name)),
                TXS_STEP_RELEASE);
        return false;
    default: /* rollback_to: also the way out of the failed state */
        if (txs_session_report_lost(s))
            return true;
        if (s->tx == TXS_TX_INACTIVE || s->tx_gone) {
            txs_session_reply_proxy(s, TXS_SQLSTATE_FAILED_TX,
                                    "the transaction is no longer on the database: roll back");
            return true;
        }
        if (txs_session_refuse_unknown_savepoint(s, name))
            return true;
        unwatch(s);
        run_sql(
            s,
            savepoint_sql(s, "ROLLBACK TO SAVEPOINT", txs_levels_find_savepoint(&s->levels, name)),
            TXS_STEP_ROLLBACK_TO);
        return false;
    }
}

static void reply_outcome(txs_session_t *s, txs_outcome_t o)
{
    if (!s->winding_down) {
        txs_buf_t *out = txs_client_out(s->client);
        txs_reply_open(out, txs_session_cur(s)->id, txs_session_cur(s)->id_len, true);
        txs_buf_printf(out, ",\"outcome\":\"%s\"", txs_outcome_name(o));
        txs_reply_close(out, true, s->tx, s->levels.depth);
    }
    /* A session made only to ask is not kept. */
    if (!s->pool && s->tx == TXS_TX_IDLE)
        s->ended = true;
}

static void on_outcome(txs_journal_waiter_t *w, txs_outcome_t o)
{
    txs_session_t *s = (txs_session_t *)((char *)w - offsetof(txs_session_t, outcome_waiter));
    reply_outcome(s, o);
    finish_request(s);
}

static bool start_outcome(txs_session_t *s)
{
    txs_outcome_t o = txs_journal_lookup(s->client->journal, s->ctx, now_ms(s), &s->outcome_waiter);
    if (o == TXS_OUTCOME_PENDING) {
        s->state = TXS_SESSION_WAITING;
        return false;
    }
    reply_outcome(s, o);
    return true;
}

/* Returns true when the request was answered without waiting. */
static bool start_op(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (txs_session_report_timeout(s))
        return true;
    switch (r->op) {
    case TXS_OP_STATUS:
        txs_session_reply_ok(s);
        return true;
    case TXS_OP_BEGIN:
        return start_begin(s);
    case TXS_OP_QUERY:
        return start_query(s);
    case TXS_OP_BATCH:
        return start_batch(s);
    case TXS_OP_COMMIT:
        return start_commit(s);
    case TXS_OP_ROLLBACK:
    case TXS_OP_END:
        return start_rollback(s);
    case TXS_OP_SAVEPOINT:
    case TXS_OP_RELEASE:
    case TXS_OP_ROLLBACK_TO:
        return start_savepoint_op(s);
    case TXS_OP_OUTCOME:
        return start_outcome(s);
    case TXS_OP_HELLO:
    case TXS_OP_PING:
        break;
    }
    txs_session_reply_proxy(s, TXS_SQLSTATE_PROTOCOL, "op \"%s\" takes no ctx", txs_op_name(r->op));
    return true;
}

/* Bind the session to the request's db. Returns false when answered with an error. */
static bool bind_db(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    txs_pool_t *p = txs_client_find_pool(s->client, r->has_db ? r->db : NULL);
    if (!p) {
        txs_session_reply_proxy(s, TXS_SQLSTATE_UNKNOWN_DB, "unknown db \"%s\"", r->db);
        return false;
    }
    if (s->pool && s->pool != p) {
        txs_session_reply_proxy(s, TXS_SQLSTATE_ACTIVE_TX,
                                "session \"%s\" is bound to db \"%s\", not \"%s\"", s->ctx,
                                txs_pool_name(s->pool), txs_pool_name(p));
        return false;
    }
    bool fresh = !s->pool;
    if (fresh)
        txs_pool_bind(p); /* a removed db's pool lives while sessions are bound to it */
    s->pool = p;
    if (fresh)
        txs_log_for(TXS_LOG_DEBUG, txs_session_who(s), "session bound to its db");
    return true;
}

/* A request binds the session to a db when it names one, or when it may need a
 * backend. status, commit, rollback, end and outcome of a session with no backend
 * touch no db, so they bind nothing (as for a ctx that has no session yet). */
static bool needs_binding(const txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (r->has_db)
        return true;
    if (s->pool)
        return false;
    switch (r->op) {
    case TXS_OP_STATUS:
    case TXS_OP_COMMIT:
    case TXS_OP_ROLLBACK:
    case TXS_OP_END:
    case TXS_OP_OUTCOME:
    case TXS_OP_RELEASE:
    case TXS_OP_ROLLBACK_TO:
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
                txs_log_for(TXS_LOG_DEBUG, txs_session_who(s), "session ended: end");
                session_free(s);
                return;
            }
            /* `end` then more requests for the ctx: they get a fresh session. */
            s->ended = false;
            if (s->pool)
                txs_pool_unbind(s->pool);
            s->pool = NULL;
            s->timeout_unreported = -1;
            txs_session_set_idle(s);
        }
        if (!s->head)
            break;
        if (s->client->server->shutting_down) {
            shut_down_queue(s); /* behind a COMMIT that finished during the wind-down */
            break;
        }
        s->current = s->head;
        s->stale_retried = false;
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
    if (!s->current)
        s->idle_since = now_ms(s);
    txs_session_timer_update(s);
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
