/* buf.c - growable byte buffer and the aborting allocators behind it. */
#include "protocol/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "txscope: out of memory allocating %zu bytes\n", n);
    abort();
}

void *txs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *txs_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *txs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *txs_xstrdup(const char *s)
{
    return txs_xstrndup(s, strlen(s));
}

char *txs_xstrndup(const char *s, size_t n)
{
    char *p = txs_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void txs_buf_init(txs_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void txs_buf_free(txs_buf_t *b)
{
    free(b->data);
    txs_buf_init(b);
}

char *txs_buf_reserve(txs_buf_t *b, size_t extra)
{
    if (b->cap - b->len < extra) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < extra)
            cap *= 2;
        b->data = txs_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

void txs_buf_append(txs_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    memcpy(txs_buf_reserve(b, n), p, n);
    b->len += n;
}

void txs_buf_putc(txs_buf_t *b, char c)
{
    *txs_buf_reserve(b, 1) = c;
    b->len++;
}

void txs_buf_puts(txs_buf_t *b, const char *s)
{
    txs_buf_append(b, s, strlen(s));
}

size_t txs_format_u64(char *out, unsigned long long v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++)
        out[k] = digits[n - 1 - k];
    return n;
}

void txs_buf_put_int(txs_buf_t *b, long long v)
{
    char *d = txs_buf_reserve(b, 21);
    size_t k = 0;
    if (v < 0)
        d[k++] = '-';
    k += txs_format_u64(d + k, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
    b->len += k;
}

void txs_buf_vprintf(txs_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char *dst = txs_buf_reserve(b, 64);
    int n = vsnprintf(dst, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        dst = txs_buf_reserve(b, (size_t)n + 1);
        n = vsnprintf(dst, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0)
        b->len += (size_t)n;
}

void txs_buf_printf(txs_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    txs_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void txs_buf_truncate(txs_buf_t *b, size_t len)
{
    if (len < b->len)
        b->len = len;
}

void txs_buf_consume(txs_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

void txs_buf_shrink(txs_buf_t *b, size_t keep)
{
    if (b->len == 0 && b->cap > keep) {
        free(b->data);
        b->data = NULL;
        b->cap = 0;
    }
}

int txs_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void txs_buf_put_quoted(txs_buf_t *b, const char *s, size_t len, char q)
{
    txs_buf_putc(b, q);
    for (size_t i = 0; i < len; i++) {
        txs_buf_putc(b, s[i]);
        if (s[i] == q)
            txs_buf_putc(b, q);
    }
    txs_buf_putc(b, q);
}
