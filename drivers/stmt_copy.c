/* stmt_copy.c - statements and parameters copied into one reusable buffer. */
#include "drivers/stmt_copy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void txs_stmt_copy_keep(txs_stmt_copy_t *c, const txs_stmt_t *stmts, int n)
{
    size_t total = 0;
    for (int k = 0; k < n; k++)
        total += (size_t)stmts[k].nparams;
    if (total > c->val_cap) {
        c->val_off = txs_xrealloc(c->val_off, total * sizeof *c->val_off);
        c->vals = txs_xrealloc(c->vals, total * sizeof *c->vals);
        c->kinds = txs_xrealloc(c->kinds, total);
        c->val_cap = total;
    }
    if (n > c->stmt_cap) {
        c->stmts = txs_xrealloc(c->stmts, (size_t)n * sizeof *c->stmts);
        c->sql_off = txs_xrealloc(c->sql_off, (size_t)n * sizeof *c->sql_off);
        c->stmt_cap = n;
    }
    txs_buf_truncate(&c->text, 0);
    size_t v = 0;
    for (int k = 0; k < n; k++) {
        const txs_stmt_t *s = &stmts[k];
        c->sql_off[k] = c->text.len;
        txs_buf_append(&c->text, s->sql, s->sql_len);
        txs_buf_putc(&c->text, '\0');
        c->stmts[k] = (txs_stmt_t){.sql_len = s->sql_len, .nparams = s->nparams};
        for (int i = 0; i < s->nparams; i++, v++) {
            c->kinds[v] = s->kinds ? s->kinds[i] : TXS_PARAM_TEXT;
            if (!s->values[i]) {
                c->val_off[v] = SIZE_MAX;
                continue;
            }
            c->val_off[v] = c->text.len;
            size_t len = s->lengths ? (size_t)s->lengths[i] : strlen(s->values[i]);
            txs_buf_append(&c->text, s->values[i], len);
            txs_buf_putc(&c->text, '\0');
        }
    }
    c->n = n;
}

/* The pointers are made only now: text may have moved while it grew. */
const txs_stmt_t *txs_stmt_copy_get(txs_stmt_copy_t *c)
{
    size_t v = 0;
    for (int k = 0; k < c->n; k++) {
        txs_stmt_t *s = &c->stmts[k];
        s->sql = c->text.data + c->sql_off[k];
        s->values = c->vals + v;
        s->kinds = c->kinds + v;
        for (int i = 0; i < s->nparams; i++, v++)
            c->vals[v] = c->val_off[v] == SIZE_MAX ? NULL : c->text.data + c->val_off[v];
    }
    return c->stmts;
}

void txs_stmt_copy_clear(txs_stmt_copy_t *c)
{
    txs_buf_truncate(&c->text, 0);
    txs_buf_shrink(&c->text, 4096);
    c->n = 0;
}

void txs_stmt_copy_free(txs_stmt_copy_t *c)
{
    txs_buf_free(&c->text);
    free(c->stmts);
    free(c->sql_off);
    free(c->val_off);
    free(c->vals);
    free(c->kinds);
    memset(c, 0, sizeof *c);
}
