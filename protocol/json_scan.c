/* json_scan.c - strict JSON parsing into a flat token array with exact value text. */
#include "protocol/json_scan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/errors.h"

/* While a container is open its `size` field links to the enclosing open container. */
#define NO_PARENT UINT32_MAX

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t skip_ws(const char *s, size_t len, size_t p)
{
    while (p < len && is_ws(s[p]))
        p++;
    return p;
}

/* The four hex digits at s[p..p+4) as a number, or -1. */
static long hex4(const char *s, size_t len, size_t p)
{
    if (len - p < 4)
        return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = txs_hex_digit(s[p + (size_t)i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static uint32_t push(txs_json_doc_t *d, txs_json_kind_t kind, size_t start)
{
    if (d->ntoks == d->cap) {
        size_t cap = d->cap * 2;
        if (d->toks == d->inline_toks) {
            d->toks = txs_xmalloc(cap * sizeof *d->toks);
            memcpy(d->toks, d->inline_toks, d->ntoks * sizeof *d->toks);
        } else {
            d->toks = txs_xrealloc(d->toks, cap * sizeof *d->toks);
        }
        d->cap = cap;
    }
    txs_json_tok_t *t = &d->toks[d->ntoks];
    memset(t, 0, sizeof *t);
    t->kind = (uint8_t)kind;
    t->start = (uint32_t)start;
    return (uint32_t)d->ntoks++;
}

/* A string starting at the quote s[p]; returns the offset past its closing quote, or
 * 0 when it is malformed. */
static size_t scan_string(const char *s, size_t len, size_t p, txs_json_tok_t *t)
{
    p++;
    while (p < len) {
        unsigned char c = (unsigned char)s[p];
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return 0; /* control characters must be escaped */
        if (c != '\\') {
            p++;
            continue;
        }
        t->escaped = 1;
        if (p + 1 >= len)
            return 0;
        char e = s[p + 1];
        if (e != '\0' && strchr("\"\\/bfnrt", e)) {
            p += 2;
            continue;
        }
        if (e != 'u')
            return 0;
        long u = hex4(s, len, p + 2);
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
            return 0;
        p += 6;
        if (u >= 0xD800 && u <= 0xDBFF) {
            /* A high surrogate must be followed by an escaped low one. */
            if (len - p < 6 || s[p] != '\\' || s[p + 1] != 'u')
                return 0;
            long lo = hex4(s, len, p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF)
                return 0;
            p += 6;
        }
        if (u == 0)
            t->has_nul = 1;
    }
    return 0;
}

/* A number per RFC 8259 at s[p]; returns the offset past it, or 0 when malformed. */
static size_t scan_number(const char *s, size_t len, size_t p)
{
    if (p < len && s[p] == '-')
        p++;
    if (p < len && s[p] == '0') {
        p++;
    } else if (p < len && s[p] >= '1' && s[p] <= '9') {
        while (p < len && is_digit(s[p]))
            p++;
    } else {
        return 0;
    }
    if (p < len && s[p] == '.') {
        p++;
        if (p >= len || !is_digit(s[p]))
            return 0;
        while (p < len && is_digit(s[p]))
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= len || !is_digit(s[p]))
            return 0;
        while (p < len && is_digit(s[p]))
            p++;
    }
    return p;
}

static size_t scan_literal(const char *s, size_t len, size_t p, const char *word)
{
    size_t n = strlen(word);
    if (len - p < n || memcmp(s + p, word, n) != 0)
        return 0;
    return p + n;
}

/* Close the innermost open container with the bracket at s[p]. */
static uint32_t close_container(txs_json_doc_t *d, uint32_t open, size_t p)
{
    txs_json_tok_t *c = &d->toks[open];
    uint32_t parent = c->size;
    c->len = (uint32_t)(p + 1 - c->start);
    c->size = (uint32_t)(d->ntoks - open - 1);
    return parent;
}

/* One pass, no recursion: nesting depth costs nothing but tokens. */
int txs_json_parse(const char *s, size_t len, txs_json_doc_t *d)
{
    d->toks = d->inline_toks;
    d->ntoks = 0;
    d->cap = TXS_JSON_INLINE_TOKS;
    if (len >= UINT32_MAX)
        return TXS_EPROTO;

    enum { WANT_VALUE, WANT_KEY, WANT_NEXT } want = WANT_VALUE;
    uint32_t open = NO_PARENT; /* the innermost open container */
    bool just_opened = false;  /* may close at once: [] or {} */
    size_t p = 0;
    for (;;) {
        p = skip_ws(s, len, p);
        if (want == WANT_NEXT) {
            if (open == NO_PARENT)
                return p == len ? TXS_OK : TXS_EPROTO;
            if (p == len)
                return TXS_EPROTO;
            bool obj = d->toks[open].kind == TXS_JSON_OBJECT;
            if (s[p] == ',') {
                want = obj ? WANT_KEY : WANT_VALUE;
                p++;
            } else if (s[p] == (obj ? '}' : ']')) {
                open = close_container(d, open, p);
                p++;
            } else {
                return TXS_EPROTO;
            }
            continue;
        }
        if (p == len)
            return TXS_EPROTO;
        if (just_opened) {
            just_opened = false;
            if (s[p] == (d->toks[open].kind == TXS_JSON_OBJECT ? '}' : ']')) {
                open = close_container(d, open, p);
                p++;
                want = WANT_NEXT;
                continue;
            }
        }
        if (want == WANT_KEY) {
            if (s[p] != '"')
                return TXS_EPROTO;
            uint32_t k = push(d, TXS_JSON_STRING, p);
            size_t end = scan_string(s, len, p, &d->toks[k]);
            if (!end)
                return TXS_EPROTO;
            d->toks[k].len = (uint32_t)(end - p);
            p = skip_ws(s, len, end);
            if (p == len || s[p] != ':')
                return TXS_EPROTO;
            p++;
            want = WANT_VALUE;
            continue;
        }

        /* A value: count it in its container, then read it. */
        if (open != NO_PARENT)
            d->toks[open].count++;
        size_t end;
        char c = s[p];
        if (c == '{' || c == '[') {
            uint32_t t = push(d, c == '{' ? TXS_JSON_OBJECT : TXS_JSON_ARRAY, p);
            d->toks[t].size = open;
            open = t;
            just_opened = true;
            want = c == '{' ? WANT_KEY : WANT_VALUE;
            p++;
            continue;
        }
        uint32_t t;
        if (c == '"') {
            t = push(d, TXS_JSON_STRING, p);
            end = scan_string(s, len, p, &d->toks[t]);
        } else if (c == '-' || is_digit(c)) {
            t = push(d, TXS_JSON_NUMBER, p);
            end = scan_number(s, len, p);
        } else if (c == 't') {
            t = push(d, TXS_JSON_TRUE, p);
            end = scan_literal(s, len, p, "true");
        } else if (c == 'f') {
            t = push(d, TXS_JSON_FALSE, p);
            end = scan_literal(s, len, p, "false");
        } else if (c == 'n') {
            t = push(d, TXS_JSON_NULL, p);
            end = scan_literal(s, len, p, "null");
        } else {
            return TXS_EPROTO;
        }
        if (!end)
            return TXS_EPROTO;
        d->toks[t].len = (uint32_t)(end - p);
        p = end;
        want = WANT_NEXT;
    }
}

void txs_json_doc_free(txs_json_doc_t *d)
{
    if (d->toks != d->inline_toks)
        free(d->toks);
    d->toks = d->inline_toks;
    d->ntoks = 0;
    d->cap = TXS_JSON_INLINE_TOKS;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The token was validated by the parser, so escapes here are well formed. */
size_t txs_json_unescape(const char *s, const txs_json_tok_t *t, char *out)
{
    const char *p = s + t->start + 1;
    const char *end = s + t->start + t->len - 1;
    if (!t->escaped) {
        memcpy(out, p, (size_t)(end - p));
        return (size_t)(end - p);
    }
    size_t n = 0;
    while (p < end) {
        const char *bs = memchr(p, '\\', (size_t)(end - p));
        if (!bs)
            bs = end;
        memcpy(out + n, p, (size_t)(bs - p));
        n += (size_t)(bs - p);
        p = bs;
        if (p == end)
            break;
        char e = p[1];
        p += 2;
        switch (e) {
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            unsigned long cp = (unsigned long)hex4(p, 4, 0);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned long lo = (unsigned long)hex4(p, 6, 2);
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += put_utf8(out + n, cp);
            break;
        }
        default: /* " \ / */
            out[n++] = e;
            break;
        }
    }
    return n;
}

size_t txs_json_compact(const char *json, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (is_ws(c))
            continue;
        out[n++] = c;
        if (c != '"')
            continue;
        /* Copy the string through its closing quote, escapes and all. */
        for (i++; i < len; i++) {
            c = json[i];
            out[n++] = c;
            if (c == '\\' && i + 1 < len) {
                out[n++] = json[++i];
            } else if (c == '"') {
                break;
            }
        }
    }
    return n;
}
