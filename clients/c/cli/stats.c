/* stats.c - `txscope stats`: one blocking HTTP GET of /stats from the admin listener,
 * printed as a summary or as the JSON received. */
#include "clients/c/cli/stats.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clients/c/cli/cli.h"
#include "clients/c/cli/xalloc.h"

#define MAX_RESPONSE (16u << 20) /* far above what /stats says for any config */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(long long deadline)
{
    long long left = deadline - now_ms();
    return left < 0 ? 0 : (int)left;
}

/* Sends the request and reads the whole response (the daemon closes after it). Returns
 * the response, NUL-terminated (caller frees), or NULL with the reason in err. */
static char *fetch(int fd, const char *addr, long long deadline, size_t *len, char *err,
                   size_t errlen)
{
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /stats HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                     "Connection: close\r\n\r\n",
                     addr);
    for (int off = 0; off < n;) {
        ssize_t w = send(fd, req + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, left_ms(deadline)) > 0)
                continue;
            errno = ETIMEDOUT;
        }
        if (w <= 0) {
            snprintf(err, errlen, "could not send to %s: %s", addr, strerror(errno));
            return NULL;
        }
        off += (int)w;
    }
    size_t cap = 8192;
    char *buf = cli_xmalloc(cap);
    *len = 0;
    for (;;) {
        if (*len + 1 >= cap) {
            if (cap >= MAX_RESPONSE) {
                snprintf(err, errlen, "the response from %s is too large", addr);
                free(buf);
                return NULL;
            }
            buf = cli_xrealloc(buf, cap *= 2);
        }
        ssize_t r = recv(fd, buf + *len, cap - *len - 1, 0);
        if (r > 0) {
            *len += (size_t)r;
            continue;
        }
        if (r == 0)
            break;
        if (errno == EAGAIN || errno == EINTR) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, left_ms(deadline)) > 0)
                continue;
            errno = ETIMEDOUT;
        }
        snprintf(err, errlen, "no complete response from %s: %s", addr,
                 errno == ETIMEDOUT ? "timed out" : strerror(errno));
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

int txs_cli_stats(const char *admin, bool json, int timeout_ms)
{
    if (admin == NULL || *admin == '\0')
        admin = TXS_CLI_DEFAULT_ADMIN;
    char err[512];
    long long deadline = now_ms() + timeout_ms;
    int fd = txscope_connect_tcp(admin, strrchr(TXS_CLI_DEFAULT_ADMIN, ':') + 1, timeout_ms, err,
                                 sizeof err);
    size_t len = 0;
    char *resp = fd < 0 ? NULL : fetch(fd, admin, deadline, &len, err, sizeof err);
    if (fd >= 0)
        close(fd);
    if (resp == NULL) {
        fprintf(stderr, "txscope: stats: %s\n", err);
        return TXS_CLI_EXIT_FAILED;
    }
    int status = 0;
    char *body = strstr(resp, "\r\n\r\n");
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || body == NULL) {
        fprintf(stderr, "txscope: stats: %s did not answer HTTP\n", admin);
        free(resp);
        return TXS_CLI_EXIT_FAILED;
    }
    body += 4;
    size_t body_len = len - (size_t)(body - resp);
    if (status != 200) {
        /* The first line of the body says why (404 from something else on that port). */
        int n = (int)strcspn(body, "\r\n");
        fprintf(stderr, "txscope: stats: %s answered HTTP %d%s%.*s\n", admin, status,
                n > 0 ? ": " : "", n > 200 ? 200 : n, body);
        free(resp);
        return TXS_CLI_EXIT_FAILED;
    }
    cJSON *stats = cJSON_ParseWithLength(body, body_len);
    if (stats == NULL || !cJSON_IsObject(stats)) {
        fprintf(stderr, "txscope: stats: %s did not answer a JSON object\n", admin);
        cJSON_Delete(stats);
        free(resp);
        return TXS_CLI_EXIT_FAILED;
    }
    if (json) {
        fwrite(body, 1, body_len, stdout);
        if (body_len == 0 || body[body_len - 1] != '\n')
            putchar('\n');
    } else {
        txs_cli_print_stats(stdout, stats);
    }
    cJSON_Delete(stats);
    free(resp);
    return TXS_CLI_EXIT_OK;
}

/* ---- the summary ---- */

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "?";
}

