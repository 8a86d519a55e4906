/* session_int.h - what session.c shares with the files split from it (replies,
 * refusals). Not for the rest of the daemon. */
#ifndef TXS_DAEMON_SESSION_INT_H
#define TXS_DAEMON_SESSION_INT_H

#include <stdbool.h>

#include "daemon/session.h"

/* Replies to the current request (nothing when the session winds down). */
void txs_session_reply_ok(txs_session_t *s);
void txs_session_reply_error(txs_session_t *s, const txs_error_info_t *e);
void txs_session_reply_proxy(txs_session_t *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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
