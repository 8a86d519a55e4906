/* tx_sql.c - BEGIN and savepoint statements as text. */
#include "daemon/tx_sql.h"

#include <stdio.h>
#include <string.h>

size_t txs_tx_sql_begin(txs_isolation_t iso, txs_tristate_t read_only, txs_tristate_t deferrable,
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

size_t txs_tx_sql_savepoint(txs_buf_t *out, txs_quote_fn quote, const char *verb, const char *name)
{
    size_t start = out->len;
    txs_buf_puts(out, verb);
    txs_buf_putc(out, ' ');
    quote(out, name, strlen(name));
    txs_buf_putc(out, '\0');
    return start;
}

size_t txs_tx_sql_level(txs_buf_t *out, txs_quote_fn quote, const char *verb, int level)
{
    char name[32];
    snprintf(name, sizeof name, "txscope_level_%d", level);
    return txs_tx_sql_savepoint(out, quote, verb, name);
}
