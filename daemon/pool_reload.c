/* pool_reload.c - a pool's side of SIGHUP: new settings taken in place (a smaller size
 * or another dsn reaches busy connections when they come back, never a session's), and
 * the life of a pool whose db was removed, which ends after its last session. */
#include <string.h>

#include "conf/diff.h"
#include "daemon/log.h"
#include "daemon/pool_int.h"

bool txs_pool_surplus(const txs_backend_t *b, txs_close_reason_t *why, const char **detail)
{
    const txs_pool_t *p = b->pool;
    if (b->dsn_gen != p->dsn_gen) {
        *why = TXS_CLOSE_RECYCLE; /* as PgBouncer does: replaced with the new dsn */
        *detail = "the dsn changed";
        return true;
    }
    /* Only a reload that lowered pool_size (or max_overflow) gets here: the pool never
     * opens beyond its cap. Waiters keep their place; they get a connection once the
     * pool is back under it. */
    if (p->total - p->nstate[TXS_BACKEND_CLOSING] - 1 >= txs_pool_cap(p)) {
        *why = TXS_CLOSE_OVERFLOW;
        *detail = "more open than pool_size + max_overflow";
        return true;
    }
    return false;
}

/* pool_recycle changed: each connection's age limit again, from when it was opened. */
static void recompute_recycle(txs_pool_t *p)
{
    for (txs_backend_t *b = p->all; b; b = b->next) {
        if (b->state == TXS_BACKEND_CONNECTING || b->state == TXS_BACKEND_CLOSING)
            continue;
        txs_pool_age_remove(p, b);
        uint64_t age = txs_pool_recycle_age(p, b);
        b->recycle_at = age ? b->opened_at + age : 0;
        if (b->recycle_at)
            txs_pool_age_insert(p, b);
    }
}

void txs_pool_reconfigure(txs_pool_t *p, const txs_db_conf_t *conf)
{
    bool new_dsn = strcmp(p->own.dsn, conf->dsn) != 0;
    bool new_recycle = p->own.pool_recycle_ms != conf->pool_recycle_ms;
    txs_conf_db_copy(&p->own, conf);
    if (p->shutting_down)
        return;
    if (new_dsn) {
        p->dsn_gen++;
        /* A pool down on the old dsn tries the new one at once. */
        p->backoff_ms = 0;
        p->retry_at = 0;
    }
    if (new_recycle)
        recompute_recycle(p);
    /* Idle connections that are not kept: another dsn's, then the oldest idle above the
     * new size (pool_size with nobody waiting, the cap otherwise: as when one is given
     * back). Busy ones are dealt with when given back (txs_pool_surplus). */
    for (txs_backend_t *b = p->idle, *next; b; b = next) {
        next = b->idle_next;
        if (b->dsn_gen != p->dsn_gen)
            txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, "the dsn changed");
    }
    int keep = p->wait_head ? txs_pool_cap(p) : p->conf->pool_size;
    while (p->idle_tail && p->total - p->nstate[TXS_BACKEND_CLOSING] > keep)
        txs_pool_close_backend(p->idle_tail, TXS_CLOSE_OVERFLOW, "pool_size lowered");
    /* A grown pool opens connections for its waiters now; the janitor is re-armed for
     * the new idle timeout, recycle ages and min_idle. */
    p->janitor_due = 0;
    uv_timer_stop(&p->janitor);
    txs_pool_pump(p);
}

/* ---- removed dbs ---- */

static void close_retired(txs_pool_t *p)
{
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = p->conf->name},
               "removed: its last session is gone: closing its %d connection(s)", p->total);
    txs_pool_shutdown(p, p->retire_done, p->retire_arg);
}

void txs_pool_bind(txs_pool_t *p)
{
    p->bound++;
}

void txs_pool_unbind(txs_pool_t *p)
{
    if (--p->bound == 0 && p->retired && !p->shutting_down)
        close_retired(p);
}

void txs_pool_retire(txs_pool_t *p, void (*done)(void *arg), void *arg)
{
    p->retired = true;
    p->retire_done = done;
    p->retire_arg = arg;
    if (p->bound == 0) {
        close_retired(p);
        return;
    }
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = p->conf->name},
               "removed: closing after its last session (%d bound to it now)", p->bound);
    txs_pool_pump(p); /* keeps nothing warm from now on */
}

bool txs_pool_revive(txs_pool_t *p)
{
    if (p->shutting_down)
        return false;
    p->retired = false;
    p->retire_done = NULL;
    p->retire_arg = NULL;
    return true;
}
