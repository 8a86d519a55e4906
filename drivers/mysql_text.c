/* mysql_text.c - the MySQL driver's pure text work: keywords, session changes, BEGIN, numbers. */
#include "drivers/mysql_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Past the end of the line that starts at i. */
static size_t skip_line(const char *s, size_t len, size_t i)
{
    while (i < len && s[i] != '\n')
        i++;
    return i;
}

size_t txs_mysql_sql_start(const char *s, size_t len)
{
    size_t i = 0;
    bool exec = false; /* inside an executable comment: its end is no token */
    while (i < len) {
        if (is_space(s[i])) {
            i++;
        } else if (exec && s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
            exec = false;
            i += 2;
        } else if (s[i] == '#') {
            i = skip_line(s, len, i);
        } else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-' &&
                   (i + 2 == len || is_space(s[i + 2]) || (unsigned char)s[i + 2] < 32)) {
            i = skip_line(s, len, i); /* MySQL's "--" needs a space or control after it */
        } else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            size_t j = i + 2;
            if (j < len && s[j] == 'M' && j + 1 < len && s[j + 1] == '!')
                j++;
            if (j < len && s[j] == '!') { /* executable: its body is code */
                j++;
                while (j < len && is_digit(s[j]))
                    j++;
                i = j;
                exec = true;
                continue;
            }
            const char *end = NULL;
            for (size_t k = j; k + 1 < len; k++)
                if (s[k] == '*' && s[k + 1] == '/') {
                    end = s + k;
                    break;
                }
            if (!end)
                return len; /* unterminated: the server reads nothing either */
            i = (size_t)(end - s) + 2;
        } else {
            return i;
        }
    }
    return len;
}

size_t txs_mysql_sql_keyword(const char *sql, size_t len, char *out, size_t outlen)
{
    size_t i = txs_mysql_sql_start(sql, len), n = 0;
    while (i < len && is_alpha(sql[i]) && n + 1 < outlen) {
        char ch = sql[i++];
        out[n++] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    if (outlen)
        out[n] = '\0';
    return n;
}

/* Whether s[0..len) holds `word` (lower case), ignoring case. */
static bool contains_ci(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(s + i, word, n) == 0)
            return true;
    return false;
}

/* INTO followed by @: SELECT ... INTO @var. */
static bool selects_into_var(const char *s, size_t len)
{
    for (size_t i = 0; i + 4 <= len; i++) {
        if (strncasecmp(s + i, "into", 4) != 0 || (i > 0 && is_alpha(s[i - 1])))
            continue;
        size_t j = i + 4;
        while (j < len && is_space(s[j]))
            j++;
        if (j < len && s[j] == '@')
            return true;
    }
    return false;
}

bool txs_mysql_sql_changes_session(const char *sql, size_t len)
{
    static const char *const keywords[] = {"CALL", "LOCK",    "FLUSH",   "HANDLER",
                                           "LOAD", "EXECUTE", "PREPARE", "DEALLOCATE"};
    char kw[16];
    txs_mysql_sql_keyword(sql, len, kw, sizeof kw);
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (strcmp(kw, keywords[k]) == 0)
            return true;
    return contains_ci(sql, len, "get_lock") || memmem(sql, len, ":=", 2) ||
           selects_into_var(sql, len);
}

bool txs_mysql_sql_sets_next_tx(const char *sql, size_t len)
{
    static const char set_tx[] = "SET TRANSACTION";
    size_t at = txs_mysql_sql_start(sql, len);
    return len - at >= sizeof set_tx - 1 && strncasecmp(sql + at, set_tx, sizeof set_tx - 1) == 0;
}

