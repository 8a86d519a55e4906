/* buf.h - a growable byte buffer: read buffers, output buffers, reply encoding. */
#ifndef TXS_PROTOCOL_BUF_H
#define TXS_PROTOCOL_BUF_H

#include <stdarg.h>
#include <stddef.h>

/* Allocation failure aborts the process (as redis does): every size the daemon
 * buffers is bounded by a configured limit, so running out is not a peer's doing. */
typedef struct txs_buf {
    char *data;
    size_t len;
    size_t cap;
} txs_buf_t;

#define TXS_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void txs_buf_init(txs_buf_t *b);
void txs_buf_free(txs_buf_t *b);
/* Make room for `extra` more bytes; returns data + len. */
char *txs_buf_reserve(txs_buf_t *b, size_t extra);
void txs_buf_append(txs_buf_t *b, const void *p, size_t n);
void txs_buf_putc(txs_buf_t *b, char c);
void txs_buf_puts(txs_buf_t *b, const char *s);
/* Append v in decimal: what every reply's numbers need, without printf's cost. */
void txs_buf_put_int(txs_buf_t *b, long long v);
/* Write v in decimal at out (room for 20 bytes; no NUL); returns the length. */
size_t txs_format_u64(char *out, unsigned long long v);
void txs_buf_printf(txs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void txs_buf_vprintf(txs_buf_t *b, const char *fmt, va_list ap);
/* Cut back to `len` bytes (len <= b->len). */
void txs_buf_truncate(txs_buf_t *b, size_t len);
/* Drop the first n bytes. */
void txs_buf_consume(txs_buf_t *b, size_t n);
/* Release memory beyond `keep` bytes of capacity when empty (to bound idle memory). */
void txs_buf_shrink(txs_buf_t *b, size_t keep);

void *txs_xmalloc(size_t n);
void *txs_xcalloc(size_t n, size_t size);
void *txs_xrealloc(void *p, size_t n);
char *txs_xstrdup(const char *s);
char *txs_xstrndup(const char *s, size_t n);

/* Text helpers. */
/* The value of a hex digit (0-9, a-f, A-F), or -1. */
int txs_hex_digit(char c);
/* Append s[0..len) between two q, every q inside doubled: an SQL identifier quoted so
 * that any text is taken literally (PostgreSQL's "na""me", MySQL's `na``me`). */
void txs_buf_put_quoted(txs_buf_t *b, const char *s, size_t len, char q);

#endif
