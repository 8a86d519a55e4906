/* client.c - one app connection: reads and frames requests, keeps the registry of
 * its sessions (ctx -> session), coalesces replies into one write per loop turn,
 * stops reading when too much is pending, and winds every session down on close. */
#include "daemon/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/version.h"
#include "protocol/errors.h"
#include "protocol/framing.h"
#include "protocol/sqlstate.h"

/* Stop reading while this much output waits for a slow reader. */
#define OUT_HIGH_WATER (4u << 20)
/* How long a client that got a fatal error may keep sending before we close anyway. */
#define LINGER_MS 2000

/* One write in flight: the replies coalesced in one loop turn, with libuv's request.
 * Allocated per write and freed when written, so that an idle client (most of them,
 * with thousands connected) holds neither a buffer nor a request. */
struct txs_client_write {
    uv_write_t req;
    txs_buf_t buf;
};

static size_t parse_lines(txs_client_t *c, const char *data, size_t len, size_t *scanned);
static void process_input(txs_client_t *c);
static void update_reading(txs_client_t *c);
static void shutdown_progress(txs_client_t *c);

static const txs_conf_t *conf(const txs_client_t *c)
{
    return c->server->conf;
}

txs_buf_t *txs_client_out(txs_client_t *c)
{
    return &c->out;
}

size_t txs_client_max_result(const txs_client_t *c)
{
    return conf(c)->max_result_bytes;
}

txs_pool_t *txs_client_find_pool(txs_client_t *c, const char *name)
{
    return txs_server_find_pool(c->server, name);
}

txs_log_who_t txs_client_who(const txs_client_t *c)
{
    return (txs_log_who_t){.client = c->id, .peer = c->peer};
}

/* ---- reading and backpressure ---- */

/* With nothing pending, read into the server's shared buffer and parse from there;
 * only a leftover is copied into the client's own buffer (see on_read). */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    txs_client_t *c = h->data;
    if (c->in.len == 0) {
        buf->base = c->server->read_buf;
        buf->len = TXS_READ_CHUNK;
        return;
    }
    buf->base = txs_buf_reserve(&c->in, TXS_READ_CHUNK);
    buf->len = c->in.cap - c->in.len;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    txs_client_t *c = st->data;
    if (c->lingering && nread > 0)
        return; /* discarded: the connection is being closed */
    if (nread > 0) {
        c->last_activity = uv_now(c->server->loop);
        c->server->metrics.bytes_in += (uint64_t)nread;
    }
    if (nread > 0 && buf->base == c->server->read_buf) {
        size_t scanned = 0;
        size_t n = parse_lines(c, buf->base, (size_t)nread, &scanned);
        if (n < (size_t)nread && !c->close_after_flush) {
            txs_buf_append(&c->in, buf->base + n, (size_t)nread - n);
            c->in_scanned = scanned;
        }
        update_reading(c);
    } else if (nread > 0) {
        c->in.len += (size_t)nread;
        process_input(c);
    } else if (nread < 0) {
        const char *why =
            nread == UV_EOF ? "client closed the connection" : uv_strerror((int)nread);
        txs_client_close(c, c->lingering && c->server->shutting_down ? "shutdown" : why);
    }
}

