/* session_done.c - what a finished step means for its session: the reply (results,
 * or the error), the transaction's state and journal, and whether the backend stays
 * linked, goes back to the pool, or is discarded. */
#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "daemon/client.h"
#include "daemon/log.h"
#include "daemon/session_int.h"
#include "protocol/errors.h"
#include "protocol/sqlstate.h"

/* The error of a failed step; dc NULL when the driver refused to start it. */
static void step_error(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st, txs_error_info_t *e)
{
    if (dc) {
        txs_session_driver(s)->last_error(dc, e);
    } else if (s->abandoned) {
        *e = (txs_error_info_t){.message = "the statement did not stop when cancelled: backend "
                                           "connection closed"};
    } else {
        *e = (txs_error_info_t){.message = "backend connection unusable"};
        txs_log_for(TXS_LOG_WARN, txs_session_who(s), "backend refused a statement");
    }
    if (st == TXS_DRV_DB_ERROR && s->timing_out == TXS_TIMEOUT_QUERY && e->code &&
        (strcmp(e->code, "57014") == 0 || strcmp(e->code, "70100") == 0)) {
        /* Cancelled by query_timeout (PostgreSQL 57014, MySQL's KILL QUERY 70100): one
         * code and message on both backends. */
        static char msg[96];
        char dur[32];
        txs_conf_format_duration(txs_pool_conf(s->pool)->query_timeout_ms, dur, sizeof dur);
        snprintf(msg, sizeof msg, "statement cancelled by query_timeout (%s)", dur);
        bool has_index = e->has_index;
        int index = e->index;
        *e = (txs_error_info_t){
            .code = TXS_SQLSTATE_CANCELED, .message = msg, .has_index = has_index, .index = index};
    }
    if (st == TXS_DRV_LOST) {
        e->code = TXS_SQLSTATE_CONNECTION_LOST;
        e->from_db = false;
        e->has_index = false;
    }
    if (s->step != TXS_STEP_BATCH)
        e->has_index = false; /* e.g. the 2nd statement of a MySQL begin: not the request's */
}

void txs_session_fail_tx(txs_session_t *s)
{
    if (s->tx == TXS_TX_OPEN)
        s->tx = TXS_TX_FAILED;
}

/* The common failure handling of a step inside the transaction: failed on a database
 * error, lost (and failed) on a lost connection. */
void txs_session_step_failed(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    txs_error_info_t e;
    step_error(s, dc, st, &e);
    if (st == TXS_DRV_LOST)
        txs_session_lose_backend(s);
    else
        txs_session_fail_tx(s);
    txs_session_reply_error(s, &e);
}

/* Encode result `index` after the reply header; false when it is over the limit. */
static bool put_result(txs_session_t *s, int index, size_t limit)
{
    txs_buf_t *out = txs_client_out(s->client);
    return txs_session_driver(s)->encode_result(s->backend->dconn, index, out, limit) == TXS_OK;
}

/* A query's result, or a batch's results; over max_result_bytes, error 54000 instead,
 * saying so when the work was committed. */
static void reply_results(txs_session_t *s, bool batch, bool committed)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    size_t mark = out->len;
    size_t limit = mark + txs_client_max_result(s->client);
    txs_reply_open(out, txs_session_cur(s)->id, txs_session_cur(s)->id_len, true);
    bool fits = true;
    if (!batch) {
        txs_buf_putc(out, ',');
        fits = put_result(s, s->batch_first, limit);
    } else {
        txs_buf_puts(out, ",\"results\":[");
        for (int i = 0; fits && i < txs_session_cur(s)->nstmts; i++) {
            txs_buf_puts(out, i ? ",{" : "{");
            fits = put_result(s, s->batch_first + i, limit);
            txs_buf_putc(out, '}');
        }
        txs_buf_putc(out, ']');
    }
    if (fits) {
        txs_reply_close(out, true, s->tx, s->levels.depth);
        return;
    }
    txs_buf_truncate(out, mark);
    /* Inside a transaction the client did not get what the work did: as if it failed. */
    if (!committed)
        txs_session_fail_tx(s);
    txs_session_reply_proxy(s, TXS_SQLSTATE_TOO_BIG,
                            "%s larger than max_result_bytes (%zu bytes)%s",
                            batch ? "results are" : "result is", txs_client_max_result(s->client),
                            !committed ? ""
                            : batch    ? "; the batch was committed"
                                       : "; the statement was committed");
}

