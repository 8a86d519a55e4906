/* pool.c - backend connections of one [db.*]: opened for waiters up to pool_size +
 * max_overflow and kept warm down to min_idle, handed out in FIFO order of waiters
 * (pinged first when idle long), taken back only clean, closed when old, surplus or
 * broken; one connect at a time while the database is down.
 *
 *   CONNECTING --ok--> IDLE <--> PINGING --alive--> LINKED --release--> RESETTING --> IDLE
 *        |              |           |                 |                     |
 *        +---failed-----+---lost----+--dead-----------+--discard/broken-----+--> CLOSING
 *
 * Every backend sits in pool->all and in exactly one state, and only set_state() moves
 * it (keeping the idle list and the count per state), so the counts always add up. */
#include "daemon/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diff.h"
#include "daemon/log.h"
#include "daemon/pool_int.h"
#include "protocol/errors.h"
#include "protocol/mask.h"
#include "protocol/sqlstate.h"

const char *txs_pool_name(const txs_pool_t *p)
{
    return p->conf->name;
}

txs_log_who_t txs_backend_who(const txs_backend_t *b)
{
    return (txs_log_who_t){.db = b->pool->conf->name, .backend = b->id};
}

const txs_driver_t *txs_pool_driver(const txs_pool_t *p)
{
    return p->drv;
}

const txs_db_conf_t *txs_pool_conf(const txs_pool_t *p)
{
    return p->conf;
}

txs_pool_t *txs_pool_create(uv_loop_t *loop, const txs_db_conf_t *conf)
{
    const txs_driver_t *drv = txs_driver_find(conf->driver);
    if (!drv)
        return NULL;
    txs_pool_t *p = txs_xcalloc(1, sizeof *p);
    p->loop = loop;
    txs_conf_db_copy(&p->own, conf); /* a reload frees the configuration it replaces */
    p->conf = &p->own;
    p->drv = drv;
    txs_pool_janitor_init(p);
    return p;
}

/* ---- lists and states ---- */

static void idle_push(txs_pool_t *p, txs_backend_t *b)
{
    b->idle_prev = NULL;
    b->idle_next = p->idle;
    if (p->idle)
        p->idle->idle_prev = b;
    else
        p->idle_tail = b;
    p->idle = b;
}

static void idle_remove(txs_pool_t *p, txs_backend_t *b)
{
    if (b->idle_prev)
        b->idle_prev->idle_next = b->idle_next;
    else
        p->idle = b->idle_next;
    if (b->idle_next)
        b->idle_next->idle_prev = b->idle_prev;
    else
        p->idle_tail = b->idle_prev;
    b->idle_prev = b->idle_next = NULL;
}

/* Sorted by recycle_at; a new connection is usually due last, so the walk from the
 * tail is short. */
void txs_pool_age_insert(txs_pool_t *p, txs_backend_t *b)
{
    txs_backend_t *after = p->age_tail;
    while (after && after->recycle_at > b->recycle_at)
        after = after->age_prev;
    b->age_prev = after;
    b->age_next = after ? after->age_next : p->age;
    if (b->age_next)
        b->age_next->age_prev = b;
    else
        p->age_tail = b;
    if (after)
        after->age_next = b;
    else
        p->age = b;
}

void txs_pool_age_remove(txs_pool_t *p, txs_backend_t *b)
{
    if (p->age != b && !b->age_prev)
        return; /* not in the list */
    if (b->age_prev)
        b->age_prev->age_next = b->age_next;
    else
        p->age = b->age_next;
    if (b->age_next)
        b->age_next->age_prev = b->age_prev;
    else
        p->age_tail = b->age_prev;
    b->age_prev = b->age_next = NULL;
}

static void all_remove(txs_pool_t *p, txs_backend_t *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        p->all = b->next;
    if (b->next)
        b->next->prev = b->prev;
}

