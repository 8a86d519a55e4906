/* json_scan.h - a strict JSON parser into a flat token array that keeps every value's
 * exact text, numbers included (pure). */
#ifndef TXS_PROTOCOL_JSON_SCAN_H
#define TXS_PROTOCOL_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum txs_json_kind {
    TXS_JSON_NULL,
    TXS_JSON_FALSE,
    TXS_JSON_TRUE,
    TXS_JSON_NUMBER,
    TXS_JSON_STRING,
    TXS_JSON_ARRAY,
    TXS_JSON_OBJECT,
} txs_json_kind_t;

/* One value or object key, in document order: a container is followed by its
 * contents (an object's as key, value, key, value, ...), so the first child of token i
 * is i + 1 and the next sibling of token i is i + 1 + size. */
typedef struct txs_json_tok {
    uint32_t start;  /* offset of its first byte: quote, bracket, sign or digit, letter */
    uint32_t len;    /* length of its text, quotes and brackets included */
    uint32_t size;   /* containers: tokens inside, keys included; 0 otherwise */
    uint32_t count;  /* containers: elements, or members; 0 otherwise */
    uint8_t kind;    /* txs_json_kind_t */
    uint8_t escaped; /* strings: holds a backslash escape */
    uint8_t has_nul; /* strings: an escape decodes to U+0000 */
} txs_json_tok_t;

#define TXS_JSON_INLINE_TOKS 48

/* Tokens live in the struct while few, on the heap past that: do not copy a doc. */
typedef struct txs_json_doc {
    txs_json_tok_t *toks;
    size_t ntoks;
    size_t cap;
    txs_json_tok_t inline_toks[TXS_JSON_INLINE_TOKS];
} txs_json_doc_t;

/* Parse one JSON text (RFC 8259; whitespace around it allowed) that is already known to
 * be valid UTF-8. Stricter than cJSON: no leading zeros, no control characters, no
 * trailing bytes, no lone surrogate escapes. Returns TXS_OK or TXS_EPROTO; call
 * txs_json_doc_free afterwards in both cases. */
int txs_json_parse(const char *s, size_t len, txs_json_doc_t *doc);
void txs_json_doc_free(txs_json_doc_t *doc);

/* The next sibling of token i. */
static inline size_t txs_json_next(const txs_json_doc_t *doc, size_t i)
{
    return i + 1 + doc->toks[i].size;
}

/* Decode the string token t of text s into out, which has room for t->len bytes;
 * returns the decoded length (no NUL is added). */
size_t txs_json_unescape(const char *s, const txs_json_tok_t *t, char *out);

/* Copy valid JSON text into out (room for len bytes) without the whitespace outside
 * strings; returns the length written. */
size_t txs_json_compact(const char *json, size_t len, char *out);

#endif
