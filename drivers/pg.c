/* pg.c - the PostgreSQL driver: libpq's asynchronous API driven from the caller's uv loop. */

/* What it does beyond driver.h:
 * - The dsn is a URI or key=value words. application_name defaults to txscope;
 *   client_encoding is always UTF8; PG_OPTIONS go after the user's `options`.
 *   libpq resolves host names synchronously: give addresses (or hostaddr=) in the dsn.
 * - Right after connecting, before reporting OK, the user types (enums, composite types
 *   made with CREATE TYPE, ranges, extension types) are read once; a type created later
 *   is named by its OID ("16401") until the connection is replaced.
 * - Statements go through the extended protocol, one at a time: a string of several
 *   statements is a DB_ERROR (42601). COPY FROM STDIN is refused (57014); COPY TO STDOUT
 *   returns "COPY" and its count, its data dropped. LISTEN notifications are dropped
 *   (and mark the session for a DISCARD ALL at reset, as statements that may leave state
 *   behind do: drivers/pg_state.h; reset and ping are in drivers/pg_reset.c).
 * - run_batch() sends its statements in one pipeline (libpq pipeline mode) closed by one
 *   Sync, and collects every result before reporting. Until the Sync the server runs
 *   them in one implicit transaction (unless they BEGIN one themselves): if one fails,
 *   the statements before it are rolled back, the ones after it are skipped
 *   (PGRES_PIPELINE_ABORTED), and an explicit transaction is left failed. A COPY FROM
 *   STDIN cannot be answered inside a pipeline (the server would read the next
 *   statement as COPY data and drop the connection), so a batch statement that starts
 *   with COPY and mentions STDIN is refused before anything is sent (0A000).
 * - cancel() sends PQcancel from the thread pool and asks again, less and less often,
 *   while the statement (or batch) runs: a backend still reading the statement ignores
 *   a request. Nothing else is sent on the connection while a request is under way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "drivers/pg_conn.h"
#include "drivers/pg_options.h"
#include "drivers/pg_state.h"
#include "drivers/pg_tx.h"
#include "protocol/errors.h"
#include "protocol/sqlclass.h"

#define PG_MAX_PARAMS 65535 /* the protocol counts parameters in 16 bits */

static void on_poll(uv_poll_t *h, int status, int events);

/* ---- errors ---- */

/* Copy msg into errmsg without the newline(s) libpq ends its messages with. */
static const char *set_errmsg(txs_dconn_t *c, const char *msg)
{
    snprintf(c->errmsg, sizeof c->errmsg, "%s", msg && *msg ? msg : "connection lost");
    size_t n = strlen(c->errmsg);
    while (n > 0 && (c->errmsg[n - 1] == '\n' || c->errmsg[n - 1] == '\r' ||
                     c->errmsg[n - 1] == ' ' || c->errmsg[n - 1] == '\t'))
        c->errmsg[--n] = '\0';
    return c->errmsg;
}

void txs_pg_conn_set_error(txs_dconn_t *c, const char *code, const char *msg)
{
    memset(&c->err, 0, sizeof c->err);
    c->err.code = code;
    c->err.message = set_errmsg(c, msg);
    c->err.from_db = false;
}

/* Free a batch's results (the array stays for the next batch). */
static void clear_batch(txs_dconn_t *c)
{
    for (int i = 0; i < c->batch_n; i++) {
        PQclear(c->bres[i]);
        c->bres[i] = NULL;
    }
    c->batch_n = 0;
}

/* Forget the previous operation's results and error. */
static void clear_op(txs_dconn_t *c)
{
    PQclear(c->result);
    c->result = NULL;
    clear_batch(c);
    c->is_batch = false;
    c->one_in_pipeline = false;
    c->stale = false;
    PQclear(c->err_res);
    c->err_res = NULL;
    memset(&c->err, 0, sizeof c->err);
}

/* ---- the poll handle ---- */

static void on_poll_reopened(uv_handle_t *h);

/* Watch the socket for `events` (0: stop). During connect the socket can change (another
 * address, an SSL retry), even to a new socket with the old number: callers stop the poll
 * before a libpq call that may close it, and when the number differs the old poll is
 * closed and a new one is made in its close callback. */
static int arm(txs_dconn_t *c, int events)
{
    if (c->poll_reopening) {
        c->poll_want = events;
        return 0;
    }
    if (events == 0) {
        if (c->poll_events)
            uv_poll_stop(&c->poll);
        c->poll_events = 0;
        return 0;
    }
    int fd = c->pg ? PQsocket(c->pg) : -1;
    if (fd < 0)
        return UV_EBADF;
    if (c->poll_fd >= 0 && fd != c->poll_fd) {
        c->poll_reopening = true;
        c->poll_want = events;
        c->poll_fd = -1;
        c->poll_events = 0;
        uv_close((uv_handle_t *)&c->poll, on_poll_reopened);
        return 0;
    }
    if (c->poll_fd < 0) {
        int r = uv_poll_init(c->loop, &c->poll, fd);
        if (r)
            return r;
        c->poll.data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
    }
    if (c->poll_events != events) {
        int r = uv_poll_start(&c->poll, events, on_poll);
        if (r)
            return r;
        c->poll_events = events;
    }
    return 0;
}

