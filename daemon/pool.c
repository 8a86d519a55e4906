/* pool.c - backend connections of one [db.*]: open lazily up to pool_size, hand out
 * in FIFO order of waiters, take back only clean ones, close old or broken ones. */
#include "daemon/pool.h"

#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "protocol/errors.h"
#include "protocol/sqlstate.h"

struct txs_pool {
    uv_loop_t *loop;
    const txs_db_conf_t *conf;
    const txs_driver_t *drv;
    txs_backend_t *all;  /* every connection that is not yet closed */
    txs_backend_t *idle; /* clean, unlinked, watched */
    txs_pool_waiter_t *wait_head, *wait_tail;
    uv_timer_t wait_timer; /* armed for the head waiter's deadline */
    int total, nidle, nlinked, nconnecting, nwaiters;
    uint64_t next_id, opened, closed;
    bool shutting_down;
    void (*shutdown_done)(void *arg);
    void *shutdown_arg;
};

static void pump(txs_pool_t *p);
static void on_wait_timeout(uv_timer_t *t);

const char *txs_pool_name(const txs_pool_t *p)
{
    return p->conf->name;
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
    p->conf = conf;
    p->drv = drv;
    uv_timer_init(loop, &p->wait_timer);
    p->wait_timer.data = p;
    uv_unref((uv_handle_t *)&p->wait_timer);
    return p;
}

/* ---- lists ---- */

static void idle_push(txs_pool_t *p, txs_backend_t *b)
{
    b->idle_prev = NULL;
    b->idle_next = p->idle;
    if (p->idle)
        p->idle->idle_prev = b;
    p->idle = b;
    p->nidle++;
}

