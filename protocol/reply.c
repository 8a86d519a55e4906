/* reply.c - encoding replies and JSON values straight into an output buffer. */
#include "protocol/reply.h"

#include <string.h>

#include "protocol/json_scan.h"
#include "protocol/utf8.h"

const char *txs_tx_state_name(txs_tx_state_t st)
{
    switch (st) {
    case TXS_TX_IDLE:
        return "idle";
    case TXS_TX_OPEN:
        return "open";
    case TXS_TX_FAILED:
        return "failed";
    case TXS_TX_INACTIVE:
        return "inactive";
    }
    return "unknown";
}

/* Append a string literal without counting its bytes by hand. */
#define PUT_LIT(b, lit) txs_buf_append((b), (lit), sizeof(lit) - 1)

static const char hex_digits[] = "0123456789abcdef";

/* The inside of a JSON string (no quotes); dst has room for 6 * len bytes. A byte that
 * does not start a valid UTF-8 sequence becomes U+FFFD (3 bytes), so a reply stays valid
 * UTF-8 whatever a backend sends. */
static size_t escape_body(char *dst, const char *s, size_t len)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            dst[n++] = (char)c;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = txs_utf8_seq_len(s + i, len - i);
            if (k == 0) {
                memcpy(dst + n, "\xEF\xBF\xBD", 3);
                n += 3;
                i++;
            } else {
                memcpy(dst + n, s + i, k);
                n += k;
                i += k;
            }
            continue;
        }
        dst[n++] = '\\';
        switch (c) {
        case '"':
        case '\\':
            dst[n++] = (char)c;
            break;
        case '\n':
            dst[n++] = 'n';
            break;
        case '\r':
            dst[n++] = 'r';
            break;
        case '\t':
            dst[n++] = 't';
            break;
        case '\b':
            dst[n++] = 'b';
            break;
        case '\f':
            dst[n++] = 'f';
            break;
        default:
            dst[n++] = 'u';
            dst[n++] = '0';
            dst[n++] = '0';
            dst[n++] = hex_digits[c >> 4];
            dst[n++] = hex_digits[c & 0xF];
            break;
        }
        i++;
    }
    return n;
}

size_t txs_json_escape(char *dst, const char *s, size_t len)
{
    dst[0] = '"';
    size_t n = 1 + escape_body(dst + 1, s, len);
    dst[n++] = '"';
    return n;
}

/* Escaped in slices so that a large value reserves at most 6 times a slice, not 6
 * times its whole length. */
#define SLICE 4096

void txs_json_put_string(txs_buf_t *b, const char *s, size_t len)
{
    txs_buf_putc(b, '"');
    size_t i = 0;
    while (i < len) {
        size_t n = len - i;
        if (n > SLICE) {
            n = SLICE;
            /* Do not cut a UTF-8 sequence: back up to its lead byte (at most 3). */
            for (int k = 0; k < 3 && ((unsigned char)s[i + n] & 0xC0) == 0x80; k++)
                n--;
        }
        char *dst = txs_buf_reserve(b, 6 * n);
        b->len += escape_body(dst, s + i, n);
        i += n;
    }
    txs_buf_putc(b, '"');
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void txs_json_put_base64(txs_buf_t *b, const unsigned char *p, size_t len)
{
    char *dst = txs_buf_reserve(b, (len + 2) / 3 * 4 + 2);
    char *o = dst;
    *o++ = '"';
    size_t i = 0;
    for (; len - i >= 3; i += 3) {
        unsigned long v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 | p[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 0x3F];
        *o++ = b64[(v >> 6) & 0x3F];
        *o++ = b64[v & 0x3F];
    }
    if (len - i == 1) {
        unsigned long v = (unsigned long)p[i] << 16;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 0x3F];
        *o++ = '=';
        *o++ = '=';
    } else if (len - i == 2) {
        unsigned long v = (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8;
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 0x3F];
        *o++ = b64[(v >> 6) & 0x3F];
        *o++ = '=';
    }
    *o++ = '"';
    b->len += (size_t)(o - dst);
}

void txs_json_put_compact(txs_buf_t *b, const char *json, size_t len)
{
    char *dst = txs_buf_reserve(b, len);
    b->len += txs_json_compact(json, len, dst);
}

void txs_reply_open(txs_buf_t *b, const char *id, size_t id_len, bool ok)
{
    if (id_len) {
        PUT_LIT(b, "{\"id\":");
        txs_buf_append(b, id, id_len);
        txs_buf_putc(b, ',');
    } else {
        txs_buf_putc(b, '{');
    }
    if (ok)
        PUT_LIT(b, "\"ok\":true");
    else
        PUT_LIT(b, "\"ok\":false");
}

void txs_reply_close(txs_buf_t *b, bool with_tx, txs_tx_state_t st, int depth)
{
    if (with_tx) {
        PUT_LIT(b, ",\"tx\":{\"state\":\"");
        txs_buf_puts(b, txs_tx_state_name(st));
        PUT_LIT(b, "\",\"depth\":");
        txs_buf_put_int(b, depth);
        txs_buf_putc(b, '}');
    }
    PUT_LIT(b, "}\n");
}

/* ,"key":"value" when value is not NULL. */
static void put_field(txs_buf_t *b, const char *key, const char *value)
{
    if (!value)
        return;
    txs_buf_puts(b, ",\"");
    txs_buf_puts(b, key);
    txs_buf_puts(b, "\":");
    txs_json_put_string(b, value, strlen(value));
}

void txs_reply_put_error(txs_buf_t *b, const txs_error_info_t *e)
{
    /* A five-character SQLSTATE is always there: XX000 (internal_error) if none. */
    PUT_LIT(b, ",\"error\":{\"code\":");
    const char *code = e->code ? e->code : "XX000";
    txs_json_put_string(b, code, strlen(code));
    PUT_LIT(b, ",\"message\":");
    const char *msg = e->message ? e->message : "";
    txs_json_put_string(b, msg, strlen(msg));
    put_field(b, "detail", e->detail);
    put_field(b, "hint", e->hint);
    if (e->position)
        txs_buf_printf(b, ",\"position\":%d", e->position);
    put_field(b, "constraint", e->constraint);
    if (e->vendor_code)
        txs_buf_printf(b, ",\"vendorCode\":%d", e->vendor_code);
    if (e->has_index)
        txs_buf_printf(b, ",\"index\":%d", e->index);
    if (e->from_db)
        PUT_LIT(b, ",\"source\":\"db\"}");
    else
        PUT_LIT(b, ",\"source\":\"proxy\"}");
}

void txs_reply_proxy_error(txs_buf_t *b, const char *id, size_t id_len, const char *code,
                           const char *message, bool with_tx, txs_tx_state_t st, int depth)
{
    txs_error_info_t e = {.code = code, .message = message, .from_db = false};
    txs_reply_open(b, id, id_len, false);
    txs_reply_put_error(b, &e);
    txs_reply_close(b, with_tx, st, depth);
}
