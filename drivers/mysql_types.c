/* mysql_types.c - MySQL results: type names, binary values as text, and reply encoding. */
#include "drivers/mysql_types.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/mysql_text.h"
#include "protocol/errors.h"
#include "protocol/json_scan.h"
#include "protocol/reply.h"
#include "protocol/utf8.h"

#define BINARY_CHARSET 63 /* charsetnr of binary strings (BINARY, VARBINARY, BLOB) */
#define NOT_FIXED_DEC 31  /* FLOAT / DOUBLE decimals when none were declared */

/* Column type -> reply type name and value kind:
 *
 *   protocol type                  type name                     value
 *   TINY SHORT INT24 LONG LONGLONG tinyint smallint mediumint    number, every digit
 *                                  int bigint (+ " unsigned")
 *   YEAR                           year                          number
 *   FLOAT DOUBLE                   float double                  number (see below)
 *   DECIMAL NEWDECIMAL             decimal                       string, scale kept
 *   BIT                            bit                           number (unsigned value)
 *   DATE TIME DATETIME TIMESTAMP   date time datetime timestamp  string, the server's text
 *   VAR_STRING / STRING / BLOBs    varchar char text             string
 *     binary (charsetnr 63)        varbinary binary blob         base64 string
 *   STRING with ENUM / SET flag    enum set                      string
 *   GEOMETRY                       geometry                      base64 of the WKB
 *   NULL                           null                          null
 *   format "json" (MariaDB's JSON) json                          embedded JSON
 *
 * MariaDB's data type name (inet6, uuid, inet4, point, ...) replaces the name above;
 * the value is written as the protocol type says. */
