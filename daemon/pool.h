/* pool.h - one pool of backend connections per [db.*]: sizing (pool_size, max_overflow,
 * min_idle), FIFO checkout queue with pool_timeout, pre_ping, recycling by age, idle
 * timeout, clean-only return, backoff while the database is down, and stats. */
#ifndef TXS_DAEMON_POOL_H
#define TXS_DAEMON_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf/config.h"
#include "daemon/histogram.h"
#include "daemon/log.h"
#include "drivers/driver.h"

typedef struct txs_pool txs_pool_t;
typedef struct txs_pool_waiter txs_pool_waiter_t;

/* Every backend is in pool->all and in exactly one state; the pool counts each state. */
typedef enum txs_backend_state {
    TXS_BACKEND_CONNECTING, /* driver connect in flight */
    TXS_BACKEND_IDLE,       /* in pool->idle; clean, watched for death */
    TXS_BACKEND_LINKED,     /* handed to a session; the session drives it */
    TXS_BACKEND_RESETTING,  /* returned; the driver makes it clean (rollback, reset) */
    TXS_BACKEND_PINGING,    /* pre_ping in flight, for ping_waiter if it is still there */
    TXS_BACKEND_CLOSING,    /* driver close in flight; off every list but pool->all */
    TXS_BACKEND_NSTATES
} txs_backend_state_t;

typedef struct txs_backend {
    txs_pool_t *pool;
    txs_dconn_t *dconn;
    txs_backend_state_t state;
    int close_reason; /* a txs_close_reason_t, set when closing starts */
    uint64_t id;
    uint64_t opened_at;              /* uv_now() when connected: pool_recycle counts from here */
    uint64_t recycle_at;             /* opened_at + its own (staggered) recycle age; 0 = never */
    uint64_t idle_since;             /* uv_now() when it last became idle */
    unsigned dsn_gen;                /* the pool's dsn_gen when opened: a reload that changes
                                        the dsn closes it once it is not in use */
    txs_pool_waiter_t *ping_waiter;  /* PINGING: who gets it if alive */
    struct txs_backend *prev, *next; /* pool->all */
    struct txs_backend *idle_prev, *idle_next; /* pool->idle, most recently returned first */
    struct txs_backend *age_prev, *age_next;   /* pool->age, soonest recycle_at first */
} txs_backend_t;

/* Exactly one of b and err is set. err is 08001 (connect failed, or the database is
 * down and the retry failed), 53300 (pool_timeout) or 57P01 (shutdown). */
typedef void (*txs_pool_cb)(txs_pool_waiter_t *w, txs_backend_t *b, const txs_error_info_t *err);

/* Embedded in whatever waits (a session); the pool links it into its FIFO. */
struct txs_pool_waiter {
    txs_pool_cb cb;
    uint64_t deadline;
    uint64_t since_ns;      /* uv_hrtime() when it began to wait (the wait-time histogram) */
    bool queued;            /* in the pool's FIFO */
    txs_backend_t *pinging; /* out of the FIFO while this connection is pre_pinged */
    txs_pool_waiter_t *prev, *next;
};

/* Why a connection was closed (stats and logs). */
typedef enum txs_close_reason {
    TXS_CLOSE_RECYCLE,        /* pool_recycle: old enough */
    TXS_CLOSE_IDLE_TIMEOUT,   /* pool_idle_timeout: idle above min_idle */
    TXS_CLOSE_OVERFLOW,       /* returned while the pool was full (max_overflow) */
    TXS_CLOSE_LOST,           /* the connection died (idle, in use, or resetting) */
    TXS_CLOSE_PING_FAILED,    /* pre_ping found it dead or silent */
    TXS_CLOSE_RESET_FAILED,   /* could not be made clean for the next user */
    TXS_CLOSE_CANCEL_FAILED,  /* a statement over query_timeout did not stop when cancelled */
    TXS_CLOSE_CONNECT_FAILED, /* never connected */
    TXS_CLOSE_SHUTDOWN,
    TXS_CLOSE_NREASONS
} txs_close_reason_t;

/* Timeouts counted per pool (the client timeouts are the server's). */
typedef enum txs_timeout_kind {
    TXS_TIMEOUT_POOL,                /* pool_timeout: 53300 */
    TXS_TIMEOUT_QUERY,               /* query_timeout: 57014 */
    TXS_TIMEOUT_IDLE_IN_TRANSACTION, /* idle_in_transaction_timeout: 25P03 */
    TXS_TIMEOUT_TRANSACTION,         /* transaction_timeout: 25P03 */
    TXS_TIMEOUT_SESSION_IDLE,        /* session_idle_timeout: the ctx was forgotten */
    TXS_TIMEOUT_NKINDS
} txs_timeout_kind_t;

const char *txs_close_reason_name(txs_close_reason_t r); /* "recycle", "idle_timeout", ... */
const char *txs_timeout_kind_name(txs_timeout_kind_t k); /* "pool", "query", ... */