/* ---- reporting ---- */

static void close_done(txs_dconn_t *c);

/* Report an op's failure: the connection is unusable (08001 while connecting, else
 * 08006). to_watch: the death was seen while idle, so watch's callback hears it. */
void txs_pg_conn_lost(txs_dconn_t *c, const char *code, const char *msg, bool to_watch)
{
    if (strcmp(code, "08006") == 0) {
        if (c->fatal_msg[0]) {
            msg = c->fatal_msg; /* the server said why before it hung up (while idle) */
        } else if (msg && (strncmp(msg, "FATAL:  ", 8) == 0 || strncmp(msg, "PANIC:  ", 8) == 0)) {
            /* The server said why during a statement, and libpq then lost the socket: its
             * message is "FATAL:  why\nserver closed the connection unexpectedly...". Keep
             * the why (libpq dropped the result that held it as a field). */
            size_t n = strcspn(msg + 8, "\n");
            snprintf(c->fatal_msg, sizeof c->fatal_msg, "%.*s", (int)n, msg + 8);
            msg = c->fatal_msg;
        }
    }
    txs_pg_conn_set_error(c, code, msg);
    uv_timer_stop(&c->timer);
    c->cancel_wanted = false;
    arm(c, 0);
    c->state = PG_DEAD;
    c->flushing = false;
    txs_drv_cb cb = to_watch ? c->watch_cb : c->op_cb;
    void *arg = to_watch ? c->watch_arg : c->op_arg;
    if (!cb)
        return; /* nobody watches: the next run() reports it */
    c->lost_reported = true;
    cb(c, TXS_DRV_LOST, arg);
}

/* The connection broke (or libpq could not go on) in whatever the current state is. */
static void broken(txs_dconn_t *c, const char *msg)
{
    switch (c->state) {
    case PG_CONNECTING:
    case PG_LOADING_TYPES:
        txs_pg_conn_lost(c, "08001", msg, false);
        return;
    case PG_RUNNING:
    case PG_QUEUED:
        txs_pg_conn_lost(c, "08006", msg, false);
        return;
    case PG_IDLE:
        txs_pg_conn_lost(c, "08006", msg, true);
        return;
    default:
        return;
    }
}

/* Go idle: the poll waits for readable so that a dying connection is noticed. */
static bool go_idle(txs_dconn_t *c, const char *lost_code)
{
    if (c->cancel_wanted) {
        c->cancel_wanted = false;
        uv_timer_stop(&c->timer); /* no more asking */
    }
    c->state = PG_IDLE;
    c->flushing = false;
    c->copy_out = false;
    int r = arm(c, UV_READABLE);
    if (r) {
        txs_pg_conn_set_error(c, lost_code, uv_strerror(r));
        c->state = PG_DEAD;
        c->lost_reported = true;
        return false;
    }
    return true;
}

static void on_timer(uv_timer_t *t);

/* Report `st` to the op's callback on the next loop turn: run() and connect() never
 * call back before they return. The error is already in c->err. */
