/* session_reply.c - a session's replies: ok, a backend's error, or the daemon's own. */
#include <stdarg.h>
#include <stdio.h>

#include "conf/config.h"
#include "daemon/client.h"
#include "daemon/server.h"
#include "daemon/session_int.h"
#include "protocol/sqlstate.h"

void txs_session_reply_ok(txs_session_t *s)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, txs_session_cur(s)->id, txs_session_cur(s)->id_len, true);
    txs_reply_close(out, true, s->tx, s->levels.depth);
}

void txs_session_reply_error(txs_session_t *s, const txs_error_info_t *e)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, txs_session_cur(s)->id, txs_session_cur(s)->id_len, false);
    txs_reply_put_error(out, e);
    txs_reply_close(out, true, s->tx, s->levels.depth);
    txs_metrics_count_error(&s->client->server->metrics, e->code);
}

void txs_session_reply_proxy(txs_session_t *s, const char *code, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    txs_error_info_t e = {.code = code, .message = msg};
    txs_session_reply_error(s, &e);
}

void txs_session_reply_shutdown(txs_session_t *s, const txs_request_t *r)
{
    txs_reply_proxy_error(txs_client_out(s->client), r->id, r->id_len, TXS_SQLSTATE_SHUTDOWN,
                          "the daemon is shutting down: open transactions are rolled back", true,
                          TXS_TX_IDLE, 0);
    txs_metrics_count_error(&s->client->server->metrics, TXS_SQLSTATE_SHUTDOWN);
}

void txs_session_reply_timeout(txs_session_t *s, txs_timeout_kind_t k)
{
    const txs_db_conf_t *d = txs_pool_conf(s->pool);
    bool whole = k == TXS_TIMEOUT_TRANSACTION;
    char dur[32];
    txs_conf_format_duration(whole ? d->transaction_timeout_ms : d->idle_in_transaction_timeout_ms,
                             dur, sizeof dur);
    txs_session_reply_proxy(s, TXS_SQLSTATE_IDLE_TIMEOUT,
                            "the transaction was rolled back by %s (%s); the session is idle",
                            whole ? "transaction_timeout" : "idle_in_transaction_timeout", dur);
}
