/* tx_sql.h - the SQL text of the savepoint statements the session sends, names quoted
 * the backend's way (BEGIN is the driver's begin_sql). Pure code. */
#ifndef TXS_DAEMON_TX_SQL_H
#define TXS_DAEMON_TX_SQL_H

#include <stddef.h>

#include "protocol/buf.h"
#include "protocol/request.h"

/* How a backend quotes an identifier (the driver's quote_ident). */
typedef void (*txs_quote_fn)(txs_buf_t *out, const char *name, size_t len);

/* Append "VERB name" with name quoted, then a NUL; returns where it starts in out. */
size_t txs_tx_sql_savepoint(txs_buf_t *out, txs_quote_fn quote, const char *verb, const char *name);
/* The same for the savepoint behind nested level `level` (1-based depth), named
 * txscope_level_N: requests may not use the txscope_ prefix, so none shadows it. */
size_t txs_tx_sql_level(txs_buf_t *out, txs_quote_fn quote, const char *verb, int level);

/* The same for the named savepoint at index i (0-based) of the transaction's list,
 * named txscope_sp_I on the server. */
size_t txs_tx_sql_named(txs_buf_t *out, txs_quote_fn quote, const char *verb, int i);

#endif
