/* session_refuse.c - what a request may not do in its session's state, and what a
 * backend cannot do: each check answers with its error and returns true. */
#include <stdio.h>

#include "daemon/pool.h"
#include "daemon/session_int.h"
#include "protocol/sqlclass.h"
#include "protocol/sqlstate.h"

/* The backend died between requests: the first request to hear of it gets 08006. */
bool txs_session_report_lost(txs_session_t *s)
{
    if (!s->lost_unreported)
        return false;
    s->lost_unreported = false;
    txs_session_reply_proxy(s, TXS_SQLSTATE_CONNECTION_LOST,
                            "backend connection lost: the transaction was rolled back");
    return true;
}

bool txs_session_report_timeout(txs_session_t *s)
{
    if (s->timeout_unreported < 0)
        return false;
    switch (txs_session_cur(s)->op) {
    case TXS_OP_STATUS:
    case TXS_OP_OUTCOME:
        return false;
    case TXS_OP_ROLLBACK:
    case TXS_OP_END:
        s->timeout_unreported = -1;
        return false;
    default:
        break;
    }
    txs_timeout_kind_t k = (txs_timeout_kind_t)s->timeout_unreported;
    s->timeout_unreported = -1;
    txs_session_reply_timeout(s, k);
    return true;
}

bool txs_session_refuse_if_failed(txs_session_t *s)
{
    if (txs_session_report_lost(s))
        return true;
    if (s->tx == TXS_TX_FAILED) {
        txs_session_reply_proxy(
            s, TXS_SQLSTATE_FAILED_TX,
            s->tx_gone ? "the transaction was lost with its backend connection; roll back"
                       : "current transaction is aborted, commands ignored until rollback");
        return true;
    }
    if (s->tx == TXS_TX_INACTIVE) {
        txs_session_reply_proxy(
            s, TXS_SQLSTATE_FAILED_TX,
            "this transaction was rolled back by an inner level; roll back every level "
            "(%d still open)",
            s->levels.depth);
        return true;
    }
    return false;
}

/* An inner level or a joining batch may not change what the transaction began with. */
bool txs_session_refuse_other_options(txs_session_t *s, const txs_request_t *r)
{
    const char *what = NULL;
    if (r->isolation != TXS_ISO_DEFAULT && r->isolation != s->isolation)
        what = "isolation";
    else if (r->read_only != TXS_UNSET && r->read_only != s->read_only)
        what = "read_only";
    else if (r->deferrable != TXS_UNSET && r->deferrable != s->deferrable)
        what = "deferrable";
    if (!what)
        return false;
    txs_session_reply_proxy(
        s, TXS_SQLSTATE_ACTIVE_TX,
        "\"%s\" differs from the open transaction's and cannot change inside it", what);
    return true;
}

bool txs_session_refuse_too_deep(txs_session_t *s)
{
    if (s->levels.depth < TXS_MAX_DEPTH)
        return false;
    txs_session_reply_proxy(s, TXS_SQLSTATE_TOO_BIG, "too many levels open (at most %d)",
                            TXS_MAX_DEPTH);
    return true;
}

/* 0A000 for a statement refused before it is sent; index >= 0 names a batch's. */
static void reply_refused(txs_session_t *s, int index, const char *msg)
{
    txs_error_info_t e = {.code = TXS_SQLSTATE_NOT_SUPPORTED,
                          .message = msg,
                          .has_index = index >= 0,
                          .index = index};
    txs_session_reply_error(s, &e);
}

const char *txs_session_implicit_commit(const txs_session_t *s, const txs_stmt_t *st)
{
    const char *what = NULL;
    if (txs_pool_driver(s->pool)->features & TXS_DRV_TRANSACTIONAL_DDL)
        return NULL;
    txs_sql_commits_implicitly(st->sql, st->sql_len, &what);
    return what;
}

/* DDL that commits implicitly (MySQL), in a transaction: refused unless the db allows
 * it, and never in a batch, whose statements must stay one unit of work. */
bool txs_session_refuse_implicit_commit(txs_session_t *s, const char *what, int index)
{
    if (!what || (index < 0 && txs_pool_conf(s->pool)->ddl_in_transaction == TXS_DDL_ALLOW))
        return false;
    char msg[300];
    snprintf(msg, sizeof msg,
             "%s inside a transaction is refused: %s commits the transaction implicitly; run "
             "it as a query with \"autocommit\":true%s",
             what, txs_pool_driver(s->pool)->name,
             index >= 0 ? "" : " (or set ddl_in_transaction = allow)");
    reply_refused(s, index, msg);
    return true;
}

/* deferrable:true on a backend without deferrable transactions. */
bool txs_session_refuse_deferrable(txs_session_t *s, const txs_request_t *r)
{
    if (r->deferrable != TXS_TRUE || txs_pool_driver(s->pool)->features & TXS_DRV_DEFERRABLE)
        return false;
    txs_session_reply_proxy(s, TXS_SQLSTATE_NOT_SUPPORTED, "\"deferrable\" is not supported by %s",
                            txs_pool_driver(s->pool)->name);
    return true;
}

/* Refuse transaction control written as SQL; index >= 0 names a batch's statement. */
bool txs_session_refuse_tx_control(txs_session_t *s, const txs_stmt_t *st, int index)
{
    const char *what = NULL;
    if (!txs_sql_is_tx_control(st->sql, st->sql_len, &what))
        return false;
    char msg[200];
    snprintf(msg, sizeof msg,
             "transaction control in SQL (%s) is refused: use the ops begin, commit, rollback, "
             "savepoint",
             what ? what : "?");
    reply_refused(s, index, msg);
    return true;
}

bool txs_session_refuse_unknown_savepoint(txs_session_t *s, const char *name)
{
    if (txs_levels_find_savepoint(&s->levels, name) >= 0)
        return false;
    bool outer = txs_levels_has_savepoint(&s->levels, name);
    txs_session_reply_proxy(
        s, TXS_SQLSTATE_NO_SAVEPOINT,
        outer ? "savepoint \"%s\" belongs to an outer level: close this level first"
              : "savepoint \"%s\" does not exist",
        name);
    return true;
}
