/* pg_tx.h - PostgreSQL's BEGIN text. Pure code. */
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

#endif