void txs_my_col_describe(txs_my_col_t *col, const MYSQL_FIELD *f)
{
    bool binary = f->charsetnr == BINARY_CHARSET, integer = false;
    const char *name = NULL;
    txs_my_vkind_t kind = TXS_MY_V_TEXT;
    col->fetch = MYSQL_TYPE_STRING;
    col->decimals = (unsigned char)(f->decimals > 255 ? 255 : f->decimals);
    switch (f->type) {
    case MYSQL_TYPE_TINY:
        name = "tinyint";
        integer = true;
        break;
    case MYSQL_TYPE_SHORT:
        name = "smallint";
        integer = true;
        break;
    case MYSQL_TYPE_INT24:
        name = "mediumint";
        integer = true;
        break;
    case MYSQL_TYPE_LONG:
        name = "int";
        integer = true;
        break;
    case MYSQL_TYPE_LONGLONG:
        name = "bigint";
        integer = true;
        break;
    case MYSQL_TYPE_YEAR:
        name = "year";
        kind = TXS_MY_V_INT;
        break;
    case MYSQL_TYPE_FLOAT:
        name = "float";
        kind = TXS_MY_V_FLOAT;
        col->fetch = MYSQL_TYPE_FLOAT;
        break;
    case MYSQL_TYPE_DOUBLE:
        name = "double";
        kind = TXS_MY_V_FLOAT;
        col->fetch = MYSQL_TYPE_DOUBLE;
        break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        name = "decimal";
        break;
    case MYSQL_TYPE_BIT:
        name = "bit";
        kind = TXS_MY_V_BIT;
        break;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        name = "date";
        break;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
        name = "time";
        break;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_DATETIME2:
        name = "datetime";
        break;
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIMESTAMP2:
        name = "timestamp";
        break;
    case MYSQL_TYPE_NULL:
        name = "null";
        kind = TXS_MY_V_NULL;
        break;
    case MYSQL_TYPE_GEOMETRY:
        name = "geometry";
        kind = TXS_MY_V_GEOMETRY;
        break;
    case MYSQL_TYPE_JSON:
        name = "json";
        kind = TXS_MY_V_JSON;
        break;
    case MYSQL_TYPE_ENUM:
        name = "enum";
        break;
    case MYSQL_TYPE_SET:
        name = "set";
        break;
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_VAR_STRING:
        name = binary ? "varbinary" : "varchar";
        kind = binary ? TXS_MY_V_BINARY : TXS_MY_V_TEXT;
        break;
    case MYSQL_TYPE_STRING:
        name = binary ? "binary" : "char";
        kind = binary ? TXS_MY_V_BINARY : TXS_MY_V_TEXT;
        break;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
        name = binary ? "blob" : "text";
        kind = binary ? TXS_MY_V_BINARY : TXS_MY_V_TEXT;
        break;
    default:
        break;
    }
    if (f->flags & ENUM_FLAG) {
        name = "enum";
        kind = TXS_MY_V_TEXT;
    } else if (f->flags & SET_FLAG) {
        name = "set";
        kind = TXS_MY_V_TEXT;
    }
    if (integer)
        kind = TXS_MY_V_INT;

    MARIADB_CONST_STRING attr = {0};
    if (mariadb_field_attr(&attr, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && attr.length == 4 &&
        memcmp(attr.str, "json", 4) == 0) {
        name = "json";
        kind = TXS_MY_V_JSON;
    }
    col->kind = (unsigned char)kind;

    attr.length = 0;
    if (mariadb_field_attr(&attr, f, MARIADB_FIELD_ATTR_DATA_TYPE_NAME) == 0 && attr.length > 0 &&
        attr.length < sizeof col->type)
        snprintf(col->type, sizeof col->type, "%.*s", (int)attr.length, attr.str);
    else if (name)
        snprintf(col->type, sizeof col->type, "%s%s", name,
                 integer && (f->flags & UNSIGNED_FLAG) ? " unsigned" : "");
    else
        snprintf(col->type, sizeof col->type, "type%d", (int)f->type);
}

/* ---- results ---- */

void txs_my_result_clear(txs_my_result_t *r)
{
    if (r->res)
        mysql_free_result(r->res);
    r->res = NULL;
    r->has_set = false;
    r->command[0] = '\0';
    r->count = 0;
    r->insert_id = 0;
    r->ncols = 0;
    r->nrows = 0;
    txs_buf_truncate(&r->text, 0);
    txs_buf_shrink(&r->text, 16 * 1024);
    if (r->val_cap > 4096) {
        free(r->vals);
        r->vals = NULL;
        r->val_cap = 0;
    }
}

void txs_my_result_free(txs_my_result_t *r)
{
    txs_my_result_clear(r);
    txs_buf_free(&r->text);
    free(r->cols);
    free(r->vals);
    free(r->binds);
    memset(r, 0, sizeof *r);
}

static void set_columns(txs_my_result_t *r, const MYSQL_FIELD *f, int n)
{
    if (n > r->col_cap) {
        r->cols = txs_xrealloc(r->cols, (size_t)n * sizeof *r->cols);
        r->col_cap = n;
    }
    r->ncols = n;
    for (int i = 0; i < n; i++) {
        txs_my_col_t *col = &r->cols[i];
        col->name_off = r->text.len;
        col->name_len = f[i].name_length;
        txs_buf_append(&r->text, f[i].name, f[i].name_length);
        txs_my_col_describe(col, &f[i]);
    }
    r->has_set = true;
}

void txs_my_result_take_text(txs_my_result_t *r, MYSQL_RES *res)
{
    set_columns(r, mysql_fetch_fields(res), (int)mysql_num_fields(res));
    r->res = res;
    r->count = mysql_num_rows(res);
}

/* A FLOAT or DOUBLE of the binary protocol as the text protocol writes it: with its
 * declared decimals, else FLOAT to 6 significant digits (MariaDB's FLT_DIG; the text
 * protocol has no more), DOUBLE exactly. */
static size_t float_text(char *buf, size_t len, double v, bool is_float, unsigned dec)
{
    if (dec < NOT_FIXED_DEC)
        return (size_t)snprintf(buf, len, "%.*f", (int)dec, v);
    return (size_t)snprintf(buf, len, is_float ? "%.5e" : "%.17g", v);
}

typedef struct bind_state {
    my_bool is_null;
    my_bool error;
    unsigned long length;
    union {
        float f;
        double d;
    } num;
} bind_state_t;

/* One value of the current row into r->text; the caller has made room in r->vals. */
static int fetch_value(txs_my_result_t *r, MYSQL_STMT *stmt, int i, const bind_state_t *bs,
                       size_t *slot)
{
    const txs_my_col_t *col = &r->cols[i];
    if (bs->is_null) {
        slot[0] = SIZE_MAX;
        slot[1] = 0;
        return 0;
    }
    slot[0] = r->text.len;
    if (col->fetch == MYSQL_TYPE_FLOAT || col->fetch == MYSQL_TYPE_DOUBLE) {
        char *p = txs_buf_reserve(&r->text, 400);
        double v = col->fetch == MYSQL_TYPE_FLOAT ? (double)bs->num.f : bs->num.d;
        size_t n = float_text(p, 400, v, col->fetch == MYSQL_TYPE_FLOAT, col->decimals);
        r->text.len += n < 400 ? n : 399;
        slot[1] = r->text.len - slot[0];
        return 0;
    }
    slot[1] = bs->length;
    if (bs->length == 0)
        return 0;
    /* the first fetch only measured it: now fetch it whole into place */
    unsigned long got = 0;
    my_bool is_null = 0, err = 0;
    MYSQL_BIND b;
    memset(&b, 0, sizeof b);
    b.buffer_type = MYSQL_TYPE_STRING;
    b.buffer = txs_buf_reserve(&r->text, bs->length);
    b.buffer_length = bs->length;
    b.length = &got;
    b.is_null = &is_null;
    b.error = &err;
    if (mysql_stmt_fetch_column(stmt, &b, (unsigned)i, 0) != 0 || got != bs->length)
        return 1;
    r->text.len += bs->length;
    return 0;
}

int txs_my_result_take_stmt(txs_my_result_t *r, MYSQL_STMT *stmt, MYSQL_RES *meta)
{
    int n = (int)mysql_num_fields(meta);
    set_columns(r, mysql_fetch_fields(meta), n);
    if (n > r->bind_cap) {
        /* binds and their state in one block */
        r->binds = txs_xrealloc(r->binds, (size_t)n * (sizeof(MYSQL_BIND) + sizeof(bind_state_t)));
        r->bind_cap = n;
    }
    bind_state_t *bs = (bind_state_t *)(r->binds + r->bind_cap);
    static char nothing[1];
    for (int i = 0; i < n; i++) {
        MYSQL_BIND *b = &r->binds[i];
        memset(b, 0, sizeof *b);
        memset(&bs[i], 0, sizeof bs[i]);
        b->is_null = &bs[i].is_null;
        b->error = &bs[i].error;
        b->length = &bs[i].length;
        b->buffer_type = r->cols[i].fetch;
        if (b->buffer_type == MYSQL_TYPE_FLOAT || b->buffer_type == MYSQL_TYPE_DOUBLE) {
            b->buffer = &bs[i].num;
            b->buffer_length = sizeof bs[i].num;
        } else {
            b->buffer = nothing; /* measured only: fetch_value fetches it */
            b->buffer_length = 0;
        }
    }
    if (mysql_stmt_bind_result(stmt, r->binds))
        return 1;
    int rc;
    while ((rc = mysql_stmt_fetch(stmt)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        size_t need = (size_t)(r->nrows + 1) * (size_t)n * 2;
        if (need > r->val_cap) {
            size_t cap = r->val_cap ? r->val_cap * 2 : 64;
            while (cap < need)
                cap *= 2;
            r->vals = txs_xrealloc(r->vals, cap * sizeof *r->vals);
            r->val_cap = cap;
        }
        size_t *row = r->vals + (size_t)r->nrows * (size_t)n * 2;
        for (int i = 0; i < n; i++)
            if (fetch_value(r, stmt, i, &bs[i], row + 2 * i))
                return 1;
        r->nrows++;
    }
    if (rc != MYSQL_NO_DATA)
        return 1;
    r->count = r->nrows;
    return 0;
}

/* ---- encoding ---- */

/* FLOAT / DOUBLE text as the shortest number that reads back as the same double; text
 * that is no finite number goes as a string. */
static void put_float(txs_buf_t *out, const char *v, size_t len)
{
    char buf[400], num[32];
    if (len > 0 && len < sizeof buf) {
        memcpy(buf, v, len);
        buf[len] = '\0';
        char *end;
        double d = strtod(buf, &end);
        if (end == buf + len && isfinite(d)) {
            txs_buf_append(out, num, txs_mysql_format_double(d, num));
            return;
        }
    }
    txs_json_put_string(out, v, len);
}

static void put_int(txs_buf_t *out, const char *v, size_t len)
{
    char *p = txs_buf_reserve(out, len + 1);
    size_t n = txs_mysql_integer_text(v, len, p);
    if (n)
        out->len += n;
    else
        txs_json_put_string(out, v, len);
}

static void put_bit(txs_buf_t *out, const unsigned char *v, size_t len)
{
    uint64_t x = 0;
    for (size_t i = len > 8 ? len - 8 : 0; i < len; i++)
        x = x << 8 | v[i];
    txs_buf_printf(out, "%llu", (unsigned long long)x);
}

static void put_json(txs_buf_t *out, const char *v, size_t len)
{
    txs_json_doc_t doc;
    if (txs_utf8_valid(v, len) && txs_json_parse(v, len, &doc) == TXS_OK)
        txs_json_put_compact(out, v, len);
    else
        txs_json_put_string(out, v, len);
    txs_json_doc_free(&doc);
}

static void put_value(txs_buf_t *out, txs_my_vkind_t k, const char *v, size_t len)
{
    switch (k) {
    case TXS_MY_V_INT:
        put_int(out, v, len);
        return;
    case TXS_MY_V_FLOAT:
        put_float(out, v, len);
        return;
    case TXS_MY_V_BIT:
        put_bit(out, (const unsigned char *)v, len);
        return;
    case TXS_MY_V_BINARY:
        txs_json_put_base64(out, (const unsigned char *)v, len);
        return;
    case TXS_MY_V_GEOMETRY:
        if (len >= 4) /* MySQL's form: a 4-byte SRID, then WKB */
            txs_json_put_base64(out, (const unsigned char *)v + 4, len - 4);
        else
            txs_json_put_base64(out, (const unsigned char *)v, len);
        return;
    case TXS_MY_V_JSON:
        put_json(out, v, len);
        return;
    case TXS_MY_V_NULL:
        txs_buf_puts(out, "null");
        return;
    case TXS_MY_V_TEXT:
        txs_json_put_string(out, v, len);
        return;
    }
}

/* A lower bound of a value's encoded size, to refuse a huge value before copying it. */
static size_t min_encoded(txs_my_vkind_t k, size_t len)
{
    switch (k) {
    case TXS_MY_V_BINARY:
    case TXS_MY_V_GEOMETRY:
        return len / 3 * 4;
    case TXS_MY_V_TEXT:
        return len + 2;
    default:
        return 1; /* numbers lose zeros, JSON its whitespace */
    }
}

/* One row; false when out passed max_len. */
static bool put_row(txs_my_result_t *r, const char *const *vals, const size_t *lens, txs_buf_t *out,
                    size_t max_len, bool first)
{
    txs_buf_puts(out, first ? "[" : ",[");
    for (int f = 0; f < r->ncols; f++) {
        if (f)
            txs_buf_putc(out, ',');
        if (!vals[f]) {
            txs_buf_puts(out, "null");
            continue;
        }
        txs_my_vkind_t k = (txs_my_vkind_t)r->cols[f].kind;
        if (out->len + min_encoded(k, lens[f]) > max_len)
            return false;
        put_value(out, k, vals[f], lens[f]);
        if (out->len > max_len)
            return false;
    }
    txs_buf_putc(out, ']');
    return true;
}

int txs_my_result_encode(txs_my_result_t *r, txs_buf_t *scratch, txs_buf_t *out, size_t max_len)
{
    size_t start = out->len;
    txs_buf_puts(out, "\"command\":");
    const char *cmd = r->has_set ? "SELECT" : r->command;
    txs_json_put_string(out, cmd, strlen(cmd));
    txs_buf_printf(out, ",\"rowCount\":%llu", (unsigned long long)r->count);
    if (r->insert_id && !r->has_set)
        txs_buf_printf(out, ",\"lastInsertId\":%llu", (unsigned long long)r->insert_id);
    txs_buf_puts(out, ",\"fields\":[");
    for (int f = 0; f < r->ncols; f++) {
        txs_buf_puts(out, f ? ",{\"name\":" : "{\"name\":");
        txs_json_put_string(out, r->text.data + r->cols[f].name_off, r->cols[f].name_len);
        txs_buf_puts(out, ",\"type\":");
        txs_json_put_string(out, r->cols[f].type, strlen(r->cols[f].type));
        txs_buf_putc(out, '}');
    }
    txs_buf_puts(out, "],\"rows\":[");
    if (out->len > max_len)
        goto too_big;

    /* one row's values and lengths, in scratch (its start is malloc-aligned) */
    size_t n = (size_t)r->ncols;
    txs_buf_truncate(scratch, 0);
    char *mem = txs_buf_reserve(scratch, n * (sizeof(char *) + sizeof(size_t)) + 1);
    const char **vals = (const char **)(void *)mem;
    size_t *lens = (size_t *)(void *)(mem + n * sizeof(char *));
    if (r->res) {
        mysql_data_seek(r->res, 0);
        MYSQL_ROW row;
        for (bool first = true; (row = mysql_fetch_row(r->res)) != NULL; first = false) {
            const unsigned long *l = mysql_fetch_lengths(r->res);
            for (size_t f = 0; f < n; f++) {
                vals[f] = row[f];
                lens[f] = l[f];
            }
            if (!put_row(r, vals, lens, out, max_len, first))
                goto too_big;
        }
    } else {
        for (uint64_t t = 0; t < r->nrows; t++) {
            const size_t *slot = r->vals + t * n * 2;
            for (size_t f = 0; f < n; f++) {
                vals[f] = slot[2 * f] == SIZE_MAX ? NULL : r->text.data + slot[2 * f];
                lens[f] = slot[2 * f + 1];
            }
            if (!put_row(r, vals, lens, out, max_len, t == 0))
                goto too_big;
        }
    }
    txs_buf_putc(out, ']');
    if (out->len > max_len)
        goto too_big;
    txs_buf_shrink(scratch, 64 * 1024);
    return TXS_OK;

too_big:
    txs_buf_truncate(out, start);
    txs_buf_shrink(scratch, 64 * 1024);
    return TXS_ETOOBIG;
}
