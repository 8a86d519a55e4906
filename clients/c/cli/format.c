/* format.c - the CLI's output, pure: psql-like tables, command tags and error lines. */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "clients/c/cli/format.h"
#include "clients/c/cli/xalloc.h"

/* Marks number items turned into raw items while printing embedded JSON. */
#define FLIPPED (1 << 12)

size_t txs_cli_text_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) /* not a continuation byte */
            w++;
    return w;
}

/* Number items that carry their exact text (libtxscope puts it in valuestring) print as
 * raw items, so embedded JSON keeps every digit. */
static void flip(cJSON *item, bool to_raw)
{
    for (; item != NULL; item = item->next) {
        if (to_raw && cJSON_IsNumber(item) && item->valuestring != NULL &&
            item->valuestring[0] != '\0' &&
            strspn(item->valuestring, "0123456789+-.eE") == strlen(item->valuestring))
            item->type = (item->type & ~0xFF) | cJSON_Raw | FLIPPED;
        else if (!to_raw && (item->type & FLIPPED))
            item->type = (item->type & ~0xFF & ~FLIPPED) | cJSON_Number;
        else if (cJSON_IsArray(item) || cJSON_IsObject(item))
            flip(item->child, to_raw);
    }
}

char *txs_cli_value_text(const cJSON *v)
{
    char num[64];
    if (v == NULL || cJSON_IsNull(v))
        return cli_xstrdup("");
    if (cJSON_IsBool(v))
        return cli_xstrdup(cJSON_IsTrue(v) ? "t" : "f");
    if (cJSON_IsString(v))
        return cli_xstrdup(v->valuestring);
    if (cJSON_IsNumber(v)) {
        if (v->valuestring != NULL)
            return cli_xstrdup(v->valuestring);
        double d = v->valuedouble;
        if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
            snprintf(num, sizeof num, "%.0f", d);
        else
            snprintf(num, sizeof num, "%.17g", d);
        return cli_xstrdup(num);
    }
    /* Embedded JSON. The item is only changed for the time of the print. */
    cJSON *item = (cJSON *)v;
    flip(item->child, true);
    char *text = cJSON_PrintUnformatted(item);
    flip(item->child, false);
    char *copy = cli_xstrdup(text != NULL ? text : "");
    cJSON_free(text);
    return copy;
}

/* ---- tables ---- */

typedef struct line {
    char *data;
    size_t len, cap;
} line_t;

static void put(line_t *l, const char *s, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        l->cap = (l->len + n + 1) * 2;
        l->data = cli_xrealloc(l->data, l->cap);
    }
    memcpy(l->data + l->len, s, n);
    l->len += n;
    l->data[l->len] = '\0';
}

static void put_repeat(line_t *l, char c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(l, &c, 1);
}

/* Writes the line without trailing blanks, as psql's output reads, and empties it. */
static void emit(FILE *out, line_t *l)
{
    while (l->len > 0 && l->data[l->len - 1] == ' ')
        l->len--;
    fwrite(l->data != NULL ? l->data : "", 1, l->len, out);
    fputc('\n', out);
    l->len = 0;
}

/* The k-th line of a cell's text (lines end at '\n'); false when it has fewer lines. */
static bool cell_line(const char *text, size_t k, const char **start, size_t *len)
{
    const char *s = text;
    for (; k > 0; k--) {
        s = strchr(s, '\n');
        if (s == NULL)
            return false;
        s++;
    }
    const char *nl = strchr(s, '\n');
    *start = s;
    *len = nl != NULL ? (size_t)(nl - s) : strlen(s);
    return true;
}

static size_t cell_lines(const char *text)
{
    size_t n = 1;
    for (const char *s = text; (s = strchr(s, '\n')) != NULL; s++)
        n++;
    return n;
}

static size_t cell_width(const char *text)
{
    size_t w = 0, len;
    const char *s;
    for (size_t k = 0; cell_line(text, k, &s, &len); k++) {
        size_t lw = txs_cli_text_width(s, len);
        if (lw > w)
            w = lw;
    }
    return w;
}