void txs_pg_conn_defer(txs_dconn_t *c, txs_drv_status_t st)
{
    arm(c, 0);
    c->state = PG_REPORTING;
    c->deferred = st;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

static int start_cancel(txs_dconn_t *c);

static void on_timer(uv_timer_t *t)
{
    txs_dconn_t *c = t->data;
    char msg[96];
    switch (c->state) {
    case PG_RUNNING:
        if (c->pinging) {
            txs_pg_ping_expired(c);
            return;
        }
        /* the statement outlived a delivered cancel request: ask again */
        if (c->cancel_wanted && !c->cancel_busy && start_cancel(c) != TXS_OK)
            txs_log_warn("pg %d: could not send a cancel request", PQbackendPID(c->pg));
        return;
    case PG_CONNECTING:
    case PG_LOADING_TYPES:
        snprintf(msg, sizeof msg, "could not connect to server within %llu ms",
                 (unsigned long long)c->timeout_ms);
        txs_pg_conn_lost(c, "08001", msg, false);
        return;
    case PG_REPORTING: {
        txs_drv_status_t st = c->deferred;
        if (st == TXS_DRV_LOST) {
            c->state = PG_DEAD;
            c->lost_reported = true;
        } else if (!go_idle(c, "08006")) {
            st = TXS_DRV_LOST;
        }
        c->op_cb(c, st, c->op_arg);
        return;
    }
    case PG_DEAD:
        /* watch() was set on a connection that had died unobserved */
        if (!c->lost_reported && c->watch_cb) {
            c->lost_reported = true;
            c->watch_cb(c, TXS_DRV_LOST, c->watch_arg);
        }
        return;
    default:
        return;
    }
}

void txs_pg_conn_timer(txs_dconn_t *c, uint64_t ms)
{
    uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* ---- sending and collecting ---- */

/* Push out what libpq holds and wait for the answer (and writable while more is to go). */
int txs_pg_conn_flush(txs_dconn_t *c)
{
    int r = PQflush(c->pg);
    if (r < 0)
        return -1;
    c->flushing = r == 1;
    return arm(c, UV_READABLE | (c->flushing ? UV_WRITABLE : 0)) ? -1 : 0;
}

enum drain_result { DRAIN_WAIT, DRAIN_DONE, DRAIN_BROKEN };

static bool is_fatal_severity(const char *sev)
{
    return sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
}

/* An error result that ends the session rather than the statement: libpq's own (no
 * SQLSTATE: the socket died), or the server's FATAL (e.g. pg_terminate_backend). */
static bool is_session_fatal(const PGresult *res)
{
    return !PQresultErrorField(res, PG_DIAG_SQLSTATE) ||
           is_fatal_severity(PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED));
}

/* Read what a COPY TO STDOUT sends, dropping it. */
static enum drain_result drain_copy_out(txs_dconn_t *c)
{
    char *buf;
    int n;
    while ((n = PQgetCopyData(c->pg, &buf, 1)) > 0)
        PQfreemem(buf);
    if (n == 0)
        return DRAIN_WAIT;
    if (n == -2) {
        broken(c, PQerrorMessage(c->pg));
        return DRAIN_BROKEN;
    }
    c->copy_out = false;
    return DRAIN_DONE;
}

/* The next result libpq has without waiting, in *res (NULL: the end of the results of
 * a statement), after dropping what a COPY TO STDOUT sent. DRAIN_DONE when *res is set. */
static enum drain_result next_result(txs_dconn_t *c, PGresult **res)
{
    if (c->copy_out) {
        enum drain_result r = drain_copy_out(c);
        if (r != DRAIN_DONE)
            return r;
    }
    if (PQisBusy(c->pg))
        return DRAIN_WAIT;
    *res = PQgetResult(c->pg);
    return DRAIN_DONE;
}

/* The connection is gone, as an error result says (is_session_fatal). */
static void broken_by(txs_dconn_t *c, const PGresult *res)
{
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    broken(c, primary ? primary : PQresultErrorMessage(res));
}

/* Take every result libpq can give without waiting, keeping the last one. */
static enum drain_result drain(txs_dconn_t *c)
{
    for (;;) {
        PGresult *res;
        enum drain_result r = next_result(c, &res);
        if (r != DRAIN_DONE)
            return r;
        if (!res)
            return DRAIN_DONE;
        switch (PQresultStatus(res)) {
        case PGRES_COPY_IN:
            /* No way to feed it: fail the COPY (the server answers 57014), and keep
             * draining, or PQgetResult would return this result forever. */
            PQclear(res);
            if (PQputCopyEnd(c->pg, "COPY FROM STDIN is not supported through txscope") < 0 ||
                txs_pg_conn_flush(c) < 0) {
                broken(c, PQerrorMessage(c->pg));
                return DRAIN_BROKEN;
            }
            continue;
        case PGRES_COPY_OUT:
            PQclear(res); /* its rows are dropped; the reply is the final "COPY n" */
            c->copy_out = true;
            continue;
        case PGRES_COPY_BOTH:
            PQclear(res);
            broken(c, "unexpected COPY BOTH from the server");
            return DRAIN_BROKEN;
        default:
            PQclear(c->result);
            c->result = res;
            continue;
        }
    }
}

/* When res ends the session (is_session_fatal): the connection is broken, res dropped. */
static bool session_ended_by(txs_dconn_t *c, PGresult *res)
{
    if (!is_session_fatal(res))
        return false;
    broken_by(c, res);
    PQclear(res);
    return true;
}

/* The result of the PREPARE sent before statement batch_cur. Its failure (a syntax
 * error, an unknown table) is the statement's own, and the statement comes back
 * skipped; either way nothing was prepared then. */
static enum drain_result prepare_result(txs_dconn_t *c, PGresult *res)
{
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
        PQclear(res);
        break;
    case PGRES_FATAL_ERROR:
        if (session_ended_by(c, res))
            return DRAIN_BROKEN;
        txs_pg_cache_forget(&c->cache, c->bcache_id[c->batch_cur]);
        if (c->batch_fail < 0)
            c->batch_fail = c->batch_cur;
        PQclear(c->bres[c->batch_cur]);
        c->bres[c->batch_cur] = res;
        break;
    case PGRES_PIPELINE_ABORTED: /* an earlier statement failed */
        txs_pg_cache_forget(&c->cache, c->bcache_id[c->batch_cur]);
        PQclear(res);
        break;
    default:
        PQclear(res);
        broken(c, "unexpected result from the server for a PREPARE");
        return DRAIN_BROKEN;
    }
    c->batch_prepare_has = true;
    return DRAIN_DONE;
}

/* Take every result of a batch libpq can give without waiting, up to the Sync's. In
 * pipeline mode each statement's results end with a NULL from PQgetResult, and a NULL
 * alone means libpq expects nothing more. The statements after a failed one come back
 * PGRES_PIPELINE_ABORTED. A session-ending error is reported at once: waiting for the
 * rest would only wait for the socket to close. */
