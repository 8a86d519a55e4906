/* metrics_text.c - the admin snapshot in the Prometheus text exposition format 0.0.4:
 * every family with HELP and TYPE, base units (seconds, bytes), _total for counters. */
#include <stddef.h>
#include <string.h>

#include "daemon/admin.h"

static void family(txs_buf_t *b, const char *name, const char *type, const char *help)
{
    txs_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label_value(txs_buf_t *b, const char *v)
{
    txs_buf_putc(b, '"');
    for (; *v; v++) {
        if (*v == '\\')
            txs_buf_puts(b, "\\\\");
        else if (*v == '"')
            txs_buf_puts(b, "\\\"");
        else if (*v == '\n')
            txs_buf_puts(b, "\\n");
        else
            txs_buf_putc(b, *v);
    }
    txs_buf_putc(b, '"');
}

/* name{k1="v1",k2="v2"}, then the value is the caller's; k1 and k2 may be NULL. */
static void put_name(txs_buf_t *b, const char *name, const char *suffix, const char *k1,
                     const char *v1, const char *k2, const char *v2)
{
    txs_buf_puts(b, name);
    txs_buf_puts(b, suffix);
    if (!k1)
        return;
    txs_buf_putc(b, '{');
    txs_buf_puts(b, k1);
    txs_buf_putc(b, '=');
    put_label_value(b, v1);
    if (k2) {
        txs_buf_putc(b, ',');
        txs_buf_puts(b, k2);
        txs_buf_putc(b, '=');
        put_label_value(b, v2);
    }
    txs_buf_putc(b, '}');
}

static void put_u64(txs_buf_t *b, uint64_t v)
{
    char digits[24];
    txs_buf_putc(b, ' ');
    txs_buf_append(b, digits, txs_format_u64(digits, v));
    txs_buf_putc(b, '\n');
}

static void sample(txs_buf_t *b, const char *name, const char *k1, const char *v1, uint64_t v)
{
    put_name(b, name, "", k1, v1, NULL, NULL);
    put_u64(b, v);
}

static void sample2(txs_buf_t *b, const char *name, const char *k1, const char *v1, const char *k2,
                    const char *v2, uint64_t v)
{
    put_name(b, name, "", k1, v1, k2, v2);
    put_u64(b, v);
}

/* A family of one unlabelled sample. */
static void single(txs_buf_t *b, const char *name, const char *type, const char *help, uint64_t v)
{
    family(b, name, type, help);
    sample(b, name, NULL, NULL, v);
}

/* Microseconds as seconds, exactly: "1.000250". */
static void put_seconds(txs_buf_t *b, uint64_t us)
{
    char digits[24];
    txs_buf_putc(b, ' ');
    txs_buf_append(b, digits, txs_format_u64(digits, us / 1000000));
    txs_buf_printf(b, ".%06u\n", (unsigned)(us % 1000000));
}

/* The per-pool families of plain numbers, in the order written. */
enum pool_field {
    F_WAITERS,
    F_DOWN,
    F_SIZE,
    F_MAX_OVERFLOW,
    F_CHECKOUTS,
    F_OPENED,
    F_CONNECT_FAILURES,
    F_ROLLBACKS,
    F_RESETS,
    F_PINGS,
    F_PING_FAILURES,
};

static const struct {
    const char *name, *type, *help;
    enum pool_field field;
} pool_families[] = {
    {"txscope_pool_size", "gauge", "Configured pool_size of the db.", F_SIZE},
    {"txscope_pool_max_overflow", "gauge", "Configured max_overflow of the db.", F_MAX_OVERFLOW},
    {"txscope_pool_waiters", "gauge", "Sessions waiting for a connection.", F_WAITERS},
    {"txscope_pool_down", "gauge", "1 while the last connect failed and connects are retried.",
     F_DOWN},
    {"txscope_pool_checkouts_total", "counter", "Connections handed to sessions.", F_CHECKOUTS},
    {"txscope_pool_connections_opened_total", "counter", "Connections opened (connect succeeded).",
     F_OPENED},
    {"txscope_pool_connect_failures_total", "counter", "Connects that failed.", F_CONNECT_FAILURES},
    {"txscope_pool_rollbacks_total", "counter",
     "Connections returned inside a transaction and rolled back.", F_ROLLBACKS},
    {"txscope_pool_resets_total", "counter", "Connection resets run before reuse.", F_RESETS},
    {"txscope_pool_pings_total", "counter", "pre_ping checks run.", F_PINGS},
    {"txscope_pool_ping_failures_total", "counter",
     "pre_ping checks that found the connection dead.", F_PING_FAILURES},
};

static uint64_t pool_value(const txs_admin_pool_t *p, enum pool_field f)
{
    switch (f) {
    case F_WAITERS:
        return (uint64_t)p->st.waiters;
    case F_DOWN:
        return p->st.down;
    case F_SIZE:
        return (uint64_t)p->conf->pool_size;
    case F_MAX_OVERFLOW:
        return (uint64_t)p->conf->max_overflow;
    case F_CHECKOUTS:
        return p->st.checkouts;
    case F_OPENED:
        return p->st.opened;
    case F_CONNECT_FAILURES:
        return p->st.connect_failures;
    case F_ROLLBACKS:
        return p->st.rollbacks;
    case F_RESETS:
        return p->st.resets;
    case F_PINGS:
        return p->st.pings;
    case F_PING_FAILURES:
        return p->st.ping_failures;
    }
    return 0;
}

static void histogram(txs_buf_t *b, const char *name, const char *help,
                      const txs_admin_snap_t *snap, size_t offset)
{
    family(b, name, "histogram", help);
    for (int i = 0; i < snap->npools; i++) {
        const char *db = snap->pools[i].name;
        const txs_histogram_t *h =
            (const txs_histogram_t *)((const char *)&snap->pools[i].st + offset);
        uint64_t cum = 0;
        for (int k = 0; k <= TXS_HISTOGRAM_NBOUNDS; k++) {
            cum += h->counts[k];
            put_name(b, name, "_bucket", "db", db, "le", txs_histogram_le(k));
            put_u64(b, cum);
        }
        put_name(b, name, "_sum", "db", db, NULL, NULL);
        put_seconds(b, h->sum_us);
        put_name(b, name, "_count", "db", db, NULL, NULL);
        put_u64(b, h->count);
    }
}

static void write_daemon(const txs_admin_snap_t *snap, txs_buf_t *b)
{
    family(b, "txscope_info", "gauge", "The running txscoped; always 1.");
    sample(b, "txscope_info", "version", TXS_VERSION, 1);
    single(b, "txscope_ready", "gauge",
           "1 when every db has connected at least once and the daemon is not draining.",
           snap->ready);
    single(b, "txscope_draining", "gauge", "1 while draining (SIGTERM).", snap->draining);
    family(b, "txscope_uptime_seconds", "gauge", "Seconds since the daemon started.");
    put_name(b, "txscope_uptime_seconds", "", NULL, NULL, NULL, NULL);
    put_seconds(b, snap->uptime_ms * 1000);

    family(b, "txscope_clients", "gauge",
           "Client connections: active (reading requests), closing (sessions winding down).");
    sample(b, "txscope_clients", "state", "active", (uint64_t)snap->clients_active);
    sample(b, "txscope_clients", "state", "closing", (uint64_t)snap->clients_closing);
    single(b, "txscope_clients_accepted_total", "counter",
           "Client connections accepted (those refused by max_clients included).",
           snap->metrics.clients_accepted);
    family(b, "txscope_client_timeouts_total", "counter",
           "Clients closed by client_login_timeout (login) or client_idle_timeout (idle).");
    sample(b, "txscope_client_timeouts_total", "kind", "login", snap->client_login_timeouts);
    sample(b, "txscope_client_timeouts_total", "kind", "idle", snap->client_idle_timeouts);
    single(b, "txscope_sessions", "gauge", "Sessions (contexts) held.", (uint64_t)snap->sessions);
    single(b, "txscope_transactions_open", "gauge",
           "Sessions whose transaction is open, failed or inactive.",
           (uint64_t)snap->transactions_open);
    single(b, "txscope_client_received_bytes_total", "counter", "Bytes read from clients.",
           snap->metrics.bytes_in);
    single(b, "txscope_client_sent_bytes_total", "counter", "Bytes written to clients.",
           snap->metrics.bytes_out);

    family(b, "txscope_errors_total", "counter",
           "Error replies by SQLSTATE (\"other\": codes past the distinct ones counted).");
    for (int i = 0; i < snap->metrics.nerrors; i++)
        sample(b, "txscope_errors_total", "sqlstate", snap->metrics.errors[i].code,
               snap->metrics.errors[i].n);
    if (snap->metrics.errors_other)
        sample(b, "txscope_errors_total", "sqlstate", "other", snap->metrics.errors_other);
}

static void write_pools(const txs_admin_snap_t *snap, txs_buf_t *b)
{
    static const char *const states[] = {"idle",      "linked",  "connecting",
                                         "resetting", "pinging", "closing"};
    family(b, "txscope_pool_connections", "gauge", "Backend connections by state.");
    for (int i = 0; i < snap->npools; i++) {
        const txs_pool_stats_t *st = &snap->pools[i].st;
        const int n[] = {st->idle,      st->linked,  st->connecting,
                         st->resetting, st->pinging, st->closing};
        for (size_t k = 0; k < sizeof states / sizeof *states; k++)
            sample2(b, "txscope_pool_connections", "db", snap->pools[i].name, "state", states[k],
                    (uint64_t)n[k]);
    }
    for (size_t f = 0; f < sizeof pool_families / sizeof *pool_families; f++) {
        family(b, pool_families[f].name, pool_families[f].type, pool_families[f].help);
        for (int i = 0; i < snap->npools; i++)
            sample(b, pool_families[f].name, "db", snap->pools[i].name,
                   pool_value(&snap->pools[i], pool_families[f].field));
    }
    family(b, "txscope_pool_connections_closed_total", "counter",
           "Backend connections closed, by reason.");
    for (int i = 0; i < snap->npools; i++)
        for (int r = 0; r < TXS_CLOSE_NREASONS; r++)
            sample2(b, "txscope_pool_connections_closed_total", "db", snap->pools[i].name, "reason",
                    txs_close_reason_name((txs_close_reason_t)r), snap->pools[i].st.closed_by[r]);
    family(b, "txscope_timeouts_total", "counter",
           "Timeouts by kind: pool (53300), query (57014), idle_in_transaction and transaction "
           "(25P03), session_idle (the context was forgotten).");
    for (int i = 0; i < snap->npools; i++)
        for (int k = 0; k < TXS_TIMEOUT_NKINDS; k++)
            sample2(b, "txscope_timeouts_total", "db", snap->pools[i].name, "kind",
                    txs_timeout_kind_name((txs_timeout_kind_t)k), snap->pools[i].st.timeouts[k]);
    histogram(b, "txscope_pool_wait_seconds",
              "Time a session waited for its backend connection, per checkout.", snap,
              offsetof(txs_pool_stats_t, wait_time));
    histogram(b, "txscope_query_duration_seconds",
              "Time of each round trip a request made to the database.", snap,
              offsetof(txs_pool_stats_t, query_time));
}

void txs_metrics_write_text(const txs_admin_snap_t *snap, txs_buf_t *out)
{
    write_daemon(snap, out);
    write_pools(snap, out);
}