typedef struct txs_pool_stats {
    int total; /* connections open or opening (closing ones too, until closed) */
    int idle;
    int linked;
    int connecting;
    int resetting;
    int pinging;
    int closing;        /* idle + linked + connecting + resetting + pinging + closing = total */
    int waiters;        /* sessions waiting for a connection (queued, or theirs being pinged) */
    bool down;          /* the last connect failed: retrying with backoff */
    uint64_t checkouts; /* connections handed to sessions */
    uint64_t opened;    /* connections opened since start (connect succeeded) */
    uint64_t closed;    /* closes finished: the sum of closed_by */
    uint64_t closed_by[TXS_CLOSE_NREASONS];
    uint64_t connect_failures; /* = closed_by[connect_failed]; so at every moment
                                  total = opened + connect_failures + connecting - closed */
    uint64_t rollbacks;        /* returned inside a transaction and handed to reset (rolled back) */
    uint64_t resets;           /* the driver's reset ran (it had something to do) */
    uint64_t pings, ping_failures;
    uint64_t timeouts[TXS_TIMEOUT_NKINDS];
    txs_histogram_t wait_time;  /* per checkout: how long the session waited for its
                                   connection (0 when one was idle) */
    txs_histogram_t query_time; /* per round trip a session's request made to the database
                                   (a statement, a batch, a commit, a savepoint) */
} txs_pool_stats_t;

txs_pool_t *txs_pool_create(uv_loop_t *loop, const txs_db_conf_t *conf);
const char *txs_pool_name(const txs_pool_t *p);
const txs_driver_t *txs_pool_driver(const txs_pool_t *p);
const txs_db_conf_t *txs_pool_conf(const txs_pool_t *p);

/* A clean backend for w's owner now (returned, state LINKED), or NULL: w is then
 * queued and w->cb runs with a backend or an error, normally later; it may run before
 * acquire returns when a connect or a ping fails at once. An idle connection idle
 * longer than pre_ping_after is pinged first (w keeps its place meanwhile). */
txs_backend_t *txs_pool_acquire(txs_pool_t *p, txs_pool_waiter_t *w);
/* Leave the queue (or give up the connection being pinged for w) without a callback.
 * Safe when not queued. */
void txs_pool_cancel_wait(txs_pool_t *p, txs_pool_waiter_t *w);
/* Give back a LINKED backend with no operation running. Clean ones go to the
 * next waiter or the idle list; one in a transaction is rolled back first; one
 * in any other state, or too old, is closed. */
void txs_pool_release(txs_backend_t *b);
/* Give back a LINKED backend whose connection is broken, or whose operation must be
 * abandoned (one may still run): closed, never reused. */
void txs_pool_discard(txs_backend_t *b, txs_close_reason_t why);

/* Open min_idle connections (and keep them warm from then on). Before it, the pool
 * opens connections only for requests. */
void txs_pool_start(txs_pool_t *p);

void txs_pool_stats(const txs_pool_t *p, txs_pool_stats_t *out);
/* A session's round trip to the database took us microseconds. */
void txs_pool_observe_query(txs_pool_t *p, uint64_t us);
/* A session-side timeout of this pool happened (query, idle in transaction, ...). */
void txs_pool_count_timeout(txs_pool_t *p, txs_timeout_kind_t k);
/* One log line (at info, whatever log_level says: it was asked for) with every count of
 * txs_pool_stats(). */
void txs_pool_log_stats(const txs_pool_t *p);
/* One line at info naming the db, its driver, its dsn (masked) and sizes: at start, and
 * for a db a reload adds or changes. */
void txs_pool_log_config(const txs_pool_t *p);
/* Who a log line about b is about: its db and its id. */
txs_log_who_t txs_backend_who(const txs_backend_t *b);

/* pool_reload.c: SIGHUP. */
/* Take the db's new settings (a copy is kept; the driver is not changed): idle
 * connections above the new size, or opened with another dsn, are closed now, busy
 * ones when given back; waiters keep their place and are served by new connections if
 * the pool grew; timers are re-armed for the new timeouts. */
void txs_pool_reconfigure(txs_pool_t *p, const txs_db_conf_t *conf);
/* A session binds itself to the pool (its db) and lets go: a removed pool lives on
 * while any session is bound to it. */
void txs_pool_bind(txs_pool_t *p);
void txs_pool_unbind(txs_pool_t *p);
/* The db left the configuration: the pool serves the sessions bound to it until the
 * last lets go, then closes its connections; done(arg) runs when all are closed (free
 * the pool then). */
void txs_pool_retire(txs_pool_t *p, void (*done)(void *arg), void *arg);
/* The db came back before its retired pool began to close: it serves again (true), its
 * done callback forgotten. False when it is closing already. */
bool txs_pool_revive(txs_pool_t *p);

/* Close every connection; fail waiters with 57P01. done(arg) runs when all are
 * closed; linked backends are closed when their sessions give them back. */
void txs_pool_shutdown(txs_pool_t *p, void (*done)(void *arg), void *arg);
/* Free a pool whose shutdown finished. */
void txs_pool_free(txs_pool_t *p);

#endif
