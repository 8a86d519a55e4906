/* request.h - a decoded protocol-v1 request (pure: bytes in, struct out). */
#ifndef TXS_PROTOCOL_REQUEST_H
#define TXS_PROTOCOL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define TXS_CTX_MAX 128     /* ctx: 1..128 printable ASCII characters */
#define TXS_ID_MAX 64       /* a string id: at most 64 characters */
#define TXS_ID_JSON_MAX 400 /* room for a string id of 64 characters as escaped JSON */
#define TXS_DB_NAME_MAX 63  /* a [db.NAME] name */

typedef enum txs_op {
    TXS_OP_HELLO,
    TXS_OP_PING,
    TXS_OP_BEGIN,
    TXS_OP_QUERY,
    TXS_OP_BATCH,
    TXS_OP_COMMIT,
    TXS_OP_ROLLBACK,
    TXS_OP_SAVEPOINT,
    TXS_OP_RELEASE,
    TXS_OP_ROLLBACK_TO,
    TXS_OP_STATUS,
    TXS_OP_END,
    TXS_OP_OUTCOME,
} txs_op_t;

typedef enum txs_isolation {
    TXS_ISO_DEFAULT = 0, /* not given: the server's default */
    TXS_ISO_READ_UNCOMMITTED,
    TXS_ISO_READ_COMMITTED,
    TXS_ISO_REPEATABLE_READ,
    TXS_ISO_SERIALIZABLE,
} txs_isolation_t;

/* A boolean option that may be absent. */
typedef enum txs_tristate {
    TXS_UNSET = -1,
    TXS_FALSE = 0,
    TXS_TRUE = 1,
} txs_tristate_t;

/* What JSON a parameter was given as. Every driver binds its text; a backend that
 * does not convert text as PostgreSQL does (MySQL's LIMIT ?, TRUE as 1) needs the kind. */
typedef enum txs_param_kind {
    TXS_PARAM_TEXT = 0, /* a JSON string, or NULL (values[i] == NULL) */
    TXS_PARAM_NUMBER,   /* a JSON number, its text exactly as written */
    TXS_PARAM_BOOL,     /* true / false: the text "true" / "false" */
    TXS_PARAM_JSON,     /* an array or object: its compacted JSON text */
} txs_param_kind_t;

/* One SQL statement with its parameters, as every driver takes it.
 * values[i] == NULL is SQL NULL; every other value is NUL-terminated text
 * (lengths[i] bytes, not counting the NUL). kinds[i] is a txs_param_kind_t;
 * kinds NULL means all TXS_PARAM_TEXT. */
typedef struct txs_stmt {
    const char *sql;
    size_t sql_len;
    int nparams;
    const char *const *values;
    const int *lengths;
    const unsigned char *kinds;
} txs_stmt_t;

typedef struct txs_request {
    txs_op_t op;
    /* The id as JSON text to echo verbatim ("7", "\"a\""); id_len 0 when absent. */
    char id[TXS_ID_JSON_MAX];
    size_t id_len;
    bool has_ctx;
    char ctx[TXS_CTX_MAX + 1];
    bool has_db;
    char db[TXS_DB_NAME_MAX + 1];

    /* query */
    txs_stmt_t stmt;
    bool autocommit;

    /* begin (and batch's transaction options) */
    txs_isolation_t isolation;
    txs_tristate_t read_only;
    txs_tristate_t deferrable;
    bool nested;
    bool join;

    /* hello */
    const char *token;  /* NULL when absent */
    const char *client; /* NULL when absent */

    /* savepoint / release / rollback_to */
    const char *name; /* NULL when absent */

    /* batch: statements in order */
    txs_stmt_t *stmts;
    int nstmts;

    /* All strings above point into memory the request owns; never into the line. */
    void *storage;
} txs_request_t;

/* Why a line could not be decoded: always SQLSTATE 08P01 (malformed request). */
typedef struct txs_decode_error {
    char message[200];        /* names the field, e.g. "field \"params\" must be an array" */
    char id[TXS_ID_JSON_MAX]; /* the id if one could be read, as JSON text */
    size_t id_len;
} txs_decode_error_t;

/* Decode one line (without its newline) into *req. Returns TXS_OK, or
 * TXS_EPROTO with *err filled: not valid UTF-8, not JSON, not an object, a missing
 * or unknown op, a known field of the wrong type, a ctx that is not 1..128
 * printable ASCII, a missing ctx where the op needs one, a bad isolation value.
 * Unknown fields are ignored. On error *req holds nothing to free. */
int txs_request_decode(const char *line, size_t len, txs_request_t *req, txs_decode_error_t *err);

/* Release what a decoded request owns. Safe on a zeroed request. */
void txs_request_free(txs_request_t *req);

/* "query", "begin", ...: the op's wire name. */
const char *txs_op_name(txs_op_t op);

/* "READ COMMITTED", ...; NULL for TXS_ISO_DEFAULT. */
const char *txs_isolation_sql(txs_isolation_t iso);

#endif