/* A step that commits ended: an autocommit statement, a batch that is its own
 * transaction, or COMMIT. Journal and answer how it ended, and give the backend back.
 * db_err: the error to answer on DB_ERROR (NULL: the driver's). */
static void commit_step_done(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st,
                             const txs_error_info_t *db_err)
{
    bool batch = s->step == TXS_STEP_BATCH, commit = s->step == TXS_STEP_COMMIT;
    txs_error_info_t e;
    switch (st) {
    case TXS_DRV_OK:
        txs_session_tx_ended(s, TXS_OUTCOME_COMMITTED);
        if (commit)
            txs_session_reply_ok(s);
        else
            reply_results(s, batch, true);
        txs_session_release_backend(s); /* the pool rolls back if COMMIT did not end it */
        return;
    case TXS_DRV_DB_ERROR:
        /* The server ended the transaction (e.g. a deferred constraint at COMMIT) or left
         * it failed, which the pool rolls back: rolled back either way. */
        txs_session_tx_ended(s, TXS_OUTCOME_ROLLED_BACK);
        if (!db_err) {
            step_error(s, dc, st, &e);
            db_err = &e;
        }
        txs_session_reply_error(s, db_err);
        txs_session_release_backend(s);
        return;
    case TXS_DRV_LOST: {
        txs_session_tx_ended(s, TXS_OUTCOME_UNKNOWN);
        step_error(s, dc, st, &e);
        const char *when = commit                           ? "during commit"
                           : batch                          ? "during the batch's commit"
                           : s->step == TXS_STEP_DDL_COMMIT ? "during the commit before DDL"
                                                            : "while the autocommit statement ran";
        txs_log_for(TXS_LOG_WARN, txs_session_who(s), "backend lost %s: outcome unknown", when);
        txs_session_reply_proxy(s, TXS_SQLSTATE_COMMIT_UNKNOWN,
                                "backend connection lost %s: the outcome is unknown (%s)", when,
                                e.message ? e.message : "connection closed");
        txs_session_discard_backend(s);
        return;
    }
    }
}

/* COMMIT, then DDL alone (ddl_in_transaction = allow): what MySQL does implicitly, sent
 * explicitly so that the outcome is known however the DDL ends. */
void txs_session_done_ddl_commit(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    txs_error_info_t e;
    if (st == TXS_DRV_DB_ERROR) {
        txs_session_driver(s)->last_error(dc, &e);
        bool commit_failed = !e.has_index || e.index == 0;
        e.has_index = false;
        if (commit_failed) {
            commit_step_done(s, dc, st, &e);
            return;
        }
        txs_session_tx_ended(s, TXS_OUTCOME_COMMITTED); /* the DDL failed after the commit */
        txs_session_reply_error(s, &e);
        txs_session_release_backend(s);
        return;
    }
    commit_step_done(s, dc, st, NULL);
}

/* A statement inside the transaction succeeded, but the server is no longer in a
 * transaction: something in it ended the transaction where the daemon could not see it
 * (MySQL: SET STATEMENT ... FOR COMMIT, EXECUTE IMMEDIATE, a procedure that commits).
 * Committed or rolled back, nobody can say: journal unknown, answer 08007, and leave the
 * session failed until the client rolls back, so that nothing runs in autocommit. */
static bool tx_ended_unseen(txs_session_t *s, txs_dconn_t *dc)
{
    if (txs_session_driver(s)->tx_status(dc) != TXS_DRV_TX_IDLE)
        return false;
    txs_log_for(TXS_LOG_WARN, txs_session_who(s),
                "a statement ended the transaction on the server");
    txs_session_tx_gone(s, TXS_OUTCOME_UNKNOWN);
    s->tx = TXS_TX_FAILED;
    txs_session_release_backend(s);
    txs_session_reply_proxy(s, TXS_SQLSTATE_COMMIT_UNKNOWN,
                            "the statement ended the transaction on the server (transaction "
                            "control inside it): its outcome is unknown; roll back");
    return true;
}

void txs_session_done_statement(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    if (s->run_alone) { /* the statement ran alone: a transaction of its own */
        commit_step_done(s, dc, st, NULL);
        return;
    }
    if (st != TXS_DRV_OK) {
        txs_session_step_failed(s, dc, st);
        return;
    }
    if (tx_ended_unseen(s, dc))
        return;
    reply_results(s, false, false);
}

