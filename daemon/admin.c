/* admin.c - the admin HTTP listener: connections parsed with http-parser, routing,
 * responses, readiness and the snapshot that /metrics and /stats are written from. */
#include "daemon/admin.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "protocol/errors.h"

#define BACKLOG 128
#define LINGER_MS 1000      /* after the last response of a closing connection */
#define OUT_HIGH (1u << 20) /* stop parsing pipelined requests while this much waits */
#define URL_MAX 2048        /* a longer target cannot be one of ours: 404 */
#define READ_CHUNK 16384

typedef struct admin_conn admin_conn_t;

typedef struct txs_admin {
    txs_server_t *server;
    uv_tcp_t listener;
    bool listener_open;
    int refs; /* the listener + every connection and refused socket not yet closed */
    uint64_t started_ms;
    admin_conn_t *conns;
    int nconns;
    char read_buf[READ_CHUNK]; /* every connection reads here, then parses at once */
    txs_buf_t body;            /* scratch for the response being built */
} txs_admin_t;

struct admin_conn {
    txs_admin_t *admin;
    uv_tcp_t tcp;
    uv_timer_t timer; /* idle timeout, then the linger after the last response */
    int handles;      /* open handles: tcp and timer; freed at 0 */
    http_parser parser;
    txs_buf_t in;   /* received and not yet parsed (only while OUT_HIGH holds parsing) */
    txs_buf_t out;  /* responses waiting for the write in flight */
    txs_buf_t wbuf; /* the bytes of the write in flight */
    uv_write_t wreq;
    uv_shutdown_t sreq;
    txs_buf_t url;
    bool url_too_long;
    bool writing;
    bool reading;
    bool done;      /* no more requests: Connection: close, HTTP/1.0, a 400 */
    bool eof;       /* the peer sent FIN */
    bool fin_sent;  /* uv_shutdown asked for */
    bool lingering; /* FIN sent; input discarded until the peer closes or LINGER_MS */
    bool closing;
    admin_conn_t *prev, *next;
};

static void conn_pump(admin_conn_t *c);

/* ---- readiness and the snapshot ---- */

bool txs_server_ready(txs_server_t *s, txs_buf_t *why)
{
    bool ready = true;
    if (s->shutting_down) {
        ready = false;
        if (why)
            txs_buf_puts(why, "shutting down\n");
    }
    if (s->draining) {
        ready = false;
        if (why)
            txs_buf_puts(why, "draining\n");
    }
    for (int i = 0; i < s->npools; i++) {
        txs_pool_stats_t st;
        txs_pool_stats(s->pools[i], &st);
        if (st.opened == 0) {
            ready = false;
            if (why)
                txs_buf_printf(why, "db %s: never connected\n", txs_pool_name(s->pools[i]));
        }
    }
    return ready;
}

void txs_admin_snap_take(txs_server_t *s, txs_admin_snap_t *snap)
{
    memset(snap, 0, sizeof *snap);
    snap->ready = txs_server_ready(s, &snap->not_ready);
    snap->draining = s->draining;
    snap->shutting_down = s->shutting_down;
    if (s->admin)
        snap->uptime_ms = uv_now(s->loop) - s->admin->started_ms;
    snap->clients_active = s->nactive;
    snap->clients_closing = s->nclients - s->nactive;
    txs_server_counts_t n = txs_server_count(s);
    snap->sessions = n.sessions;
    snap->transactions_open = n.open_tx;
    snap->client_login_timeouts = s->client_login_timeouts;
    snap->client_idle_timeouts = s->client_idle_timeouts;
    snap->metrics = s->metrics;
    snap->npools = s->npools;
    snap->pools = txs_xcalloc(s->npools > 0 ? (size_t)s->npools : 1, sizeof *snap->pools);
    for (int i = 0; i < s->npools; i++) {
        snap->pools[i].name = txs_pool_name(s->pools[i]);
        snap->pools[i].conf = txs_pool_conf(s->pools[i]);
        txs_pool_stats(s->pools[i], &snap->pools[i].st);
    }
}

