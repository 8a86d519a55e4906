/* stats_json.c - the admin snapshot as one JSON object (/stats, `txscope stats`), written
 * by hand: the daemon does not link cJSON. */
#include <string.h>

#include "daemon/admin.h"
#include "protocol/reply.h"

double txs_histogram_quantile(const txs_histogram_t *h, double q)
{
    if (h->count == 0)
        return -1;
    double rank = q * (double)h->count;
    uint64_t below = 0;
    for (int k = 0; k < TXS_HISTOGRAM_NBOUNDS; k++) {
        uint64_t n = h->counts[k];
        if (n > 0 && (double)(below + n) >= rank) {
            double lo = k == 0 ? 0 : (double)txs_histogram_bounds_us[k - 1];
            double hi = (double)txs_histogram_bounds_us[k];
            return (lo + (hi - lo) * (rank - (double)below) / (double)n) / 1e6;
        }
        below += n;
    }
    /* In the +Inf bucket: the highest bound is all that is known. */
    return (double)txs_histogram_bounds_us[TXS_HISTOGRAM_NBOUNDS - 1] / 1e6;
}

/* "key": the caller writes the value. */
static void key(txs_buf_t *b, const char *k)
{
    if (b->len > 0 && b->data[b->len - 1] != '{' && b->data[b->len - 1] != '[')
        txs_buf_putc(b, ',');
    txs_json_put_string(b, k, strlen(k));
    txs_buf_putc(b, ':');
}

static void put_u64(txs_buf_t *b, const char *k, uint64_t v)
{
    char digits[24];
    key(b, k);
    txs_buf_append(b, digits, txs_format_u64(digits, v));
}

static void put_bool(txs_buf_t *b, const char *k, bool v)
{
    key(b, k);
    txs_buf_puts(b, v ? "true" : "false");
}

static void put_str(txs_buf_t *b, const char *k, const char *v)
{
    key(b, k);
    txs_json_put_string(b, v, strlen(v));
}

/* Microseconds as seconds, exactly. */
static void put_seconds(txs_buf_t *b, const char *k, uint64_t us)
{
    char digits[24];
    key(b, k);
    txs_buf_append(b, digits, txs_format_u64(digits, us / 1000000));
    txs_buf_printf(b, ".%06u", (unsigned)(us % 1000000));
}

static void put_quantile(txs_buf_t *b, const char *k, const txs_histogram_t *h, double q)
{
    double v = txs_histogram_quantile(h, q);
    key(b, k);
    if (v < 0)
        txs_buf_puts(b, "null");
    else
        txs_buf_printf(b, "%.6f", v);
}

static void put_histogram(txs_buf_t *b, const char *k, const txs_histogram_t *h)
{
    key(b, k);
    txs_buf_putc(b, '{');
    put_u64(b, "count", h->count);
    put_seconds(b, "sum_seconds", h->sum_us);
    put_quantile(b, "p50_seconds", h, 0.5);
    put_quantile(b, "p99_seconds", h, 0.99);
    txs_buf_putc(b, '}');
}

