/* tx_sql.h - the SQL text of the transaction control the session sends: BEGIN with its
 * options, and the savepoint statements, names quoted the backend's way. Pure code. */
#ifndef TXS_DAEMON_TX_SQL_H
#define TXS_DAEMON_TX_SQL_H

#include <stddef.h>

#include "protocol/buf.h"
#include "protocol/request.h"

/* How a backend quotes an identifier (the driver's quote_ident). */
typedef void (*txs_quote_fn)(txs_buf_t *out, const char *name, size_t len);

/* "BEGIN ISOLATION LEVEL ..., READ ONLY, DEFERRABLE" with the options given; returns
 * its length (at most 80 bytes). */
size_t txs_tx_sql_begin(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                        char *buf, size_t len);
/* Append "VERB name" with name quoted, then a NUL; returns where it starts in out. */
size_t txs_tx_sql_savepoint(txs_buf_t *out, txs_quote_fn quote, const char *verb, const char *name);
/* The same for the savepoint behind nested level `level` (1-based depth), named
 * txscope_level_N: requests may not use the txscope_ prefix, so none shadows it. */
size_t txs_tx_sql_level(txs_buf_t *out, txs_quote_fn quote, const char *verb, int level);

#endif