static enum drain_result drain_batch(txs_dconn_t *c)
{
    for (;;) {
        PGresult *res;
        enum drain_result r = next_result(c, &res);
        if (r != DRAIN_DONE)
            return r;
        if (!res) {
            if (c->batch_in_prepare && c->batch_prepare_has) {
                c->batch_in_prepare = false; /* now the statement's own results */
                c->batch_prepare_has = false;
                continue;
            }
            if (c->batch_cur_has) {
                c->batch_cur++;
                c->batch_cur_has = false;
                c->batch_in_prepare = c->batch_cur < c->batch_n && c->bprepare[c->batch_cur];
                continue;
            }
            broken(c, PQstatus(c->pg) == CONNECTION_BAD ? PQerrorMessage(c->pg)
                                                        : "the pipeline lost its sync");
            return DRAIN_BROKEN;
        }
        const char *unexpected = NULL;
        ExecStatusType st = PQresultStatus(res);
        if (c->batch_in_prepare && st != PGRES_PIPELINE_SYNC) {
            if (prepare_result(c, res) == DRAIN_BROKEN)
                return DRAIN_BROKEN;
            continue;
        }
        switch (st) {
        case PGRES_PIPELINE_SYNC:
            PQclear(res);
            if (c->batch_cur != c->batch_n || c->batch_cur_has) {
                broken(c, "the pipeline lost its sync");
                return DRAIN_BROKEN;
            }
            return DRAIN_DONE;
        case PGRES_COPY_OUT:
            PQclear(res); /* its rows are dropped; the result kept is the final "COPY n" */
            c->copy_out = true;
            continue;
        case PGRES_COPY_IN:
            unexpected = "COPY FROM STDIN cannot run in a batch";
            break;
        case PGRES_FATAL_ERROR:
            if (session_ended_by(c, res))
                return DRAIN_BROKEN;
            if (c->batch_fail < 0)
                c->batch_fail = c->batch_cur;
            txs_pg_cache_check_error(c, c->bcache_id[c->batch_cur], res);
            break;
        case PGRES_PIPELINE_ABORTED:
            if (c->batch_fail < 0)
                unexpected = "the server skipped a statement of the batch";
            if (!unexpected && c->bres[c->batch_cur]) {
                /* its PREPARE failed: that error is the statement's */
                PQclear(res);
                c->batch_cur_has = true;
                continue;
            }
            break;
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
        case PGRES_EMPTY_QUERY:
            break;
        default:
            unexpected = "unexpected result from the server";
            break;
        }
        if (!unexpected && c->batch_cur >= c->batch_n)
            unexpected = "more results than statements in the batch";
        if (unexpected) {
            PQclear(res);
            broken(c, unexpected);
            return DRAIN_BROKEN;
        }
        PQclear(c->bres[c->batch_cur]);
        c->bres[c->batch_cur] = res;
        c->batch_cur_has = true;
    }
}

static void types_loaded(txs_dconn_t *c)
{
    PGresult *res = c->result;
    c->result = NULL;
    if (PQstatus(c->pg) == CONNECTION_BAD) {
        PQclear(res);
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (!txs_pg_typemap_build(&c->types, res)) {
        /* Not fatal: user types then show as their OID. */
        txs_log_warn("pg: could not read the user types: %s",
                     res ? PQresultErrorMessage(res) : "no result");
        PQclear(res);
    }
    uv_timer_stop(&c->timer);
    txs_pg_params_keep(c);
    if (!go_idle(c, "08001")) {
        c->op_cb(c, TXS_DRV_LOST, c->op_arg);
        return;
    }
    c->op_cb(c, TXS_DRV_OK, c->op_arg);
}

/* A statement failed: last_error tells why from res, which c keeps. */
static void set_db_error(txs_dconn_t *c, PGresult *res)
{
    c->err_res = res;
    memset(&c->err, 0, sizeof c->err);
    c->err.code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    c->err.message = primary ? primary : "";
    c->err.detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    c->err.hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    c->err.constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
    const char *pos = PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
    c->err.position = pos ? atoi(pos) : 0;
    c->err.from_db = true;
    c->err.stale = c->stale;
}

/* Go idle and tell the op's callback st (LOST instead if the poll cannot be armed). */
static void finish_op(txs_dconn_t *c, txs_drv_status_t st)
{
    if (!go_idle(c, "08006"))
        st = TXS_DRV_LOST;
    c->op_cb(c, st, c->op_arg);
}

/* Every result of a batch is in, the Sync's too: leave pipeline mode and report. */
static void batch_done(txs_dconn_t *c)
{
    if (!PQexitPipelineMode(c->pg)) {
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->batch_fail >= 0) {
        PGresult *res = c->bres[c->batch_fail];
        c->bres[c->batch_fail] = NULL;
        clear_batch(c);
        set_db_error(c, res);
        c->err.has_index = !c->one_in_pipeline; /* run()'s errors have no index */
        c->err.index = c->one_in_pipeline ? 0 : c->batch_fail;
        finish_op(c, TXS_DRV_DB_ERROR);
        return;
    }
    finish_op(c, TXS_DRV_OK);
    /* encode_result is only valid inside the callback. When the callback started
     * another op (or closed c: still allocated until a later phase), that cleared them. */
    if (c->state == PG_IDLE)
        clear_batch(c);
}

/* Every result is in: report it. */
static void statement_done(txs_dconn_t *c)
{
    if (c->state == PG_LOADING_TYPES) {
        types_loaded(c);
        return;
    }
    PGresult *res = c->result;
    if (!res || PQstatus(c->pg) == CONNECTION_BAD) {
        broken(c, res ? PQresultErrorMessage(res) : PQerrorMessage(c->pg));
        return;
    }
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        break;
    case PGRES_FATAL_ERROR:
        if (is_session_fatal(res)) {
            broken_by(c, res);
            return;
        }
        c->result = NULL;
        txs_pg_cache_check_error(c, c->named_id, res);
        set_db_error(c, res);
        finish_op(c, TXS_DRV_DB_ERROR);
        return;
    default: {
        char msg[96];
        snprintf(msg, sizeof msg, "unexpected result from the server: %s",
                 PQresStatus(PQresultStatus(res)));
        broken(c, msg);
        return;
    }
    }
    finish_op(c, TXS_DRV_OK);
    /* encode_result is only valid inside the callback: drop the rows now rather than
     * holding them until the next statement. c is still allocated (close() frees it in
     * a later phase), and run() or close() in the callback cleared c->result. */
    if (c->result == res) {
        PQclear(res);
        c->result = NULL;
    }
}

