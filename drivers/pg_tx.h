/* pg_tx.h - PostgreSQL's transaction-control text: BEGIN, quoted identifiers. Pure code. */
#ifndef TXS_DRIVERS_PG_TX_H
#define TXS_DRIVERS_PG_TX_H

#include <stddef.h>

#include "drivers/driver.h"

/* "BEGIN ISOLATION LEVEL ..., READ ONLY, DEFERRABLE" with the options given; returns
 * its length (at most 80 bytes). Pure code. */
size_t txs_pg_begin_text(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                         char *buf, size_t len);

/* The driver op begin_sql of txs_driver_pg (see driver.h). */
int txs_pg_begin_sql(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                     char *buf, size_t len, txs_stmt_t stmts[TXS_DRV_BEGIN_MAX]);

/* The driver op quote_ident: "name" with every " doubled, taken literally. */
void txs_pg_quote_ident(txs_buf_t *out, const char *name, size_t len);

#endif