static bool flag(const cJSON *o, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *obj(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static void print_uptime(FILE *out, double secs)
{
    long s = (long)secs;
    if (s >= 86400)
        fprintf(out, "%ldd %ldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        fprintf(out, "%ldh %ldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        fprintf(out, "%ldm %lds", s / 60, s % 60);
    else
        fprintf(out, "%lds", s);
}

/* "name value, name value" over every number of an object, in its order. */
static void print_counts(FILE *out, const cJSON *o, bool skip_zero)
{
    bool first = true;
    const cJSON *v;
    cJSON_ArrayForEach(v, o)
    {
        if (!cJSON_IsNumber(v) || (skip_zero && v->valuedouble == 0))
            continue;
        fprintf(out, "%s%.0f %s", first ? "" : ", ", v->valuedouble, v->string);
        first = false;
    }
    if (first)
        fputs(skip_zero ? "none" : "-", out);
}

/* A duration in seconds, in the unit that reads best. */
static void print_secs(FILE *out, const cJSON *v)
{
    if (!cJSON_IsNumber(v))
        fputs("-", out);
    else if (v->valuedouble < 1)
        fprintf(out, "%.3g ms", v->valuedouble * 1000);
    else
        fprintf(out, "%.3g s", v->valuedouble);
}

static void print_histogram(FILE *out, const char *label, const char *what, const cJSON *h)
{
    fprintf(out, "  %-13s %.0f %s", label, num(h, "count"), what);
    if (num(h, "count") > 0) {
        fputs(", p50 ", out);
        print_secs(out, obj(h, "p50_seconds"));
        fputs(", p99 ", out);
        print_secs(out, obj(h, "p99_seconds"));
        fputs(", total ", out);
        print_secs(out, obj(h, "sum_seconds"));
    }
    fputc('\n', out);
}

static void print_db(FILE *out, const cJSON *db)
{
    const cJSON *conns = obj(db, "connections");
    fprintf(out, "\ndb %s (%s): %s, pool_size %.0f, max_overflow %.0f\n", str(db, "name"),
            str(db, "driver"), flag(db, "down") ? "DOWN (retrying)" : "up", num(db, "pool_size"),
            num(db, "max_overflow"));
    fprintf(out, "  %-13s %.0f: ", "connections", num(conns, "total"));
    bool first = true;
    const cJSON *v;
    cJSON_ArrayForEach(v, conns)
    {
        if (cJSON_IsNumber(v) && strcmp(v->string, "total") != 0) {
            fprintf(out, "%s%.0f %s", first ? "" : ", ", v->valuedouble, v->string);
            first = false;
        }
    }
    fputc('\n', out);
    fprintf(out, "  %-13s %.0f\n", "waiters", num(db, "waiters"));
    fprintf(out, "  %-13s %.0f\n", "checkouts", num(db, "checkouts"));
    fprintf(out, "  %-13s %.0f\n", "opened", num(db, "opened"));
    fprintf(out, "  %-13s %.0f (", "closed", num(db, "closed"));
    print_counts(out, obj(db, "closed_by"), true);
    fputs(")\n", out);
    fprintf(out, "  %-13s %.0f connects, %.0f of %.0f pings\n", "failed",
            num(db, "connect_failures"), num(db, "ping_failures"), num(db, "pings"));
    fprintf(out, "  %-13s %.0f rollbacks, %.0f resets\n", "returned", num(db, "rollbacks"),
            num(db, "resets"));
    fprintf(out, "  %-13s ", "timeouts");
    print_counts(out, obj(db, "timeouts"), false);
    fputc('\n', out);
    print_histogram(out, "pool wait", "checkouts", obj(db, "wait_time"));
    print_histogram(out, "query time", "round trips", obj(db, "query_time"));
}

void txs_cli_print_stats(FILE *out, const cJSON *st)
{
    fprintf(out, "txscope %s, up ", str(st, "version"));
    print_uptime(out, num(st, "uptime_seconds"));
    if (flag(st, "ready")) {
        fputs(", ready\n", out);
    } else {
        fputs(", NOT READY: ", out);
        const cJSON *why;
        bool first = true;
        cJSON_ArrayForEach(why, obj(st, "not_ready"))
        {
            if (cJSON_IsString(why)) {
                fprintf(out, "%s%s", first ? "" : "; ", why->valuestring);
                first = false;
            }
        }
        fputc('\n', out);
    }
    const cJSON *clients = obj(st, "clients"), *to = obj(st, "client_timeouts");
    fprintf(out, "%-15s %.0f active, %.0f closing, %.0f accepted; timeouts %.0f login, %.0f idle\n",
            "clients", num(clients, "active"), num(clients, "closing"), num(clients, "accepted"),
            num(to, "login"), num(to, "idle"));
    fprintf(out, "%-15s %.0f, %.0f with a transaction open\n", "sessions", num(st, "sessions"),
            num(st, "transactions_open"));
    const cJSON *bytes = obj(st, "bytes");
    fprintf(out, "%-15s %.0f received, %.0f sent\n", "bytes", num(bytes, "received"),
            num(bytes, "sent"));
    fprintf(out, "%-15s %.0f", "errors", num(st, "errors_total"));
    if (num(st, "errors_total") > 0) {
        fputs(" (", out);
        bool first = true;
        const cJSON *v;
        cJSON_ArrayForEach(v, obj(st, "errors"))
        {
            fprintf(out, "%s%s: %.0f", first ? "" : ", ", v->string, v->valuedouble);
            first = false;
        }
        fputc(')', out);
    }
    fputc('\n', out);
    const cJSON *db;
    cJSON_ArrayForEach(db, obj(st, "dbs")) print_db(out, db);
}
