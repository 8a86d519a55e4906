/* session_timeout.c - a session's clocks: query_timeout (cancel, then a hard stop),
 * idle_in_transaction_timeout, transaction_timeout and session_idle_timeout.
 *
 * One uv_timer per session, allocated on first use and armed for the nearest deadline.
 * Deadlines are not stored: they follow from the session's state and a few timestamps,
 * and are worked out again when the timer fires. A timer armed too early (the deadline
 * moved later, as the idle deadline does with every request) costs one wake-up and is
 * left in place meanwhile, so a busy session does not re-arm it on every request. */
#include <stdlib.h>

#include "daemon/client.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/session_int.h"

/* How long a cancelled statement may take to stop before its connection is closed.
 * A live PostgreSQL or MariaDB stops a cancelled statement within milliseconds; one that
 * does not answer in 2 s is hung or gone, and holding its connection longer holds the
 * session's client too. */
#define CANCEL_GRACE_MS 2000

typedef enum due_kind {
    DUE_NONE,
    DUE_STOP,  /* a cancelled step did not stop: close its connection */
    DUE_QUERY, /* query_timeout: cancel the step */
    DUE_TX,    /* transaction_timeout */
    DUE_IDLE_TX,
    DUE_SESSION_IDLE,
} due_kind_t;

static uint64_t now_ms(const txs_session_t *s)
{
    return uv_now(s->client->server->loop);
}

/* Steps query_timeout may cancel: not a commit (its outcome would be unknown) and not
 * the undoing of work (a rollback that fails only closes the connection). */
static bool step_cancellable(const txs_session_t *s)
{
    switch (s->step) {
    case TXS_STEP_NONE:
    case TXS_STEP_ROLLBACK:
    case TXS_STEP_LEVEL_UNDO:
    case TXS_STEP_ROLLBACK_TO:
        return false;
    default:
        return !txs_session_step_commits(s);
    }
}

static void consider(uint64_t at, due_kind_t kind, uint64_t *best, due_kind_t *best_kind)
{
    if (at && (!*best || at < *best)) {
        *best = at;
        *best_kind = kind;
    }
}

/* The nearest deadline of the session in its present state (0: none). */
static uint64_t next_due(const txs_session_t *s, due_kind_t *kind)
{
    uint64_t at = 0;
    *kind = DUE_NONE;
    if (s->state == TXS_SESSION_RUNNING && s->cancel_sent && s->cancel_at)
        consider(s->cancel_at + CANCEL_GRACE_MS, DUE_STOP, &at, kind);
    if (s->winding_down || !s->pool)
        return at;
    const txs_db_conf_t *d = txs_pool_conf(s->pool);
    uint64_t tx_due =
        d->transaction_timeout_ms && s->tx_started ? s->tx_started + d->transaction_timeout_ms : 0;
    switch (s->state) {
    case TXS_SESSION_RUNNING:
        if (s->cancel_sent || !step_cancellable(s))
            return at;
        if (d->query_timeout_ms)
            consider(s->step_started + d->query_timeout_ms, DUE_QUERY, &at, kind);
        consider(tx_due, DUE_TX, &at, kind);
        return at;
    case TXS_SESSION_ACQUIRING:
        consider(tx_due, DUE_TX, &at, kind);
        return at;
    case TXS_SESSION_WAITING:
        return at;
    case TXS_SESSION_READY:
        break;
    }
    if (s->current || s->head)
        return at; /* between two requests of a pipeline: not idle */
    if (s->tx != TXS_TX_IDLE) {
        consider(tx_due, DUE_TX, &at, kind);
        if (s->backend && d->idle_in_transaction_timeout_ms)
            consider(s->idle_since + d->idle_in_transaction_timeout_ms, DUE_IDLE_TX, &at, kind);
    } else if (!s->backend && s->timeout_unreported < 0 && !s->ended &&
               d->session_idle_timeout_ms) {
        /* A session whose 25P03 is unreported is kept until its client hears it. */
        consider(s->idle_since + d->session_idle_timeout_ms, DUE_SESSION_IDLE, &at, kind);
    }
    return at;
}

static void on_timer(uv_timer_t *t);

