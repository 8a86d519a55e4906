/* txscope.h - libtxscope: a small blocking client for the txscope daemon (protocol v1). */
#ifndef TXSCOPE_H
#define TXSCOPE_H

/*
 * One txscope_conn_t is one client connection to the daemon. Requests and replies are
 * cJSON trees; the library frames them as newline-delimited JSON (protocol-v1.md).
 *
 * Every call blocks, at most for its timeout_ms: a negative timeout waits forever, 0
 * only takes what is already there. Nothing is thread-safe: use one connection per
 * thread. SIGPIPE is never raised (writes use MSG_NOSIGNAL).
 *
 * Replies are owned by the caller (cJSON_Delete). cJSON keeps numbers as doubles, which
 * loses digits of 64-bit integers; so every number item in a reply also carries its
 * exact text, as the daemon wrote it, in item->valuestring (see txscope_get_int64).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define TXSCOPE_VERSION "0.1.0"
#define TXSCOPE_DEFAULT_ADDRESS "127.0.0.1:7432"

/* Error codes: functions returning int give 0 or one of these; txscope_last_error()
 * tells which one made the last call on a connection fail. */
enum {
    TXSCOPE_OK = 0,
    TXSCOPE_EINVAL = -1,    /* a bad argument (e.g. params_json is not an array) */
    TXSCOPE_ECONNECT = -2,  /* could not connect */
    TXSCOPE_EIO = -3,       /* a read or write failed */
    TXSCOPE_EEOF = -4,      /* the daemon closed the connection */
    TXSCOPE_ETIMEDOUT = -5, /* the timeout passed before a reply came */
    TXSCOPE_EPROTO = -6,    /* the daemon sent a line that is not a JSON object */
    TXSCOPE_ENOMEM = -7,    /* out of memory */
    TXSCOPE_EREPLY = -8,    /* the daemon replied ok:false (txscope_hello, txscope_ping) */
};

typedef struct txscope_conn txscope_conn_t;

/* Connects to the daemon at `address`: "host:port", "[v6addr]:port", "host" (port 7432),
 * or a path starting with '/' for a unix socket; NULL means TXSCOPE_DEFAULT_ADDRESS.
 * Gives up after timeout_ms (for all resolved addresses together). TCP connections get
 * TCP_NODELAY. On failure returns NULL and writes why into err (if err is not NULL). */
txscope_conn_t *txscope_connect(const char *address, int timeout_ms, char *err, size_t errlen);

/* A TCP connection to address ("host:port", "[v6addr]:port", or "host" with default_port),
 * as txscope_connect makes it: every resolved address tried within timeout_ms, TCP_NODELAY,
 * the socket left non-blocking. Returns the fd, or -1 with why in err. */
int txscope_connect_tcp(const char *address, const char *default_port, int timeout_ms, char *err,
                        size_t errlen);

/* Splits "host:port", "[v6addr]:port" or "host" (then default_port) into host and port;
 * false when it cannot be parsed (or does not fit). */
bool txscope_split_address(const char *address, const char *default_port, char *host,
                           size_t hostlen, char *port, size_t portlen);

/* Closes the socket and frees the connection, with any stashed replies. NULL is a no-op. */
void txscope_close(txscope_conn_t *c);

/* The socket's file descriptor (non-blocking), e.g. to poll it or shut it down. */
int txscope_fd(txscope_conn_t *c);

/* A message describing the last failure on this connection ("" if none). For a reply
 * with ok:false from txscope_hello/txscope_ping it is "CODE message". */
const char *txscope_errmsg(txscope_conn_t *c);

/* The TXSCOPE_E* code of the last failure on this connection (TXSCOPE_OK if none). */
int txscope_last_error(txscope_conn_t *c);

/* True once the daemon has closed the connection (end of file, or reset). Replies that
 * arrived before the close can still be read. */
bool txscope_eof(txscope_conn_t *c);

/* Sends one request as one compact line. If req has no "id", adds the connection's next
 * integer id to req (ids count up from 1 and skip past any integer id the caller chose).
 * Stores the request's integer id in *id_out (if not NULL; -1 when the id is not an
 * integer). Handles partial writes; while the daemon is not reading, replies it sends
 * are buffered so that deep pipelines cannot deadlock. Does not take ownership of req.
 * Returns 0 or a TXSCOPE_E* code. */
