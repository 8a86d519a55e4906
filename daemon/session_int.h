/* session_int.h - what session.c shares with the files split from it (replies,
 * refusals). Not for the rest of the daemon. */
#ifndef TXS_DAEMON_SESSION_INT_H
#define TXS_DAEMON_SESSION_INT_H

#include <stdbool.h>

#include "daemon/session.h"

static inline const txs_driver_t *txs_session_driver(const txs_session_t *s)
{
    return txs_pool_driver(s->backend->pool);
}

static inline const txs_request_t *txs_session_cur(const txs_session_t *s)
{
    return &s->current->req;
}

/* session.c: the transaction's state and the backend link. */
/* The session is idle: no transaction, no levels, nothing unreported. */
void txs_session_set_idle(txs_session_t *s);
/* The transaction ended: journal how, and the session is idle. */
void txs_session_tx_ended(txs_session_t *s, txs_outcome_t o);
/* The transaction ended on the database while levels are still open. */
void txs_session_tx_gone(txs_session_t *s, txs_outcome_t o);
/* Give the linked backend back to the pool (which makes it clean), or close it. */
void txs_session_release_backend(txs_session_t *s);
void txs_session_discard_backend(txs_session_t *s);
/* The backend died under the open transaction: discarded, the transaction gone, the
 * session failed. */
void txs_session_lose_backend(txs_session_t *s);

/* session_done.c: completions of the steps (see txs_step_t). */
void txs_session_fail_tx(txs_session_t *s);
void txs_session_step_failed(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_statement(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_begin_statement(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_ddl_commit(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_batch(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_commit(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
void txs_session_done_rollback(txs_session_t *s, txs_drv_status_t st);
void txs_session_done_control(txs_session_t *s, txs_dconn_t *dc, txs_drv_status_t st);
/* The whole transaction is rolled back (rollback at the outermost or a joined level, or
 * end): answer ok. */
void txs_session_whole_rolled_back(txs_session_t *s);

/* Replies to the current request (nothing when the session winds down). */
void txs_session_reply_ok(txs_session_t *s);
void txs_session_reply_error(txs_session_t *s, const txs_error_info_t *e);
void txs_session_reply_proxy(txs_session_t *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 57P01 for request r of the session, queued or current: the daemon is shutting down. The
 * tx reported is idle: what was open is being rolled back. */
void txs_session_reply_shutdown(txs_session_t *s, const txs_request_t *r);

/* 25P03: transaction_timeout or idle_in_transaction_timeout rolled the transaction back. */
void txs_session_reply_timeout(txs_session_t *s, txs_timeout_kind_t k);

/* session.c, for the timeouts (session_timeout.c decides when). */
/* Ask the driver to stop the running step (once); the hard stop counts from now. */
void txs_session_cancel(txs_session_t *s);
/* The cancelled step did not stop: its connection is closed and the step ends as lost. */
void txs_session_abandon(txs_session_t *s);
/* Between requests: roll the transaction back now (the pool does it on the backend); the
 * next request hears 25P03. */
void txs_session_timeout_rollback(txs_session_t *s, txs_timeout_kind_t k);
/* transaction_timeout while waiting for a connection: leave the queue, answer 25P03. */
void txs_session_timeout_acquiring(txs_session_t *s);
/* session_idle_timeout: free the session (it has nothing: no transaction, no request). */
void txs_session_forget(txs_session_t *s);
/* The running step commits (COMMIT, DDL's commit, a batch of its own): never cancelled. */
bool txs_session_step_commits(const txs_session_t *s);

/* session_timeout.c */
/* Re-arm the session's timer after a change of state (cheap when nothing moved earlier). */
void txs_session_timer_update(txs_session_t *s);
void txs_session_timer_free(txs_session_t *s);

/* A timeout rolled the transaction back between requests: this request hears 25P03 (true),
 * unless it is status or outcome (nothing said yet) or rollback/end (what they ask is done). */
bool txs_session_report_timeout(txs_session_t *s);
/* The backend died between requests: the first request to hear of it gets 08006. */
bool txs_session_report_lost(txs_session_t *s);
/* Failed or inactive (25P02), or the backend was lost between requests (08006). */
bool txs_session_refuse_if_failed(txs_session_t *s);
/* An inner level or a joining batch may not change the transaction's options (25001). */
bool txs_session_refuse_other_options(txs_session_t *s, const txs_request_t *r);
/* TXS_MAX_DEPTH levels open already (54000). */
bool txs_session_refuse_too_deep(txs_session_t *s);
/* Transaction control written as SQL (0A000); index >= 0 names a batch's statement. */
bool txs_session_refuse_tx_control(txs_session_t *s, const txs_stmt_t *st, int index);
/* The statement would make the session's backend commit implicitly (MySQL's DDL): its
 * first word ("CREATE"), else NULL. */
const char *txs_session_implicit_commit(const txs_session_t *s, const txs_stmt_t *st);
/* `what` (from txs_session_implicit_commit; NULL: nothing to refuse) in a transaction,
 * unless the db allows it; always in a batch, index >= 0 (0A000). */
bool txs_session_refuse_implicit_commit(txs_session_t *s, const char *what, int index);
/* deferrable:true on a backend without deferrable transactions (0A000). */
bool txs_session_refuse_deferrable(txs_session_t *s, const txs_request_t *r);
/* release / rollback_to of a savepoint this level does not have (3B001). */
bool txs_session_refuse_unknown_savepoint(txs_session_t *s, const char *name);

#endif
