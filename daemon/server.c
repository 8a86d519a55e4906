/* server.c - the daemon as a whole: pools from the config, the list of clients, the
 * flush before the loop sleeps, and an orderly shutdown that rolls everything back. */
#include "daemon/server.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/admin.h"
#include "daemon/log.h"
#include "protocol/errors.h"

/* A wind-down that takes longer than this at exit is cut short. */
#define SHUTDOWN_GRACE_MS 10000

static void on_prepare(uv_prepare_t *h)
{
    txs_server_t *s = h->data;
    /* Pop one at a time: flushing may queue a client again (input resumed). */
    while (s->flush_list) {
        txs_client_t *c = s->flush_list;
        s->flush_list = c->flush_next;
        c->flush_next = NULL;
        c->in_flush_list = false;
        txs_client_flush(c);
    }
}

void txs_server_want_flush(txs_server_t *s, txs_client_t *c)
{
    if (c->in_flush_list)
        return;
    c->in_flush_list = true;
    c->flush_next = s->flush_list;
    s->flush_list = c;
}

int txs_server_init(txs_server_t *s, uv_loop_t *loop, txs_conf_t *conf)
{
    memset(s, 0, sizeof *s);
    s->loop = loop;
    s->conf = conf;
    s->read_buf = txs_xmalloc(TXS_READ_CHUNK);
    s->journals =
        txs_journals_create((size_t)conf->outcome_journal_size, conf->outcome_journal_ttl_ms);
    uv_prepare_init(loop, &s->flush);
    s->flush.data = s;
    uv_prepare_start(&s->flush, on_prepare);
    uv_unref((uv_handle_t *)&s->flush);
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    signal(SIGPIPE, SIG_IGN); /* a vanished client is a write error, not a death */
    txs_signals_start(s);
    s->pools = txs_xcalloc((size_t)conf->ndbs, sizeof *s->pools);
    for (int i = 0; i < conf->ndbs; i++) {
        txs_pool_t *p = txs_pool_create(loop, &conf->dbs[i]);
        if (!p) {
            txs_log_at(TXS_LOG_ERROR, &(txs_log_who_t){.db = conf->dbs[i].name},
                       "unknown driver \"%s\"", conf->dbs[i].driver);
            return TXS_ECONFIG;
        }
        txs_pool_log_config(p);
        s->pools[s->npools++] = p;
        s->pools_open++;
    }
    return TXS_OK;
}

int txs_server_listen(txs_server_t *s)
{
    int rc = txs_listener_start(s);
    if (rc != TXS_OK)
        return rc;
    rc = txs_admin_start(s); /* after the client listener: its errors come first */
    if (rc != TXS_OK)
        return rc;
    for (int i = 0; i < s->npools; i++)
        txs_pool_start(s->pools[i]); /* min_idle connections, warmed while clients arrive */
    return TXS_OK;
}

txs_pool_t *txs_server_find_pool(txs_server_t *s, const char *name)
{
    if (!name)
        return s->npools ? s->pools[0] : NULL;
    for (int i = 0; i < s->npools; i++)
        if (strcmp(txs_pool_name(s->pools[i]), name) == 0)
            return s->pools[i];
    return NULL;
}

txs_server_counts_t txs_server_count(const txs_server_t *s)
{
    txs_server_counts_t n = {0, 0, 0};
    for (const txs_client_t *c = s->clients; c; c = c->next) {
        n.sessions += c->nsessions;
        for (const txs_session_t *ss = c->sessions; ss; ss = ss->hh.next) {
            n.open_tx += ss->tx != TXS_TX_IDLE;
            n.committing += ss->tx != TXS_TX_IDLE && ss->committing;
        }
    }
    return n;
}

void txs_server_log_stats(txs_server_t *s)
{
    for (int i = 0; i < s->npools; i++)
        txs_pool_log_stats(s->pools[i]);
    for (txs_retired_pool_t *r = s->retired; r; r = r->next)
        txs_pool_log_stats(r->pool); /* removed by a reload, still serving */
    txs_server_counts_t n = txs_server_count(s);
    /* Asked for (SIGUSR1): written whatever log_level says. */
    txs_log_write(TXS_LOG_INFO,
                  "stats: clients=%d sessions=%ld transactions=%ld timeouts_client_login=%llu "
                  "timeouts_client_idle=%llu",
                  s->nactive, n.sessions, n.open_tx, (unsigned long long)s->client_login_timeouts,
                  (unsigned long long)s->client_idle_timeouts);
}

void txs_server_client_added(txs_server_t *s, txs_client_t *c)
{
    c->prev = NULL;
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
    s->nactive++;
}

void txs_server_client_closing(txs_server_t *s, txs_client_t *c)
{
    s->nactive--;
}

static void close_handles(txs_server_t *s)
{
    txs_signals_stop(s);
    txs_admin_stop(s);
    uv_close((uv_handle_t *)&s->flush, NULL);
    uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
}

static void on_pool_down(void *arg)
{
    txs_server_pool_closed(arg);
}

void txs_server_pool_closed(txs_server_t *s)
{
    if (--s->pools_open == 0) {
        txs_log_info("all backend connections closed");
        close_handles(s);
    }
}

static void shutdown_pools(txs_server_t *s)
{
    uv_timer_stop(&s->shutdown_timer);
    if (s->npools == 0) {
        close_handles(s);
        return;
    }
    for (int i = 0; i < s->npools; i++)
        txs_pool_shutdown(s->pools[i], on_pool_down, s);
}

void txs_server_client_gone(txs_server_t *s, txs_client_t *c)
{
    if (c->in_flush_list) {
        txs_client_t **pp = &s->flush_list;
        while (*pp != c)
            pp = &(*pp)->flush_next;
        *pp = c->flush_next;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nclients--;
    if (s->shutting_down && s->nclients == 0)
        shutdown_pools(s);
    else if (s->draining && s->nclients == 0)
        txs_server_drain_idle(s);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    txs_server_t *s = t->data;
    txs_log_warn("shutdown: %d client(s) still winding down after %d ms: exiting now (the "
                 "database ends the sessions of the backend connections left open)",
                 s->nclients, SHUTDOWN_GRACE_MS);
    exit(1);
}

void txs_server_shutdown(txs_server_t *s, const char *why)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    txs_log_info("shutting down (%s): rolling back open transactions", why);
    txs_server_drain_stop(s);
    txs_listener_stop(s);
    uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, SHUTDOWN_GRACE_MS, 0);
    /* Sessions waiting for the pool go first, in every client, so that backends freed by
     * the others are not handed to a session about to go. */
    for (txs_client_t *c = s->clients; c; c = c->next)
        txs_client_shut_down(c, true);
    for (txs_client_t *c = s->clients; c; c = c->next)
        txs_client_shut_down(c, false);
    if (s->nclients == 0)
        shutdown_pools(s);
}

void txs_server_free(txs_server_t *s)
{
    for (int i = 0; i < s->npools; i++)
        txs_pool_free(s->pools[i]);
    free(s->pools);
    s->pools = NULL;
    while (s->retired) { /* none after a clean shutdown: each closed after its sessions */
        txs_retired_pool_t *r = s->retired;
        s->retired = r->next;
        txs_pool_free(r->pool);
        free(r);
    }
    free(s->read_buf);
    s->read_buf = NULL;
    txs_journals_free(s->journals);
    s->journals = NULL;
}