int txscope_send(txscope_conn_t *c, cJSON *req, int64_t *id_out);

/* Writes len raw bytes as they are (no newline added): for tests that send malformed
 * or split input. Returns 0 or a TXSCOPE_E* code. */
int txscope_send_raw(txscope_conn_t *c, const void *bytes, size_t len);

/* Returns the next reply: the oldest one stashed by txscope_wait, else the next line from
 * the socket (a "\r\n" ending is accepted), parsed. Returns NULL on timeout, EOF, a read
 * error or a line that is not a JSON object (that line is consumed; the connection stays
 * usable); txscope_last_error and txscope_errmsg tell which. */
cJSON *txscope_recv(txscope_conn_t *c, int timeout_ms);

/* The next reply line, unparsed, for event-loop users that parse only what they need:
 * the oldest reply stashed by txscope_wait (its saved line), else the next complete line
 * from the socket. *line is NUL-terminated without its line ending ("\r\n" accepted), *len
 * its length; both stay valid until the next call on c. txscope_last_line is not changed.
 * With timeout_ms == 0 it never polls: it takes a line already buffered (no syscall), or
 * tries one non-blocking read(), so that a readable callback can call it in a loop until
 * TXSCOPE_ETIMEDOUT. Returns 0, TXSCOPE_ETIMEDOUT when no complete line came in time, or
 * another TXSCOPE_E* code (TXSCOPE_EEOF once the daemon closed and every line is read). */
int txscope_recv_line(txscope_conn_t *c, int timeout_ms, const char **line, size_t *len);

/* Reads until the reply whose "id" is the integer `id` arrives and returns it. Replies
 * for other ids (or none) met on the way are stashed, in order, for later
 * txscope_recv/txscope_wait calls. NULL as for txscope_recv. */
cJSON *txscope_wait(txscope_conn_t *c, int64_t id, int timeout_ms);

/* The exact text of the line that the last successful txscope_recv/txscope_wait/
 * txscope_call (or a convenience call) returned, without its line ending; "" if none.
 * Valid until the next call on the connection. */
const char *txscope_last_line(txscope_conn_t *c);

/* txscope_send then txscope_wait for that request's id (an integer or a string id).
 * Does not take ownership of req. */
cJSON *txscope_call(txscope_conn_t *c, cJSON *req, int timeout_ms);

/* Runs {"op":"query","ctx":ctx,"sql":sql,"params":...}. params_json is NULL or the text
 * of a JSON array, e.g. "[1,\"x\",null]". Returns the reply (NULL as for txscope_recv,
 * or TXSCOPE_EINVAL when params_json is not a JSON array). */
cJSON *txscope_query(txscope_conn_t *c, const char *ctx, const char *sql, const char *params_json,
                     int timeout_ms);

/* Runs {"op":op,"ctx":ctx} with no other field: begin, commit, rollback, status, end,
 * outcome. Returns the reply. */
cJSON *txscope_op(txscope_conn_t *c, const char *ctx, const char *op, int timeout_ms);

/* Sends hello with `token` (NULL: no token field) and client "libtxscope/0.1.0". Returns
 * 0 when the daemon replied ok, TXSCOPE_EREPLY (errmsg "CODE message") when it refused,
 * or another TXSCOPE_E* code. */
int txscope_hello(txscope_conn_t *c, const char *token, int timeout_ms);

/* Sends ping; returns 0 when the daemon replied ok, else as txscope_hello. */
int txscope_ping(txscope_conn_t *c, int timeout_ms);

/* True when r is a reply with "ok": true. */
bool txscope_reply_ok(const cJSON *r);

/* The reply's error.code (a SQLSTATE such as "23505"), or NULL when there is none. */
const char *txscope_reply_code(const cJSON *r);

/* The reply's error.message, or NULL when there is none. */
const char *txscope_reply_message(const cJSON *r);

/* The reply's tx.state ("idle", "open", "failed", "inactive"), or NULL when absent. */
const char *txscope_reply_tx_state(const cJSON *r);

/* The reply's tx.depth, or -1 when absent. */
int txscope_reply_tx_depth(const cJSON *r);

/* Reads an integral number item exactly (from its text, so all 64 bits survive) into
 * *out. Returns false when item is not a number or not an integer in int64 range. */
bool txscope_get_int64(const cJSON *item, int64_t *out);

#endif