static bool numeric_type(const char *type)
{
    static const char *const names[] = {
        "int2",     "int4",    "int8", "float4",     "float8",  "numeric",   "oid",
        "smallint", "integer", "int",  "bigint",     "tinyint", "mediumint", "decimal",
        "float",    "double",  "real", "newdecimal", "short",   "long",      "longlong",
        "int24",    "tiny",    "year", "money",
    };
    if (type == NULL)
        return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(type, names[i]) == 0)
            return true;
    return false;
}

static void print_table(FILE *out, const cJSON *fields, const cJSON *rows)
{
    /* "rows" that is not an array holds no rows. The buffers below are sized by ncol and
     * nrow, so the loops that fill them are bounded by these counts too. */
    if (!cJSON_IsArray(rows))
        rows = NULL;
    size_t ncol = (size_t)cJSON_GetArraySize(fields);
    size_t nrow = (size_t)cJSON_GetArraySize(rows);
    if (ncol == 0) { /* "select;" */
        fprintf(out, "--\n(%zu row%s)\n\n", nrow, nrow == 1 ? "" : "s");
        return;
    }
    const char **names = cli_xmalloc((ncol + 1) * sizeof *names);
    size_t *width = cli_xmalloc((ncol + 1) * sizeof *width);
    bool *right = cli_xmalloc((ncol + 1) * sizeof *right);
    char **cells = cli_xmalloc((nrow * ncol + 1) * sizeof *cells);

    size_t j;
    const cJSON *f = fields->child;
    for (j = 0; j < ncol; j++, f = f != NULL ? f->next : NULL) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "name");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(f, "type");
        names[j] = cJSON_IsString(name) ? name->valuestring : "?column?";
        width[j] = txs_cli_text_width(names[j], strlen(names[j]));
        right[j] = numeric_type(cJSON_IsString(type) ? type->valuestring : NULL);
    }
    /* A column of an unknown type whose values are all numbers aligns right too. */
    bool *all_numbers = cli_xmalloc((ncol + 1) * sizeof *all_numbers);
    bool *any_value = cli_xmalloc((ncol + 1) * sizeof *any_value);
    for (j = 0; j < ncol; j++)
        all_numbers[j] = true, any_value[j] = false;
    size_t i;
    const cJSON *row = rows != NULL ? rows->child : NULL;
    for (i = 0; i < nrow; i++, row = row != NULL ? row->next : NULL) {
        for (j = 0; j < ncol; j++) {
            const cJSON *v = cJSON_IsArray(row) ? cJSON_GetArrayItem(row, (int)j) : NULL;
            char *text = txs_cli_value_text(v);
            size_t w = cell_width(text);
            if (w > width[j])
                width[j] = w;
            if (v != NULL && !cJSON_IsNull(v)) {
                any_value[j] = true;
                if (!cJSON_IsNumber(v))
                    all_numbers[j] = false;
            }
            cells[i * ncol + j] = text;
        }
    }
    for (j = 0; j < ncol; j++)
        if (any_value[j] && all_numbers[j])
            right[j] = true;

    line_t l = {NULL, 0, 0};
    /* Header: names centred, as psql does. */
    for (j = 0; j < ncol; j++) {
        size_t w = txs_cli_text_width(names[j], strlen(names[j]));
        size_t left = (width[j] - w) / 2;
        put(&l, j == 0 ? " " : "| ", j == 0 ? 1 : 2);
        put_repeat(&l, ' ', left);
        put(&l, names[j], strlen(names[j]));
        put_repeat(&l, ' ', width[j] - w - left + 1);
    }
    emit(out, &l);
    for (j = 0; j < ncol; j++) {
        if (j > 0)
            put(&l, "+", 1);
        put_repeat(&l, '-', width[j] + 2);
    }
    emit(out, &l);
    for (i = 0; i < nrow; i++) {
        size_t height = 1;
        for (j = 0; j < ncol; j++) {
            size_t h = cell_lines(cells[i * ncol + j]);
            if (h > height)
                height = h;
        }
        for (size_t k = 0; k < height; k++) {
            for (j = 0; j < ncol; j++) {
                const char *s = "";
                size_t len = 0;
                const char *text = cells[i * ncol + j];
                cell_line(text, k, &s, &len);
                const char *dummy;
                size_t dlen;
                bool more = cell_line(text, k + 1, &dummy, &dlen);
                size_t pad = width[j] - txs_cli_text_width(s, len);
                put(&l, j == 0 ? " " : "| ", j == 0 ? 1 : 2);
                if (right[j])
                    put_repeat(&l, ' ', pad);
                put(&l, s, len);
                if (!right[j])
                    put_repeat(&l, ' ', pad);
                put(&l, more ? "+" : " ", 1); /* psql marks a value that goes on */
            }
            emit(out, &l);
        }
    }
    fprintf(out, "(%zu row%s)\n\n", nrow, nrow == 1 ? "" : "s");

    for (i = 0; i < nrow; i++)
        for (j = 0; j < ncol; j++)
            free(cells[i * ncol + j]);
    free(l.data);
    free(cells);
    free(any_value);
    free(all_numbers);
    free(right);
    free(width);
    free(names);
}