static void update_reading(txs_client_t *c)
{
    /* A lingering client is read (and its bytes dropped) so that its close is seen. */
    bool want =
        c->state == TXS_CLIENT_ACTIVE &&
        (c->lingering || (!c->close_after_flush && !c->server->shutting_down &&
                          c->pending < conf(c)->max_pipeline &&
                          c->out.len + (c->writing ? c->writing->buf.len : 0) < OUT_HIGH_WATER));
    if (want && !c->reading) {
        if (uv_read_start(&c->sock.stream, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop(&c->sock.stream);
        c->reading = false;
    }
}

/* ---- replies written by the client itself ---- */

static void write_error(txs_client_t *c, const char *id, size_t id_len, const char *code,
                        bool with_tx, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void write_error(txs_client_t *c, const char *id, size_t id_len, const char *code,
                        bool with_tx, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    txs_reply_proxy_error(&c->out, id, id_len, code, msg, with_tx, TXS_TX_IDLE, 0);
    txs_metrics_count_error(&c->server->metrics, code);
    txs_server_want_flush(c->server, c);
}

static void write_ok(txs_client_t *c, const txs_request_t *r, bool with_tx)
{
    txs_reply_open(&c->out, r->id, r->id_len, true);
    txs_reply_close(&c->out, with_tx, TXS_TX_IDLE, 0);
    txs_server_want_flush(c->server, c);
}

/* ---- requests ---- */

static bool token_matches(const char *want, const char *got)
{
    if (!got)
        return false;
    size_t wl = strlen(want), gl = strlen(got);
    /* Constant time in the token's length: no early exit on the first difference. */
    unsigned char diff = (unsigned char)(wl != gl);
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < gl ? got[i] : 0);
    return diff == 0;
}

/* The principal `got` is the token of, or NULL. Every token is compared, whichever
 * matched, and the match is picked without a branch, so the time taken does not tell
 * which name (if any) the token belongs to. Secrets are distinct (the config checks). */
static const char *principal_of(const txs_conf_t *cf, const char *got)
{
    unsigned found = 0; /* the index of the match + 1 */
    for (int i = 0; i < cf->ntokens; i++) {
        unsigned mask = 0u - (unsigned)token_matches(cf->tokens[i].secret, got);
        found |= mask & (unsigned)(i + 1);
    }
    return found ? cf->tokens[found - 1].name : NULL;
}

static void auth_failed(txs_client_t *c, const txs_request_t *r, const char *why)
{
    txs_log_for(TXS_LOG_WARN, txs_client_who(c), "authentication failed: %s", why);
    write_error(c, r->id, r->id_len, TXS_SQLSTATE_AUTH, false, "authentication failed");
    c->close_after_flush = true;
}

/* Authenticates once, as PostgreSQL and PgBouncer do at connection start. A later hello
 * is answered ok only with a token of the same principal (a client library that says
 * hello on every checkout); another principal's token gets 28000 and the connection is
 * closed: switching would move the open sessions between journals, and keeping the first
 * while answering ok would give the caller someone else's outcomes. */
static void handle_hello(txs_client_t *c, const txs_request_t *r)
{
    if (conf(c)->ntokens > 0) {
        const char *who = principal_of(conf(c), r->token);
        if (!who) {
            auth_failed(c, r, r->token ? "no configured token matches" : "hello without a token");
            return;
        }
        if (c->authenticated && strcmp(who, c->principal) != 0) {
            char why[200];
            snprintf(why, sizeof why, "already principal %s; hello as %s refused", c->principal,
                     who);
            auth_failed(c, r, why);
            return;
        }
        if (!c->authenticated) {
            snprintf(c->principal, sizeof c->principal, "%s", who);
            c->journal = txs_journals_get(c->server->journals, who);
            c->authenticated = true;
        }
    }
    txs_log_for(TXS_LOG_DEBUG, txs_client_who(c), "hello from %s as principal %s",
                r->client ? r->client : "(unnamed)", c->principal);
    txs_reply_open(&c->out, r->id, r->id_len, true);
    txs_buf_puts(&c->out, ",\"server\":\"txscope\",\"version\":\"" TXS_VERSION "\",\"protocol\":1");
    txs_reply_close(&c->out, false, TXS_TX_IDLE, 0);
    txs_server_want_flush(c->server, c);
}

/* A request for a ctx with no session: ops that change nothing are answered here,
 * so that status, end or outcome of an unknown ctx does not create one. Returns the session
 * to enqueue on, or NULL when answered. */
static txs_session_t *session_for(txs_client_t *c, const txs_request_t *r)
{
    txs_session_t *s = NULL;
    HASH_FIND_STR(c->sessions, r->ctx, s);
    if (s)
        return s;
    if (r->has_db && !txs_client_find_pool(c, r->db)) {
        write_error(c, r->id, r->id_len, TXS_SQLSTATE_UNKNOWN_DB, true, "unknown db \"%s\"", r->db);
        return NULL;
    }
    switch (r->op) {
    case TXS_OP_STATUS:
    case TXS_OP_END:
    case TXS_OP_COMMIT:
    case TXS_OP_ROLLBACK:
        write_ok(c, r, true);
        return NULL;
    case TXS_OP_RELEASE:
    case TXS_OP_ROLLBACK_TO:
        write_error(c, r->id, r->id_len, TXS_SQLSTATE_NO_SAVEPOINT, true,
                    "savepoint \"%s\" does not exist", r->name);
        return NULL;
    case TXS_OP_OUTCOME: {
        /* Answered here unless a commit of the ctx is under way elsewhere: only a wait
         * needs a session, so a recovering client is not refused for its session limit. */
        txs_outcome_t o = txs_journal_lookup(c->journal, r->ctx, uv_now(c->server->loop), NULL);
        if (o == TXS_OUTCOME_PENDING)
            break; /* made even past max_sessions_per_client: it only waits */
        txs_reply_open(&c->out, r->id, r->id_len, true);
        txs_buf_printf(&c->out, ",\"outcome\":\"%s\"", txs_outcome_name(o));
        txs_reply_close(&c->out, true, TXS_TX_IDLE, 0);
        txs_server_want_flush(c->server, c);
        return NULL;
    }
    default:
        break;
    }
    if (c->nsessions >= conf(c)->max_sessions_per_client && r->op != TXS_OP_OUTCOME) {
        write_error(c, r->id, r->id_len, TXS_SQLSTATE_TOO_MANY, true,
                    "too many sessions on this connection (max_sessions_per_client = %d)",
                    conf(c)->max_sessions_per_client);
        return NULL;
    }
    s = txs_session_create(c, r->ctx);
    HASH_ADD_STR(c->sessions, ctx, s);
    c->nsessions++;
    c->refs++;
    return s;
}

static void handle_line(txs_client_t *c, const char *line, size_t len)
{
    txs_queued_t *q = txs_xmalloc(sizeof *q);
    txs_decode_error_t err;
    if (txs_request_decode(line, len, &q->req, &err) != TXS_OK) {
        free(q);
        write_error(c, err.id, err.id_len, TXS_SQLSTATE_PROTOCOL, false, "%s", err.message);
        return;
    }
    txs_request_t *r = &q->req;
    if (!c->authenticated && r->op != TXS_OP_HELLO) {
        txs_log_for(TXS_LOG_WARN, txs_client_who(c), "authentication failed: %s before hello",
                    txs_op_name(r->op));
        write_error(c, r->id, r->id_len, TXS_SQLSTATE_AUTH, false,
                    "authentication required: send hello with the token first");
        c->close_after_flush = true;
    } else if (r->op == TXS_OP_HELLO) {
        handle_hello(c, r);
    } else if (r->op == TXS_OP_PING) {
        write_ok(c, r, false);
    } else {
        txs_session_t *s = session_for(c, r);
        if (s) {
            c->pending++;
            txs_session_enqueue(s, q);
            return;
        }
    }
    txs_request_free(r);
    free(q);
}

/* Decode complete lines while the pipeline has room. */
/* Decode the complete lines of data[0..len) while the pipeline has room; *scanned as
 * for txs_frame_next. Returns the bytes consumed. */
static size_t parse_lines(txs_client_t *c, const char *data, size_t len, size_t *scanned)
{
    size_t max = conf(c)->max_request_bytes, pos = 0;
    while (c->state == TXS_CLIENT_ACTIVE && !c->close_after_flush && !c->server->shutting_down &&
           c->pending < conf(c)->max_pipeline && pos < len) {
        size_t line_len;
        ssize_t n = txs_frame_next(data + pos, len - pos, max, scanned, &line_len);
        if (n == 0)
            break;
        if (n < 0) {
            /* The framing can't be trusted past an oversized line: answer, then close. */
            write_error(c, NULL, 0, TXS_SQLSTATE_TOO_BIG, false,
                        "request line is longer than max_request_bytes (%zu bytes)", max);
            c->close_after_flush = true;
            break;
        }
        const char *line = data + pos;
        pos += (size_t)n;
        handle_line(c, line, line_len);
        if (!c->logged_in && c->authenticated) {
            c->logged_in = true; /* a line read; with tokens, a hello that passed */
            txs_client_timer_logged_in(c);
        }
    }
    return pos;
}

/* Decode what waits in the client's own buffer (a partial line, or lines held back
 * by max_pipeline). */
static void process_input(txs_client_t *c)
{
    if (c->in.len) {
        txs_buf_consume(&c->in, parse_lines(c, c->in.data, c->in.len, &c->in_scanned));
        if (c->in.len == 0)
            txs_buf_free(&c->in); /* an idle client holds no input memory */
    }
    update_reading(c);
}

void txs_client_request_done(txs_client_t *c)
{
    c->pending--;
    c->last_activity = uv_now(c->server->loop);
    /* Input left waiting on the pipeline limit is parsed before the loop sleeps. */
    txs_server_want_flush(c->server, c);
}

/* ---- writing ---- */

static void on_linger_timeout(uv_timer_t *t)
{
    txs_client_t *c = t->data;
    txs_client_close(c, c->server->shutting_down
                            ? "shutdown"
                            : "closed after a fatal error (the client kept sending)");
}

static void start_linger_timer(txs_client_t *c)
{
    c->linger_timer = txs_xmalloc(sizeof *c->linger_timer);
    uv_timer_init(c->server->loop, c->linger_timer);
    c->linger_timer->data = c;
    c->refs++; /* dropped in the timer's close callback */
    uv_timer_start(c->linger_timer, on_linger_timeout, LINGER_MS, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    free(req);
}

/* The fatal reply is written. Closing now, with the client's bytes still unread,
 * would make the kernel answer with a reset that can destroy the reply before the
 * client reads it; so send FIN, discard input, and close when the client closes
 * (or after LINGER_MS). */
static void linger(txs_client_t *c)
{
    c->lingering = true;
    txs_server_client_closing(c->server, c); /* no longer counts against max_clients */
    uv_shutdown_t *req = txs_xmalloc(sizeof *req);
    if (uv_shutdown(req, &c->sock.stream, on_shutdown) != 0) {
        free(req);
        txs_client_close(c, "closed after a fatal error");
        return;
    }
    if (!c->linger_timer)
        start_linger_timer(c);
    update_reading(c);
}

/* What waited for a write to finish (at once, or in libuv's callback). */
static void written(txs_client_t *c)
{
    /* The fatal reply may have been queued while an earlier write was in flight:
     * shut down only once it is written too. */
    if (c->close_after_flush && c->out.len == 0) {
        if (!c->lingering)
            linger(c);
        return;
    }
    if (c->out.len)
        txs_server_want_flush(c->server, c);
    update_reading(c);
}

static void on_written(uv_write_t *req, int status)
{
    txs_client_t *c = req->data;
    struct txs_client_write *w = c->writing;
    c->writing = NULL;
    if (status == 0)
        c->server->metrics.bytes_out += w->buf.len;
    txs_buf_free(&w->buf);
    free(w);
    if (status < 0) {
        txs_client_close(c, status == UV_ECANCELED ? "closed" : uv_strerror(status));
        return;
    }
    written(c);
}

void txs_client_flush(txs_client_t *c)
{
    if (c->state == TXS_CLIENT_ACTIVE)
        process_input(c);
    if (c->server->shutting_down)
        shutdown_progress(c);
    if (c->writing || c->out.len == 0)
        return;
    if (c->state != TXS_CLIENT_ACTIVE || c->lingering) {
        c->out.len = 0; /* nobody to read it, or the write side is shut down */
        return;
    }
    /* Replies mostly fit the socket's buffer: written now, with no request allocated,
     * and without libuv's write queue, whose drain costs an epoll_ctl per write. */
    uv_buf_t now = uv_buf_init(c->out.data, (unsigned int)c->out.len);
    int n = uv_try_write(&c->sock.stream, &now, 1);
    if (n == UV_EAGAIN)
        n = 0;
    if (n < 0) {
        c->out.len = 0;
        txs_client_close(c, uv_strerror(n));
        return;
    }
    c->server->metrics.bytes_out += (uint64_t)n;
    if ((size_t)n == c->out.len) {
        txs_buf_free(&c->out); /* an idle client holds no output memory */
        written(c);
        return;
    }
    txs_buf_consume(&c->out, (size_t)n);
    struct txs_client_write *w = txs_xmalloc(sizeof *w);
    w->buf = c->out;
    txs_buf_init(&c->out);
    w->req.data = c;
    c->writing = w;
    uv_buf_t b = uv_buf_init(w->buf.data, (unsigned int)w->buf.len);
    int rc = uv_write(&w->req, &c->sock.stream, &b, 1, on_written);
    if (rc < 0) {
        c->writing = NULL;
        txs_buf_free(&w->buf);
        free(w);
        txs_client_close(c, uv_strerror(rc));
    }
}

/* ---- lifetime ---- */

static void maybe_free(txs_client_t *c)
{
    if (c->refs > 0)
        return;
    txs_server_client_gone(c->server, c);
    txs_buf_free(&c->in);
    txs_buf_free(&c->out);
    free(c);
}

static void on_linger_timer_closed(uv_handle_t *h)
{
    txs_client_t *c = h->data;
    free(h);
    c->refs--;
    maybe_free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    txs_client_t *c = h->data;
    c->refs--;
    maybe_free(c);
}

void txs_client_session_freed(txs_client_t *c, txs_session_t *s)
{
    HASH_DEL(c->sessions, s);
    c->nsessions--;
    if (c->server->shutting_down && c->state == TXS_CLIENT_ACTIVE)
        txs_server_want_flush(c->server, c); /* the last session gone: the last line */
    c->refs--;
    maybe_free(c);
}

/* The one line a close writes: why, and what it ends. The wind-down rolls back each open
 * transaction, but for one whose COMMIT is under way: that one finishes. */
/* Open transactions that ending the client's sessions now rolls back: not one already
 * gone with its backend, nor one whose COMMIT is under way (it finishes). */
static int to_roll_back(const txs_client_t *c)
{
    int n = 0;
    for (const txs_session_t *s = c->sessions; s; s = s->hh.next)
        n += s->tx != TXS_TX_IDLE && !s->tx_gone && !s->committing;
    return n;
}

static void log_close(const txs_client_t *c, const char *why)
{
    int open_tx = to_roll_back(c);
    uint64_t ms = c->accepted_at ? uv_now(c->server->loop) - c->accepted_at : 0;
    txs_log_for(TXS_LOG_INFO, txs_client_who(c),
                "closed: %s (connected %llu.%03llu s; %d session(s) ended, %d open "
                "transaction(s) rolled back)",
                why, (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000), c->nsessions,
                open_tx);
}

void txs_client_close(txs_client_t *c, const char *why)
{
    if (c->state == TXS_CLIENT_CLOSING)
        return;
    c->state = TXS_CLIENT_CLOSING;
    c->reading = false;
    if (!c->lingering) /* a lingering client was counted out already */
        txs_server_client_closing(c->server, c);
    if (TXS_LOG_INFO <= txs_log_max_level)
        log_close(c, why);
    c->refs++; /* hold the client while sessions let go below */
    uv_close(&c->sock.handle, on_handle_closed);
    txs_client_timer_stop(c);
    if (c->linger_timer) {
        uv_close((uv_handle_t *)c->linger_timer, on_linger_timer_closed);
        c->linger_timer = NULL;
    }
    /* Sessions waiting for the pool go first, so that backends freed by the others
     * are not handed to a session that is about to go. */
    txs_session_t *s, *tmp;
    HASH_ITER(hh, c->sessions, s, tmp)
    {
        if (s->state == TXS_SESSION_ACQUIRING)
            txs_session_wind_down(s);
    }
    HASH_ITER(hh, c->sessions, s, tmp)
    {
        txs_session_wind_down(s);
    }
    c->refs--;
    maybe_free(c);
}

/* ---- the daemon's final wind-down ---- */

/* It goes on from the flush: a session whose COMMIT has ended since winds down; once no
 * session is left, the last line (id null), then the close of a fatal error (FIN, then
 * linger), with the linger's bound armed now for a client that does not read. */
static void shutdown_progress(txs_client_t *c)
{
    if (c->state != TXS_CLIENT_ACTIVE)
        return;
    txs_session_t *s, *tmp;
    HASH_ITER(hh, c->sessions, s, tmp)
    {
        if (s->state == TXS_SESSION_READY && !s->winding_down)
            txs_session_wind_down(s);
    }
    if (c->nsessions > 0 || c->close_after_flush || c->lingering)
        return;
    write_error(c, "null", 4, TXS_SQLSTATE_SHUTDOWN, false,
                "the daemon is shutting down: the connection is closed");
    c->close_after_flush = true;
    if (!c->linger_timer)
        start_linger_timer(c);
}

void txs_client_shut_down(txs_client_t *c, bool waiters_only)
{
    if (c->state != TXS_CLIENT_ACTIVE)
        return;
    txs_session_t *s, *tmp;
    if (waiters_only) { /* the first pass: said once, before anything changed */
        int open_tx = to_roll_back(c), waiting = 0;
        for (s = c->sessions; s; s = s->hh.next) {
            waiting += s->current && !s->committing; /* a commit under way finishes */
            for (const txs_queued_t *q = s->head; q; q = q->next)
                waiting++;
        }
        txs_log_who_t who = {.client = c->id, .peer = c->peer};
        txs_log_at(TXS_LOG_INFO, &who,
                   "shutdown: answering %d waiting request(s) with 57P01, rolling back %d open "
                   "transaction(s)",
                   waiting, open_tx);
    }
    HASH_ITER(hh, c->sessions, s, tmp)
    {
        if (!waiters_only || s->state == TXS_SESSION_ACQUIRING)
            txs_session_shut_down(s);
    }
    if (waiters_only)
        return;
    update_reading(c); /* stops: nothing more is read */
    shutdown_progress(c);
}

void txs_client_accept(txs_server_t *srv, uv_stream_t *listener, bool is_unix)
{
    txs_client_t *c = txs_xcalloc(1, sizeof *c);
    c->server = srv;
    int rc =
        is_unix ? uv_pipe_init(srv->loop, &c->sock.pipe, 0) : uv_tcp_init(srv->loop, &c->sock.tcp);
    if (rc < 0) {
        free(c);
        txs_log_error("accept: %s", uv_strerror(rc));
        return;
    }
    c->sock.handle.data = c;
    c->id = ++srv->next_client_id;
    c->refs = 1;
    c->state = TXS_CLIENT_ACTIVE;
    /* With tokens, hello picks the principal; without, every client is "default". */
    c->authenticated = srv->conf->ntokens == 0;
    if (c->authenticated) {
        snprintf(c->principal, sizeof c->principal, "%s", TXS_DEFAULT_PRINCIPAL);
        c->journal = txs_journals_get(srv->journals, TXS_DEFAULT_PRINCIPAL);
    }
    txs_server_client_added(srv, c);
    rc = uv_accept(listener, &c->sock.stream);
    if (rc < 0) {
        txs_client_close(c, uv_strerror(rc));
        return;
    }
    srv->metrics.clients_accepted++;
    if (is_unix) {
        snprintf(c->peer, sizeof c->peer, "unix");
    } else {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        char host[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        uv_tcp_nodelay(&c->sock.tcp, 1);
        if (uv_tcp_getpeername(&c->sock.tcp, (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET6) {
                uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
                port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
            } else {
                uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
                port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            }
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", host, port);
    }
    /* At debug: thousands of clients may come and go; the close says why at info. */
    txs_log_for(TXS_LOG_DEBUG, txs_client_who(c), "accepted");
    txs_client_timer_start(c);
    if (srv->nactive > srv->conf->max_clients) {
        write_error(c, NULL, 0, TXS_SQLSTATE_TOO_MANY, false,
                    "too many client connections (max_clients = %d)", srv->conf->max_clients);
        c->close_after_flush = true;
        return;
    }
    update_reading(c);
}
