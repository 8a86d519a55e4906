/* request.c - decoding one protocol-v1 request line into a txs_request_t (pure). */
#include "protocol/request.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/json_scan.h"
#include "protocol/reply.h"
#include "protocol/utf8.h"

/* ---- the request's memory: chunks freed together by txs_request_free ---- */

typedef struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    max_align_t data[]; /* cap bytes */
} chunk_t;

typedef struct arena {
    chunk_t *head;
    size_t first_cap; /* size of the first chunk, enough for most requests */
} arena_t;

static void *arena_alloc(arena_t *a, size_t n, size_t align)
{
    chunk_t *c = a->head;
    size_t off = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || off > c->cap || c->cap - off < n) {
        size_t cap = c ? c->cap * 2 : a->first_cap;
        if (cap < n)
            cap = n;
        c = txs_xmalloc(sizeof *c + cap);
        c->next = a->head;
        c->cap = cap;
        c->used = 0;
        a->head = c;
        off = 0;
    }
    c->used = off + n;
    return (char *)c->data + off;
}

static void arena_free(chunk_t *c)
{
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* ---- fields ---- */

enum field {
    F_OP,
    F_ID,
    F_CTX,
    F_DB,
    F_SQL,
    F_PARAMS,
    F_AUTOCOMMIT,
    F_ISOLATION,
    F_READ_ONLY,
    F_DEFERRABLE,
    F_NESTED,
    F_JOIN,
    F_TOKEN,
    F_CLIENT,
    F_NAME,
    F_STATEMENTS,
    NFIELDS
};

enum ftype { T_STRING, T_BOOL, T_ARRAY, T_ID };

static const struct {
    const char *name;
    enum ftype type;
} fields[NFIELDS] = {
    [F_OP] = {"op", T_STRING},
    [F_ID] = {"id", T_ID},
    [F_CTX] = {"ctx", T_STRING},
    [F_DB] = {"db", T_STRING},
    [F_SQL] = {"sql", T_STRING},
    [F_PARAMS] = {"params", T_ARRAY},
    [F_AUTOCOMMIT] = {"autocommit", T_BOOL},
    [F_ISOLATION] = {"isolation", T_STRING},
    [F_READ_ONLY] = {"read_only", T_BOOL},
    [F_DEFERRABLE] = {"deferrable", T_BOOL},
    [F_NESTED] = {"nested", T_BOOL},
    [F_JOIN] = {"join", T_BOOL},
    [F_TOKEN] = {"token", T_STRING},
    [F_CLIENT] = {"client", T_STRING},
    [F_NAME] = {"name", T_STRING},
    [F_STATEMENTS] = {"statements", T_ARRAY},
};

static const char *const op_names[] = {
    [TXS_OP_HELLO] = "hello",       [TXS_OP_PING] = "ping",
    [TXS_OP_BEGIN] = "begin",       [TXS_OP_QUERY] = "query",
    [TXS_OP_BATCH] = "batch",       [TXS_OP_COMMIT] = "commit",
    [TXS_OP_ROLLBACK] = "rollback", [TXS_OP_SAVEPOINT] = "savepoint",
    [TXS_OP_RELEASE] = "release",   [TXS_OP_ROLLBACK_TO] = "rollback_to",
    [TXS_OP_STATUS] = "status",     [TXS_OP_END] = "end",
    [TXS_OP_OUTCOME] = "outcome",
};
#define NOPS (sizeof op_names / sizeof op_names[0])

static const struct {
    const char *wire;
    const char *sql;
} isolations[] = {
    [TXS_ISO_DEFAULT] = {NULL, NULL},
    [TXS_ISO_READ_UNCOMMITTED] = {"read uncommitted", "READ UNCOMMITTED"},
    [TXS_ISO_READ_COMMITTED] = {"read committed", "READ COMMITTED"},
    [TXS_ISO_REPEATABLE_READ] = {"repeatable read", "REPEATABLE READ"},
    [TXS_ISO_SERIALIZABLE] = {"serializable", "SERIALIZABLE"},
};
#define NISOLATIONS (sizeof isolations / sizeof isolations[0])

const char *txs_op_name(txs_op_t op)
{
    return (size_t)op < NOPS ? op_names[op] : "unknown";
}

const char *txs_isolation_sql(txs_isolation_t iso)
{
    return (size_t)iso < NISOLATIONS ? isolations[iso].sql : NULL;
}

/* ---- decoding ---- */

typedef struct decoder {
    const char *line;
    txs_json_doc_t doc;
    size_t at[NFIELDS]; /* token of each field's value; 0 (the root) when absent */
    arena_t arena;
    txs_request_t *req;
    txs_decode_error_t *err;
} decoder_t;

__attribute__((format(printf, 2, 3))) static int fail(decoder_t *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err->message, sizeof d->err->message, fmt, ap);
    va_end(ap);
    return TXS_EPROTO;
}