int txs_mysql_begin_sql(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                        char *buf, size_t len, txs_stmt_t stmts[TXS_DRV_BEGIN_MAX])
{
    (void)deferrable; /* MySQL has none: the caller refuses it */
    int n = 0;
    size_t used = 0;
    const char *level = txs_isolation_sql(iso);
    if (level) {
        int w = snprintf(buf, len, "SET TRANSACTION ISOLATION LEVEL %s", level);
        stmts[n++] = (txs_stmt_t){.sql = buf, .sql_len = (size_t)w};
        used = (size_t)w + 1;
    }
    const char *mode = read_only == TXS_TRUE    ? " READ ONLY"
                       : read_only == TXS_FALSE ? " READ WRITE"
                                                : "";
    int w = snprintf(buf + used, len - used, "START TRANSACTION%s", mode);
    stmts[n++] = (txs_stmt_t){.sql = buf + used, .sql_len = (size_t)w};
    return n;
}

void txs_mysql_quote_ident(txs_buf_t *out, const char *name, size_t len)
{
    txs_buf_put_quoted(out, name, len, '`');
}

txs_mysql_num_t txs_mysql_number_kind(const char *s, size_t len, int64_t *i, uint64_t *u)
{
    size_t p = 0;
    bool neg = p < len && s[p] == '-';
    if (neg)
        p++;
    if (p == len)
        return TXS_MYSQL_NUM_DECIMAL;
    uint64_t v = 0;
    for (; p < len; p++) {
        if (!is_digit(s[p]))
            return TXS_MYSQL_NUM_DECIMAL; /* a fraction or an exponent */
        unsigned d = (unsigned)(s[p] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return TXS_MYSQL_NUM_DECIMAL; /* past uint64 */
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return TXS_MYSQL_NUM_DECIMAL;
        *i = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        return TXS_MYSQL_NUM_INT;
    }
    if (v > (uint64_t)INT64_MAX) {
        *u = v;
        return TXS_MYSQL_NUM_UINT;
    }
    *i = (int64_t)v;
    return TXS_MYSQL_NUM_INT;
}

size_t txs_mysql_format_double(double v, char *out)
{
    if (v == 0) { /* -0 too: the server writes it as 0 */
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    /* The fewest significant digits that read back as v, as d.ddde[+-]N. */
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec, v);
        if (strtod(e, NULL) == v)
            break;
    }
    char *p = e, digits[24] = {'0'};
    size_t n = 0;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (is_digit(*p))
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    if (n == 0)
        n = 1;
    int exp10 = atoi(p + 1), point = exp10 + 1; /* digits[0..point) before the point */

    char *o = out;
    if (neg)
        *o++ = '-';
    if (point >= (int)n && point <= 21) { /* 1234000 */
        memcpy(o, digits, n);
        o += n;
        for (int k = (int)n; k < point; k++)
            *o++ = '0';
    } else if (point > 0 && point <= 21) { /* 12.34 */
        memcpy(o, digits, (size_t)point);
        o += point;
        *o++ = '.';
        memcpy(o, digits + point, n - (size_t)point);
        o += n - (size_t)point;
    } else if (point > -6 && point <= 0) { /* 0.001234 */
        *o++ = '0';
        *o++ = '.';
        for (int k = point; k < 0; k++)
            *o++ = '0';
        memcpy(o, digits, n);
        o += n;
    } else { /* 1.234e+25, 1e-7 */
        *o++ = digits[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, n - 1);
            o += n - 1;
        }
        o += sprintf(o, "e%c%d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    *o = '\0';
    return (size_t)(o - out);
}

size_t txs_mysql_integer_text(const char *s, size_t len, char *out)
{
    size_t p = 0, n = 0;
    bool neg = false;
    if (p < len && (s[p] == '-' || s[p] == '+'))
        neg = s[p++] == '-';
    if (p == len)
        return 0;
    for (size_t k = p; k < len; k++)
        if (!is_digit(s[k]))
            return 0;
    while (p + 1 < len && s[p] == '0')
        p++;
    if (neg && !(len - p == 1 && s[p] == '0'))
        out[n++] = '-';
    memcpy(out + n, s + p, len - p);
    return n + len - p;
}