/* The one way a backend changes state: the idle list and the counts follow. */
static void set_state(txs_backend_t *b, txs_backend_state_t st)
{
    txs_pool_t *p = b->pool;
    if (b->state == TXS_BACKEND_IDLE)
        idle_remove(p, b);
    p->nstate[b->state]--;
    b->state = st;
    p->nstate[st]++;
    if (st == TXS_BACKEND_IDLE)
        idle_push(p, b);
}

/* ---- waiters ---- */

static void waiter_push(txs_pool_t *p, txs_pool_waiter_t *w, bool front)
{
    w->queued = true;
    if (!p->wait_head || w->deadline < p->wait_min)
        p->wait_min = w->deadline;
    if (front) {
        w->prev = NULL;
        w->next = p->wait_head;
        if (p->wait_head)
            p->wait_head->prev = w;
        else
            p->wait_tail = w;
        p->wait_head = w;
    } else {
        w->next = NULL;
        w->prev = p->wait_tail;
        if (p->wait_tail)
            p->wait_tail->next = w;
        else
            p->wait_head = w;
        p->wait_tail = w;
    }
    p->nwaiters++;
}

txs_pool_waiter_t *txs_pool_waiter_pop(txs_pool_t *p)
{
    txs_pool_waiter_t *w = p->wait_head;
    if (!w)
        return NULL;
    p->wait_head = w->next;
    if (p->wait_head)
        p->wait_head->prev = NULL;
    else
        p->wait_tail = NULL;
    w->next = w->prev = NULL;
    w->queued = false;
    p->nwaiters--;
    return w;
}

static void ping_detach(txs_pool_t *p, txs_backend_t *b)
{
    txs_pool_waiter_t *w = b->ping_waiter;
    if (!w)
        return;
    b->ping_waiter = NULL;
    w->pinging = NULL;
    p->nping_waiters--;
}

static void waiter_unlink(txs_pool_t *p, txs_pool_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wait_tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
    p->nwaiters--;
    /* The janitor may wake up for this waiter's deadline: it finds nothing due. */
}

void txs_pool_cancel_wait(txs_pool_t *p, txs_pool_waiter_t *w)
{
    if (w->pinging) {
        /* The ping goes on; an alive connection goes back to the idle list. */
        ping_detach(p, w->pinging);
        return;
    }
    if (w->queued)
        waiter_unlink(p, w);
}

void txs_pool_expire_waiters(txs_pool_t *p, uint64_t now)
{
    /* One at a time, from the head again after each callback: a callback may start the
     * session's next request (a new wait) or end other waits. */
    for (;;) {
        txs_pool_waiter_t *w = p->wait_head;
        while (w && w->deadline > now)
            w = w->next;
        if (!w)
            break;
        waiter_unlink(p, w);
        p->counts.timeouts[TXS_TIMEOUT_POOL]++;
        txs_pool_fail_waiter(w, TXS_SQLSTATE_TOO_MANY,
                             "no backend connection available within pool_timeout");
    }
    p->wait_min = 0;
    for (txs_pool_waiter_t *w = p->wait_head; w; w = w->next)
        if (!p->wait_min || w->deadline < p->wait_min)
            p->wait_min = w->deadline;
}

void txs_pool_fail_waiter(txs_pool_waiter_t *w, const char *code, const char *message)
{
    txs_error_info_t e = {.code = code, .message = message};
    w->cb(w, NULL, &e);
}

/* ---- closing ---- */

/* The waiter whose connection failed its ping keeps its place at the head of the
 * queue; it now waits for the next idle connection or a new one, which
 * connect_timeout bounds. */
static void requeue_front(txs_pool_t *p, txs_pool_waiter_t *w)
{
    uint64_t until = uv_now(p->loop) + p->conf->connect_timeout_ms;
    if (w->deadline < until)
        w->deadline = until;
    waiter_push(p, w, true);
}

static void maybe_shutdown_done(txs_pool_t *p);

static void on_backend_closed(void *arg)
{
    txs_backend_t *b = arg;
    txs_pool_t *p = b->pool;
    all_remove(p, b);
    p->nstate[TXS_BACKEND_CLOSING]--;
    p->total--;
    p->counts.closed++;
    p->counts.closed_by[b->close_reason]++;
    free(b);
    if (p->shutting_down)
        maybe_shutdown_done(p);
    else
        txs_pool_pump(p); /* a slot is free: for a waiter, or for min_idle */
}

