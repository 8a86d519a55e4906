/* pool_janitor.c - a pool's one timer, armed for the nearest due time: the earliest
 * waiter's deadline, the oldest idle connection's pool_idle_timeout, the soonest
 * idle connection's recycle age, and the next connect retry while the database is
 * down; also the backoff and the recycle stagger. */
#include <stdint.h>

#include "daemon/log.h"
#include "daemon/pool_int.h"
#include "protocol/sqlstate.h"

#define GOLDEN 0x9E3779B97F4A7C15ull /* 2^64 / golden ratio */

static void on_janitor(uv_timer_t *t);

static uint64_t rnd(txs_pool_t *p)
{
    /* xorshift64*: plenty for jitter. */
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

void txs_pool_janitor_init(txs_pool_t *p)
{
    uv_timer_init(p->loop, &p->janitor);
    p->janitor.data = p;
    uv_unref((uv_handle_t *)&p->janitor);
    p->rng = (uv_hrtime() ^ (uint64_t)(uintptr_t)p) * GOLDEN;
    if (!p->rng)
        p->rng = GOLDEN;
    p->stagger_seed = rnd(p);
}

int txs_pool_cap(const txs_pool_t *p)
{
    return p->conf->pool_size + (p->conf->max_overflow > 0 ? p->conf->max_overflow : 0);
}

int txs_pool_min_idle(const txs_pool_t *p)
{
    if (!p->started || p->retired)
        return 0; /* a removed db keeps nothing warm */
    /* Until a first connect succeeds, one connection is wanted even with min_idle 0:
     * /readyz waits for every db to have been reached once. */
    if (p->counts.opened == 0)
        return 1;
    if (p->conf->min_idle <= 0)
        return 0;
    return p->conf->min_idle < p->conf->pool_size ? p->conf->min_idle : p->conf->pool_size;
}

/* Connection number k's recycle age is pool_recycle less a part of its last tenth: the
 * fractional part of (seed + k / golden ratio). Connections opened together (numbered
 * in a row) land far apart in that tenth, any three at least 2.3% of pool_recycle
 * apart, where plain random draws may coincide; the random seed keeps sidecars started
 * together from recycling in step. */
uint64_t txs_pool_recycle_age(txs_pool_t *p, const txs_backend_t *b)
{
    uint64_t r = p->conf->pool_recycle_ms;
    if (!r)
        return 0;
    uint64_t frac = p->stagger_seed + b->id * GOLDEN;        /* mod 2^64 */
    double part = (double)(frac >> 11) / 9007199254740992.0; /* [0, 1) */
    return r - (uint64_t)((double)(r / 10) * part);
}

bool txs_pool_may_connect(const txs_pool_t *p)
{
    return !p->down || (p->nstate[TXS_BACKEND_CONNECTING] == 0 && uv_now(p->loop) >= p->retry_at);
}

bool txs_pool_wants_connection(const txs_pool_t *p)
{
    int connecting = p->nstate[TXS_BACKEND_CONNECTING];
    if (p->nwaiters > connecting && p->total < txs_pool_cap(p))
        return true;
    return p->nstate[TXS_BACKEND_IDLE] + connecting < txs_pool_min_idle(p) &&
           p->total < p->conf->pool_size;
}

void txs_pool_schedule_retry(txs_pool_t *p)
{
    uint64_t d = p->backoff_ms ? 2 * p->backoff_ms : TXS_POOL_RETRY_FIRST_MS;
    if (d > TXS_POOL_RETRY_CAP_MS)
        d = TXS_POOL_RETRY_CAP_MS;
    p->backoff_ms = d;
    uint64_t delay = d / 2 + rnd(p) % (d - d / 2 + 1); /* in [d/2, d] */
    p->retry_at = uv_now(p->loop) + delay;
    txs_log_at(TXS_LOG_DEBUG, &(txs_log_who_t){.db = p->conf->name},
               "next connect attempt in %llu ms", (unsigned long long)delay);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void janitor_stop(txs_pool_t *p)
{
    uv_timer_stop(&p->janitor);
    p->janitor_due = 0;
}

void txs_pool_janitor_arm(txs_pool_t *p)
{
    if (p->shutting_down) {
        janitor_stop(p);
        return;
    }
    uint64_t due = UINT64_MAX;
    if (p->wait_head)
        due = p->wait_min;
    if (p->conf->pool_idle_timeout_ms && p->nstate[TXS_BACKEND_IDLE] > txs_pool_min_idle(p))
        due = min_u64(due, p->idle_tail->idle_since + p->conf->pool_idle_timeout_ms);
    for (const txs_backend_t *b = p->age; b; b = b->age_next) {
        if (b->state == TXS_BACKEND_IDLE) { /* the others are checked when they come back */
            due = min_u64(due, b->recycle_at);
            break;
        }
    }
    if (p->down && p->nstate[TXS_BACKEND_CONNECTING] == 0 && txs_pool_wants_connection(p))
        due = min_u64(due, p->retry_at);
    if (due == UINT64_MAX) {
        janitor_stop(p);
        return;
    }
    if (due == p->janitor_due)
        return;
    uint64_t now = uv_now(p->loop);
    uv_timer_start(&p->janitor, on_janitor, due > now ? due - now : 0, 0);
    p->janitor_due = due;
}

static void on_janitor(uv_timer_t *t)
{
    txs_pool_t *p = t->data;
    p->janitor_due = 0;
    uint64_t now = uv_now(p->loop);
    if (p->wait_head && p->wait_min <= now)
        txs_pool_expire_waiters(p, now);
    /* Oldest idle first, from the idle list's tail, down to min_idle. */
    uint64_t idle_timeout = p->conf->pool_idle_timeout_ms;
    while (idle_timeout && p->nstate[TXS_BACKEND_IDLE] > txs_pool_min_idle(p) &&
           p->idle_tail->idle_since + idle_timeout <= now)
        txs_pool_close_backend(p->idle_tail, TXS_CLOSE_IDLE_TIMEOUT, NULL);
    /* Past their recycle age, soonest first; one in use is closed when it comes back. A
     * closed one is replaced when min_idle wants it, once its close has finished. */
    for (txs_backend_t *b = p->age, *next; b && b->recycle_at <= now; b = next) {
        next = b->age_next;
        if (b->state == TXS_BACKEND_IDLE)
            txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, NULL);
    }
    txs_pool_pump(p); /* the retry when due; re-arms */
}