static const txs_json_tok_t *tok(const decoder_t *d, size_t i)
{
    return &d->doc.toks[i];
}

/* A field that is absent or null is not given. */
static bool given(const decoder_t *d, enum field f)
{
    return d->at[f] != 0 && tok(d, d->at[f])->kind != TXS_JSON_NULL;
}

/* Decode a short string into out, which has room for 6 * max bytes. Each decoded byte
 * takes at most six bytes of JSON ("\u0041"), so a string whose JSON text is longer
 * than 6 * max bytes decodes to more than max bytes: then *n is set to max + 1 without
 * decoding. */
static void short_string(const decoder_t *d, size_t i, char *out, size_t max, size_t *n)
{
    const txs_json_tok_t *t = tok(d, i);
    if ((size_t)t->len - 2 > 6 * max) {
        *n = max + 1;
        return;
    }
    *n = txs_json_unescape(d->line, t, out);
}

/* A string decoded into the arena, NUL-terminated. */
static char *arena_string(decoder_t *d, size_t i, size_t *n)
{
    const txs_json_tok_t *t = tok(d, i);
    char *s = arena_alloc(&d->arena, (size_t)t->len - 1, 1);
    *n = txs_json_unescape(d->line, t, s);
    s[*n] = '\0';
    return s;
}

/* A string field that may not hold U+0000 (C strings, PostgreSQL text). */
static int text_field(decoder_t *d, size_t i, const char *what, const char **out, size_t *n)
{
    if (tok(d, i)->has_nul)
        return fail(d, "field \"%s\" must not contain \\u0000", what);
    size_t len;
    *out = arena_string(d, i, &len);
    if (n)
        *n = len;
    return TXS_OK;
}

/* Keys are compared decoded, so "\u006fp" is "op"; no field name is longer than 12. */
static int field_of_key(const decoder_t *d, size_t i)
{
    const txs_json_tok_t *t = tok(d, i);
    char name[6 * 12];
    size_t n;
    if (t->escaped) {
        short_string(d, i, name, 12, &n);
    } else {
        n = (size_t)t->len - 2;
        if (n > 12)
            return -1;
        memcpy(name, d->line + t->start + 1, n);
    }
    for (int f = 0; f < NFIELDS; f++)
        if (strlen(fields[f].name) == n && memcmp(fields[f].name, name, n) == 0)
            return f;
    return -1;
}

/* The id as JSON text to echo: a number exactly as written, a string re-escaped. */
static int decode_id(decoder_t *d, char *id, size_t *id_len)
{
    static const char bad[] = "field \"id\" must be a number or a string of at most 64 characters";
    *id_len = 0;
    if (!given(d, F_ID))
        return TXS_OK;
    const txs_json_tok_t *t = tok(d, d->at[F_ID]);
    if (t->kind == TXS_JSON_NUMBER) {
        if (t->len > TXS_ID_MAX)
            return fail(d, "%s", bad);
        memcpy(id, d->line + t->start, t->len);
        *id_len = t->len;
        return TXS_OK;
    }
    if (t->kind != TXS_JSON_STRING)
        return fail(d, "%s", bad);
    if (t->has_nul)
        return fail(d, "field \"id\" must not contain \\u0000");
    /* A character takes at most 12 bytes of JSON (a surrogate pair of escapes). */
    if ((size_t)t->len - 2 > 12 * TXS_ID_MAX)
        return fail(d, "%s", bad);
    char text[12 * TXS_ID_MAX];
    size_t n = txs_json_unescape(d->line, t, text);
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)text[i] & 0xC0) != 0x80;
    if (chars > TXS_ID_MAX)
        return fail(d, "%s", bad);
    /* At most 64 characters: at most 256 bytes, escaped to at most 64 * 6 + 2. */
    char json[6 * 4 * TXS_ID_MAX + 2];
    size_t jn = txs_json_escape(json, text, n);
    if (jn > TXS_ID_JSON_MAX)
        return fail(d, "%s", bad);
    memcpy(id, json, jn);
    *id_len = jn;
    return TXS_OK;
}