/* A close the operator should look at is a warning; a routine one (recycle, idle, overflow,
 * shutdown) is info. While down, only the first failed connect is worth a line above debug. */
static txs_log_level_t close_level(const txs_pool_t *p, txs_close_reason_t why)
{
    switch (why) {
    case TXS_CLOSE_CONNECT_FAILED:
        return p->down ? TXS_LOG_DEBUG : TXS_LOG_WARN;
    case TXS_CLOSE_LOST:
    case TXS_CLOSE_PING_FAILED:
    case TXS_CLOSE_RESET_FAILED:
    case TXS_CLOSE_CANCEL_FAILED:
        return TXS_LOG_WARN;
    default:
        return TXS_LOG_INFO;
    }
}

void txs_pool_close_backend(txs_backend_t *b, txs_close_reason_t why, const char *detail)
{
    if (b->state == TXS_BACKEND_CLOSING)
        return;
    txs_pool_t *p = b->pool;
    /* The one line of the close: its reason's name (as in the stats' closed_<reason>), and
     * what happened, on one line (a driver's message may go on with a hint). */
    txs_log_for(close_level(p, why), txs_backend_who(b), "closing: %s%s%.*s%s",
                txs_close_reason_name(why), detail ? " (" : "",
                detail ? (int)strcspn(detail, "\n") : 0, detail ? detail : "", detail ? ")" : "");
    b->close_reason = (int)why;
    txs_pool_waiter_t *w = b->ping_waiter;
    ping_detach(p, b);
    txs_pool_age_remove(p, b);
    set_state(b, TXS_BACKEND_CLOSING);
    p->drv->close(b->dconn, on_backend_closed, b);
    if (w)
        requeue_front(p, w); /* its connection failed the ping: the next one is for w */
}

/* ---- idle ---- */

static void on_idle_lost(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    txs_error_info_t err = {0};
    b->pool->drv->last_error(c, &err);
    char detail[600];
    snprintf(detail, sizeof detail, "while idle: %s",
             err.message ? err.message : "connection closed");
    txs_pool_close_backend(b, TXS_CLOSE_LOST, detail);
}

static bool expired(const txs_backend_t *b)
{
    return b->recycle_at && uv_now(b->pool->loop) >= b->recycle_at;
}

/* A clean connection (just connected, reset, or pinged for a waiter that left) goes to
 * the idle list, where pump hands it to the head waiter; unless it is too old, or
 * surplus: with nobody waiting, one beyond pool_size open connections is an overflow
 * connection (counting what is open, not what is idle, as SQLAlchemy's QueuePool). */
static void make_idle(txs_backend_t *b)
{
    txs_pool_t *p = b->pool;
    if (p->shutting_down) {
        txs_pool_close_backend(b, TXS_CLOSE_SHUTDOWN, NULL);
        return;
    }
    if (expired(b)) {
        txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, NULL);
        return;
    }
    int others_open = p->total - p->nstate[TXS_BACKEND_CLOSING] - 1;
    if (!p->wait_head && others_open >= p->conf->pool_size) {
        txs_pool_close_backend(b, TXS_CLOSE_OVERFLOW, NULL);
        return;
    }
    txs_close_reason_t why;
    const char *detail;
    if (txs_pool_surplus(b, &why, &detail)) {
        txs_pool_close_backend(b, why, detail);
        return;
    }
    b->idle_since = uv_now(p->loop);
    set_state(b, TXS_BACKEND_IDLE);
    p->drv->watch(b->dconn, on_idle_lost, b);
    txs_pool_pump(p);
}

/* Hand b to a session: w is the waiter it goes to, NULL when acquire found it at once. */
static void link_backend(txs_backend_t *b, const txs_pool_waiter_t *w)
{
    txs_pool_t *p = b->pool;
    if (b->state == TXS_BACKEND_IDLE)
        p->drv->watch(b->dconn, NULL, NULL);
    set_state(b, TXS_BACKEND_LINKED);
    p->counts.checkouts++;
    txs_histogram_observe(&p->counts.wait_time, w ? (uv_hrtime() - w->since_ns) / 1000 : 0);
}

