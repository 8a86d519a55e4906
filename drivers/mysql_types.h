/* mysql_types.h - MySQL results: column type names, the binary protocol's values read as
 * the text protocol writes them, and a result encoded as reply members. For drivers/mysql.c. */
#ifndef TXS_DRIVERS_MYSQL_TYPES_H
#define TXS_DRIVERS_MYSQL_TYPES_H

#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/buf.h"

/* How a column's values are written in a reply. */
typedef enum txs_my_vkind {
    TXS_MY_V_INT,      /* integer digits, maybe zero-filled: a number */
    TXS_MY_V_FLOAT,    /* FLOAT / DOUBLE: a number, the shortest text of its value */
    TXS_MY_V_BIT,      /* BIT: its bytes, big-endian, as an unsigned number */
    TXS_MY_V_TEXT,     /* a string */
    TXS_MY_V_BINARY,   /* bytes: base64 */
    TXS_MY_V_GEOMETRY, /* a 4-byte SRID then WKB: base64 of the WKB */
    TXS_MY_V_JSON,     /* embedded JSON; a string when the text is no JSON */
    TXS_MY_V_NULL,     /* the NULL type: always null */
} txs_my_vkind_t;

typedef struct txs_my_col {
    size_t name_off; /* the name in the result's text */
    size_t name_len;
    char type[48];          /* the reply's type name: "int", "bigint unsigned", "inet6" */
    unsigned char kind;     /* txs_my_vkind_t */
    unsigned char fetch;    /* binary protocol: MYSQL_TYPE_FLOAT / _DOUBLE / _STRING */
    unsigned char decimals; /* FLOAT / DOUBLE: fixed decimals, or 31 (none) */
} txs_my_col_t;

/* One statement's result. Reused: clear() keeps the memory. */
typedef struct txs_my_result {
    bool has_set;       /* a result set: command "SELECT", count = its rows */
    char command[32];   /* else the statement's first keyword */
    uint64_t count;     /* rows returned, else rows affected */
    uint64_t insert_id; /* an AUTO_INCREMENT value the statement generated; 0: none */
    int ncols;
    int col_cap;
    txs_my_col_t *cols;
    MYSQL_RES *res; /* text protocol: its rows, kept until clear() */
    txs_buf_t text; /* column names; binary protocol: the values too */
    size_t *vals;   /* binary protocol: per value, offset and length in text (offset
                       SIZE_MAX: NULL), row after row */
    size_t val_cap;
    uint64_t nrows;    /* binary protocol: rows in vals */
    MYSQL_BIND *binds; /* binary protocol: fetch buffers, reused */
    int bind_cap;
} txs_my_result_t;

/* Forget the rows and columns (free the text protocol's result), keeping memory up to a
 * few kB for the next statement. */
void txs_my_result_clear(txs_my_result_t *r);
void txs_my_result_free(txs_my_result_t *r);

/* The type name and value kind of a column, as the table in mysql_types.c says. */
void txs_my_col_describe(txs_my_col_t *col, const MYSQL_FIELD *f);

/* A result set of the text protocol: r takes over res. */
void txs_my_result_take_text(txs_my_result_t *r, MYSQL_RES *res);

/* A result set of the binary protocol, stored by mysql_stmt_store_result (so that
 * fetching needs no I/O): every row is fetched into r, each value written as the text
 * protocol writes it. meta is mysql_stmt_result_metadata's, freed by the caller.
 * Returns 0, or 1 when a fetch failed (mysql_stmt_error tells why). */
int txs_my_result_take_stmt(txs_my_result_t *r, MYSQL_STMT *stmt, MYSQL_RES *meta);

/* Append "command":..,"rowCount":..[,"lastInsertId":..],"fields":[..],"rows":[..] to out.
 * scratch is reused memory. Returns TXS_OK, or TXS_ETOOBIG with out cut back to its
 * length at the call when out->len would pass max_len. */
int txs_my_result_encode(txs_my_result_t *r, txs_buf_t *scratch, txs_buf_t *out, size_t max_len);

#endif
