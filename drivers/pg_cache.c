/* pg_cache.c - the PostgreSQL driver's statement cache (see pg_cache.h). */
#include "drivers/pg_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
    char digits[12];
    int n = 0;
    for (uint32_t v = e->id; v; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    memcpy(name, "txs_s", 5);
    int k = 5;
    while (n)
        name[k++] = digits[--n];
    name[k] = '\0';
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

/* The first word of the statement, past whitespace and PostgreSQL comments, as
 * [*start, *start + *wlen). */
static void first_word(const char *sql, size_t len, const char **start, size_t *wlen)
{
    size_t i = 0;
    for (;;) {
        while (i < len && (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' ||
                           sql[i] == '\f' || sql[i] == '\v'))
            i++;
        if (i + 1 < len && sql[i] == '-' && sql[i + 1] == '-') {
            while (i < len && sql[i] != '\n')
                i++;
        } else if (i + 1 < len && sql[i] == '/' && sql[i + 1] == '*') {
            i = txs_sql_block_comment_end(sql, len, i, true);
        } else {
            break;
        }
    }
    size_t j = i;
    while (j < len && ((sql[j] >= 'a' && sql[j] <= 'z') || (sql[j] >= 'A' && sql[j] <= 'Z')))
        j++;
    *start = sql + i;
    *wlen = j - i;
    /* A keyword ends where an identifier could not go on: "select1" is one word. */
    if (j < len && ((sql[j] >= '0' && sql[j] <= '9') || sql[j] == '_' || sql[j] == '$' ||
                    (unsigned char)sql[j] >= 0x80))
        *wlen = 0;
}

static bool word_in(const char *w, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (strlen(*words) == n && strncasecmp(w, *words, n) == 0)
            return true;
    return false;
}

bool txs_pg_cacheable(const char *sql, size_t len)
{
    static const char *const planned[] = {"select", "insert", "update", "delete", "merge",
                                          "with",   "values", "table",  NULL};
    if (len > TXS_PG_CACHE_TEXT_MAX)
        return false;
    const char *w;
    size_t n;
    first_word(sql, len, &w, &n);
    return word_in(w, n, planned);
}

bool txs_pg_drops_prepared(const char *sql, size_t len)
{
    static const char *const dropping[] = {"deallocate", "discard", NULL};
    const char *w;
    size_t n;
    first_word(sql, len, &w, &n);
    return word_in(w, n, dropping);
}
