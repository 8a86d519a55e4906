/* pool.h - one pool of backend connections per [db.*]: lazy opening, FIFO checkout
 * queue with pool_timeout, recycling by age, and clean-only return. */
#ifndef TXS_DAEMON_POOL_H
#define TXS_DAEMON_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf/config.h"
#include "drivers/driver.h"

typedef struct txs_pool txs_pool_t;

typedef enum txs_backend_state {
    TXS_BACKEND_CONNECTING, /* in pool->all; driver connect in flight */
    TXS_BACKEND_IDLE,       /* in pool->idle; clean, watched for death */
    TXS_BACKEND_LINKED,     /* handed to a session; the session drives it */
    TXS_BACKEND_RESETTING,  /* returned dirty; the pool rolls it back */
    TXS_BACKEND_CLOSING,    /* driver close in flight; off every list but pool->all */
} txs_backend_state_t;

typedef struct txs_backend {
    txs_pool_t *pool;
    txs_dconn_t *dconn;
    txs_backend_state_t state;
    uint64_t id;
    uint64_t opened_at;              /* uv_now() when connected: pool_recycle counts from here */
    uint64_t recycle_at;             /* opened_at + pool_recycle (0 = never) */
    struct txs_backend *prev, *next; /* pool->all */
    struct txs_backend *idle_prev, *idle_next; /* pool->idle, most recently returned first */
} txs_backend_t;

typedef struct txs_pool_waiter txs_pool_waiter_t;
/* Exactly one of b and err is set. err is 08001 (connect failed) or 53300 (timeout). */
typedef void (*txs_pool_cb)(txs_pool_waiter_t *w, txs_backend_t *b, const txs_error_info_t *err);

/* Embedded in whatever waits (a session); the pool links it into its FIFO. */
struct txs_pool_waiter {
    txs_pool_cb cb;
    uint64_t deadline;
    bool queued;
    txs_pool_waiter_t *prev, *next;
};

typedef struct txs_pool_stats {
    int total; /* connections open or opening */
    int idle;
    int linked;
    int connecting;
    int waiters;
    uint64_t opened; /* connections opened since start */
    uint64_t closed;
} txs_pool_stats_t;

txs_pool_t *txs_pool_create(uv_loop_t *loop, const txs_db_conf_t *conf);
const char *txs_pool_name(const txs_pool_t *p);
const txs_driver_t *txs_pool_driver(const txs_pool_t *p);
const txs_db_conf_t *txs_pool_conf(const txs_pool_t *p);

/* A clean backend for w's owner now (returned, state LINKED), or NULL: w is then
 * queued and w->cb runs later with a backend or an error. */
txs_backend_t *txs_pool_acquire(txs_pool_t *p, txs_pool_waiter_t *w);
/* Leave the queue without a callback. Safe when not queued. */
void txs_pool_cancel_wait(txs_pool_t *p, txs_pool_waiter_t *w);
/* Give back a LINKED backend with no operation running. Clean ones go to the
 * next waiter or the idle list; one in a transaction is rolled back first; one
 * in any other state, or too old, is closed. */
void txs_pool_release(txs_backend_t *b);
/* Give back a LINKED backend whose connection is broken: closed, never reused. */
void txs_pool_discard(txs_backend_t *b);

void txs_pool_stats(const txs_pool_t *p, txs_pool_stats_t *out);

/* Close every connection; fail waiters with 57P01. done(arg) runs when all are
 * closed; linked backends are closed when their sessions give them back. */
void txs_pool_shutdown(txs_pool_t *p, void (*done)(void *arg), void *arg);
/* Free a pool whose shutdown finished. */
void txs_pool_free(txs_pool_t *p);

#endif
