/* pg_tx.c - PostgreSQL's transaction-control text: BEGIN, quoted identifiers. Pure code. */
#include "drivers/pg_tx.h"

#include <stdio.h>
#include <string.h>

size_t txs_pg_begin_text(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                         char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "BEGIN");
    const char *sep = " ";
    const char *iso_sql = txs_isolation_sql(iso);
    if (iso_sql) {
        n += (size_t)snprintf(buf + n, len - n, "%sISOLATION LEVEL %s", sep, iso_sql);
        sep = ", ";
    }
    if (read_only != TXS_UNSET) {
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep,
                              read_only == TXS_TRUE ? "READ ONLY" : "READ WRITE");
        sep = ", ";
    }
    if (deferrable != TXS_UNSET)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep,
                              deferrable == TXS_TRUE ? "DEFERRABLE" : "NOT DEFERRABLE");
    return n;
}

int txs_pg_begin_sql(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
                     char *buf, size_t len, txs_stmt_t stmts[TXS_DRV_BEGIN_MAX])
{
    size_t n = txs_pg_begin_text(iso, read_only, deferrable, buf, len);
    stmts[0] = (txs_stmt_t){.sql = buf, .sql_len = n};
    return 1;
}

void txs_pg_quote_ident(txs_buf_t *out, const char *name, size_t len)
{
    txs_buf_put_quoted(out, name, len, '"');
}
