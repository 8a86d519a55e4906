/* pool_stats.c - a pool's counts (connections by state, waiters, checkouts, closes by
 * reason, connect and ping failures, timeouts by kind), their names, and the one log
 * line that shows them all. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/pool_int.h"
#include "protocol/mask.h"

static const char *const close_names[TXS_CLOSE_NREASONS] = {
    [TXS_CLOSE_RECYCLE] = "recycle",
    [TXS_CLOSE_IDLE_TIMEOUT] = "idle_timeout",
    [TXS_CLOSE_OVERFLOW] = "overflow",
    [TXS_CLOSE_LOST] = "lost",
    [TXS_CLOSE_PING_FAILED] = "ping_failed",
    [TXS_CLOSE_RESET_FAILED] = "reset_failed",
    [TXS_CLOSE_CANCEL_FAILED] = "cancel_failed",
    [TXS_CLOSE_CONNECT_FAILED] = "connect_failed",
    [TXS_CLOSE_SHUTDOWN] = "shutdown",
};

static const char *const timeout_names[TXS_TIMEOUT_NKINDS] = {
    [TXS_TIMEOUT_POOL] = "pool",
    [TXS_TIMEOUT_QUERY] = "query",
    [TXS_TIMEOUT_IDLE_IN_TRANSACTION] = "idle_in_transaction",
    [TXS_TIMEOUT_TRANSACTION] = "transaction",
    [TXS_TIMEOUT_SESSION_IDLE] = "session_idle",
};

const char *txs_close_reason_name(txs_close_reason_t r)
{
    return (unsigned)r < TXS_CLOSE_NREASONS ? close_names[r] : "unknown";
}

const char *txs_timeout_kind_name(txs_timeout_kind_t k)
{
    return (unsigned)k < TXS_TIMEOUT_NKINDS ? timeout_names[k] : "unknown";
}

void txs_pool_stats(const txs_pool_t *p, txs_pool_stats_t *out)
{
    *out = p->counts;
    out->total = p->total;
    out->idle = p->nstate[TXS_BACKEND_IDLE];
    out->linked = p->nstate[TXS_BACKEND_LINKED];
    out->connecting = p->nstate[TXS_BACKEND_CONNECTING];
    out->resetting = p->nstate[TXS_BACKEND_RESETTING];
    out->pinging = p->nstate[TXS_BACKEND_PINGING];
    out->closing = p->nstate[TXS_BACKEND_CLOSING];
    out->waiters = p->nwaiters + p->nping_waiters;
    out->down = p->down;
}

void txs_pool_observe_query(txs_pool_t *p, uint64_t us)
{
    txs_histogram_observe(&p->counts.query_time, us);
}

void txs_pool_count_timeout(txs_pool_t *p, txs_timeout_kind_t k)
{
    if ((unsigned)k < TXS_TIMEOUT_NKINDS)
        p->counts.timeouts[k]++;
}

typedef struct line {
    char buf[1536];
    size_t len;
} line_t;

__attribute__((format(printf, 2, 3))) static void put(line_t *l, const char *fmt, ...)
{
    if (l->len >= sizeof l->buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, sizeof l->buf - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n;
}

void txs_pool_log_stats(const txs_pool_t *p)
{
    txs_pool_stats_t s;
    txs_pool_stats(p, &s);
    line_t l = {.len = 0};
    put(&l,
        "db %s stats: total=%d idle=%d linked=%d connecting=%d resetting=%d pinging=%d "
        "closing=%d waiters=%d down=%d checkouts=%llu opened=%llu closed=%llu",
        p->conf->name, s.total, s.idle, s.linked, s.connecting, s.resetting, s.pinging, s.closing,
        s.waiters, s.down ? 1 : 0, (unsigned long long)s.checkouts, (unsigned long long)s.opened,
        (unsigned long long)s.closed);
    for (int r = 0; r < TXS_CLOSE_NREASONS; r++)
        put(&l, " closed_%s=%llu", txs_close_reason_name((txs_close_reason_t)r),
            (unsigned long long)s.closed_by[r]);
    put(&l, " connect_failures=%llu rollbacks=%llu resets=%llu pings=%llu ping_failures=%llu",
        (unsigned long long)s.connect_failures, (unsigned long long)s.rollbacks,
        (unsigned long long)s.resets, (unsigned long long)s.pings,
        (unsigned long long)s.ping_failures);
    for (int k = 0; k < TXS_TIMEOUT_NKINDS; k++)
        put(&l, " timeouts_%s=%llu", txs_timeout_kind_name((txs_timeout_kind_t)k),
            (unsigned long long)s.timeouts[k]);
    txs_log_write(TXS_LOG_INFO, "%s", l.buf); /* asked for: whatever log_level says */
}

void txs_pool_log_config(const txs_pool_t *p)
{
    if (TXS_LOG_INFO > txs_log_max_level)
        return;
    const txs_db_conf_t *c = p->conf;
    txs_buf_t dsn = TXS_BUF_INIT;
    txs_mask_append(&dsn, c->dsn, strlen(c->dsn));
    /* The dsn goes last, bare: it may hold blanks (key=value words). */
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = c->name},
               "configured: driver=%s pool_size=%d max_overflow=%d min_idle=%d dsn=%.*s", c->driver,
               c->pool_size, c->max_overflow, c->min_idle, (int)dsn.len, dsn.data ? dsn.data : "");
    txs_buf_free(&dsn);
}
