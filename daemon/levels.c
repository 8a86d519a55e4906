/* levels.c - the stack of a transaction's levels and its named savepoints. */
#include "daemon/levels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"

static unsigned char *kinds(txs_levels_t *l)
{
    return l->heap_cap ? l->heap_kinds : l->inline_kinds;
}

void txs_levels_clear(txs_levels_t *l)
{
    free(l->heap_kinds);
    free(l->savepoints);
    memset(l, 0, sizeof *l);
}

txs_level_t txs_levels_top(const txs_levels_t *l)
{
    const unsigned char *k = l->heap_cap ? l->heap_kinds : l->inline_kinds;
    return (txs_level_t)k[l->depth - 1];
}

void txs_levels_push(txs_levels_t *l, txs_level_t kind)
{
    int cap = l->heap_cap ? l->heap_cap : TXS_LEVELS_INLINE;
    if (l->depth == cap) {
        unsigned char *n = txs_xmalloc((size_t)cap * 2);
        memcpy(n, kinds(l), (size_t)l->depth);
        free(l->heap_kinds);
        l->heap_kinds = n;
        l->heap_cap = cap * 2;
    }
    kinds(l)[l->depth++] = (unsigned char)kind;
}

void txs_levels_drop_savepoints(txs_levels_t *l, int i)
{
    l->nsavepoints = i;
    if (i == 0) {
        free(l->savepoints);
        l->savepoints = NULL;
        l->savepoints_cap = 0;
    }
}

void txs_levels_pop(txs_levels_t *l)
{
    int n = l->nsavepoints;
    while (n > 0 && l->savepoints[n - 1].level >= l->depth)
        n--;
    txs_levels_drop_savepoints(l, n);
    l->depth--;
}

void txs_levels_pop_joined(txs_levels_t *l)
{
    for (int i = l->nsavepoints - 1; i >= 0 && l->savepoints[i].level >= l->depth; i--)
        l->savepoints[i].level = l->depth - 1;
    l->depth--;
}

int txs_levels_find_savepoint(const txs_levels_t *l, const char *name)
{
    for (int i = l->nsavepoints - 1; i >= 0 && l->savepoints[i].level == l->depth; i--)
        if (strcmp(l->savepoints[i].name, name) == 0)
            return i;
    return -1;
}

bool txs_levels_has_savepoint(const txs_levels_t *l, const char *name)
{
    for (int i = 0; i < l->nsavepoints; i++)
        if (strcmp(l->savepoints[i].name, name) == 0)
            return true;
    return false;
}

void txs_levels_add_savepoint(txs_levels_t *l, const char *name)
{
    if (l->nsavepoints == l->savepoints_cap) {
        l->savepoints_cap = l->savepoints_cap ? l->savepoints_cap * 2 : 4;
        l->savepoints =
            txs_xrealloc(l->savepoints, (size_t)l->savepoints_cap * sizeof *l->savepoints);
    }
    txs_named_savepoint_t *sp = &l->savepoints[l->nsavepoints++];
    snprintf(sp->name, sizeof sp->name, "%s", name);
    sp->level = l->depth;
}