/* An op name fit to quote in a message: at most 32 printable ASCII characters. */
static void quote_op(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < 32 && k + 4 < cap; i++) {
        char c = s[i];
        out[k++] = c >= 0x20 && c < 0x7F ? c : '?';
    }
    if (n > 32 && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static int decode_op(decoder_t *d)
{
    if (!given(d, F_OP))
        return fail(d, "missing field \"op\"");
    size_t i = d->at[F_OP];
    if (tok(d, i)->kind != TXS_JSON_STRING)
        return fail(d, "field \"op\" must be a string");
    char name[6 * 16 + 1];
    size_t n;
    short_string(d, i, name, 16, &n);
    if (n <= 16)
        for (size_t op = 0; op < NOPS; op++)
            if (strlen(op_names[op]) == n && memcmp(op_names[op], name, n) == 0) {
                d->req->op = (txs_op_t)op;
                return TXS_OK;
            }
    char shown[40];
    if (n > 16) {
        /* Too long to hold a name: show its start as written. */
        const txs_json_tok_t *t = tok(d, i);
        quote_op(d->line + t->start + 1, (size_t)t->len - 2, shown, sizeof shown);
    } else {
        quote_op(name, n, shown, sizeof shown);
    }
    return fail(d, "unknown op \"%s\"", shown);
}

static int check_types(decoder_t *d)
{
    for (int f = 0; f < NFIELDS; f++) {
        if (f == F_OP || f == F_ID || !given(d, (enum field)f))
            continue;
        txs_json_kind_t k = tok(d, d->at[f])->kind;
        switch (fields[f].type) {
        case T_STRING:
            if (k != TXS_JSON_STRING)
                return fail(d, "field \"%s\" must be a string", fields[f].name);
            break;
        case T_BOOL:
            if (k != TXS_JSON_TRUE && k != TXS_JSON_FALSE)
                return fail(d, "field \"%s\" must be a boolean", fields[f].name);
            break;
        case T_ARRAY:
            if (k != TXS_JSON_ARRAY)
                return fail(d, "field \"%s\" must be an array", fields[f].name);
            break;
        case T_ID:
            break;
        }
    }
    return TXS_OK;
}

static bool op_needs_ctx(txs_op_t op)
{
    return op != TXS_OP_PING && op != TXS_OP_HELLO;
}

static int decode_ctx(decoder_t *d)
{
    txs_request_t *r = d->req;
    if (!given(d, F_CTX)) {
        if (op_needs_ctx(r->op))
            return fail(d, "field \"ctx\" is required for op \"%s\"", txs_op_name(r->op));
        return TXS_OK;
    }
    char text[6 * TXS_CTX_MAX + 1];
    size_t n;
    short_string(d, d->at[F_CTX], text, TXS_CTX_MAX, &n);
    bool ok = n >= 1 && n <= TXS_CTX_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = text[i] >= 0x20 && text[i] < 0x7F;
    if (!ok)
        return fail(d, "field \"ctx\" must be 1 to %d printable ASCII characters", TXS_CTX_MAX);
    memcpy(r->ctx, text, n);
    r->ctx[n] = '\0';
    r->has_ctx = true;
    return TXS_OK;
}

static int decode_db(decoder_t *d)
{
    txs_request_t *r = d->req;
    if (!given(d, F_DB))
        return TXS_OK;
    char text[6 * TXS_DB_NAME_MAX + 1];
    size_t n;
    short_string(d, d->at[F_DB], text, TXS_DB_NAME_MAX, &n);
    if (n < 1 || n > TXS_DB_NAME_MAX || memchr(text, '\0', n))
        return fail(d, "field \"db\" must be a name of 1 to %d characters", TXS_DB_NAME_MAX);
    memcpy(r->db, text, n);
    r->db[n] = '\0';
    r->has_db = true;
    return TXS_OK;
}

static int decode_isolation(decoder_t *d)
{
    if (!given(d, F_ISOLATION))
        return TXS_OK;
    char text[6 * 16 + 1];
    size_t n;
    short_string(d, d->at[F_ISOLATION], text, 16, &n);
    for (size_t iso = 1; n <= 16 && iso < NISOLATIONS; iso++) {
        if (strlen(isolations[iso].wire) == n && strncasecmp(isolations[iso].wire, text, n) == 0) {
            d->req->isolation = (txs_isolation_t)iso;
            return TXS_OK;
        }
    }
    return fail(d, "field \"isolation\" must be one of \"read committed\", \"repeatable read\", "
                   "\"serializable\", \"read uncommitted\"");
}

static bool bool_field(const decoder_t *d, enum field f)
{
    return given(d, f) && tok(d, d->at[f])->kind == TXS_JSON_TRUE;
}

static txs_tristate_t tristate_field(const decoder_t *d, enum field f)
{
    if (!given(d, f))
        return TXS_UNSET;
    return tok(d, d->at[f])->kind == TXS_JSON_TRUE ? TXS_TRUE : TXS_FALSE;
}

/* A savepoint name is spliced into SAVEPOINT / RELEASE / ROLLBACK TO by the session,
 * so only a plain identifier is taken: what both PostgreSQL and MySQL accept unquoted
 * and what ORMs generate ("sa_savepoint_1"). */
static int decode_name(decoder_t *d)
{
    static const char bad[] = "field \"name\" must be 1 to 63 letters, digits or underscores, "
                              "not starting with a digit";
    txs_request_t *r = d->req;
    if (!given(d, F_NAME))
        return fail(d, "field \"name\" is required for op \"%s\"", txs_op_name(r->op));
    size_t n = 0;
    const char *s;
    int rc = text_field(d, d->at[F_NAME], "name", &s, &n);
    if (rc)
        return rc;
    if (n < 1 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
        return fail(d, "%s", bad);
    /* Names are case-insensitive, as unquoted identifiers are in SQL: fold them here so
     * that every later comparison and the quoted name sent to the backend agree. */
    char *folded = (char *)s; /* the arena's copy, owned by the request */
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return fail(d, "%s", bad);
        if (c >= 'A' && c <= 'Z')
            folded[i] = (char)(c - 'A' + 'a');
    }
    if (strncmp(folded, "txscope_", 8) == 0)
        return fail(d, "field \"name\": names starting with txscope_ are reserved");
    r->name = folded;
    return TXS_OK;
}

/* One parameter as the text the driver binds. */
static int decode_param(decoder_t *d, size_t i, const char *field, const char **value, int *len,
                        unsigned char *kind)
{
    static const char s_true[] = "true", s_false[] = "false";
    const txs_json_tok_t *t = tok(d, i);
    char *s;
    size_t n;
    *kind = TXS_PARAM_TEXT;
    switch ((txs_json_kind_t)t->kind) {
    case TXS_JSON_NULL:
        *value = NULL;
        *len = 0;
        return TXS_OK;
    case TXS_JSON_TRUE:
        *kind = TXS_PARAM_BOOL;
        *value = s_true;
        *len = 4;
        return TXS_OK;
    case TXS_JSON_FALSE:
        *kind = TXS_PARAM_BOOL;
        *value = s_false;
        *len = 5;
        return TXS_OK;
    case TXS_JSON_STRING:
        if (t->has_nul)
            return fail(d, "field \"%s\" must not contain \\u0000", field);
        s = arena_string(d, i, &n);
        break;
    case TXS_JSON_NUMBER:
        *kind = TXS_PARAM_NUMBER;
        /* Exactly as written: 2^62 + 1 or 1.10 must not pass through a double. */
        s = arena_alloc(&d->arena, (size_t)t->len + 1, 1);
        memcpy(s, d->line + t->start, t->len);
        n = t->len;
        s[n] = '\0';
        break;
    case TXS_JSON_ARRAY:
    case TXS_JSON_OBJECT:
    default:
        /* Its JSON text, compacted; numbers and strings stay as written. */
        *kind = TXS_PARAM_JSON;
        s = arena_alloc(&d->arena, (size_t)t->len + 1, 1);
        n = txs_json_compact(d->line + t->start, t->len, s);
        s[n] = '\0';
        break;
    }
    if (n > INT_MAX)
        return fail(d, "field \"%s\" holds a value too long", field);
    *value = s;
    *len = (int)n;
    return TXS_OK;
}

/* A statement from sql (a string token) and params (an array token, or 0). */
static int decode_stmt(decoder_t *d, size_t sql, size_t params, const char *sql_field,
                       const char *params_field, txs_stmt_t *st)
{
    int rc = text_field(d, sql, sql_field, &st->sql, &st->sql_len);
    if (rc)
        return rc;
    st->nparams = 0;
    st->values = NULL;
    st->lengths = NULL;
    st->kinds = NULL;
    if (!params)
        return TXS_OK;
    uint32_t count = tok(d, params)->count;
    if (count > INT_MAX)
        return fail(d, "field \"%s\" has too many elements", params_field);
    const char **values = arena_alloc(&d->arena, count * sizeof *values, _Alignof(const char *));
    int *lengths = arena_alloc(&d->arena, count * sizeof *lengths, _Alignof(int));
    unsigned char *kinds = arena_alloc(&d->arena, count, 1);
    size_t e = params + 1;
    for (uint32_t k = 0; k < count; k++) {
        rc = decode_param(d, e, params_field, &values[k], &lengths[k], &kinds[k]);
        if (rc)
            return rc;
        e = txs_json_next(&d->doc, e);
    }
    st->nparams = (int)count;
    st->values = values;
    st->lengths = lengths;
    st->kinds = kinds;
    return TXS_OK;
}

static int decode_query(decoder_t *d)
{
    if (!given(d, F_SQL))
        return fail(d, "field \"sql\" is required for op \"query\"");
    size_t params = given(d, F_PARAMS) ? d->at[F_PARAMS] : 0;
    return decode_stmt(d, d->at[F_SQL], params, "sql", "params", &d->req->stmt);
}

/* statements: [{"sql": ..., "params": [...]}, ...]; names in messages are like
 * "statements[2].sql", counting from 0. */
static int decode_batch(decoder_t *d)
{
    if (!given(d, F_STATEMENTS))
        return fail(d, "field \"statements\" is required for op \"batch\"");
    size_t arr = d->at[F_STATEMENTS];
    uint32_t count = tok(d, arr)->count;
    if (count > INT_MAX)
        return fail(d, "field \"statements\" has too many elements");
    txs_stmt_t *stmts = arena_alloc(&d->arena, count * sizeof *stmts, _Alignof(txs_stmt_t));
    size_t e = arr + 1;
    for (uint32_t k = 0; k < count; k++, e = txs_json_next(&d->doc, e)) {
        char sql_field[48], params_field[48];
        snprintf(sql_field, sizeof sql_field, "statements[%u].sql", (unsigned)k);
        snprintf(params_field, sizeof params_field, "statements[%u].params", (unsigned)k);
        if (tok(d, e)->kind != TXS_JSON_OBJECT)
            return fail(d, "field \"statements[%u]\" must be an object", (unsigned)k);
        /* Its members: the first sql and params count, other keys are ignored. */
        size_t sql = 0, params = 0;
        size_t m = e + 1;
        for (uint32_t j = 0; j < tok(d, e)->count; j++) {
            size_t v = m + 1;
            int f = field_of_key(d, m);
            if (f == F_SQL || f == F_PARAMS) {
                size_t *slot = f == F_SQL ? &sql : &params;
                if (*slot)
                    return fail(d, "duplicate field \"%s\"", f == F_SQL ? sql_field : params_field);
                if (tok(d, v)->kind != TXS_JSON_NULL)
                    *slot = v;
            }
            m = txs_json_next(&d->doc, v);
        }
        if (!sql)
            return fail(d, "field \"%s\" is required", sql_field);
        if (tok(d, sql)->kind != TXS_JSON_STRING)
            return fail(d, "field \"%s\" must be a string", sql_field);
        if (params && tok(d, params)->kind != TXS_JSON_ARRAY)
            return fail(d, "field \"%s\" must be an array", params_field);
        int rc = decode_stmt(d, sql, params, sql_field, params_field, &stmts[k]);
        if (rc)
            return rc;
    }
    d->req->stmts = stmts;
    d->req->nstmts = (int)count;
    return TXS_OK;
}

static int decode_fields(decoder_t *d)
{
    txs_request_t *r = d->req;
    if (d->doc.ntoks == 0 || tok(d, 0)->kind != TXS_JSON_OBJECT)
        return fail(d, "request must be a JSON object");

    /* Find each known field; a repeated one is refused (which copy would count is
     * anyone's guess), but only once the id is known so that the error can carry it. */
    int dup = -1;
    bool dup_id = false;
    size_t m = 1;
    for (uint32_t j = 0; j < tok(d, 0)->count; j++) {
        size_t v = m + 1;
        int f = field_of_key(d, m);
        if (f >= 0) {
            if (d->at[f] && dup < 0)
                dup = f;
            dup_id |= d->at[f] && f == F_ID;
            d->at[f] = v;
        }
        m = txs_json_next(&d->doc, v);
    }
    if (dup_id)
        return fail(d, "duplicate field \"id\"");
    int rc = decode_id(d, r->id, &r->id_len);
    if (rc)
        return rc;
    memcpy(d->err->id, r->id, r->id_len);
    d->err->id_len = r->id_len;
    if (dup >= 0)
        return fail(d, "duplicate field \"%s\"", fields[dup].name);

    /* Decoded text never outgrows its JSON text; the slack is for the pointer arrays. */
    static const enum field decoded[] = {F_SQL, F_PARAMS, F_STATEMENTS, F_TOKEN, F_CLIENT, F_NAME};
    d->arena.first_cap = 256;
    for (size_t k = 0; k < sizeof decoded / sizeof decoded[0]; k++)
        if (d->at[decoded[k]])
            d->arena.first_cap += tok(d, d->at[decoded[k]])->len;

    if ((rc = decode_op(d)) || (rc = check_types(d)) || (rc = decode_ctx(d)) ||
        (rc = decode_db(d)) || (rc = decode_isolation(d)))
        return rc;
    r->autocommit = bool_field(d, F_AUTOCOMMIT);
    r->read_only = tristate_field(d, F_READ_ONLY);
    r->deferrable = tristate_field(d, F_DEFERRABLE);
    r->nested = bool_field(d, F_NESTED);
    r->join = bool_field(d, F_JOIN);
    if (given(d, F_TOKEN) && (rc = text_field(d, d->at[F_TOKEN], "token", &r->token, NULL)))
        return rc;
    if (given(d, F_CLIENT) && (rc = text_field(d, d->at[F_CLIENT], "client", &r->client, NULL)))
        return rc;

    switch (r->op) {
    case TXS_OP_QUERY:
        return decode_query(d);
    case TXS_OP_BATCH:
        return decode_batch(d);
    case TXS_OP_SAVEPOINT:
    case TXS_OP_RELEASE:
    case TXS_OP_ROLLBACK_TO:
        return decode_name(d);
    default:
        return TXS_OK;
    }
}

int txs_request_decode(const char *line, size_t len, txs_request_t *req, txs_decode_error_t *err)
{
    memset(req, 0, sizeof *req);
    req->read_only = TXS_UNSET;
    req->deferrable = TXS_UNSET;
    err->message[0] = '\0';
    err->id_len = 0;

    decoder_t d = {.line = line, .req = req, .err = err};
    int rc;
    if (!txs_utf8_valid(line, len))
        return fail(&d, "invalid UTF-8 in request");
    if (txs_json_parse(line, len, &d.doc) != TXS_OK)
        rc = fail(&d, "request is not valid JSON");
    else
        rc = decode_fields(&d);
    txs_json_doc_free(&d.doc);
    if (rc) {
        arena_free(d.arena.head);
        memset(req, 0, sizeof *req);
        return rc;
    }
    req->storage = d.arena.head;
    return TXS_OK;
}

void txs_request_free(txs_request_t *req)
{
    arena_free(req->storage);
    req->storage = NULL;
    req->stmt = (txs_stmt_t){0};
    req->stmts = NULL;
    req->nstmts = 0;
    req->token = req->client = req->name = NULL;
}