/* BEGIN and the transaction's first statement ran in one round trip. */
void txs_session_done_begin_statement(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    if (st == TXS_DRV_DB_ERROR) {
        txs_error_info_t e;
        txs_session_driver(s)->last_error(dc, &e);
        if (e.has_index && e.index < s->batch_first) {
            /* BEGIN itself failed: nothing of the transaction is on the backend. */
            txs_session_step_failed(s, dc, st);
            if (s->backend)
                txs_session_release_backend(s);
            return;
        }
    }
    if (st != TXS_DRV_LOST)
        s->tx_on_backend = true;
    txs_session_done_statement(s, dc, st);
}

void txs_session_done_batch(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    txs_error_info_t e;
    int n = txs_session_cur(s)->nstmts;
    if (st == TXS_DRV_OK || st == TXS_DRV_DB_ERROR)
        s->tx_on_backend = true;
    if (st == TXS_DRV_DB_ERROR) {
        step_error(s, dc, st, &e);
        e.index -= s->batch_first; /* the request's numbering: BEGIN is not one of its */
        e.has_index = e.has_index && e.index >= 0 && e.index < n;
    }
    if (s->batch_own_tx) {
        commit_step_done(s, dc, st, st == TXS_DRV_DB_ERROR ? &e : NULL);
        return;
    }
    switch (st) {
    case TXS_DRV_OK:
        if (!tx_ended_unseen(s, dc))
            reply_results(s, true, false);
        return;
    case TXS_DRV_DB_ERROR:
        txs_session_fail_tx(s);
        txs_session_reply_error(s, &e);
        return;
    case TXS_DRV_LOST:
        txs_session_step_failed(s, dc, st);
        return;
    }
}

void txs_session_done_commit(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    commit_step_done(s, dc, st, NULL);
    if (s->winding_down)
        txs_log_for(TXS_LOG_INFO, txs_session_who(s), "commit finished after the client left: %s",
                    st == TXS_DRV_OK     ? "committed"
                    : st == TXS_DRV_LOST ? "unknown"
                                         : "rolled back");
}

/* The whole transaction is rolled back (by rollback at the outermost or a joined level,
 * or end). From a joined level, the levels outside it each still need their rollback. */
void txs_session_whole_rolled_back(txs_session_t *s)
{
    const txs_request_t *r = txs_session_cur(s);
    if (r->op == TXS_OP_ROLLBACK && s->levels.depth > 1 &&
        txs_levels_top(&s->levels) == TXS_LEVEL_JOINED) {
        txs_session_tx_gone(s, TXS_OUTCOME_ROLLED_BACK);
        txs_levels_pop(&s->levels);
        s->tx = TXS_TX_INACTIVE;
    } else {
        txs_session_tx_ended(s, TXS_OUTCOME_ROLLED_BACK);
        s->ended = r->op == TXS_OP_END;
    }
    txs_session_reply_ok(s);
}

/* ROLLBACK of the whole transaction ran. However it went, the transaction is over. */
void txs_session_done_rollback(txs_session_t *s, txs_drv_status_t st)
{
    if (st == TXS_DRV_OK)
        txs_session_release_backend(s);
    else
        txs_session_discard_backend(s);
    txs_session_whole_rolled_back(s);
}

/* A savepoint statement ran (a nested level's, or a named one). */
void txs_session_done_control(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st)
{
    if (st != TXS_DRV_OK) {
        txs_session_step_failed(s, dc, st);
        return;
    }
    const txs_request_t *r = txs_session_cur(s);
    switch (s->step) {
    case TXS_STEP_LEVEL_OPEN:
        txs_levels_push(&s->levels, TXS_LEVEL_SAVEPOINT);
        break;
    case TXS_STEP_LEVEL_RELEASE:
        txs_levels_pop(&s->levels);
        break;
    case TXS_STEP_LEVEL_UNDO:
        txs_levels_pop(&s->levels);
        s->tx = TXS_TX_OPEN; /* the failure, if any, was undone with the level */
        break;
    case TXS_STEP_SAVEPOINT:
        txs_levels_add_savepoint(&s->levels, r->name);
        break;
    case TXS_STEP_RELEASE: {
        int i = txs_levels_find_savepoint(&s->levels, r->name); /* found when the request started */
        if (i >= 0)
            txs_levels_drop_savepoints(&s->levels, i);
        break;
    }
    case TXS_STEP_ROLLBACK_TO: {
        int i = txs_levels_find_savepoint(&s->levels, r->name);
        if (i >= 0)
            txs_levels_drop_savepoints(&s->levels, i + 1);
        s->tx = TXS_TX_OPEN;
        break;
    }
    default:
        break;
    }
    txs_session_reply_ok(s);
}