/* Tags after which psql shows the number of rows affected. */
static bool counted_tag(const char *command)
{
    static const char *const tags[] = {"INSERT", "UPDATE", "DELETE", "MERGE",
                                       "SELECT", "COPY",   "FETCH",  "MOVE"};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        if (strcasecmp(command, tags[i]) == 0)
            return true;
    return false;
}

static void print_tag(FILE *out, const cJSON *result, const char *command)
{
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(result, "rowCount");
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(result, "lastInsertId");
    fputs(command, out);
    size_t n = strlen(command);
    bool has_count = n > 0 && isdigit((unsigned char)command[n - 1]);
    if (!has_count && counted_tag(command) && cJSON_IsNumber(count)) {
        char *text = txs_cli_value_text(count);
        fprintf(out, " %s", text);
        free(text);
    }
    if (cJSON_IsNumber(last) || cJSON_IsString(last)) {
        char *text = txs_cli_value_text(last);
        fprintf(out, " (last insert id %s)", text);
        free(text);
    }
    fputc('\n', out);
}

static void print_one(FILE *out, const cJSON *result)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(result, "fields");
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(result, "command");
    const char *command = cJSON_IsString(cmd) ? cmd->valuestring : NULL;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(result, "rows");
    /* The daemon sends fields and rows for every statement: a result with no columns
     * and no rows (CREATE TABLE, UPDATE) is not a table. */
    if (cJSON_GetArraySize(fields) > 0 || cJSON_GetArraySize(rows) > 0) {
        print_table(out, fields, rows);
        /* DML with RETURNING: psql shows the table and then the tag. */
        if (command != NULL && strcasecmp(command, "SELECT") != 0 && counted_tag(command))
            print_tag(out, result, command);
    } else if (command != NULL) {
        print_tag(out, result, command);
    }
}

void txs_cli_print_result(FILE *out, const cJSON *reply)
{
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(reply, "results");
    if (cJSON_IsArray(results)) {
        const cJSON *r;
        cJSON_ArrayForEach(r, results)
        {
            print_one(out, r);
        }
    } else {
        print_one(out, reply);
    }
}

static const char *error_field(const cJSON *error, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(error, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void txs_cli_print_error(FILE *out, const cJSON *reply)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(reply, "error");
    const char *code = error_field(error, "code");
    const char *message = error_field(error, "message");
    const char *detail = error_field(error, "detail");
    const char *hint = error_field(error, "hint");
    fprintf(out, "ERROR:  %s %s\n", code != NULL ? code : "?????",
            message != NULL ? message : "the request failed");
    if (detail != NULL)
        fprintf(out, "DETAIL:  %s\n", detail);
    if (hint != NULL)
        fprintf(out, "HINT:  %s\n", hint);
}
