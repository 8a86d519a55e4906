/* client_timeout.c - client_login_timeout (a connection that never finishes hello, or
 * never sends a line) and client_idle_timeout (nothing pending, nothing read). One timer
 * per client, re-checked when it fires: activity only moves timestamps, so a busy client
 * never re-arms it. */
#include <stdio.h>
#include <stdlib.h>

#include "daemon/client.h"
#include "daemon/log.h"
#include "daemon/server.h"

static const txs_conf_t *conf(const txs_client_t *c)
{
    return c->server->conf;
}

/* When to look again (0: never), and whether the client is over a limit now. */
static uint64_t next_check(txs_client_t *c, uint64_t now, const char **over)
{
    *over = NULL;
    uint64_t login = conf(c)->client_login_timeout_ms, idle = conf(c)->client_idle_timeout_ms;
    if (c->state != TXS_CLIENT_ACTIVE || c->lingering || c->close_after_flush)
        return 0;
    if (!c->logged_in && login) {
        if (now >= c->accepted_at + login)
            *over = "client_login_timeout";
        return c->accepted_at + login;
    }
    if (!idle)
        return 0;
    if (c->pending > 0)
        return now + idle; /* working for it: not idle; look again later */
    uint64_t since = c->last_activity > c->accepted_at ? c->last_activity : c->accepted_at;
    if (now >= since + idle)
        *over = "client_idle_timeout";
    return since + idle;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h);
}

void txs_client_timer_stop(txs_client_t *c)
{
    if (!c->timer)
        return;
    uv_close((uv_handle_t *)c->timer, on_timer_closed);
    c->timer = NULL;
}

static void on_timer(uv_timer_t *t)
{
    txs_client_t *c = t->data;
    uint64_t now = uv_now(c->server->loop);
    const char *over;
    uint64_t at = next_check(c, now, &over);
    if (over) {
        bool login = c->logged_in == false;
        if (login)
            c->server->client_login_timeouts++;
        else
            c->server->client_idle_timeouts++;
        char dur[32], why[80];
        txs_conf_format_duration(login ? conf(c)->client_login_timeout_ms
                                       : conf(c)->client_idle_timeout_ms,
                                 dur, sizeof dur);
        snprintf(why, sizeof why, "%s (%s)", over, dur);
        txs_client_close(c, why); /* stops the timer */
        return;
    }
    if (!at) {
        txs_client_timer_stop(c); /* nothing left to time: an idle client costs no timer */
        return;
    }
    uv_timer_start(t, on_timer, at > now ? at - now : 0, 0);
}

static void rearm(txs_client_t *c);

/* Arm for the next check, or drop the timer when nothing is left to time. */
static void rearm(txs_client_t *c)
{
    uint64_t now = uv_now(c->server->loop);
    const char *over;
    uint64_t at = next_check(c, now, &over);
    if (!at) {
        txs_client_timer_stop(c);
        return;
    }
    if (!c->timer) {
        c->timer = txs_xmalloc(sizeof *c->timer);
        uv_timer_init(c->server->loop, c->timer);
        c->timer->data = c;
        uv_unref((uv_handle_t *)c->timer);
    }
    uv_timer_start(c->timer, on_timer, at > now ? at - now : 0, 0);
}

void txs_client_timer_start(txs_client_t *c)
{
    c->accepted_at = c->last_activity = uv_now(c->server->loop);
    rearm(c);
}

void txs_client_timer_reload(txs_client_t *c)
{
    if (c->state == TXS_CLIENT_ACTIVE)
        rearm(c);
}

void txs_client_timer_logged_in(txs_client_t *c)
{
    rearm(c); /* from the login deadline to the idle one, which may come sooner */
}
