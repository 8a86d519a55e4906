/* mysql_text.h - the MySQL driver's pure text work: statement keywords, statements that
 * change the session, BEGIN text, identifiers, numbers. No MariaDB headers. */
#ifndef TXS_DRIVERS_MYSQL_TEXT_H
#define TXS_DRIVERS_MYSQL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "drivers/driver.h"
#include "protocol/buf.h"

/* The offset of the statement's first token past whitespace and comments ("-- ", "#",
 * C-style; the body of an executable comment, which starts "/" "*!" or "/" "*M!", is read
 * as code), or len when there is none: an empty statement. */
size_t txs_mysql_sql_start(const char *sql, size_t len);

/* The statement's first keyword, upper-cased, into out (at most outlen - 1 letters, NUL-
 * terminated; "" when it starts with no word). Returns its length. */
size_t txs_mysql_sql_keyword(const char *sql, size_t len, char *out, size_t outlen);

/* Whether the statement may leave session state behind that the server does not flag
 * with SERVER_SESSION_STATE_CHANGED: a CALL (a routine may do anything), LOCK TABLES,
 * FLUSH (... WITH READ LOCK), HANDLER, LOAD DATA (may set user variables), dynamic SQL
 * (PREPARE, EXECUTE [IMMEDIATE], DEALLOCATE: its text is not ours to read), and any text
 * that mentions GET_LOCK, assigns a user variable with := or selects INTO @var. */
bool txs_mysql_sql_changes_session(const char *sql, size_t len);

/* The statement is SET TRANSACTION (the daemon's own, before START TRANSACTION): it
 * holds characteristics for the next transaction that only a rollback clears. */
bool txs_mysql_sql_sets_next_tx(const char *sql, size_t len);

/* The driver op begin_sql (driver.h): START TRANSACTION [READ ONLY | READ WRITE],
 * after SET TRANSACTION ISOLATION LEVEL ... when a level is given. */
int txs_mysql_begin_sql(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                        char *buf, size_t len, txs_stmt_t stmts[TXS_DRV_BEGIN_MAX]);

/* The driver op quote_ident: `name` with each backtick doubled. */
void txs_mysql_quote_ident(txs_buf_t *out, const char *name, size_t len);

/* What a JSON number parameter is bound as. */
typedef enum txs_mysql_num {
    TXS_MYSQL_NUM_INT,     /* an integer that fits int64: *i */
    TXS_MYSQL_NUM_UINT,    /* an integer past INT64_MAX that fits uint64: *u */
    TXS_MYSQL_NUM_DECIMAL, /* anything else: its text, as an exact DECIMAL */
} txs_mysql_num_t;

txs_mysql_num_t txs_mysql_number_kind(const char *s, size_t len, int64_t *i, uint64_t *u);

/* A double as the shortest text that reads back as the same double, in JSON number
 * syntax: fixed notation for 1e-7 <= |v| < 1e21, else d.ddde+N (as JavaScript prints
 * numbers); 0 for zeros. out has room for 32 bytes; returns the length. v is finite. */
size_t txs_mysql_format_double(double v, char *out);

/* An integer's text (as the server or the client library wrote it, maybe zero-filled)
 * as a JSON number: sign, then the digits without leading zeros. Returns the length
 * written to out (room for len + 1 bytes), 0 when s is not an integer. */
size_t txs_mysql_integer_text(const char *s, size_t len, char *out);

#endif