/* ---- pre_ping ---- */

static bool needs_ping(const txs_backend_t *b)
{
    const txs_pool_t *p = b->pool;
    if (!p->conf->pre_ping || !p->drv->ping)
        return false;
    /* Longer than: one handed over in the loop turn it became idle (a new connection
     * to its first waiter) is not pinged, even with pre_ping_after = 0. */
    return uv_now(p->loop) - b->idle_since > p->conf->pre_ping_after_ms;
}

static void on_ping(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    txs_pool_t *p = b->pool;
    if (st == TXS_DRV_OK) {
        txs_pool_waiter_t *w = b->ping_waiter;
        ping_detach(p, b);
        if (!w) {
            make_idle(b);
            return;
        }
        link_backend(b, w);
        w->cb(w, b, NULL);
        return;
    }
    p->counts.ping_failures++;
    txs_error_info_t err = {0};
    p->drv->last_error(c, &err);
    /* its waiter is first in line */
    txs_pool_close_backend(b, TXS_CLOSE_PING_FAILED, err.message ? err.message : "no answer");
    txs_pool_pump(p);
}

/* Check b before w gets it. w leaves the queue meanwhile; if b is dead, closing it
 * puts w back at the head (requeue_front). */
static void start_ping(txs_backend_t *b, txs_pool_waiter_t *w)
{
    txs_pool_t *p = b->pool;
    p->drv->watch(b->dconn, NULL, NULL);
    set_state(b, TXS_BACKEND_PINGING);
    p->counts.pings++;
    b->ping_waiter = w;
    w->pinging = b;
    p->nping_waiters++;
    if (p->drv->ping(b->dconn, p->conf->connect_timeout_ms, on_ping, b) != TXS_OK) {
        p->counts.ping_failures++;
        txs_pool_close_backend(b, TXS_CLOSE_PING_FAILED, "could not send the ping");
    }
}

/* ---- opening ---- */

/* A connect failed: the database is down until one succeeds. Nobody waits out
 * pool_timeout against a dead server: every waiter that no connect still in flight can
 * serve gets 08001 now, also one that a connection returning from a session might
 * have served: the database just refused a new connection, and a prompt error lets the
 * application decide. Those arriving from now on wait for the next retry. */
static void connect_failed(txs_pool_t *p, const char *msg)
{
    p->counts.connect_failures++;
    if (!p->down)
        txs_log_at(TXS_LOG_WARN, &(txs_log_who_t){.db = p->conf->name},
                   "down (%.*s): reconnecting with backoff", (int)strcspn(msg, "\n"), msg);
    p->down = true;
    if (p->nstate[TXS_BACKEND_CONNECTING] == 0)
        txs_pool_schedule_retry(p);
    for (int n = p->nwaiters - p->nstate[TXS_BACKEND_CONNECTING]; n > 0 && p->wait_head; n--)
        txs_pool_fail_waiter(txs_pool_waiter_pop(p), TXS_SQLSTATE_CONNECT_FAILED, msg);
    txs_pool_pump(p);
}

static void on_connected(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    txs_pool_t *p = b->pool;
    if (st != TXS_DRV_OK) {
        txs_error_info_t err = {0};
        p->drv->last_error(c, &err);
        /* Masked: the log and the waiters' 08001 get it, and a driver may quote the dsn. */
        char msg[512];
        txs_mask_copy(msg, sizeof msg,
                      err.message ? err.message : "could not connect to the database");
        /* While down, each failed retry would log twice a second: the first one is
         * enough (close_level). libpq's hint on a second line stays out of the log. */
        txs_pool_close_backend(b, TXS_CLOSE_CONNECT_FAILED, msg);
        connect_failed(p, msg);
        return;
    }
    p->counts.opened++;
    b->opened_at = uv_now(p->loop);
    uint64_t age = txs_pool_recycle_age(p, b);
    b->recycle_at = age ? b->opened_at + age : 0;
    if (b->recycle_at)
        txs_pool_age_insert(p, b);
    txs_log_for(TXS_LOG_INFO, txs_backend_who(b), "connected (pid %d)", p->drv->backend_pid(c));
    if (p->down) {
        txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = p->conf->name}, "up again");
        p->down = false;
        p->backoff_ms = 0;
        p->retry_at = 0;
    }
    make_idle(b);
}

