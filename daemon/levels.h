/* levels.h - a transaction's levels and named savepoints, as the daemon keeps them in
 * step with the server: which level is innermost, and which savepoint a name reaches.
 * Pure bookkeeping; the session sends the SQL. */
#ifndef TXS_DAEMON_LEVELS_H
#define TXS_DAEMON_LEVELS_H

#include <stdbool.h>

/* One level of the transaction: tx.depth is how many are open. */
typedef enum txs_level {
    TXS_LEVEL_TX,        /* the transaction itself (depth 1) */
    TXS_LEVEL_SAVEPOINT, /* begin nested: a SAVEPOINT */
    TXS_LEVEL_JOINED,    /* begin join: no SQL */
} txs_level_t;

#define TXS_MAX_DEPTH 255      /* levels open at once */
#define TXS_MAX_SAVEPOINTS 255 /* named savepoints in one transaction */
#define TXS_LEVELS_INLINE 8    /* levels kept without allocating */

/* A named savepoint, and the level it belongs to (only that level sees it). */
typedef struct txs_named_savepoint {
    char name[64]; /* lower-cased by the decoder */
    int level;
} txs_named_savepoint_t;

typedef struct txs_levels {
    int depth; /* levels open */
    unsigned char inline_kinds[TXS_LEVELS_INLINE];
    unsigned char *heap_kinds; /* beyond TXS_LEVELS_INLINE levels */
    int heap_cap;
    txs_named_savepoint_t *savepoints; /* oldest first; NULL when none */
    int nsavepoints, savepoints_cap;
} txs_levels_t;

/* No level, no savepoint, nothing allocated. A zeroed txs_levels_t is the same. */
void txs_levels_clear(txs_levels_t *l);
txs_level_t txs_levels_top(const txs_levels_t *l);
void txs_levels_push(txs_levels_t *l, txs_level_t kind);
/* Close the innermost level; the savepoints made in it are gone (its RELEASE or
 * ROLLBACK TO destroyed them on the server). */
void txs_levels_pop(txs_levels_t *l);
/* Close the innermost level, a joined one, by its commit: nothing was sent, so its
 * savepoints stay on the server and now belong to the enclosing level. */
void txs_levels_pop_joined(txs_levels_t *l);

/* The savepoint `name` reaches in the innermost level (the newest of that name), or -1. */
int txs_levels_find_savepoint(const txs_levels_t *l, const char *name);
/* Whether any level has a savepoint called name. */
bool txs_levels_has_savepoint(const txs_levels_t *l, const char *name);
void txs_levels_add_savepoint(txs_levels_t *l, const char *name);
/* Savepoints from index i on are gone (released, rolled back past, or the whole
 * transaction is gone: i = 0). */
void txs_levels_drop_savepoints(txs_levels_t *l, int i);

#endif