/* LISTEN notifications have no place in the protocol: drop them, or libpq keeps them.
 * One means the session listens: the next user must not. */
static void drop_notifies(txs_dconn_t *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL) {
        PQfreemem(n);
        c->dirty = true;
    }
}

/* The socket is ready while a statement (or the types query) runs. */
static void statement_step(txs_dconn_t *c, int status, int events)
{
    if (status < 0) {
        broken(c, uv_strerror(status));
        return;
    }
    if ((events & UV_READABLE) && !PQconsumeInput(c->pg)) {
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (c->flushing) {
        int r = PQflush(c->pg);
        if (r < 0) {
            broken(c, PQerrorMessage(c->pg));
            return;
        }
        c->flushing = r == 1;
    }
    bool batch = c->state == PG_RUNNING && c->is_batch;
    switch (batch ? drain_batch(c) : drain(c)) {
    case DRAIN_DONE:
        drop_notifies(c);
        if (batch)
            batch_done(c);
        else
            statement_done(c);
        return;
    case DRAIN_BROKEN:
        return;
    case DRAIN_WAIT: {
        int r = arm(c, UV_READABLE | (c->flushing ? UV_WRITABLE : 0));
        if (r)
            broken(c, uv_strerror(r));
        return;
    }
    }
}

/* The socket is readable while nothing runs: a notice, a parameter change, or the
 * server going away (an error message, then EOF). */
static void idle_step(txs_dconn_t *c, int status)
{
    if (status < 0) {
        broken(c, uv_strerror(status));
        return;
    }
    if (!PQconsumeInput(c->pg)) {
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    /* Parse what came: notices go to the notice receiver; no result is expected. */
    PGresult *res;
    while (!PQisBusy(c->pg) && (res = PQgetResult(c->pg)) != NULL)
        PQclear(res);
    drop_notifies(c);
    if (PQstatus(c->pg) == CONNECTION_BAD)
        broken(c, PQerrorMessage(c->pg));
}

/* ---- connect ---- */

static void connected(txs_dconn_t *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0 || !PQsendQuery(c->pg, txs_pg_typemap_sql)) {
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    c->state = PG_LOADING_TYPES;
    if (txs_pg_conn_flush(c) < 0)
        broken(c, PQerrorMessage(c->pg));
}

static void connect_step(txs_dconn_t *c, int status)
{
    (void)status; /* PQconnectPoll finds out about a socket error itself */
    arm(c, 0);    /* PQconnectPoll may close the socket and open another */
    int r;
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        r = arm(c, UV_READABLE);
        break;
    case PGRES_POLLING_WRITING:
        r = arm(c, UV_WRITABLE);
        break;
    case PGRES_POLLING_OK:
        connected(c);
        return;
    default:
        broken(c, PQerrorMessage(c->pg));
        return;
    }
    if (r)
        broken(c, uv_strerror(r));
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    txs_dconn_t *c = h->data;
    switch (c->state) {
    case PG_CONNECTING:
        connect_step(c, status);
        return;
    case PG_LOADING_TYPES:
    case PG_RUNNING:
        statement_step(c, status, events);
        return;
    case PG_IDLE:
    case PG_QUEUED:
        idle_step(c, status);
        return;
    default:
        arm(c, 0); /* nothing to wait for */
        return;
    }
}

static void on_poll_reopened(uv_handle_t *h)
{
    txs_dconn_t *c = h->data;
    c->poll_reopening = false;
    if (c->state == PG_CLOSING) {
        close_done(c);
        return;
    }
    int r = arm(c, c->poll_want);
    if (r)
        broken(c, uv_strerror(r));
}

static void on_notice(void *arg, const PGresult *res)
{
    txs_dconn_t *c = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (is_fatal_severity(sev) && msg)
        snprintf(c->fatal_msg, sizeof c->fatal_msg, "%s", msg);
    txs_log_debug("pg %d: %s: %s", PQbackendPID(c->pg), sev ? sev : "NOTICE", msg ? msg : "");
}

static int pg_connect(uv_loop_t *loop, const char *dsn, uint64_t timeout_ms, txs_drv_cb cb,
                      void *arg, txs_dconn_t **out)
{
    txs_dconn_t *c = txs_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->state = PG_CONNECTING;
    c->poll_fd = -1;
    c->timeout_ms = timeout_ms;
    c->op_cb = cb;
    c->op_arg = arg;
    uv_timer_init(loop, &c->timer); /* cannot fail on unix */
    c->timer.data = c;
    txs_pg_cache_init(&c->cache);

    /* Keywords are applied in order and the dsn (expanded from dbname) overrides what
     * comes before it: application_name is a default, client_encoding and options win. */
    char *options = txs_pg_options(dsn);
    const char *const keys[] = {"application_name", "dbname", "client_encoding", "options", NULL};
    const char *const vals[] = {"txscope", dsn, "UTF8", options, NULL};
    c->pg = PQconnectStartParams(keys, vals, 1);
    free(options);
    if (!c->pg) {
        fprintf(stderr, "txscope: out of memory starting a PostgreSQL connection\n");
        abort();
    }
    PQsetNoticeReceiver(c->pg, on_notice, c);
    *out = c;

    if (PQstatus(c->pg) == CONNECTION_BAD) { /* a bad dsn, most likely */
        txs_pg_conn_set_error(c, "08001", PQerrorMessage(c->pg));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
        return TXS_OK;
    }
    /* Before the first PQconnectPoll, wait as if it had said WRITING. */
    int r = arm(c, UV_WRITABLE);
    if (r) {
        txs_pg_conn_set_error(c, "08001", uv_strerror(r));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
        return TXS_OK;
    }
    if (timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, timeout_ms, 0);
    return TXS_OK;
}

/* ---- run ---- */

/* Why the statement cannot be sent as it is, or NULL. The server refuses NUL in text,
 * and libpq would silently cut a string at one. */
static const char *check_stmt(const txs_stmt_t *s, const char **code)
{
    *code = "22021";
    if (memchr(s->sql, '\0', s->sql_len))
        return "invalid byte sequence for encoding \"UTF8\": 0x00";
    if (s->nparams < 0 || s->nparams > PG_MAX_PARAMS) {
        *code = "54023";
        return "too many parameters: at most 65535";
    }
    for (int i = 0; s->lengths && i < s->nparams; i++)
        if (s->values[i] && memchr(s->values[i], '\0', (size_t)s->lengths[i]))
            return "invalid byte sequence for encoding \"UTF8\": 0x00";
    return NULL;
}

/* Keep a copy of the statements to send once the cancel request is done. */
static void queue_stmts(txs_dconn_t *c, const txs_stmt_t *stmts, int n, bool batch)
{
    txs_stmt_copy_keep(&c->held, stmts, n);
    c->held_batch = batch;
    c->state = PG_QUEUED;
}

/* Send what queue_stmts kept. Returns as send_stmt. */
static int send_queued(txs_dconn_t *c)
{
    const txs_stmt_t *st = txs_stmt_copy_get(&c->held);
    int r = c->held_batch ? txs_pg_send_batch(c, st, c->held.n) : txs_pg_send_stmt(c, st);
    txs_stmt_copy_clear(&c->held); /* libpq has its own copy now */
    return r;
}

/* The cancel request was delivered (or failed): send what waited for it. */
static void on_cancel_done(uv_work_t *w, int status)
{
    txs_dconn_t *c = w->data;
    PQfreeCancel(c->cancel_obj);
    c->cancel_obj = NULL;
    c->cancel_busy = false;
    if (c->state == PG_CLOSING) {
        close_done(c);
        return;
    }
    if (status == 0 && !c->cancel_ok)
        txs_log_debug("pg %d: cancel request failed: %s", PQbackendPID(c->pg), c->cancel_err);
    if (c->state == PG_RUNNING && c->cancel_wanted) {
        /* Still running. A backend still reading the statement when the request came
         * ignored it, so ask again unless the statement ends first (its error may simply
         * be on its way). Safe: nothing else is sent until the request is done. */
        uv_timer_start(&c->timer, on_timer, c->cancel_retry_ms, 0);
        if (c->cancel_retry_ms < 2000)
            c->cancel_retry_ms *= 2;
        return;
    }
    if (c->state != PG_QUEUED)
        return;
    if (send_queued(c) < 0) {
        txs_pg_conn_lost(c, "08006", PQerrorMessage(c->pg), false);
        return;
    }
    if (c->cancel_again) {
        c->cancel_again = false;
        c->cancel_wanted = true;
        c->cancel_retry_ms = 250;
        if (start_cancel(c) != TXS_OK)
            txs_log_warn("pg %d: could not send a cancel request", PQbackendPID(c->pg));
    }
}

static void cancel_work(uv_work_t *w)
{
    txs_dconn_t *c = w->data;
    c->cancel_ok = PQcancel(c->cancel_obj, c->cancel_err, sizeof c->cancel_err) == 1;
}

static int start_cancel(txs_dconn_t *c)
{
    c->cancel_obj = PQgetCancel(c->pg);
    if (!c->cancel_obj)
        return TXS_EIO;
    c->cancel_ok = false;
    c->work.data = c;
    if (uv_queue_work(c->loop, &c->work, cancel_work, on_cancel_done) != 0) {
        PQfreeCancel(c->cancel_obj);
        c->cancel_obj = NULL;
        return TXS_EIO;
    }
    c->cancel_busy = true;
    return TXS_OK;
}

/* The start of run() and run_batch(): false when the op ends here, with *rc to return
 * (and cb due on the next turn if *rc is TXS_OK). */
bool txs_pg_conn_begin_op(txs_dconn_t *c, txs_drv_cb cb, void *arg, bool batch, int *rc)
{
    *rc = TXS_OK;
    if (c->state == PG_DEAD) {
        if (c->lost_reported) {
            *rc = TXS_ELOST;
            return false;
        }
        /* It died while idle and unwatched: say so now, through cb. */
        c->op_cb = cb;
        c->op_arg = arg;
        txs_pg_conn_defer(c, TXS_DRV_LOST);
        return false;
    }
    if (c->state != PG_IDLE) {
        *rc = TXS_ESTATE;
        return false;
    }
    clear_op(c);
    c->op_cb = cb;
    c->op_arg = arg;
    c->is_batch = batch;
    return true;
}

int txs_pg_conn_run(txs_dconn_t *c, const txs_stmt_t *stmt, txs_drv_cb cb, void *arg)
{
    int rc;
    if (!txs_pg_conn_begin_op(c, cb, arg, false, &rc))
        return rc;
    const char *code, *why = check_stmt(stmt, &code);
    if (why) {
        txs_pg_conn_set_error(c, code, why);
        txs_pg_conn_defer(c, TXS_DRV_DB_ERROR);
        return TXS_OK;
    }
    if (c->cancel_busy) {
        queue_stmts(c, stmt, 1, false); /* a late cancel must not hit this statement */
        return TXS_OK;
    }
    /* stmt->sql is NUL-terminated at sql_len, as the request decoder's strings are. */
    if (txs_pg_send_stmt(c, stmt) < 0) {
        txs_pg_conn_set_error(c, "08006", PQerrorMessage(c->pg));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
    }
    return TXS_OK;
}

/* What the statement may leave behind is seen before it is sent (even if it fails:
 * a cancelled or failed statement may have done part of its work). */
static int pg_run(txs_dconn_t *c, const txs_stmt_t *stmt, txs_drv_cb cb, void *arg)
{
    if (txs_pg_changes_session(stmt->sql, stmt->sql_len))
        c->dirty = true;
    txs_pg_cache_watch(c, stmt, 1);
    return txs_pg_conn_run(c, stmt, cb, arg);
}

static int pg_run_batch(txs_dconn_t *c, const txs_stmt_t *stmts, int n, txs_drv_cb cb, void *arg)
{
    if (n < 0 || (n > 0 && !stmts))
        return TXS_EINVAL;
    int rc;
    if (!txs_pg_conn_begin_op(c, cb, arg, true, &rc))
        return rc;
    for (int k = 0; k < n; k++) {
        const char *code, *why = check_stmt(&stmts[k], &code);
        if (!why && txs_sql_is_copy_from_stdin(stmts[k].sql, stmts[k].sql_len)) {
            code = "0A000";
            why = "COPY FROM STDIN is not supported in a batch";
        }
        if (why) {
            txs_pg_conn_set_error(c, code, why);
            c->err.has_index = true;
            c->err.index = k;
            txs_pg_conn_defer(c, TXS_DRV_DB_ERROR);
            return TXS_OK;
        }
    }
    if (n == 0) {
        txs_pg_conn_defer(c, TXS_DRV_OK); /* nothing to send; encode_result has no index */
        return TXS_OK;
    }
    for (int k = 0; k < n && !c->dirty; k++)
        c->dirty = txs_pg_changes_session(stmts[k].sql, stmts[k].sql_len);
    txs_pg_cache_watch(c, stmts, n);
    txs_pg_batch_start(c, n);
    if (c->cancel_busy) {
        queue_stmts(c, stmts, n, true); /* a late cancel must not hit these statements */
        return TXS_OK;
    }
    if (txs_pg_send_batch(c, stmts, n) < 0) {
        txs_pg_conn_set_error(c, "08006", PQerrorMessage(c->pg));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
    }
    return TXS_OK;
}

static int pg_cancel(txs_dconn_t *c)
{
    if (c->state == PG_QUEUED) {
        c->cancel_again = true; /* cancel it once it is sent */
        return TXS_OK;
    }
    if (c->state != PG_RUNNING || c->cancel_wanted || c->pinging)
        return TXS_OK; /* nothing runs, or this statement is being cancelled already */
    c->cancel_wanted = true;
    c->cancel_retry_ms = 250;
    if (c->cancel_busy)
        return TXS_OK; /* asked again when the request under way is done */
    int r = start_cancel(c);
    if (r != TXS_OK)
        c->cancel_wanted = false;
    return r;
}

/* ---- the rest of the vtable ---- */

static int pg_encode_result(txs_dconn_t *c, int index, txs_buf_t *out, size_t max_len)
{
    if (c->state != PG_IDLE)
        return TXS_ESTATE;
    const PGresult *res;
    if (c->is_batch)
        res = index >= 0 && index < c->batch_n ? c->bres[index] : NULL;
    else
        res = index == 0 ? c->result : NULL;
    if (!res)
        return TXS_ESTATE;
    /* Text is UTF-8 unless the database is SQL_ASCII (no conversion, no check) or the
     * session set another client_encoding. */
    const char *senc = PQparameterStatus(c->pg, "server_encoding");
    bool check_utf8 = (senc && strcmp(senc, "SQL_ASCII") == 0) ||
                      strcmp(pg_encoding_to_char(PQclientEncoding(c->pg)), "UTF8") != 0;
    return txs_pg_encode_result(res, &c->types, check_utf8, &c->scratch, out, max_len);
}

static void pg_last_error(txs_dconn_t *c, txs_error_info_t *out)
{
    *out = c->err;
}

txs_drv_txstatus_t txs_pg_tx_status(txs_dconn_t *c)
{
    switch (c->state) {
    case PG_IDLE:
        switch (PQtransactionStatus(c->pg)) {
        case PQTRANS_IDLE:
            return TXS_DRV_TX_IDLE;
        case PQTRANS_INTRANS:
            return TXS_DRV_TX_INTRANS;
        case PQTRANS_INERROR:
            return TXS_DRV_TX_INERROR;
        case PQTRANS_ACTIVE:
            return TXS_DRV_TX_ACTIVE;
        default:
            return TXS_DRV_TX_UNKNOWN;
        }
    case PG_LOADING_TYPES:
    case PG_RUNNING:
    case PG_QUEUED:
    case PG_REPORTING:
        return TXS_DRV_TX_ACTIVE;
    default:
        return TXS_DRV_TX_UNKNOWN;
    }
}

static void pg_watch(txs_dconn_t *c, txs_drv_cb cb, void *arg)
{
    c->watch_cb = cb;
    c->watch_arg = arg;
    if (cb && c->state == PG_DEAD && !c->lost_reported)
        uv_timer_start(&c->timer, on_timer, 0, 0); /* it died before anyone watched */
}

static void close_done(txs_dconn_t *c)
{
    if (--c->pending > 0)
        return;
    txs_drv_closed_cb cb = c->closed_cb;
    void *arg = c->closed_arg;
    free(c);
    if (cb)
        cb(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    close_done(h->data);
}

static void pg_close(txs_dconn_t *c, txs_drv_closed_cb closed_cb, void *arg)
{
    if (c->state == PG_CLOSING)
        return;
    c->state = PG_CLOSING;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    c->op_cb = NULL;
    c->watch_cb = NULL;

    /* uv_close stops the poll at once, before PQfinish closes its socket. */
    c->pending = 1;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    if (c->poll_reopening) {
        c->pending++; /* on_poll_reopened finishes it */
    } else if (c->poll_fd >= 0) {
        c->pending++;
        uv_close((uv_handle_t *)&c->poll, on_handle_closed);
        c->poll_fd = -1;
    }
    if (c->cancel_busy) {
        /* PQcancel uses its own PGcancel, not c->pg: finishing the connection under it
         * is safe. Wait for its after_work (ECANCELED if it had not started). */
        c->pending++;
        uv_cancel((uv_req_t *)&c->work);
    }
    PQfinish(c->pg);
    c->pg = NULL;
    clear_op(c);
    txs_pg_typemap_free(&c->types);
    txs_buf_free(&c->scratch);
    txs_buf_free(&c->params0);
    txs_stmt_copy_free(&c->held);
    free(c->bres);
    free(c->bcache_id);
    free(c->bprepare);
    c->bres = NULL;
    c->bcache_id = NULL;
    c->bprepare = NULL;
    c->bres_cap = 0;
    txs_pg_cache_free(&c->cache);
}

static int pg_backend_pid(txs_dconn_t *c)
{
    return c->pg ? PQbackendPID(c->pg) : 0;
}

const txs_driver_t txs_driver_pg = {
    .name = "postgresql",
    .features = TXS_DRV_DEFERRABLE | TXS_DRV_TRANSACTIONAL_DDL,
    .connect = pg_connect,
    .run = pg_run,
    .run_batch = pg_run_batch,
    .encode_result = pg_encode_result,
    .quote_ident = txs_pg_quote_ident,
    .begin_sql = txs_pg_begin_sql,
    .reset = txs_pg_reset,
    .ping = txs_pg_ping,
    .last_error = pg_last_error,
    .cancel = pg_cancel,
    .tx_status = txs_pg_tx_status,
    .watch = pg_watch,
    .close = pg_close,
    .backend_pid = pg_backend_pid,
};