static void arm(txs_session_t *s, uint64_t at)
{
    if (!s->timer) {
        s->timer = txs_xmalloc(sizeof *s->timer);
        uv_timer_init(s->client->server->loop, s->timer);
        s->timer->data = s;
        uv_unref((uv_handle_t *)s->timer); /* what it guards keeps the loop alive */
    }
    uint64_t now = now_ms(s);
    uv_timer_start(s->timer, on_timer, at > now ? at - now : 0, 0);
    s->timer_due = at;
}

void txs_session_timer_update(txs_session_t *s)
{
    due_kind_t kind;
    uint64_t at = next_due(s, &kind);
    /* A timer armed for earlier than needed (or for nothing now) is left to fire, find
     * nothing due and re-arm: stopping and restarting it on every request would cost
     * two timer-heap operations per request for a wake-up a minute. */
    if (!at || (s->timer_due && s->timer_due <= at))
        return;
    arm(s, at);
}

static void log_timeout(const txs_session_t *s, txs_log_level_t level, const char *what,
                        uint64_t ms, const char *action)
{
    if (level > txs_log_max_level)
        return;
    char dur[32];
    txs_conf_format_duration(ms, dur, sizeof dur);
    txs_log_for(level, txs_session_who(s), "%s (%s) passed: %s", what, dur, action);
}

static void on_timer(uv_timer_t *t)
{
    txs_session_t *s = t->data;
    s->timer_due = 0;
    due_kind_t kind;
    uint64_t at = next_due(s, &kind);
    if (!at || at > now_ms(s)) {
        txs_session_timer_update(s);
        return;
    }
    const txs_db_conf_t *d = s->pool ? txs_pool_conf(s->pool) : NULL;
    switch (kind) {
    case DUE_NONE:
        break;
    case DUE_STOP:
        txs_log_for(TXS_LOG_WARN, txs_session_who(s),
                    "the statement did not stop within %d ms of its cancel: closing its backend "
                    "connection",
                    CANCEL_GRACE_MS);
        txs_session_abandon(s); /* may free s */
        return;
    case DUE_QUERY:
        log_timeout(s, TXS_LOG_WARN, "query_timeout", d->query_timeout_ms,
                    "cancelling the statement");
        txs_pool_count_timeout(s->pool, TXS_TIMEOUT_QUERY);
        s->timing_out = TXS_TIMEOUT_QUERY;
        txs_session_cancel(s);
        break;
    case DUE_TX:
        log_timeout(s, TXS_LOG_WARN, "transaction_timeout", d->transaction_timeout_ms,
                    "rolling the transaction back");
        txs_pool_count_timeout(s->pool, TXS_TIMEOUT_TRANSACTION);
        if (s->state == TXS_SESSION_RUNNING) {
            s->timing_out = TXS_TIMEOUT_TRANSACTION;
            txs_session_cancel(s); /* the step's completion rolls back and answers 25P03 */
            break;
        }
        if (s->state == TXS_SESSION_ACQUIRING) {
            txs_session_timeout_acquiring(s); /* may free s */
            return;
        }
        txs_session_timeout_rollback(s, TXS_TIMEOUT_TRANSACTION);
        break;
    case DUE_IDLE_TX:
        log_timeout(s, TXS_LOG_WARN, "idle_in_transaction_timeout",
                    d->idle_in_transaction_timeout_ms, "rolling the transaction back");
        txs_pool_count_timeout(s->pool, TXS_TIMEOUT_IDLE_IN_TRANSACTION);
        txs_session_timeout_rollback(s, TXS_TIMEOUT_IDLE_IN_TRANSACTION);
        break;
    case DUE_SESSION_IDLE:
        /* At debug: forgetting idle sessions is routine, and there may be many. */
        log_timeout(s, TXS_LOG_DEBUG, "session_idle_timeout", d->session_idle_timeout_ms,
                    "session ended");
        txs_pool_count_timeout(s->pool, TXS_TIMEOUT_SESSION_IDLE);
        txs_session_forget(s);
        return;
    }
    txs_session_timer_update(s);
}

void txs_session_timer_reload(txs_session_t *s)
{
    /* Sooner than the timer: re-armed now. Later: the timer fires early, finds nothing
     * due and re-arms, as when a request moves the idle deadline. */
    txs_session_timer_update(s);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

void txs_session_timer_free(txs_session_t *s)
{
    if (!s->timer)
        return;
    uv_close((uv_handle_t *)s->timer, on_timer_closed);
    s->timer = NULL;
    s->timer_due = 0;
}
