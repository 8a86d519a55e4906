/* test_admin.c - the admin listener: /healthz, /readyz, HTTP handling (404, 405, 400,
 * keep-alive, HEAD, the connection limit), /metrics as promtool parses it and as its
 * counters move with traffic, /stats with the same numbers, and `txscope stats`. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/histogram.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_get.h"

Suite *suite_admin(void);

#define PROMTOOL "/usr/bin/promtool"

static int get(const th_daemon_t *d, const char *path, char **body)
{
    return th_http_get(d->admin_port, path, body, T_TIMEOUT);
}

/* The body of a GET that must answer 200. Caller frees. */
static char *get_ok(const th_daemon_t *d, const char *path)
{
    char *body = NULL;
    int status = get(d, path, &body);
    ck_assert_msg(status == 200, "GET %s: %d %s", path, status, body ? body : "");
    return body;
}

/* The value of one series ("name" or "name{labels}" exactly as written), or -1 when the
 * scrape does not have it. */
static double metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return -1;
}

/* promtool parses the scrape and has nothing to say about it. */
static void promtool_check(const char *text)
{
    th_run_t r;
    const char *args[] = {"check", "metrics", NULL};
    th_run(&r, PROMTOOL, args, NULL, text);
    ck_assert_msg(r.status == 0 && r.out[0] == '\0' && r.err[0] == '\0',
                  "promtool check metrics: exit %d\n%s%s", r.status, r.out, r.err);
}

/* A histogram's buckets for db="main": TXS_HISTOGRAM_NBOUNDS + 1 of them, cumulative
 * (never decreasing), the last (+Inf) equal to _count. Returns _count. */
static double check_histogram(const char *text, const char *name)
{
    char prefix[128], series[128];
    snprintf(prefix, sizeof prefix, "%s_bucket{db=\"main\",le=\"", name);
    double prev = 0;
    int n = 0;
    const char *last_le = NULL;
    for (const char *line = strstr(text, prefix); line; line = strstr(line + 1, prefix)) {
        const char *v = strchr(line, ' ');
        ck_assert_ptr_nonnull(v);
        double x = strtod(v + 1, NULL);
        ck_assert_msg(x >= prev, "%s: bucket %d went down (%g < %g)", name, n, x, prev);
        prev = x;
        last_le = line + strlen(prefix);
        n++;
    }
    ck_assert_int_eq(n, TXS_HISTOGRAM_NBOUNDS + 1);
    ck_assert_msg(strncmp(last_le, "+Inf\"}", 6) == 0, "%s: last bucket is not +Inf", name);
    snprintf(series, sizeof series, "%s_count{db=\"main\"}", name);
    double count = metric(text, series);
    ck_assert_msg(count == prev, "%s: _count %g, +Inf bucket %g", name, count, prev);
    snprintf(series, sizeof series, "%s_sum{db=\"main\"}", name);
    ck_assert_msg(metric(text, series) >= 0, "%s: no _sum", name);
    return count;
}

/* ---- raw HTTP on one connection ---- */

typedef struct raw {
    int fd;
    char buf[262144];
    size_t len;
} raw_t;