static void idle_remove(txs_pool_t *p, txs_backend_t *b)
{
    if (b->idle_prev)
        b->idle_prev->idle_next = b->idle_next;
    else
        p->idle = b->idle_next;
    if (b->idle_next)
        b->idle_next->idle_prev = b->idle_prev;
    b->idle_prev = b->idle_next = NULL;
    p->nidle--;
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

static void arm_wait_timer(txs_pool_t *p)
{
    if (!p->wait_head) {
        uv_timer_stop(&p->wait_timer);
        return;
    }
    uint64_t now = uv_now(p->loop);
    uint64_t due = p->wait_head->deadline > now ? p->wait_head->deadline - now : 0;
    uv_timer_start(&p->wait_timer, on_wait_timeout, due, 0);
}

static txs_pool_waiter_t *waiter_pop(txs_pool_t *p)
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

void txs_pool_cancel_wait(txs_pool_t *p, txs_pool_waiter_t *w)
{
    if (!w->queued)
        return;
    bool was_head = p->wait_head == w;
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
    if (was_head)
        arm_wait_timer(p);
}

/* ---- closing ---- */

static void maybe_shutdown_done(txs_pool_t *p);

static void on_backend_closed(void *arg)
{
    txs_backend_t *b = arg;
    txs_pool_t *p = b->pool;
    all_remove(p, b);
    p->total--;
    p->closed++;
    free(b);
    if (p->shutting_down)
        maybe_shutdown_done(p);
    else
        pump(p); /* a slot is free: a waiter may get a new connection */
}

static void backend_close(txs_backend_t *b, const char *why)
{
    txs_pool_t *p = b->pool;
    switch (b->state) {
    case TXS_BACKEND_IDLE:
        idle_remove(p, b);
        break;
    case TXS_BACKEND_CONNECTING:
        p->nconnecting--;
        break;
    case TXS_BACKEND_CLOSING:
        return;
    case TXS_BACKEND_LINKED: /* the caller already counted it out */
    case TXS_BACKEND_RESETTING:
        break;
    }
    txs_log_info("db %s: backend %llu closing: %s", p->conf->name, (unsigned long long)b->id, why);
    b->state = TXS_BACKEND_CLOSING;
    p->drv->close(b->dconn, on_backend_closed, b);
}

/* ---- idle ---- */

static void on_idle_lost(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    txs_error_info_t err;
    b->pool->drv->last_error(c, &err);
    txs_log_warn("db %s: idle backend %llu lost: %s", b->pool->conf->name,
                 (unsigned long long)b->id, err.message ? err.message : "connection closed");
    backend_close(b, "lost while idle");
}

static bool expired(const txs_backend_t *b)
{
    return b->recycle_at && uv_now(b->pool->loop) >= b->recycle_at;
}

/* A clean connection comes back: to the next waiter, or to the idle list. */
static void make_idle(txs_backend_t *b)
{
    txs_pool_t *p = b->pool;
    if (p->shutting_down) {
        backend_close(b, "shutdown");
        return;
    }
    if (expired(b)) {
        backend_close(b, "pool_recycle");
        return;
    }
    b->state = TXS_BACKEND_IDLE;
    idle_push(p, b);
    p->drv->watch(b->dconn, on_idle_lost, b);
    pump(p);
}

static void link_backend(txs_backend_t *b)
{
    txs_pool_t *p = b->pool;
    idle_remove(p, b);
    p->drv->watch(b->dconn, NULL, NULL);
    b->state = TXS_BACKEND_LINKED;
    p->nlinked++;
}

/* ---- opening ---- */

static void on_connected(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    txs_pool_t *p = b->pool;
    p->nconnecting--;
    if (st != TXS_DRV_OK) {
        txs_error_info_t err;
        p->drv->last_error(c, &err);
        txs_log_warn("db %s: backend %llu could not connect: %s", p->conf->name,
                     (unsigned long long)b->id, err.message ? err.message : "unknown error");
        /* Fail the oldest waiter unless the connections still opening can serve all. */
        if (p->nwaiters > p->nconnecting) {
            txs_pool_waiter_t *w = waiter_pop(p);
            arm_wait_timer(p);
            txs_error_info_t e = {.code = TXS_SQLSTATE_CONNECT_FAILED,
                                  .message = err.message ? err.message
                                                         : "could not connect to the database"};
            b->state = TXS_BACKEND_CLOSING; /* keep its slot until closed */
            w->cb(w, NULL, &e);
            p->drv->close(b->dconn, on_backend_closed, b);
        } else {
            b->state = TXS_BACKEND_CLOSING;
            p->drv->close(b->dconn, on_backend_closed, b);
        }
        return;
    }
    p->opened++;
    b->opened_at = uv_now(p->loop);
    b->recycle_at = p->conf->pool_recycle_ms ? b->opened_at + p->conf->pool_recycle_ms : 0;
    txs_log_info("db %s: backend %llu connected (pid %d)", p->conf->name, (unsigned long long)b->id,
                 p->drv->backend_pid(c));
    make_idle(b);
}

static void open_backend(txs_pool_t *p)
{
    txs_backend_t *b = txs_xcalloc(1, sizeof *b);
    b->pool = p;
    b->id = ++p->next_id;
    b->state = TXS_BACKEND_CONNECTING;
    b->next = p->all;
    if (p->all)
        p->all->prev = b;
    p->all = b;
    p->total++;
    p->nconnecting++;
    int rc = p->drv->connect(p->loop, p->conf->dsn, p->conf->connect_timeout_ms, on_connected, b,
                             &b->dconn);
    if (rc != TXS_OK) {
        /* The driver could not even start (bad DSN syntax): report like a failed connect. */
        p->nconnecting--;
        p->total--;
        all_remove(p, b);
        free(b);
        txs_log_error("db %s: cannot start a connection: %s", p->conf->name, txs_strerror(rc));
        if (p->wait_head) {
            txs_pool_waiter_t *w = waiter_pop(p);
            arm_wait_timer(p);
            txs_error_info_t e = {.code = TXS_SQLSTATE_CONNECT_FAILED,
                                  .message = "could not start a connection: bad dsn?"};
            w->cb(w, NULL, &e);
        }
    }
}

/* Serve waiters from the idle list, then open what the remaining waiters need. */
static void pump(txs_pool_t *p)
{
    if (p->shutting_down)
        return;
    while (p->wait_head && p->idle) {
        txs_backend_t *b = p->idle;
        if (expired(b)) {
            backend_close(b, "pool_recycle");
            continue;
        }
        link_backend(b);
        txs_pool_waiter_t *w = waiter_pop(p);
        arm_wait_timer(p);
        w->cb(w, b, NULL);
    }
    int need = p->nwaiters - p->nconnecting;
    while (need-- > 0 && p->total < p->conf->pool_size)
        open_backend(p);
}

static void on_wait_timeout(uv_timer_t *t)
{
    txs_pool_t *p = t->data;
    uint64_t now = uv_now(p->loop);
    while (p->wait_head && p->wait_head->deadline <= now) {
        txs_pool_waiter_t *w = waiter_pop(p);
        txs_error_info_t e = {.code = TXS_SQLSTATE_TOO_MANY,
                              .message = "no backend connection available within pool_timeout"};
        w->cb(w, NULL, &e);
    }
    if (p->wait_head) {
        uint64_t due = p->wait_head->deadline > now ? p->wait_head->deadline - now : 0;
        uv_timer_start(&p->wait_timer, on_wait_timeout, due, 0);
    }
}

/* ---- public ---- */

txs_backend_t *txs_pool_acquire(txs_pool_t *p, txs_pool_waiter_t *w)
{
    while (!p->wait_head && p->idle) {
        txs_backend_t *b = p->idle;
        if (expired(b)) {
            backend_close(b, "pool_recycle");
            continue;
        }
        link_backend(b);
        return b;
    }
    /* As in SQLAlchemy's QueuePool, pool_timeout limits the wait for a busy pool.
     * A waiter that a connection is (or will be) opened for waits for it instead,
     * which connect_timeout bounds (08001); so even pool_timeout = 0 lets a lazily
     * opened pool serve its first requests. */
    bool gets_new = p->nwaiters < p->nconnecting || p->total < p->conf->pool_size;
    uint64_t wait = p->conf->pool_timeout_ms;
    if (gets_new && wait < p->conf->connect_timeout_ms)
        wait = p->conf->connect_timeout_ms;
    w->deadline = uv_now(p->loop) + wait;
    w->queued = true;
    w->next = NULL;
    w->prev = p->wait_tail;
    if (p->wait_tail)
        p->wait_tail->next = w;
    else
        p->wait_head = w;
    p->wait_tail = w;
    p->nwaiters++;
    if (p->wait_head == w)
        arm_wait_timer(p);
    pump(p);
    return NULL;
}

static void on_reset_done(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    txs_backend_t *b = arg;
    if (st == TXS_DRV_OK && b->pool->drv->tx_status(c) == TXS_DRV_TX_IDLE)
        make_idle(b);
    else
        backend_close(b, st == TXS_DRV_LOST ? "lost during reset" : "reset failed");
}

/* The driver puts the connection back clean (a rollback, or MySQL's reset of session
 * state) before anyone else may use it. */
void txs_pool_release(txs_backend_t *b)
{
    txs_pool_t *p = b->pool;
    p->nlinked--;
    switch (p->drv->tx_status(b->dconn)) {
    case TXS_DRV_TX_IDLE:
    case TXS_DRV_TX_INTRANS:
    case TXS_DRV_TX_INERROR:
        break;
    case TXS_DRV_TX_ACTIVE:
        backend_close(b, "returned with a statement running");
        return;
    case TXS_DRV_TX_UNKNOWN:
        backend_close(b, "returned broken");
        return;
    }
    if (p->shutting_down || expired(b)) {
        backend_close(b, p->shutting_down ? "shutdown" : "pool_recycle");
        return;
    }
    b->state = TXS_BACKEND_RESETTING;
    int rc = p->drv->reset(b->dconn, p->conf->reset_always, on_reset_done, b);
    if (rc == 1)
        make_idle(b);
    else if (rc != TXS_OK)
        backend_close(b, "could not be reset");
}

void txs_pool_discard(txs_backend_t *b)
{
    b->pool->nlinked--;
    backend_close(b, "connection lost");
}

void txs_pool_stats(const txs_pool_t *p, txs_pool_stats_t *out)
{
    out->total = p->total;
    out->idle = p->nidle;
    out->linked = p->nlinked;
    out->connecting = p->nconnecting;
    out->waiters = p->nwaiters;
    out->opened = p->opened;
    out->closed = p->closed;
}

static void on_wait_timer_closed(uv_handle_t *h)
{
    txs_pool_t *p = h->data;
    if (p->shutdown_done)
        p->shutdown_done(p->shutdown_arg);
}

static void maybe_shutdown_done(txs_pool_t *p)
{
    if (p->total == 0 && !uv_is_closing((uv_handle_t *)&p->wait_timer))
        uv_close((uv_handle_t *)&p->wait_timer, on_wait_timer_closed);
}

void txs_pool_shutdown(txs_pool_t *p, void (*done)(void *arg), void *arg)
{
    p->shutting_down = true;
    p->shutdown_done = done;
    p->shutdown_arg = arg;
    while (p->wait_head) {
        txs_pool_waiter_t *w = waiter_pop(p);
        txs_error_info_t e = {.code = TXS_SQLSTATE_SHUTDOWN, .message = "txscope is shutting down"};
        w->cb(w, NULL, &e);
    }
    uv_timer_stop(&p->wait_timer);
    for (txs_backend_t *b = p->all, *next; b; b = next) {
        next = b->next;
        if (b->state != TXS_BACKEND_LINKED)
            backend_close(b, "shutdown");
    }
    maybe_shutdown_done(p);
}

void txs_pool_free(txs_pool_t *p)
{
    free(p);
}
