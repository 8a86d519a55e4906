/* pg_types.h - PostgreSQL type names by OID and result encoding, for drivers/pg.c only. */
#ifndef TXS_DRIVERS_PG_TYPES_H
#define TXS_DRIVERS_PG_TYPES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "protocol/buf.h"

/* The types a connection loaded right after connecting (user enums, composite types
 * made with CREATE TYPE, ranges, extension types): rows (oid, typname) of `res`,
 * ordered by oid; oids[i] is row i's oid, for bsearch. */
typedef struct txs_pg_typemap {
    PGresult *res;
    Oid *oids;
    int n;
} txs_pg_typemap_t;

/* The query that lists those types. Domains are left out (the server reports a
 * domain column as its base type), and so are the row types of tables and views and
 * their arrays (rarely a column type, and one per table). */
extern const char txs_pg_typemap_sql[];

/* Take over `res` (a TUPLES_OK result of txs_pg_typemap_sql). Returns false, leaving
 * res to the caller, when it is not shaped as expected. */
bool txs_pg_typemap_build(txs_pg_typemap_t *m, PGresult *res);
void txs_pg_typemap_free(txs_pg_typemap_t *m);

/* The type name of `oid`: the builtin table, then `user` (may be NULL), else the
 * number written into numbuf. */
const char *txs_pg_type_name(Oid oid, const txs_pg_typemap_t *user, char numbuf[16]);

/* Append "command":..,"rowCount":..,"fields":[..],"rows":[..] for `res` to out.
 * check_utf8: text from the server may not be valid UTF-8 (a SQL_ASCII database, or a
 * session that changed client_encoding); invalid bytes then become U+FFFD. scratch
 * is reused memory for decoding bytea. Returns TXS_OK, or TXS_ETOOBIG with out cut
 * back to its length at the call when out->len would pass max_len. */
int txs_pg_encode_result(const PGresult *res, const txs_pg_typemap_t *user, bool check_utf8,
                         txs_buf_t *scratch, txs_buf_t *out, size_t max_len);

/* The length of PQcmdStatus's command without its trailing counts ("INSERT 0 1" ->
 * 6, "CREATE TABLE" -> 12). */
size_t txs_pg_command_len(const char *status);

#endif
