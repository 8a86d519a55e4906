/* session_reply.c - a session's replies: ok, a backend's error, or the daemon's own. */
#include <stdarg.h>
#include <stdio.h>

#include "daemon/client.h"
#include "daemon/session_int.h"

static const txs_request_t *cur(const txs_session_t *s)
{
    return &s->current->req;
}

void txs_session_reply_ok(txs_session_t *s)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, cur(s)->id, cur(s)->id_len, true);
    txs_reply_close(out, true, s->tx, s->levels.depth);
}

void txs_session_reply_error(txs_session_t *s, const txs_error_info_t *e)
{
    if (s->winding_down)
        return;
    txs_buf_t *out = txs_client_out(s->client);
    txs_reply_open(out, cur(s)->id, cur(s)->id_len, false);
    txs_reply_put_error(out, e);
    txs_reply_close(out, true, s->tx, s->levels.depth);
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
