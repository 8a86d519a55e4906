/* tx_sql.c - savepoint statements as text. */
#include "daemon/tx_sql.h"

#include <stdio.h>
#include <string.h>

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

size_t txs_tx_sql_named(txs_buf_t *out, txs_quote_fn quote, const char *verb, int i)
{
    char name[32];
    snprintf(name, sizeof name, "txscope_sp_%d", i);
    return txs_tx_sql_savepoint(out, quote, verb, name);
}
