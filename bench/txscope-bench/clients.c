/* clients.c - txscope-bench's connections: connect, hello, ping, scale, reply parsing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/txscope-bench/bench.h"

#define CONNECT_TIMEOUT_MS 10000
#define CALL_TIMEOUT_MS 30000

void txs_bench_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("txscope-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void *txs_bench_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        txs_bench_fatal("out of memory");
    return p;
}

txscope_conn_t **txs_bench_connect_all(const txs_bench_opts_t *o)
{
    txscope_conn_t **conns = txs_bench_xcalloc((size_t)o->clients, sizeof *conns);
    for (int i = 0; i < o->clients; i++) {
        char err[256];
        conns[i] = txscope_connect(o->address, CONNECT_TIMEOUT_MS, err, sizeof err);
        if (conns[i] == NULL)
            txs_bench_fatal("client %d of %d: %s", i + 1, o->clients, err);
        if (o->token != NULL && txscope_hello(conns[i], o->token, CALL_TIMEOUT_MS) != 0)
            txs_bench_fatal("client %d: hello: %s", i + 1, txscope_errmsg(conns[i]));
        if (txscope_ping(conns[i], CALL_TIMEOUT_MS) != 0)
            txs_bench_fatal("client %d: ping: %s", i + 1, txscope_errmsg(conns[i]));
    }
    return conns;
}

void txs_bench_close_all(txscope_conn_t **conns, int n)
{
    for (int i = 0; i < n; i++)
        txscope_close(conns[i]);
    free(conns);
}

/* Sends {"op":op,"ctx":ctx,...} with the db field when set; the reply (fatal if none). */
static cJSON *call(txscope_conn_t *c, const txs_bench_opts_t *o, cJSON *req)
{
    if (o->db != NULL)
        cJSON_AddStringToObject(req, "db", o->db);
    cJSON *r = txscope_call(c, req, CALL_TIMEOUT_MS);
    cJSON_Delete(req);
    if (r == NULL)
        txs_bench_fatal("%s", txscope_errmsg(c));
    return r;
}

int64_t txs_bench_detect_scale(txscope_conn_t *c, const txs_bench_opts_t *o)
{
    char ctx[64];
    snprintf(ctx, sizeof ctx, "b-scale-%d", (int)getpid());
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "op", "query");
    cJSON_AddStringToObject(req, "ctx", ctx);
    cJSON_AddStringToObject(req, "sql", "select count(*) from pgbench_branches");
    cJSON_AddTrueToObject(req, "autocommit");
    cJSON *r = call(c, o, req);
    if (!txscope_reply_ok(r))
        txs_bench_fatal("cannot detect the scale (select count(*) from pgbench_branches): %s "
                        "%s; run pgbench -i, or give -s",
                        txscope_reply_code(r) ? txscope_reply_code(r) : "?",
                        txscope_reply_message(r) ? txscope_reply_message(r) : "");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(r, "rows");
    int64_t scale = 0;
    if (!txscope_get_int64(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 0), &scale))
        scale = 0;
    cJSON_Delete(r);
    if (scale < 1)
        txs_bench_fatal("pgbench_branches is empty: run pgbench -i, or give -s");
    /* Forget the session now rather than at session_idle_timeout. */
    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "op", "end");
    cJSON_AddStringToObject(req, "ctx", ctx);
    cJSON_Delete(call(c, o, req));
    return scale;
}

/* Appends s as the inside of a JSON string (no quotes); false if it does not fit. */
static bool put_json_text(char *buf, size_t cap, size_t *n, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];
        int len;
        if (ch == '"' || ch == '\\')
            len = snprintf(esc, sizeof esc, "\\%c", ch);
        else if (ch < 0x20)
            len = snprintf(esc, sizeof esc, "\\u%04x", ch);
        else
            len = snprintf(esc, sizeof esc, "%c", ch);
        if (*n + (size_t)len >= cap)
            return false;
        memcpy(buf + *n, esc, (size_t)len);
        *n += (size_t)len;
    }
    buf[*n] = '\0';
    return true;
}

char *txs_bench_ctx_part(const txs_bench_opts_t *o, int client, int context, size_t *len)
{
    char buf[1024];
    size_t n =
        (size_t)snprintf(buf, sizeof buf, ",\"ctx\":\"b%d-%d-%d\"", client, context, (int)getpid());
    if (o->db != NULL) {
        n += (size_t)snprintf(buf + n, sizeof buf - n, ",\"db\":\"");
        if (!put_json_text(buf, sizeof buf - 2, &n, o->db))
            txs_bench_fatal("--db: name too long");
        buf[n++] = '"';
        buf[n] = '\0';
    }
    char *p = txs_bench_xcalloc(1, n + 1);
    memcpy(p, buf, n + 1);
    *len = n;
    return p;
}

void txs_bench_count_code(txs_bench_result_t *r, const char *code)
{
    const char *key = code[0] ? code : "none";
    for (int i = 0; i < r->ncodes; i++) {
        if (strcmp(r->codes[i].code, key) == 0) {
            r->codes[i].n++;
            return;
        }
    }
    /* The last row only ever counts "other": the codes the table has no room for. */
    int i = r->ncodes;
    if (i >= TXS_BENCH_MAX_CODES - 1) {
        i = TXS_BENCH_MAX_CODES - 1;
        key = "other";
        r->ncodes = TXS_BENCH_MAX_CODES;
    } else {
        r->ncodes++;
    }
    if (r->codes[i].n == 0)
        snprintf(r->codes[i].code, sizeof r->codes[i].code, "%s", key);
    r->codes[i].n++;
}

/* The slow way, for replies of another shape and for every ok:false. */
static bool parse_json_reply(const char *line, uint64_t *id, bool *ok, char *code)
{
    cJSON *j = cJSON_Parse(line);
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(j, "id");
    int64_t v;
    bool good = cJSON_IsObject(j) && txscope_get_int64(jid, &v) && v >= 0;
    if (good) {
        /* A plain parse leaves valuestring NULL: the double decides (exact below 2^53). */
        *id = (uint64_t)v;
        *ok = txscope_reply_ok(j);
        const char *c = txscope_reply_code(j);
        snprintf(code, 8, "%s", c != NULL ? c : "");
    }
    cJSON_Delete(j);
    return good;
}

bool txs_bench_parse_reply(const char *line, size_t len, uint64_t *id, bool *ok, char *code)
{
    code[0] = '\0';
    if (len > 16 && memcmp(line, "{\"id\":", 6) == 0 && line[6] >= '0' && line[6] <= '9') {
        const char *p = line + 6;
        uint64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 18) {
            v = v * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        /* strncmp stops at the line's NUL, so a short line is never overread. */
        if (strncmp(p, ",\"ok\":true", 10) == 0 && (p[10] == ',' || p[10] == '}')) {
            *id = v;
            *ok = true;
            return true;
        }
    }
    return parse_json_reply(line, id, ok, code);
}
