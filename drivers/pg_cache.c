/* pg_cache.c - the PostgreSQL driver's statement cache (see pg_cache.h). */
#include "drivers/pg_cache.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "protocol/buf.h"
#include "protocol/sqlclass.h"

struct txs_pg_cached {
    UT_hash_handle hh;
    struct txs_pg_cached *older, *newer; /* the LRU list */
    uint32_t id;                         /* 0 until prepared */
    int uses;
    size_t len;
    char sql[]; /* the key */
};

void txs_pg_cache_init(txs_pg_cache_t *c)
{
    memset(c, 0, sizeof *c);
    c->next_id = 1;
}

void txs_pg_cache_clear(txs_pg_cache_t *c)
{
    /* The table first (HASH_CLEAR reads only its head), then the entries, by the LRU
     * list, which holds each of them. */
    HASH_CLEAR(hh, c->by_sql);
    for (txs_pg_cached_t *e = c->lru, *next; e; e = next) {
        next = e->newer;
        free(e);
    }
    c->lru = c->mru = NULL;
    c->n = 0;
    c->overflowed = false;
}

bool txs_pg_cache_prepared(const txs_pg_cache_t *c)
{
    for (const txs_pg_cached_t *e = c->mru; e; e = e->older)
        if (e->id)
            return true;
    return false;
}

void txs_pg_cache_free(txs_pg_cache_t *c)
{
    txs_pg_cache_clear(c);
}

static void unlink_entry(txs_pg_cache_t *c, txs_pg_cached_t *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->lru = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->mru = e->older;
    e->older = e->newer = NULL;
}

static void push_mru(txs_pg_cache_t *c, txs_pg_cached_t *e)
{
    e->older = c->mru;
    e->newer = NULL;
    if (c->mru)
        c->mru->newer = e;
    else
        c->lru = e;
    c->mru = e;
}

static void remove_entry(txs_pg_cache_t *c, txs_pg_cached_t *e)
{
    unlink_entry(c, e);
    HASH_DEL(c->by_sql, e);
    c->n--;
    free(e);
}

txs_pg_cache_use_t txs_pg_cache_use(txs_pg_cache_t *c, const char *sql, size_t len, char *name,
                                    uint32_t *id)
{
    txs_pg_cached_t *e = NULL;
    HASH_FIND(hh, c->by_sql, sql, len, e);
    if (!e) {
        if (c->n >= TXS_PG_CACHE_SIZE) {
            if (c->lru->id)
                c->overflowed = true;
            remove_entry(c, c->lru);
        }
        e = txs_xcalloc(1, sizeof *e + len + 1);
        memcpy(e->sql, sql, len);
        e->len = len;
        HASH_ADD_KEYPTR(hh, c->by_sql, e->sql, len, e);
        c->n++;
    } else {
        unlink_entry(c, e);
    }
    push_mru(c, e);
    if (e->id == 0 && ++e->uses < TXS_PG_CACHE_PREPARE_AT)
        return TXS_PG_SEND_PLAIN;
    txs_pg_cache_use_t use = TXS_PG_SEND_NAMED;
    if (e->id == 0) {
        e->id = c->next_id++;
        if (c->next_id == 0)
            c->next_id = 1;
        use = TXS_PG_SEND_PREPARE;
    }
    /* "txs_s" and the id in decimal, without printf on the path of every statement */
    memcpy(name, "txs_s", 5);
    name[5 + txs_format_u64(name + 5, e->id)] = '\0';
    *id = e->id;
    return use;
}

void txs_pg_cache_forget(txs_pg_cache_t *c, uint32_t id)
{
    if (id == 0)
        return; /* not an id: 0 marks entries never prepared */
    for (txs_pg_cached_t *e = c->mru; e; e = e->older)
        if (e->id == id) {
            remove_entry(c, e);
            return;
        }
}

/* ---- which statements ---- */

bool txs_pg_cacheable(const char *sql, size_t len)
{
    static const char *const planned[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE",
                                          "WITH",   "VALUES", "TABLE",  NULL};
    return len <= TXS_PG_CACHE_TEXT_MAX && txs_sql_first_word_in(sql, len, planned);
}

bool txs_pg_drops_prepared(const char *sql, size_t len)
{
    static const char *const dropping[] = {"DEALLOCATE", "DISCARD", NULL};
    return txs_sql_first_word_in(sql, len, dropping);
}