static void open_backend(txs_pool_t *p)
{
    txs_backend_t *b = txs_xcalloc(1, sizeof *b);
    b->pool = p;
    b->id = ++p->next_id;
    b->dsn_gen = p->dsn_gen;
    b->state = TXS_BACKEND_CONNECTING;
    p->nstate[TXS_BACKEND_CONNECTING]++;
    b->next = p->all;
    if (p->all)
        p->all->prev = b;
    p->all = b;
    p->total++;
    int rc = p->drv->connect(p->loop, p->conf->dsn, p->conf->connect_timeout_ms, on_connected, b,
                             &b->dconn);
    if (rc != TXS_OK) {
        /* The driver could not even start (bad DSN syntax): a failed connect. */
        txs_log_for(p->down ? TXS_LOG_DEBUG : TXS_LOG_ERROR, txs_backend_who(b),
                    "cannot start a connection: %s", txs_strerror(rc));
        p->nstate[TXS_BACKEND_CONNECTING]--;
        p->total--;
        all_remove(p, b);
        free(b);
        p->counts.closed++;
        p->counts.closed_by[TXS_CLOSE_CONNECT_FAILED]++;
        connect_failed(p, "could not start a connection: bad dsn?");
    }
}

void txs_pool_pump(txs_pool_t *p)
{
    if (p->shutting_down)
        return;
    while (p->wait_head && p->idle) {
        txs_backend_t *b = p->idle; /* the most recently used: the idle tail ages out */
        if (expired(b)) {
            txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, NULL);
            continue;
        }
        txs_pool_waiter_t *w = txs_pool_waiter_pop(p);
        if (needs_ping(b)) {
            start_ping(b, w);
            continue;
        }
        link_backend(b, w);
        w->cb(w, b, NULL);
        if (p->shutting_down)
            return;
    }
    while (!p->shutting_down && txs_pool_wants_connection(p) && txs_pool_may_connect(p))
        open_backend(p);
    txs_pool_janitor_arm(p);
}

/* ---- public ---- */

void txs_pool_start(txs_pool_t *p)
{
    p->started = true;
    txs_pool_pump(p);
}

txs_backend_t *txs_pool_acquire(txs_pool_t *p, txs_pool_waiter_t *w)
{
    w->pinging = NULL;
    while (!p->wait_head && p->idle) {
        txs_backend_t *b = p->idle;
        if (expired(b)) {
            txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, NULL);
            continue;
        }
        if (needs_ping(b))
            break; /* queued, then pump pings b for w */
        link_backend(b, NULL);
        return b;
    }
    /* As in SQLAlchemy's QueuePool, pool_timeout limits the wait for a busy pool.
     * A waiter that a connection is (or will be) opened for waits for it instead,
     * which connect_timeout bounds (08001), plus the time to the next retry while
     * the database is down; so even pool_timeout = 0 lets a lazily opened pool serve
     * its first requests. */
    uint64_t now = uv_now(p->loop);
    bool gets_new =
        p->idle || p->nwaiters < p->nstate[TXS_BACKEND_CONNECTING] || p->total < txs_pool_cap(p);
    uint64_t wait = p->conf->pool_timeout_ms;
    if (gets_new) {
        uint64_t connect = p->conf->connect_timeout_ms;
        if (p->down && p->retry_at > now)
            connect += p->retry_at - now;
        if (wait < connect)
            wait = connect;
    }
    w->deadline = now + wait;
    w->since_ns = uv_hrtime();
    waiter_push(p, w, false);
    txs_pool_pump(p);
    return NULL;
}

