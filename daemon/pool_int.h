/* pool_int.h - the pool's insides, shared by pool.c (connections and checkout),
 * pool_janitor.c (its one timer: deadlines, idle timeout, recycle, retries) and
 * pool_stats.c (counts and names). */
#ifndef TXS_DAEMON_POOL_INT_H
#define TXS_DAEMON_POOL_INT_H

#include "daemon/pool.h"

/* Backend down: the first retry comes this long after the failure, each next one after
 * twice the last, at most the cap; each delay is drawn from [d/2, d]. The cap keeps a
 * server that came back found within half a second; the jitter keeps many sidecars
 * from reconnecting in step. */
#define TXS_POOL_RETRY_FIRST_MS 50
#define TXS_POOL_RETRY_CAP_MS 500

struct txs_pool {
    uv_loop_t *loop;
    const txs_db_conf_t *conf; /* &own */
    txs_db_conf_t own;         /* the pool's copy of its db's settings; a reload updates it */
    const txs_driver_t *drv;
    txs_backend_t *all;              /* every backend whose close has not finished */
    txs_backend_t *idle, *idle_tail; /* IDLE, most recently returned first */
    txs_backend_t *age, *age_tail;   /* connected, with a recycle age: soonest due first */
    txs_pool_waiter_t *wait_head, *wait_tail;
    uint64_t wait_min;    /* no waiter's deadline is earlier (0: nobody waits); may be
                             older than the waiter that set it, which costs one wake-up */
    uv_timer_t janitor;   /* armed for the nearest due time of anything above */
    uint64_t janitor_due; /* when it is armed for (0: stopped): every acquire and release
                             re-arms, and most find the same due time */
    int total;            /* backends in pool->all */
    int nstate[TXS_BACKEND_NSTATES];
    int nwaiters;      /* in the FIFO */
    int nping_waiters; /* out of the FIFO, their connection being pinged */
    bool started;      /* txs_pool_start ran: keep min_idle warm */
    bool shutting_down;
    bool down;           /* the last connect failed; cleared by the next that succeeds */
    uint64_t backoff_ms; /* while down: the last retry delay's upper bound */
    uint64_t retry_at;   /* while down: no connect starts before this */
    uint64_t rng;        /* xorshift state, for jitter */
    uint64_t stagger_seed;
    uint64_t next_id;
    txs_pool_stats_t counts; /* the cumulative counters; gauges are filled on demand */
    void (*shutdown_done)(void *arg);
    void *shutdown_arg;
    /* reload (pool_reload.c) */
    unsigned dsn_gen; /* bumped when the dsn changes: older connections are closed */
    int bound;        /* sessions bound to this db */
    bool retired;     /* the db left the configuration: close once nobody is bound */
    void (*retire_done)(void *arg);
    void *retire_arg;
};

/* pool.c */
/* Serve waiters from the idle list, open what waiters and min_idle need (one retry at
 * a time while down), then re-arm the janitor. */
void txs_pool_pump(txs_pool_t *p);
/* Close in any state but CLOSING (a LINKED one only from release/discard); logs the
 * reason and the detail (may be NULL). A waiter its ping was for goes back to the
 * head of the queue. Safe to call twice. */
void txs_pool_close_backend(txs_backend_t *b, txs_close_reason_t why, const char *detail);
/* The list of connections by recycle age (soonest first): in, out (safe when not in). */
void txs_pool_age_insert(txs_pool_t *p, txs_backend_t *b);
void txs_pool_age_remove(txs_pool_t *p, txs_backend_t *b);
/* Not to be kept once clean: opened with an older dsn, or the pool holds more than a
 * reload left it (the reason and a detail for the log go to *why, *detail). */
bool txs_pool_surplus(const txs_backend_t *b, txs_close_reason_t *why, const char **detail);
/* The head waiter, out of the FIFO (NULL if none). */
txs_pool_waiter_t *txs_pool_waiter_pop(txs_pool_t *p);
/* Fail with 53300 every waiter whose deadline passed, wherever it stands in the FIFO
 * (deadlines are not in FIFO order: one waiting for a connect has connect_timeout, one
 * behind it pool_timeout), and recompute wait_min. */
void txs_pool_expire_waiters(txs_pool_t *p, uint64_t now);
/* Fail a waiter that has left the FIFO. */
void txs_pool_fail_waiter(txs_pool_waiter_t *w, const char *code, const char *message);

/* pool_janitor.c */
void txs_pool_janitor_init(txs_pool_t *p);
/* Re-arm for the nearest due time (stopped when nothing is due). */
void txs_pool_janitor_arm(txs_pool_t *p);
/* A connect failed (none other in flight): schedule the next retry with backoff. */
void txs_pool_schedule_retry(txs_pool_t *p);
/* The recycle age of a connection that just opened: pool_recycle minus its stagger. */
uint64_t txs_pool_recycle_age(txs_pool_t *p, const txs_backend_t *b);
/* May a connect start now, as far as being down goes? */
bool txs_pool_may_connect(const txs_pool_t *p);
/* Is a connection wanted that is not being opened: a waiter no connect covers (below
 * the pool's cap), or min_idle short (below pool_size)? */
bool txs_pool_wants_connection(const txs_pool_t *p);
/* pool_size + max_overflow */
int txs_pool_cap(const txs_pool_t *p);
/* min_idle, at most pool_size; 0 before txs_pool_start; at least 1 until a connect has
 * succeeded once. */
int txs_pool_min_idle(const txs_pool_t *p);

#endif