static raw_t *raw_open(const th_daemon_t *d)
{
    raw_t *r = calloc(1, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)d->admin_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(connect(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    return r;
}

static void raw_close(raw_t *r)
{
    close(r->fd);
    free(r);
}

static void raw_send(raw_t *r, const char *text, size_t len)
{
    ck_assert_int_eq(write(r->fd, text, len), (ssize_t)len);
}

/* Read more into r->buf: false on EOF, reset or nothing within ms. */
static bool raw_fill(raw_t *r, int ms)
{
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    if (poll(&p, 1, ms) != 1)
        return false;
    ck_assert_uint_lt(r->len, sizeof r->buf - 1);
    ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
    if (n <= 0)
        return false;
    r->len += (size_t)n;
    r->buf[r->len] = '\0';
    return true;
}

/* The peer closed (EOF or reset) within ms, with nothing more sent. */
static bool raw_closed(raw_t *r, int ms)
{
    size_t before = r->len;
    long long deadline = th_now_ms() + ms;
    while (th_now_ms() < deadline) {
        struct pollfd p = {.fd = r->fd, .events = POLLIN};
        if (poll(&p, 1, (int)(deadline - th_now_ms())) != 1)
            return false;
        if (!raw_fill(r, 0))
            return r->len == before;
    }
    return false;
}

typedef struct response {
    int status;
    char head[2048]; /* status line and headers */
    char body[65536];
    size_t body_len;
} response_t;

/* One response from the connection (Content-Length framed), the rest kept for the
 * next; with head_request the body is not expected. Returns the status or -1. */
static int raw_response(raw_t *r, response_t *out, bool head_request)
{
    memset(out, 0, sizeof *out);
    char *end;
    while ((end = strstr(r->buf, "\r\n\r\n")) == NULL)
        if (!raw_fill(r, T_TIMEOUT))
            return -1;
    size_t hlen = (size_t)(end - r->buf) + 4;
    ck_assert_uint_lt(hlen, sizeof out->head);
    memcpy(out->head, r->buf, hlen);
    const char *cl = strcasestr(out->head, "\r\nContent-Length:");
    ck_assert_msg(cl != NULL, "no Content-Length: %s", out->head);
    size_t blen = head_request ? 0 : strtoul(cl + 17, NULL, 10);
    ck_assert_uint_lt(blen, sizeof out->body);
    while (r->len < hlen + blen)
        if (!raw_fill(r, T_TIMEOUT))
            return -1;
    memcpy(out->body, r->buf + hlen, blen);
    out->body_len = blen;
    memmove(r->buf, r->buf + hlen + blen, r->len - hlen - blen + 1);
    r->len -= hlen + blen;
    ck_assert_int_eq(sscanf(out->head, "HTTP/1.1 %d", &out->status), 1);
    return out->status;
}

static bool has_header(const response_t *r, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\r\n%s\r\n", line);
    return strcasestr(r->head, want) != NULL;
}

/* ---- health and readiness ---- */

/* /readyz until 200, up to ms; returns the last status. */
static int wait_ready(const th_daemon_t *d, int ms)
{
    long long deadline = th_now_ms() + ms;
    int status;
    do {
        status = get(d, "/readyz", NULL);
        if (status == 200)
            break;
        th_sleep_ms(20);
    } while (th_now_ms() < deadline);
    return status;
}

START_TEST(healthz_and_readyz)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    char *body = get_ok(&d, "/healthz");
    ck_assert_str_eq(body, "ok\n");
    free(body);
    /* The pool opens one connection at start: ready once it is up. */
    ck_assert_int_eq(wait_ready(&d, 5000), 200);
    body = get_ok(&d, "/readyz");
    ck_assert_str_eq(body, "ready\n");
    free(body);
    body = get_ok(&d, "/metrics");
    ck_assert_int_eq(metric(body, "txscope_ready"), 1);
    ck_assert_int_eq(metric(body, "txscope_draining"), 0);
    ck_assert_int_eq(metric(body, "txscope_info{version=\"0.1.0\"}"), 1);
    ck_assert_int_eq(metric(body, "txscope_pool_connections_opened_total{db=\"main\"}"), 1);
    ck_assert_int_eq(metric(body, "txscope_pool_down{db=\"main\"}"), 0);
    free(body);

    /* HEAD: the headers of the GET, no body. */
    raw_t *r = raw_open(&d);
    const char head[] = "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                        "HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_send(r, head, sizeof head - 1);
    response_t resp;
    ck_assert_int_eq(raw_response(r, &resp, true), 200);
    ck_assert_msg(has_header(&resp, "Content-Length: 3"), "%s", resp.head);
    ck_assert_msg(has_header(&resp, "Content-Type: text/plain; charset=utf-8"), "%s", resp.head);
    ck_assert_int_eq(raw_response(r, &resp, true), 200);
    ck_assert_msg(has_header(&resp, "Content-Length: 6"), "%s", resp.head);
    ck_assert_msg(has_header(&resp, "Connection: close"), "%s", resp.head);
    ck_assert_msg(raw_closed(r, 2000), "more after HEAD: %s", r->buf);
    raw_close(r);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A db that cannot be reached: the daemon starts and is alive, but not ready, and
 * /readyz names that db and no other. */
START_TEST(readyz_names_the_unreachable_db)
{
    char ok_dsn[400];
    snprintf(ok_dsn, sizeof ok_dsn, "TXSCOPE_DB_OK_DSN=%s", th_dsn());
    const char *env[] = {
        TH_PICK("TXSCOPE_DB_MAIN_DSN=postgresql://postgres@127.0.0.1:1/postgres",
                "TXSCOPE_DB_MAIN_DSN=mysql://txs:txs@127.0.0.1:1/txs"),
        ok_dsn, TH_PICK("TXSCOPE_DB_OK_DRIVER=postgresql", "TXSCOPE_DB_OK_DRIVER=mysql"), NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    char *body = get_ok(&d, "/healthz");
    free(body);
    /* Wait until db ok has connected and main has failed at least once. */
    long long deadline = th_now_ms() + 5000;
    for (;;) {
        body = get_ok(&d, "/metrics");
        if (metric(body, "txscope_pool_connections_opened_total{db=\"ok\"}") == 1 &&
            metric(body, "txscope_pool_connect_failures_total{db=\"main\"}") >= 1)
            break;
        ck_assert_msg(th_now_ms() < deadline, "pools did not settle:\n%s", body);
        free(body);
        th_sleep_ms(20);
    }
    ck_assert_int_eq(metric(body, "txscope_ready"), 0);
    ck_assert_int_eq(metric(body, "txscope_pool_connections_opened_total{db=\"main\"}"), 0);
    ck_assert_int_eq(metric(body, "txscope_pool_down{db=\"main\"}"), 1);
    ck_assert_int_eq(metric(body, "txscope_pool_down{db=\"ok\"}"), 0);
    ck_assert_int_ge(metric(body, "txscope_pool_connections_closed_total{db=\"main\",reason="
                                  "\"connect_failed\"}"),
                     1);
    promtool_check(body);
    free(body);
    ck_assert_int_eq(get(&d, "/readyz", &body), 503);
    ck_assert_str_eq(body, "db main: never connected\n");
    free(body);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- HTTP ---- */

START_TEST(http_status_codes)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    char *body = NULL;
    ck_assert_int_eq(get(&d, "/nope", &body), 404);
    free(body);
    ck_assert_int_eq(get(&d, "/metricsx", NULL), 404);
    ck_assert_int_eq(get(&d, "/", NULL), 404);
    /* The query string does not route. */
    ck_assert_int_eq(get(&d, "/healthz?verbose=1", &body), 200);
    ck_assert_str_eq(body, "ok\n");
    free(body);
    body = get_ok(&d, "/metrics?name[]=x");
    ck_assert_int_eq(metric(body, "txscope_ready") >= 0, 1);
    free(body);

    raw_t *r = raw_open(&d);
    const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                        "DELETE /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_send(r, post, sizeof post - 1);
    response_t resp;
    ck_assert_int_eq(raw_response(r, &resp, false), 405);
    ck_assert_msg(has_header(&resp, "Allow: GET, HEAD"), "%s", resp.head);
    ck_assert_msg(strcasestr(resp.head, "\r\nContent-Type: ") != NULL, "%s", resp.head);
    ck_assert_int_eq(raw_response(r, &resp, false), 404); /* unknown path first */
    raw_close(r);

    /* Not HTTP: 400, then the connection is closed. */
    r = raw_open(&d);
    raw_send(r, "hello daemon\r\n\r\n", 16);
    ck_assert_int_eq(raw_response(r, &resp, false), 400);
    ck_assert_msg(has_header(&resp, "Connection: close"), "%s", resp.head);
    ck_assert(raw_closed(r, 2000));
    raw_close(r);

    /* Headers over 8 KiB: 400 and close; under it, fine. */
    static char big[12000];
    for (int kb = 7; kb <= 9; kb += 2) {
        int n = snprintf(big, sizeof big, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ");
        memset(big + n, 'a', (size_t)kb * 1024 - (size_t)n);
        n = kb * 1024;
        memcpy(big + n, "\r\nConnection: close\r\n\r\n", 24);
        r = raw_open(&d);
        raw_send(r, big, (size_t)n + 23);
        ck_assert_int_eq(raw_response(r, &resp, false), kb == 7 ? 200 : 400);
        ck_assert(raw_closed(r, 2000));
        raw_close(r);
    }
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(keep_alive_and_connection_close)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    raw_t *r = raw_open(&d);
    response_t resp;
    /* Two requests, one at a time, on one connection; it stays open. */
    const char a[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const char b[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    raw_send(r, a, sizeof a - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert_str_eq(resp.body, "ok\n");
    ck_assert(!has_header(&resp, "Connection: close"));
    raw_send(r, b, sizeof b - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert_msg(has_header(&resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8"), "%s",
                  resp.head);
    ck_assert_int_eq(metric(resp.body, "txscope_ready") >= 0, 1);
    ck_assert(!raw_closed(r, 200));
    /* Pipelined: both answered in order. */
    char two[128];
    int n = snprintf(two, sizeof two, "%s%s", b, a);
    raw_send(r, two, (size_t)n);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert_ptr_nonnull(strstr(resp.body, "# TYPE txscope_info gauge"));
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert_str_eq(resp.body, "ok\n");
    /* Connection: close is honoured. */
    const char c[] = "GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    raw_send(r, c, sizeof c - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert_msg(has_header(&resp, "Content-Type: application/json"), "%s", resp.head);
    ck_assert(raw_closed(r, 2000));
    raw_close(r);

    /* HTTP/1.0 closes unless it asks to keep the connection. */
    r = raw_open(&d);
    const char old[] = "GET /healthz HTTP/1.0\r\n\r\n";
    raw_send(r, old, sizeof old - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert(raw_closed(r, 2000));
    raw_close(r);
    r = raw_open(&d);
    const char old_ka[] = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    raw_send(r, old_ka, sizeof old_ka - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    ck_assert(has_header(&resp, "Connection: keep-alive"));
    raw_send(r, old_ka, sizeof old_ka - 1);
    ck_assert_int_eq(raw_response(r, &resp, false), 200);
    raw_close(r);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* At most 64 admin connections: one more is accepted and closed at once; the others go
 * on, and once they are gone new ones are served again. */
/* Peers that trickle a request a byte at a time are closed when the timeout counted from
 * their accept passes: they cannot hold the connections the probes need. */
START_TEST(trickling_peers_do_not_lock_out_probes)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    enum { N = 64 };
    raw_t *r[N];
    for (int i = 0; i < N; i++) {
        r[i] = raw_open(&d);
        raw_send(r[i], "GET /healthz HTTP/1.1\r\nX-A: ", 29);
    }
    /* Every new probe gets through while they trickle. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            ssize_t sent = send(r[i]->fd, "a", 1, MSG_NOSIGNAL); /* evicted ones fail */
            (void)sent;
        }
        ck_assert_int_eq(get(&d, "/healthz", NULL), 200);
        th_sleep_ms(100);
    }
    for (int i = 0; i < N; i++)
        raw_close(r[i]);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(connection_limit)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    enum { N = 64 };
    raw_t *r[N];
    response_t resp;
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < N; i++) {
        r[i] = raw_open(&d);
        raw_send(r[i], req, sizeof req - 1);
        ck_assert_int_eq(raw_response(r[i], &resp, false), 200); /* accepted and counted */
    }
    /* Full: a newcomer is served, and the oldest idle connection is closed for it. */
    raw_t *extra = raw_open(&d);
    raw_send(extra, req, sizeof req - 1);
    ck_assert_int_eq(raw_response(extra, &resp, false), 200);
    ck_assert_msg(raw_closed(r[0], 2000), "the oldest connection was not closed");
    raw_send(r[1], req, sizeof req - 1);
    ck_assert_int_eq(raw_response(r[1], &resp, false), 200);
    raw_close(extra);
    for (int i = 0; i < N; i++)
        raw_close(r[i]);
    long long deadline = th_now_ms() + 5000;
    while (get(&d, "/healthz", NULL) != 200)
        ck_assert(th_now_ms() < deadline);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A listening socket on a free loopback port (kept open: the port is busy). */
static int busy_port(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static const char *daemon_bin(void)
{
    return getenv("TXS_DAEMON") ? getenv("TXS_DAEMON") : "build/asan/bin/txscoped";
}

/* A busy admin port fails start-up (exit 1) with its own line; a busy client port still
 * fails with the client listener's, before the admin listener is tried. */
START_TEST(busy_admin_port_fails_start_up)
{
    int client_port, admin_port;
    int cfd = busy_port(&client_port);
    int afd = busy_port(&admin_port);
    close(cfd); /* free again: the daemon may take it */
    char listen_env[64], admin_env[64], want[128];
    snprintf(listen_env, sizeof listen_env, "TXSCOPE_LISTEN=127.0.0.1:%d", client_port);
    snprintf(admin_env, sizeof admin_env, "TXSCOPE_ADMIN_LISTEN=127.0.0.1:%d", admin_port);
    const char *env[] = {listen_env, admin_env,
                         "TXSCOPE_DB_MAIN_DSN=postgresql://postgres@127.0.0.1:1/postgres", NULL};
    th_run_t r;
    th_run(&r, daemon_bin(), NULL, env, NULL);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "ERROR admin_listen on 127.0.0.1:%d: address already in use",
             admin_port);
    ck_assert_msg(strstr(r.err, want), "stderr: %s", r.err);

    /* Both busy: the client port's error, and the admin listener is not tried. */
    snprintf(listen_env, sizeof listen_env, "TXSCOPE_LISTEN=127.0.0.1:%d", admin_port);
    th_run(&r, daemon_bin(), NULL, env, NULL);
    ck_assert_int_eq(r.status, 1);
    snprintf(want, sizeof want, "ERROR listen on 127.0.0.1:%d: address already in use", admin_port);
    ck_assert_msg(strstr(r.err, want), "stderr: %s", r.err);
    ck_assert_msg(!strstr(r.err, "admin_listen"), "stderr: %s", r.err);
    close(afd);
}
END_TEST

/* ---- metrics and stats ---- */

static const cJSON *item(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    ck_assert_msg(v != NULL, "/stats: no \"%s\"", k);
    return v;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = item(o, k);
    ck_assert_msg(cJSON_IsNumber(v), "/stats: \"%s\" is not a number", k);
    return v->valuedouble;
}

/* /stats and /metrics, taken with no traffic between, say the same. */
static void check_stats_match(const th_daemon_t *d, const char *code)
{
    char *text = get_ok(d, "/metrics");
    char *json = get_ok(d, "/stats");
    cJSON *st = cJSON_Parse(json);
    ck_assert_msg(st != NULL && cJSON_IsObject(st), "/stats is not a JSON object: %s", json);
    ck_assert_int_eq(cJSON_IsTrue(item(st, "ready")), metric(text, "txscope_ready") == 1);
    ck_assert_int_eq(num(st, "sessions"), metric(text, "txscope_sessions"));
    ck_assert_int_eq(num(st, "transactions_open"), metric(text, "txscope_transactions_open"));
    ck_assert_int_eq(num(item(st, "clients"), "accepted"),
                     metric(text, "txscope_clients_accepted_total"));
    ck_assert_int_eq(num(item(st, "clients"), "active"),
                     metric(text, "txscope_clients{state=\"active\"}"));
    ck_assert_int_eq(num(item(st, "bytes"), "received"),
                     metric(text, "txscope_client_received_bytes_total"));
    ck_assert_int_eq(num(item(st, "bytes"), "sent"),
                     metric(text, "txscope_client_sent_bytes_total"));
    char series[128];
    snprintf(series, sizeof series, "txscope_errors_total{sqlstate=\"%s\"}", code);
    ck_assert_int_eq(num(item(st, "errors"), code), metric(text, series));
    ck_assert_int_eq(num(item(st, "errors"), "53300"),
                     metric(text, "txscope_errors_total{sqlstate=\"53300\"}"));
    const cJSON *dbs = item(st, "dbs");
    ck_assert_int_eq(cJSON_GetArraySize(dbs), 1);
    const cJSON *db = cJSON_GetArrayItem(dbs, 0);
    ck_assert_str_eq(item(db, "name")->valuestring, "main");
    ck_assert_int_eq(num(db, "checkouts"),
                     metric(text, "txscope_pool_checkouts_total{db=\"main\"}"));
    ck_assert_int_eq(num(db, "opened"),
                     metric(text, "txscope_pool_connections_opened_total{db=\"main\"}"));
    ck_assert_int_eq(num(db, "pool_size"), metric(text, "txscope_pool_size{db=\"main\"}"));
    ck_assert_int_eq(num(item(db, "connections"), "idle"),
                     metric(text, "txscope_pool_connections{db=\"main\",state=\"idle\"}"));
    ck_assert_int_eq(num(item(db, "timeouts"), "pool"),
                     metric(text, "txscope_timeouts_total{db=\"main\",kind=\"pool\"}"));
    const cJSON *qt = item(db, "query_time");
    ck_assert_int_eq(num(qt, "count"),
                     metric(text, "txscope_query_duration_seconds_count{db=\"main\"}"));
    ck_assert_double_eq_tol(num(qt, "sum_seconds"),
                            metric(text, "txscope_query_duration_seconds_sum{db=\"main\"}"), 1e-9);
    ck_assert(num(qt, "p50_seconds") > 0 && num(qt, "p50_seconds") <= num(qt, "p99_seconds"));
    ck_assert_int_eq(num(item(db, "wait_time"), "count"),
                     metric(text, "txscope_pool_wait_seconds_count{db=\"main\"}"));
    cJSON_Delete(st);
    free(json);
    free(text);
}

START_TEST(metrics_move_with_traffic)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=200ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    ck_assert_int_eq(wait_ready(&d, 5000), 200);
    char *m0 = get_ok(&d, "/metrics");
    promtool_check(m0);
    const char *code = TH_PICK("42601", "42000"); /* a syntax error */
    char series[128];
    snprintf(series, sizeof series, "txscope_errors_total{sqlstate=\"%s\"}", code);
    ck_assert_int_eq(metric(m0, series), -1);
    ck_assert_int_eq(metric(m0, "txscope_sessions"), 0);
    ck_assert_int_eq(metric(m0, "txscope_pool_size{db=\"main\"}"), 1);

    txscope_conn_t *c = th_connect(&d);
    /* a holds the only connection in an open transaction; b waits and gets 53300. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "a");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 2\"}"), "53300",
                   "b waits");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"b\"}"), "end b");
    char *m1 = get_ok(&d, "/metrics");
    promtool_check(m1);
    ck_assert_int_eq(metric(m1, "txscope_sessions"), 1);
    ck_assert_int_eq(metric(m1, "txscope_transactions_open"), 1);
    ck_assert_int_eq(metric(m1, "txscope_clients{state=\"active\"}"), 1);
    ck_assert_int_eq(metric(m1, "txscope_pool_connections{db=\"main\",state=\"linked\"}"), 1);
    ck_assert_int_eq(metric(m1, "txscope_pool_connections{db=\"main\",state=\"idle\"}"), 0);
    ck_assert_int_eq(metric(m1, "txscope_pool_waiters{db=\"main\"}"), 0);
    ck_assert_int_eq(metric(m1, "txscope_errors_total{sqlstate=\"53300\"}"), 1);
    ck_assert_int_eq(metric(m1, "txscope_timeouts_total{db=\"main\",kind=\"pool\"}"), 1);

    /* A failing statement, then the transaction rolled back and the session ended. */
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"selec 1\"}");
    th_expect_code(r, code, "syntax error");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "rollback a");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"a\"}"), "end a");
    for (int i = 0; i < 5; i++)
        th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"select 1\","
                                "\"autocommit\":true}"),
                     "autocommit");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"c\"}"), "end c");

    char *m2 = get_ok(&d, "/metrics");
    promtool_check(m2);
    ck_assert_int_eq(metric(m2, series), 1);
    ck_assert_int_eq(metric(m2, "txscope_errors_total{sqlstate=\"53300\"}"), 1);
    ck_assert_int_eq(metric(m2, "txscope_timeouts_total{db=\"main\",kind=\"pool\"}"), 1);
    ck_assert_int_eq(metric(m2, "txscope_timeouts_total{db=\"main\",kind=\"query\"}"), 0);
    ck_assert_int_eq(metric(m2, "txscope_sessions"), 0);
    ck_assert_int_eq(metric(m2, "txscope_transactions_open"), 0);
    ck_assert_int_eq(metric(m2, "txscope_clients_accepted_total"),
                     metric(m0, "txscope_clients_accepted_total") + 1);
    ck_assert_int_eq(metric(m2, "txscope_pool_connections_opened_total{db=\"main\"}"), 1);
    /* a, then c five times: at least six checkouts (one per autocommit statement). */
    ck_assert_int_ge(metric(m2, "txscope_pool_checkouts_total{db=\"main\"}"),
                     metric(m0, "txscope_pool_checkouts_total{db=\"main\"}") + 6);
    ck_assert(metric(m2, "txscope_client_received_bytes_total") >
              metric(m1, "txscope_client_received_bytes_total"));
    ck_assert(metric(m1, "txscope_client_received_bytes_total") >
              metric(m0, "txscope_client_received_bytes_total"));
    ck_assert(metric(m2, "txscope_client_sent_bytes_total") >
              metric(m1, "txscope_client_sent_bytes_total"));
    ck_assert_int_eq(metric(m2, "txscope_pool_connections{db=\"main\",state=\"idle\"}"), 1);
    double q0 = check_histogram(m0, "txscope_query_duration_seconds");
    double q2 = check_histogram(m2, "txscope_query_duration_seconds");
    ck_assert_msg(q2 >= q0 + 7, "query round trips %g -> %g", q0, q2);
    double w0 = check_histogram(m0, "txscope_pool_wait_seconds");
    double w2 = check_histogram(m2, "txscope_pool_wait_seconds");
    ck_assert_msg(w2 >= w0 + 6, "checkout waits %g -> %g", w0, w2);
    ck_assert(metric(m2, "txscope_query_duration_seconds_sum{db=\"main\"}") > 0);

    check_stats_match(&d, code);
    free(m0);
    free(m1);
    free(m2);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- txscope stats ---- */

static const char *cli_bin(void)
{
    return getenv("TXS_CLI") ? getenv("TXS_CLI") : "build/asan/bin/txscope";
}

/* An HTTP server on a free port that answers every connection with 503, in a child. */
static pid_t fake_http(int *port)
{
    int fd = busy_port(port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        static const char resp[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n"
                                   "Connection: close\r\n\r\ndraining\n";
        for (;;) {
            int c = accept(fd, NULL, NULL);
            if (c < 0)
                _exit(0);
            char buf[1024];
            ssize_t n = read(c, buf, sizeof buf);
            (void)n;
            n = write(c, resp, sizeof resp - 1);
            close(c);
        }
    }
    close(fd);
    return pid;
}

START_TEST(cli_stats)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    ck_assert_int_eq(wait_ready(&d, 5000), 200);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"select 1\"}"), "x");
    char admin[64];
    snprintf(admin, sizeof admin, "127.0.0.1:%d", d.admin_port);

    th_run_t r;
    const char *summary[] = {"stats", "-A", admin, NULL};
    th_run(&r, cli_bin(), summary, NULL, NULL);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "txscope 0.1.0, up ") && strstr(r.out, ", ready\n"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "sessions        1, 1 with a transaction open"), "%s", r.out);
    ck_assert_msg(strstr(r.out, TH_PICK("db main (postgresql): up, pool_size 10",
                                        "db main (mysql): up, pool_size 10")),
                  "%s", r.out);
    ck_assert_msg(strstr(r.out, "  connections   1: 0 idle, 1 linked,"), "%s", r.out);
    ck_assert_msg(strstr(r.out, "  checkouts     1\n"), "%s", r.out);

    /* --json: the body as received; the address from $TXSCOPE_ADMIN. */
    char env_admin[96];
    snprintf(env_admin, sizeof env_admin, "TXSCOPE_ADMIN=%s", admin);
    const char *env[] = {env_admin, NULL};
    const char *json[] = {"stats", "--json", NULL};
    th_run(&r, cli_bin(), json, env, NULL);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *st = cJSON_Parse(r.out);
    ck_assert_msg(st != NULL, "not JSON: %s", r.out);
    ck_assert_int_eq(num(st, "sessions"), 1);
    ck_assert_int_eq(cJSON_GetArraySize(item(st, "dbs")), 1);
    cJSON_Delete(st);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);

    /* Nothing listening: exit 1 and one line. */
    th_run(&r, cli_bin(), summary, NULL, NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strncmp(r.err, "txscope: stats: ", 16) == 0 &&
                      strchr(r.err, '\n') == r.err + strlen(r.err) - 1,
                  "stderr: %s", r.err);
    ck_assert_str_eq(r.out, "");

    /* Something answering non-200: exit 1, naming the status. */
    int port;
    pid_t pid = fake_http(&port);
    snprintf(admin, sizeof admin, "127.0.0.1:%d", port);
    th_run(&r, cli_bin(), summary, NULL, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "HTTP 503: draining"), "stderr: %s", r.err);

    /* Usage errors are 2, as everywhere in the CLI. */
    const char *bad[] = {"stats", "-e", "select 1", NULL};
    th_run(&r, cli_bin(), bad, NULL, NULL);
    ck_assert_int_eq(r.status, 2);
}
END_TEST

Suite *suite_admin(void)
{
    Suite *s = suite_create("admin");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, healthz_and_readyz);
    TH_ADD_TEST(tc, readyz_names_the_unreachable_db);
    TH_ADD_TEST(tc, metrics_move_with_traffic);
    TH_ADD_TEST(tc, cli_stats);
    /* HTTP handling does not depend on the backend. */
    tcase_add_test(tc[TH_PG], http_status_codes);
    tcase_add_test(tc[TH_PG], keep_alive_and_connection_close);
    tcase_add_test(tc[TH_PG], connection_limit);
    tcase_add_test(tc[TH_PG], trickling_peers_do_not_lock_out_probes);
    tcase_add_test(tc[TH_PG], busy_admin_port_fails_start_up);
    return s;
}
