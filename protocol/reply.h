/* reply.h - encoding replies and JSON values straight into an output buffer. */
#ifndef TXS_PROTOCOL_REPLY_H
#define TXS_PROTOCOL_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/buf.h"

typedef enum txs_tx_state {
    TXS_TX_IDLE,     /* no transaction */
    TXS_TX_OPEN,     /* a transaction is open and usable */
    TXS_TX_FAILED,   /* a statement failed: roll back first */
    TXS_TX_INACTIVE, /* a joined level rolled back: roll back every level */
} txs_tx_state_t;

const char *txs_tx_state_name(txs_tx_state_t st);

/* An error to report. Strings may be NULL (omitted); position 0 and
 * vendor_code 0 mean absent. code is a five-character SQLSTATE. */
typedef struct txs_error_info {
    const char *code;
    const char *message;
    const char *detail;
    const char *hint;
    const char *constraint;
    int position;
    int vendor_code;
    bool has_index; /* a batch's failing statement: "index":N (0-based) */
    int index;
    bool from_db; /* "source":"db" when true, else "proxy" */
    bool stale;   /* not for the reply: the statement failed only because the driver's
                     cached form of it went stale (pg_cache.h); sent again it runs */
} txs_error_info_t;

/* JSON string: quotes, escapes for ", \ and control characters. Valid UTF-8 is
 * copied as it is; a byte that is not part of valid UTF-8 becomes U+FFFD, so that a
 * reply is valid UTF-8 whatever a backend sends. */
void txs_json_put_string(txs_buf_t *b, const char *s, size_t len);
/* The same JSON string written to dst, which has room for 6 * len + 2 bytes; returns
 * its length. */
size_t txs_json_escape(char *dst, const char *s, size_t len);
/* A quoted base64 string (RFC 4648, with padding) of raw bytes. */
void txs_json_put_base64(txs_buf_t *b, const unsigned char *p, size_t len);
/* Valid JSON text copied with the whitespace outside strings removed, so that it
 * can be embedded in a one-line reply (json values may hold newlines). */
void txs_json_put_compact(txs_buf_t *b, const char *json, size_t len);

/* Reply framing. A reply is:
 *   txs_reply_open(b, id, id_len, ok)    -> {"id":7,"ok":true
 *   ... ,"key":value pairs, each starting with a comma ...
 *   txs_reply_close(b, with_tx, st, depth) -> ,"tx":{"state":"open","depth":1}}\n
 * id_len 0 omits the id. */
void txs_reply_open(txs_buf_t *b, const char *id, size_t id_len, bool ok);
void txs_reply_close(txs_buf_t *b, bool with_tx, txs_tx_state_t st, int depth);
/* ,"error":{"code":..,"message":..,"detail":..,"source":..} */
void txs_reply_put_error(txs_buf_t *b, const txs_error_info_t *e);
/* A whole error reply from the proxy (source "proxy"), tx omitted when !with_tx. */
void txs_reply_proxy_error(txs_buf_t *b, const char *id, size_t id_len, const char *code,
                           const char *message, bool with_tx, txs_tx_state_t st, int depth);

#endif