void txs_admin_snap_free(txs_admin_snap_t *snap)
{
    txs_buf_free(&snap->not_ready);
    free(snap->pools);
    snap->pools = NULL;
}

/* ---- responses ---- */

static const char *status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

#define TEXT_PLAIN "text/plain; charset=utf-8"

/* One response into c->out: the body is admin->body; HEAD gets the headers only. */
static void respond(admin_conn_t *c, int status, const char *ctype, bool head)
{
    txs_buf_t *body = &c->admin->body;
    txs_buf_printf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n", status,
                   status_text(status), ctype, body->len);
    txs_buf_puts(&c->out, "Cache-Control: no-store\r\n");
    if (status == 405)
        txs_buf_puts(&c->out, "Allow: GET, HEAD\r\n");
    if (c->done)
        txs_buf_puts(&c->out, "Connection: close\r\n");
    else if (c->parser.http_major == 1 && c->parser.http_minor == 0)
        txs_buf_puts(&c->out, "Connection: keep-alive\r\n");
    txs_buf_puts(&c->out, "\r\n");
    if (!head)
        txs_buf_append(&c->out, body->data, body->len);
    txs_buf_truncate(body, 0);
    txs_buf_shrink(body, 65536);
}

/* The path of the request target (origin or absolute form), without the query. */
static bool target_path(admin_conn_t *c, const char **path, size_t *len)
{
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (c->url.len == 0 || http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH)))
        return false;
    *path = c->url.data + u.field_data[UF_PATH].off;
    *len = u.field_data[UF_PATH].len;
    return true;
}

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
}

/* A whole request was parsed: route it and write the response. */
static void handle_request(admin_conn_t *c)
{
    txs_server_t *s = c->admin->server;
    txs_buf_t *body = &c->admin->body;
    const char *path = "";
    size_t plen = 0;
    enum { R_NONE, R_HEALTHZ, R_READYZ, R_METRICS, R_STATS } route = R_NONE;
    if (!c->url_too_long && target_path(c, &path, &plen)) {
        if (path_is(path, plen, "/healthz"))
            route = R_HEALTHZ;
        else if (path_is(path, plen, "/readyz"))
            route = R_READYZ;
        else if (path_is(path, plen, "/metrics"))
            route = R_METRICS;
        else if (path_is(path, plen, "/stats"))
            route = R_STATS;
    }
    bool head = c->parser.method == HTTP_HEAD;
    if (route == R_NONE) {
        txs_buf_puts(body, "not found\n");
        respond(c, 404, TEXT_PLAIN, head);
        return;
    }
    if (c->parser.method != HTTP_GET && !head) {
        txs_buf_puts(body, "method not allowed\n");
        respond(c, 405, TEXT_PLAIN, false);
        return;
    }
    switch (route) {
    case R_HEALTHZ:
        /* The loop answered: that is all liveness means. */
        txs_buf_puts(body, "ok\n");
        respond(c, 200, TEXT_PLAIN, head);
        break;
    case R_READYZ: {
        bool ready = txs_server_ready(s, body);
        if (ready)
            txs_buf_puts(body, "ready\n");
        respond(c, ready ? 200 : 503, TEXT_PLAIN, head);
        break;
    }
    case R_METRICS:
    case R_STATS: {
        txs_admin_snap_t snap;
        txs_admin_snap_take(s, &snap);
        if (route == R_METRICS)
            txs_metrics_write_text(&snap, body);
        else
            txs_stats_write_json(&snap, body);
        txs_admin_snap_free(&snap);
        respond(c, 200,
                route == R_METRICS ? "text/plain; version=0.0.4; charset=utf-8"
                                   : "application/json",
                head);
        break;
    }
    case R_NONE:
        break;
    }
}

/* ---- http-parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
    admin_conn_t *c = p->data;
    txs_buf_truncate(&c->url, 0);
    c->url_too_long = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    admin_conn_t *c = p->data;
    if (c->url.len + len > URL_MAX)
        c->url_too_long = true;
    else
        txs_buf_append(&c->url, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    admin_conn_t *c = p->data;
    if (!http_should_keep_alive(p))
        c->done = true;
    handle_request(c);
    /* One request at a time: conn_pump decides whether to parse the next one. */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_message_complete = on_message_complete,
};

