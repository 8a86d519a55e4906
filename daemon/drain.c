/* drain.c - SIGTERM: stop accepting, let connected clients go on up to drain_timeout,
 * then the final wind-down (txs_server_shutdown); it comes early once every client left. */
#include <stdlib.h>

#include "daemon/log.h"
#include "daemon/server.h"

/* The drain_timeout timer, with the duration it was armed for (a reload may change the
 * config meanwhile: the drain that started keeps its own). */
struct txs_drain {
    uv_timer_t timer;
    txs_server_t *server;
    uint64_t ms;
};

static void on_drain_timeout(uv_timer_t *t)
{
    struct txs_drain *d = t->data;
    txs_server_t *s = d->server;
    char dur[32];
    txs_conf_format_duration(d->ms, dur, sizeof dur);
    txs_server_counts_t n = txs_server_count(s); /* a COMMIT under way finishes */
    txs_log_warn("drain_timeout (%s) passed: rolling back %ld open transactions of %d clients", dur,
                 n.open_tx - n.committing, s->nactive);
    txs_server_shutdown(s, "drain_timeout"); /* closes this timer (txs_server_drain_stop) */
}

void txs_server_drain(txs_server_t *s)
{
    if (s->shutting_down) {
        txs_log_info("SIGTERM: already shutting down");
        return;
    }
    if (s->draining) {
        txs_log_info("SIGTERM again while draining: ignored; drain_timeout stands");
        return;
    }
    s->draining = true; /* /readyz answers 503 from now on */
    txs_listener_stop(s);
    uint64_t ms = s->conf->drain_timeout_ms;
    char dur[32];
    txs_conf_format_duration(ms, dur, sizeof dur);
    txs_log_info("draining: not accepting new clients; %d clients, %ld open transactions; up "
                 "to drain_timeout (%s)",
                 s->nactive, txs_server_count(s).open_tx, dur);
    if (s->nclients == 0) {
        txs_server_drain_idle(s);
        return;
    }
    if (ms == 0) {
        txs_server_shutdown(s, "SIGTERM, drain_timeout = 0");
        return;
    }
    struct txs_drain *d = txs_xmalloc(sizeof *d);
    d->server = s;
    d->ms = ms;
    uv_timer_init(s->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_drain_timeout, ms, 0);
    s->drain = d;
}

void txs_server_drain_idle(txs_server_t *s)
{
    if (!s->draining || s->shutting_down || s->nclients > 0)
        return;
    txs_log_info("drain: every client has gone");
    txs_server_shutdown(s, "SIGTERM, drained");
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void txs_server_drain_stop(txs_server_t *s)
{
    if (!s->drain)
        return;
    uv_close((uv_handle_t *)&s->drain->timer, on_timer_closed);
    s->drain = NULL;
}
