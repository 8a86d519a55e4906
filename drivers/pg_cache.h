/* pg_cache.h - the PostgreSQL driver's statement cache: which statement texts a
 * connection has prepared on the server, under which names. Pure code (no libpq).
 *
 * A statement the connection has seen TXS_PG_CACHE_PREPARE_AT times is prepared (a named
 * statement, in the same round trip as its execution) and then executed by name: the
 * server parses and plans it once instead of on every run, which is most of what a short
 * query costs it. Entries are keyed by the exact text, at most TXS_PG_CACHE_SIZE per
 * connection, the least recently used going first. */
#ifndef TXS_DRIVERS_PG_CACHE_H
#define TXS_DRIVERS_PG_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TXS_PG_CACHE_SIZE 128     /* statements remembered per connection */
#define TXS_PG_CACHE_PREPARE_AT 2 /* uses before a statement is prepared: not one-offs */
#define TXS_PG_CACHE_NAME_MAX 24  /* "txs_s" + a 32-bit number */
#define TXS_PG_CACHE_TEXT_MAX                                                                      \
    8192 /* longer texts are not cached: they are mostly                                           \
            generated, with values inlined, and would hold up                                      \
            to 128 times their size per connection */

typedef struct txs_pg_cached txs_pg_cached_t;

typedef struct txs_pg_cache {
    txs_pg_cached_t *by_sql;    /* uthash, keyed by the text */
    txs_pg_cached_t *lru, *mru; /* least and most recently used */
    int n;
    uint32_t next_id; /* names are never reused on a connection, so a forgotten entry's
                         server statement can never be mistaken for a new one */
    bool overflowed;  /* a prepared statement was pushed out: it stays on the server
                         until the connection is discarded (DISCARD ALL) */
} txs_pg_cache_t;

/* What to send for a statement. */
typedef enum txs_pg_cache_use {
    TXS_PG_SEND_PLAIN,   /* as an unnamed statement, as without the cache */
    TXS_PG_SEND_PREPARE, /* prepare it under the name, then execute it by name */
    TXS_PG_SEND_NAMED,   /* execute the statement prepared under the name */
} txs_pg_cache_use_t;

void txs_pg_cache_init(txs_pg_cache_t *c);
void txs_pg_cache_free(txs_pg_cache_t *c);
/* Forget every entry (the server's statements are gone: DISCARD ALL, DEALLOCATE ALL). */
void txs_pg_cache_clear(txs_pg_cache_t *c);
/* Whether an entry is prepared on the server. */
bool txs_pg_cache_prepared(const txs_pg_cache_t *c);

/* A use of the statement sql[0..len): what to send, and for PREPARE and NAMED the name
 * (in name, TXS_PG_CACHE_NAME_MAX bytes) and *id (for txs_pg_cache_forget). A PREPARE
 * is counted as done: forget the entry when the server refuses or skips it. */
txs_pg_cache_use_t txs_pg_cache_use(txs_pg_cache_t *c, const char *sql, size_t len, char *name,
                                    uint32_t *id);

/* Forget the entry prepared under id, if it is still there (its PREPARE failed or was
 * skipped, or the server no longer has it). */
void txs_pg_cache_forget(txs_pg_cache_t *c, uint32_t id);

/* Whether a statement is worth preparing: a query or DML (SELECT, INSERT, UPDATE,
 * DELETE, MERGE, WITH, VALUES, TABLE as a whole first word, read past leading comments)
 * of at most TXS_PG_CACHE_TEXT_MAX bytes. Utility statements are not: they are not
 * planned, and preparing them would only fill the cache. */
bool txs_pg_cacheable(const char *sql, size_t len);

/* Whether the statement may drop prepared statements (DEALLOCATE, DISCARD): the cache
 * is to be cleared after it. */
bool txs_pg_drops_prepared(const char *sql, size_t len);

#endif