/* ---- connections ---- */

static void admin_unref(txs_admin_t *a)
{
    if (--a->refs == 0) {
        txs_buf_free(&a->body);
        free(a);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    admin_conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    txs_admin_t *a = c->admin;
    txs_buf_free(&c->in);
    txs_buf_free(&c->out);
    txs_buf_free(&c->wbuf);
    txs_buf_free(&c->url);
    free(c);
    admin_unref(a);
}

static void conn_close(admin_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    txs_admin_t *a = c->admin;
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

static void on_timer(uv_timer_t *t)
{
    conn_close(t->data); /* idle, or done lingering */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    admin_conn_t *c = h->data;
    buf->base = c->admin->read_buf;
    buf->len = sizeof c->admin->read_buf;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    admin_conn_t *c = st->data;
    if (n == 0)
        return;
    if (n < 0) {
        /* EOF or a reset. A lingering or idle connection just goes; one whose peer
         * half-closed after its requests still gets the responses. */
        uv_read_stop(st);
        c->reading = false;
        c->eof = true;
        if (n != UV_EOF || c->lingering)
            conn_close(c);
        else
            conn_pump(c);
        return;
    }
    if (c->done)
        return; /* discarded */
    /* No timer restart here: a request must be complete within the timeout counted from
     * the accept or the last response, so a peer trickling a byte at a time cannot hold
     * one of the few connections (and starve the kubelet's probes). */
    txs_buf_append(&c->in, buf->base, (size_t)n);
    conn_pump(c);
}

static void on_write(uv_write_t *req, int status)
{
    admin_conn_t *c = req->data;
    c->writing = false;
    if (c->closing)
        return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    txs_buf_truncate(&c->wbuf, 0);
    txs_buf_shrink(&c->wbuf, 65536);
    uv_timer_start(&c->timer, on_timer, TXS_ADMIN_IDLE_TIMEOUT_MS, 0);
    conn_pump(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    admin_conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    /* Read until the peer closes, so that input it sent after our last response
     * cannot turn our close into a reset that loses that response. */
    c->lingering = true;
    uv_timer_start(&c->timer, on_timer, LINGER_MS, 0);
}

static void start_reading(admin_conn_t *c)
{
    if (c->reading || c->eof || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        conn_close(c);
}

static void stop_reading(admin_conn_t *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* A request the parser refused. */
static void bad_request(admin_conn_t *c, enum http_errno e)
{
    txs_log_debug("admin: bad request: %s", http_errno_description(e));
    c->done = true;
    txs_buf_puts(&c->admin->body, "bad request\n");
    respond(c, 400, TEXT_PLAIN, false);
}

/* Parse what was received (one request at a time, until OUT_HIGH is waiting), write
 * the responses, read when there is room, close when done. */
static void conn_pump(admin_conn_t *c)
{
    while (c->in.len > 0 && !c->done && c->out.len < OUT_HIGH) {
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED)
            http_parser_pause(&c->parser, 0);
        else if (e != HPE_OK)
            bad_request(c, e);
        if (c->parser.upgrade)
            c->done = true; /* what follows is not HTTP for us */
        txs_buf_consume(&c->in, n);
    }
    if (c->done) {
        txs_buf_truncate(&c->in, 0);
        txs_buf_shrink(&c->in, 0);
    }
    if (!c->writing && c->out.len > 0) {
        txs_buf_t t = c->wbuf;
        c->wbuf = c->out;
        c->out = t;
        uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
        c->wreq.data = c;
        if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
            conn_close(c);
            return;
        }
        c->writing = true;
    }
    /* Read while nothing parsed is held back (the parser keeps a partial request itself);
     * once done, read on to discard what the peer still sends. */
    if (c->in.len == 0)
        start_reading(c);
    else
        stop_reading(c);
    if (c->writing || c->closing)
        return;
    if (c->eof && (c->done || c->in.len == 0)) {
        conn_close(c);
    } else if (c->done && !c->fin_sent) {
        c->fin_sent = true;
        c->sreq.data = c;
        if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
            conn_close(c);
    }
}

static void on_refused_closed(uv_handle_t *h)
{
    txs_admin_t *a = h->data;
    free(h);
    admin_unref(a);
}

/* New connections go to the head of a->conns, so the last one found is the oldest. */
static admin_conn_t *oldest_not_writing(txs_admin_t *a)
{
    admin_conn_t *oldest = NULL;
    for (admin_conn_t *c = a->conns; c; c = c->next)
        if (!c->writing)
            oldest = c;
    return oldest;
}

static void on_connection(uv_stream_t *l, int status)
{
    txs_admin_t *a = l->data;
    if (status < 0) {
        txs_log_warn("admin accept: %s", uv_strerror(status));
        return;
    }
    admin_conn_t *victim = a->nconns >= TXS_ADMIN_MAX_CONNS ? oldest_not_writing(a) : NULL;
    if (victim) {
        /* Full: the newcomer (a probe, likely) is served and the oldest connection that
         * is not sending a response goes, so that idle or trickling peers cannot lock
         * /healthz out. */
        txs_log_debug("admin: %d connections open: the oldest idle one is closed",
                      TXS_ADMIN_MAX_CONNS);
        conn_close(victim);
    }
    if (a->nconns >= TXS_ADMIN_MAX_CONNS) {
        /* Every connection is sending a response: accepted and closed at once, so that a
         * storm of scrapers cannot hold descriptors the clients need. */
        uv_tcp_t *t = txs_xmalloc(sizeof *t);
        uv_tcp_init(l->loop, t);
        t->data = a;
        a->refs++;
        if (uv_accept(l, (uv_stream_t *)t) == 0)
            txs_log_debug("admin: %d connections open: one more refused", TXS_ADMIN_MAX_CONNS);
        uv_close((uv_handle_t *)t, on_refused_closed);
        return;
    }
    admin_conn_t *c = txs_xcalloc(1, sizeof *c);
    c->admin = a;
    uv_tcp_init(l->loop, &c->tcp);
    uv_timer_init(l->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    a->refs++;
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_timer_start(&c->timer, on_timer, TXS_ADMIN_IDLE_TIMEOUT_MS, 0);
    conn_pump(c);
}

/* ---- the listener ---- */

static void on_listener_closed(uv_handle_t *h)
{
    admin_unref(h->data);
}

int txs_admin_start(txs_server_t *s)
{
    const txs_conf_t *conf = s->conf;
    /* The header limit is the library's, process-wide: only the admin listener uses it. */
    http_parser_set_max_header_size(TXS_ADMIN_MAX_HEADER);
    txs_admin_t *a = txs_xcalloc(1, sizeof *a);
    a->server = s;
    a->refs = 1;
    a->started_ms = uv_now(s->loop);
    uv_tcp_init(s->loop, &a->listener);
    a->listener.data = a;
    a->listener_open = true;
    int rc = txs_listen_tcp(&a->listener, "admin_listen", conf->admin_host, conf->admin_port,
                            BACKLOG, on_connection);
    if (rc != TXS_OK) {
        uv_close((uv_handle_t *)&a->listener, on_listener_closed);
        return rc;
    }
    s->admin = a;
    bool v6 = strchr(conf->admin_host, ':') != NULL;
    txs_log_info("admin listening on %s%s%s:%d", v6 ? "[" : "", conf->admin_host, v6 ? "]" : "",
                 conf->admin_port);
    return TXS_OK;
}

void txs_admin_stop(txs_server_t *s)
{
    txs_admin_t *a = s->admin;
    if (!a)
        return;
    s->admin = NULL;
    while (a->conns)
        conn_close(a->conns);
    if (a->listener_open) {
        a->listener_open = false;
        uv_close((uv_handle_t *)&a->listener, on_listener_closed);
    }
}