static void put_pool(txs_buf_t *b, const txs_admin_pool_t *p)
{
    const txs_pool_stats_t *st = &p->st;
    txs_buf_putc(b, '{');
    put_str(b, "name", p->name);
    put_str(b, "driver", p->conf->driver ? p->conf->driver : "");
    put_u64(b, "pool_size", (uint64_t)p->conf->pool_size);
    put_u64(b, "max_overflow", (uint64_t)p->conf->max_overflow);
    put_bool(b, "down", st->down);
    key(b, "connections");
    txs_buf_putc(b, '{');
    put_u64(b, "total", (uint64_t)st->total);
    put_u64(b, "idle", (uint64_t)st->idle);
    put_u64(b, "linked", (uint64_t)st->linked);
    put_u64(b, "connecting", (uint64_t)st->connecting);
    put_u64(b, "resetting", (uint64_t)st->resetting);
    put_u64(b, "pinging", (uint64_t)st->pinging);
    put_u64(b, "closing", (uint64_t)st->closing);
    txs_buf_putc(b, '}');
    put_u64(b, "waiters", (uint64_t)st->waiters);
    put_u64(b, "checkouts", st->checkouts);
    put_u64(b, "opened", st->opened);
    put_u64(b, "closed", st->closed);
    key(b, "closed_by");
    txs_buf_putc(b, '{');
    for (int r = 0; r < TXS_CLOSE_NREASONS; r++)
        put_u64(b, txs_close_reason_name((txs_close_reason_t)r), st->closed_by[r]);
    txs_buf_putc(b, '}');
    put_u64(b, "connect_failures", st->connect_failures);
    put_u64(b, "rollbacks", st->rollbacks);
    put_u64(b, "resets", st->resets);
    put_u64(b, "pings", st->pings);
    put_u64(b, "ping_failures", st->ping_failures);
    key(b, "timeouts");
    txs_buf_putc(b, '{');
    for (int k = 0; k < TXS_TIMEOUT_NKINDS; k++)
        put_u64(b, txs_timeout_kind_name((txs_timeout_kind_t)k), st->timeouts[k]);
    txs_buf_putc(b, '}');
    put_histogram(b, "wait_time", &st->wait_time);
    put_histogram(b, "query_time", &st->query_time);
    txs_buf_putc(b, '}');
}

void txs_stats_write_json(const txs_admin_snap_t *snap, txs_buf_t *b)
{
    txs_buf_putc(b, '{');
    put_str(b, "version", TXS_VERSION);
    put_seconds(b, "uptime_seconds", snap->uptime_ms * 1000);
    put_bool(b, "ready", snap->ready);
    key(b, "not_ready");
    txs_buf_putc(b, '[');
    const char *r = snap->not_ready.data, *end = r + snap->not_ready.len;
    while (r && r < end) {
        const char *nl = memchr(r, '\n', (size_t)(end - r));
        size_t n = nl ? (size_t)(nl - r) : (size_t)(end - r);
        if (b->data[b->len - 1] != '[')
            txs_buf_putc(b, ',');
        txs_json_put_string(b, r, n);
        r += n + 1;
    }
    txs_buf_putc(b, ']');
    put_bool(b, "draining", snap->draining);
    put_bool(b, "shutting_down", snap->shutting_down);
    key(b, "clients");
    txs_buf_putc(b, '{');
    put_u64(b, "active", (uint64_t)snap->clients_active);
    put_u64(b, "closing", (uint64_t)snap->clients_closing);
    put_u64(b, "accepted", snap->metrics.clients_accepted);
    txs_buf_putc(b, '}');
    key(b, "client_timeouts");
    txs_buf_putc(b, '{');
    put_u64(b, "login", snap->client_login_timeouts);
    put_u64(b, "idle", snap->client_idle_timeouts);
    txs_buf_putc(b, '}');
    put_u64(b, "sessions", (uint64_t)snap->sessions);
    put_u64(b, "transactions_open", (uint64_t)snap->transactions_open);
    key(b, "bytes");
    txs_buf_putc(b, '{');
    put_u64(b, "received", snap->metrics.bytes_in);
    put_u64(b, "sent", snap->metrics.bytes_out);
    txs_buf_putc(b, '}');
    put_u64(b, "errors_total", snap->metrics.errors_total);
    key(b, "errors");
    txs_buf_putc(b, '{');
    for (int i = 0; i < snap->metrics.nerrors; i++)
        put_u64(b, snap->metrics.errors[i].code, snap->metrics.errors[i].n);
    if (snap->metrics.errors_other)
        put_u64(b, "other", snap->metrics.errors_other);
    txs_buf_putc(b, '}');
    key(b, "dbs");
    txs_buf_putc(b, '[');
    for (int i = 0; i < snap->npools; i++) {
        if (i > 0)
            txs_buf_putc(b, ',');
        put_pool(b, &snap->pools[i]);
    }
    txs_buf_puts(b, "]}\n");
}