static void on_reset_done(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    if (st == TXS_DRV_OK && b->pool->drv->tx_status(c) == TXS_DRV_TX_IDLE) {
        make_idle(b);
        return;
    }
    txs_error_info_t err = {0};
    if (st != TXS_DRV_OK)
        b->pool->drv->last_error(c, &err);
    txs_pool_close_backend(b, st == TXS_DRV_LOST ? TXS_CLOSE_LOST : TXS_CLOSE_RESET_FAILED,
                           err.message ? err.message : "still in a transaction");
}

/* The driver puts the connection back clean (a rollback, a reset of session state)
 * before anyone else may use it. */
void txs_pool_release(txs_backend_t *b)
{
    txs_pool_t *p = b->pool;
    txs_drv_txstatus_t ts = p->drv->tx_status(b->dconn);
    if (ts == TXS_DRV_TX_ACTIVE) {
        txs_pool_close_backend(b, TXS_CLOSE_RESET_FAILED, "returned with a statement running");
        return;
    }
    if (ts == TXS_DRV_TX_UNKNOWN) {
        txs_pool_close_backend(b, TXS_CLOSE_LOST, "returned broken");
        return;
    }
    if (p->shutting_down) {
        txs_pool_close_backend(b, TXS_CLOSE_SHUTDOWN, NULL);
        return;
    }
    if (expired(b)) {
        txs_pool_close_backend(b, TXS_CLOSE_RECYCLE, NULL);
        return;
    }
    txs_close_reason_t why;
    const char *detail;
    if (txs_pool_surplus(b, &why, &detail)) {
        txs_pool_close_backend(b, why, detail); /* no reset for a connection not kept */
        return;
    }
    set_state(b, TXS_BACKEND_RESETTING);
    int rc = p->drv->reset(b->dconn, p->conf->reset_always, on_reset_done, b);
    if (rc == 1) {
        make_idle(b);
    } else if (rc != TXS_OK) {
        txs_pool_close_backend(b, TXS_CLOSE_RESET_FAILED, "could not start the reset");
    } else {
        p->counts.resets++;
        if (ts != TXS_DRV_TX_IDLE)
            p->counts.rollbacks++;
    }
}

void txs_pool_discard(txs_backend_t *b, txs_close_reason_t why)
{
    txs_pool_close_backend(b, why, NULL);
}

/* ---- shutdown ---- */

static void on_janitor_closed(uv_handle_t *h)
{
    txs_pool_t *p = h->data;
    if (p->shutdown_done)
        p->shutdown_done(p->shutdown_arg);
}

static void maybe_shutdown_done(txs_pool_t *p)
{
    if (p->total == 0 && !uv_is_closing((uv_handle_t *)&p->janitor))
        uv_close((uv_handle_t *)&p->janitor, on_janitor_closed);
}

void txs_pool_shutdown(txs_pool_t *p, void (*done)(void *arg), void *arg)
{
    p->shutting_down = true;
    p->shutdown_done = done;
    p->shutdown_arg = arg;
    uv_timer_stop(&p->janitor);
    p->janitor_due = 0;
    static const char msg[] = "txscope is shutting down";
    while (p->wait_head)
        txs_pool_fail_waiter(txs_pool_waiter_pop(p), TXS_SQLSTATE_SHUTDOWN, msg);
    for (txs_backend_t *b = p->all; b; b = b->next) {
        txs_pool_waiter_t *w = b->ping_waiter;
        if (w) {
            ping_detach(p, b);
            txs_pool_fail_waiter(w, TXS_SQLSTATE_SHUTDOWN, msg);
        }
    }
    for (txs_backend_t *b = p->all, *next; b; b = next) {
        next = b->next;
        if (b->state != TXS_BACKEND_LINKED)
            txs_pool_close_backend(b, TXS_CLOSE_SHUTDOWN, NULL);
    }
    maybe_shutdown_done(p);
}

void txs_pool_free(txs_pool_t *p)
{
    txs_conf_db_clear(&p->own);
    free(p);
}
