/* pg_send.c - the PostgreSQL driver's sending: a statement or a pipeline of them, each
 * plain, prepared, or by name as the statement cache (pg_cache.h) says; and what the
 * cache learns from the errors. */
#include <string.h>

#include "drivers/pg_conn.h"

/* How a statement is sent, per the statement cache; name and *id as txs_pg_cache_use. */
static txs_pg_cache_use_t cache_use(txs_dconn_t *c, const txs_stmt_t *s, char *name, uint32_t *id)
{
    *id = 0;
    if (c->cache_bypass || !txs_pg_cacheable(s->sql, s->sql_len))
        return TXS_PG_SEND_PLAIN;
    return txs_pg_cache_use(&c->cache, s->sql, s->sql_len, name, id);
}

/* Queue one statement on libpq: text parameters, types left to the server; by name
 * when the cache has it, after its PREPARE when this is the use that prepares it. */
static bool queue_stmt(txs_dconn_t *c, const txs_stmt_t *s, txs_pg_cache_use_t use,
                       const char *name)
{
    switch (use) {
    case TXS_PG_SEND_PREPARE:
        if (!PQsendPrepare(c->pg, name, s->sql, s->nparams, NULL))
            return false;
        __attribute__((fallthrough)); /* and run it */
    case TXS_PG_SEND_NAMED:
        return PQsendQueryPrepared(c->pg, name, s->nparams, s->values, NULL, NULL, 0);
    case TXS_PG_SEND_PLAIN:
        break;
    }
    return PQsendQueryParams(c->pg, s->sql, s->nparams, NULL, s->values, NULL, NULL, 0);
}

/* Room for n statements' results in the batch arrays, and a fresh batch of n. */
void txs_pg_batch_start(txs_dconn_t *c, int n)
{
    if (n > c->bres_cap) {
        c->bres = txs_xrealloc(c->bres, (size_t)n * sizeof *c->bres);
        memset(c->bres + c->bres_cap, 0, (size_t)(n - c->bres_cap) * sizeof *c->bres);
        c->bcache_id = txs_xrealloc(c->bcache_id, (size_t)n * sizeof *c->bcache_id);
        c->bprepare = txs_xrealloc(c->bprepare, (size_t)n * sizeof *c->bprepare);
        c->bres_cap = n;
    }
    c->is_batch = true;
    c->batch_n = n;
    c->batch_cur = 0;
    c->batch_cur_has = false;
    c->batch_fail = -1;
    c->batch_in_prepare = false;
    c->batch_prepare_has = false;
}

/* Send n statements in one pipeline closed by a Sync: the server runs them in order and
 * answers them all at once. uses: how each is sent, when already decided (NULL: ask the
 * cache here). Returns 0 or -1 (then PQerrorMessage says why; the connection is not
 * usable). */
static int send_pipeline(txs_dconn_t *c, const txs_stmt_t *stmts, int n,
                         const txs_pg_cache_use_t *uses, const char *name0, uint32_t id0)
{
    if (!PQenterPipelineMode(c->pg))
        return -1;
    for (int i = 0; i < n; i++) {
        char name[TXS_PG_CACHE_NAME_MAX];
        uint32_t id = id0;
        txs_pg_cache_use_t use = uses ? uses[i] : cache_use(c, &stmts[i], name, &id);
        c->bcache_id[i] = id;
        c->bprepare[i] = use == TXS_PG_SEND_PREPARE;
        if (!queue_stmt(c, &stmts[i], use, uses ? name0 : name))
            return -1;
    }
    c->batch_in_prepare = c->bprepare[0];
    if (!PQpipelineSync(c->pg))
        return -1;
    c->state = PG_RUNNING;
    return txs_pg_conn_flush(c);
}

/* Send one statement. The use that prepares it goes as a pipeline of one, so that the
 * PREPARE costs no round trip of its own. Returns 0 or -1 as send_pipeline. */
int txs_pg_send_stmt(txs_dconn_t *c, const txs_stmt_t *s)
{
    char name[TXS_PG_CACHE_NAME_MAX];
    uint32_t id;
    txs_pg_cache_use_t use = cache_use(c, s, name, &id);
    if (use == TXS_PG_SEND_PREPARE) {
        txs_pg_batch_start(c, 1);
        c->one_in_pipeline = true;
        return send_pipeline(c, s, 1, &use, name, id);
    }
    c->named_id = use == TXS_PG_SEND_NAMED ? id : 0;
    c->one_in_pipeline = false;
    if (!queue_stmt(c, s, use, name))
        return -1;
    c->state = PG_RUNNING;
    return txs_pg_conn_flush(c);
}

int txs_pg_send_batch(txs_dconn_t *c, const txs_stmt_t *stmts, int n)
{
    return send_pipeline(c, stmts, n, NULL, NULL, 0);
}

/* A statement sent by name failed: when it says the server's statement is gone
 * (26000: deallocated behind our back) or no longer fits its plan (0A000: a table
 * changed its columns under a cached SELECT), forget it, so the next use prepares it
 * anew. The old one may still be on the server: the connection gets a DISCARD ALL. */
void txs_pg_cache_check_error(txs_dconn_t *c, uint32_t id, const PGresult *res)
{
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (id == 0 || !code)
        return;
    bool gone = strcmp(code, "26000") == 0;
    bool replan = strcmp(code, "0A000") == 0 && msg &&
                  strcmp(msg, "cached plan must not change result type") == 0;
    if (!gone && !replan)
        return;
    txs_pg_cache_forget(&c->cache, id);
    c->cache.overflowed = true;
    c->stale = true; /* the session may send it again where nothing else is lost */
}

/* A user statement that may drop prepared statements (DEALLOCATE ALL, DISCARD ALL)
 * empties the cache, and its op is sent without it: a statement of the same pipeline
 * sent by name after it would find its statement gone. */
void txs_pg_cache_watch(txs_dconn_t *c, const txs_stmt_t *stmts, int n)
{
    c->cache_bypass = false;
    for (int k = 0; k < n && !c->cache_bypass; k++)
        c->cache_bypass = txs_pg_drops_prepared(stmts[k].sql, stmts[k].sql_len);
    if (c->cache_bypass) {
        /* It may drop all of them, some, or none (it may fail, or be skipped): what the
         * server still holds is unknown, so the connection gets a DISCARD ALL. */
        bool had = txs_pg_cache_prepared(&c->cache);
        txs_pg_cache_clear(&c->cache);
        c->cache.overflowed = had;
    }
}
