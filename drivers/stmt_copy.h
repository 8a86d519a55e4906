/* stmt_copy.h - a private copy of statements and their parameters, for a driver that
 * must hold them back (e.g. until a cancel request is delivered) after the caller's
 * memory is gone. Pure code; the buffers are reused, so it allocates only to grow. */
#ifndef TXS_DRIVERS_STMT_COPY_H
#define TXS_DRIVERS_STMT_COPY_H

#include <stddef.h>

#include "protocol/buf.h"
#include "protocol/request.h"

typedef struct txs_stmt_copy {
    txs_buf_t text;    /* per statement: its sql, NUL, then each value, NUL */
    int n;             /* statements held */
    txs_stmt_t *stmts; /* n of them; sql and values point into text once resolved */
    size_t *sql_off;   /* each statement's sql offset in text */
    int stmt_cap;
    size_t *val_off; /* value offsets in text, all statements' in a row; SIZE_MAX: NULL */
    const char **vals;
    unsigned char *kinds; /* parallel to val_off */
    size_t val_cap;
} txs_stmt_copy_t;

/* Copy n statements (replacing what was held). */
void txs_stmt_copy_keep(txs_stmt_copy_t *c, const txs_stmt_t *stmts, int n);
/* The statements held, their pointers into the copy; valid until the next keep/clear.
 * Values are NUL-terminated; lengths is NULL; kinds are kept. */
const txs_stmt_t *txs_stmt_copy_get(txs_stmt_copy_t *c);
/* Hold nothing, and give back text beyond a few kB. */
void txs_stmt_copy_clear(txs_stmt_copy_t *c);
void txs_stmt_copy_free(txs_stmt_copy_t *c);

#endif
