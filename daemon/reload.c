/* reload.c - SIGHUP: the configuration file and the environment are read again, as at
 * start. What may change live is applied without dropping a client or a session (log
 * settings, limits, timeouts, tokens, pools new, resized or removed); what may not
 * (listen addresses, a db's driver) is reported and kept; a configuration that does not
 * load changes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diff.h"
#include "daemon/fdlimit.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "drivers/driver.h"

extern char **environ;

/* ---- removed dbs ---- */

static void on_retired_closed(void *arg)
{
    txs_retired_pool_t *r = arg;
    txs_server_t *s = r->server;
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = txs_pool_name(r->pool)},
               "removed: every connection closed");
    for (txs_retired_pool_t **pp = &s->retired; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    txs_pool_free(r->pool);
    free(r);
    txs_server_pool_closed(s);
}

/* Out of the lookup already: it serves the sessions bound to it, then closes. */
static void retire(txs_server_t *s, txs_pool_t *p)
{
    txs_retired_pool_t *r = txs_xcalloc(1, sizeof *r);
    r->pool = p;
    r->server = s;
    r->next = s->retired;
    s->retired = r;
    txs_pool_retire(p, on_retired_closed, r); /* may close at once */
}

/* The db came back while its removed pool still serves sessions: that pool again, if
 * it has not begun to close and has the same driver. */
static txs_pool_t *revive(txs_server_t *s, const txs_db_conf_t *db)
{
    for (txs_retired_pool_t **pp = &s->retired; *pp; pp = &(*pp)->next) {
        txs_retired_pool_t *r = *pp;
        if (strcmp(txs_pool_name(r->pool), db->name) != 0 ||
            strcmp(txs_pool_conf(r->pool)->driver, db->driver) != 0 || !txs_pool_revive(r->pool))
            continue;
        *pp = r->next;
        txs_pool_t *p = r->pool;
        free(r);
        txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = db->name},
                   "added back: its pool, still open, serves it again");
        return p;
    }
    return NULL;
}

/* ---- pools ---- */

/* The pool of db `name` in old[0..n), taken out of it (NULL if none). */
static txs_pool_t *take(txs_pool_t **old, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (old[i] && strcmp(txs_pool_name(old[i]), name) == 0) {
            txs_pool_t *p = old[i];
            old[i] = NULL;
            return p;
        }
    }
    return NULL;
}

/* One pool per db of nc, in its order (the first is the default db). The new array is in
 * place before any pool runs a callback: a waiter served by a pump may look up a db. */
static bool db_changed(const txs_conf_diff_t *applied, const char *name)
{
    for (int i = 0; i < applied->n; i++)
        if (strcmp(applied->changes[i].db, name) == 0)
            return true;
    return false;
}

static void apply_pools(txs_server_t *s, const txs_conf_t *nc, const txs_conf_diff_t *applied)
{
    txs_pool_t **old = s->pools;
    int nold = s->npools;
    txs_pool_t **pools = txs_xcalloc((size_t)nc->ndbs, sizeof *pools);
    bool *fresh = txs_xcalloc((size_t)nc->ndbs, sizeof *fresh);
    for (int i = 0; i < nc->ndbs; i++) {
        const txs_db_conf_t *db = &nc->dbs[i];
        pools[i] = take(old, nold, db->name);
        if (!pools[i])
            pools[i] = revive(s, db);
        if (!pools[i]) {
            pools[i] = txs_pool_create(s->loop, db); /* the driver was checked */
            fresh[i] = true;
            s->pools_open++;
        }
    }
    s->pools = pools;
    s->npools = nc->ndbs;
    for (int i = 0; i < nold; i++)
        if (old[i])
            retire(s, old[i]);
    free(old);
    for (int i = 0; i < nc->ndbs; i++) {
        if (fresh[i])
            txs_pool_start(pools[i]); /* connects once, as the others did at start */
        else
            txs_pool_reconfigure(pools[i], &nc->dbs[i]);
        if (fresh[i] || db_changed(applied, nc->dbs[i].name))
            txs_pool_log_config(pools[i]); /* as at start: what the db runs with now */
    }
    free(fresh);
}

/* ---- clients ---- */

/* Limits and timeouts are read from s->conf when used; what waits on them is looked at
 * again: input held back by max_pipeline (the flush pass parses it), and every client's
 * and session's timer. Connected clients keep their principal; one that has not logged
 * in meets the new tokens at its hello, or, with none left, is in as "default". */
static void apply_clients(txs_server_t *s)
{
    for (txs_client_t *c = s->clients; c; c = c->next) {
        if (c->state != TXS_CLIENT_ACTIVE)
            continue;
        if (!c->authenticated && s->conf->ntokens == 0) {
            c->authenticated = true;
            snprintf(c->principal, sizeof c->principal, "%s", TXS_DEFAULT_PRINCIPAL);
            c->journal = txs_journals_get(s->journals, TXS_DEFAULT_PRINCIPAL);
        }
        txs_client_timer_reload(c);
        for (txs_session_t *ss = c->sessions; ss; ss = ss->hh.next)
            txs_session_timer_reload(ss);
        txs_server_want_flush(s, c);
    }
}

/* ---- the reload ---- */

/* What needs a restart: reported, and the running value kept. */
static void report_restart_only(const txs_conf_diff_t *d)
{
    for (int i = 0; i < d->n; i++) {
        const txs_conf_change_t *c = &d->changes[i];
        if (!c->restart)
            continue;
        char scope[TXS_CONF_NAME_MAX + 8] = "";
        if (c->db[0])
            snprintf(scope, sizeof scope, "db %s ", c->db);
        txs_log_warn("reload: %s%s changed from %s to %s: needs a restart; keeping %s%s", scope,
                     c->key, c->from[0] ? c->from : "(none)", c->to[0] ? c->to : "(none)",
                     c->from[0] ? c->from : "(none)",
                     c->db[0] ? ", and every other setting of this db as it runs" : "");
    }
}

/* "reload: 3 settings changed: db main pool_size 5 -> 2, ..."
 * applied: what differs once the restart-only values are back; nkept: how many changes
 * the file asked for that wait for a restart. */
static void log_summary(const txs_conf_diff_t *d, int nkept)
{
    int applied = d->n;
    char kept[80] = "";
    if (nkept)
        snprintf(kept, sizeof kept, " (%d kept until a restart)", nkept);
    if (applied == 0) {
        txs_log_info("reload: nothing changed%s", kept);
        return;
    }
    char list[3072];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < d->n && used < sizeof list; i++) {
        char one[2 * TXS_CONF_VALUE_MAX + 160];
        txs_conf_change_describe(&d->changes[i], one, sizeof one);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", one);
    }
    if (used >= sizeof list)
        memcpy(list + sizeof list - 4, "...", 4);
    txs_log_info("reload: %d setting%s changed: %s%s", applied, applied == 1 ? "" : "s", list,
                 kept);
}

/* A db new to the configuration needs a driver this build has (the loader knows the
 * names; this is only a belt to its braces). */
static bool drivers_known(const txs_server_t *s, const txs_conf_t *nc)
{
    for (int i = 0; i < nc->ndbs; i++) {
        if (txs_driver_find(nc->dbs[i].driver))
            continue;
        txs_log_error("reload failed: db %s: unknown driver \"%s\"; the running configuration "
                      "stays",
                      nc->dbs[i].name, nc->dbs[i].driver);
        return false;
    }
    return true;
}

void txs_server_reload(txs_server_t *s)
{
    if (s->shutting_down || s->draining) {
        txs_log_warn("reload ignored: %s", s->shutting_down ? "shutting down" : "draining");
        return;
    }
    txs_conf_t *old = s->conf, *nc = NULL;
    char err[1024];
    txs_log_debug("reload: reading %s and the environment",
                  old->source ? old->source : "no file (TXSCOPE_CONFIG unset)");
    if (txs_conf_load(old->source, environ, &nc, err, sizeof err) != 0) {
        txs_log_error("reload failed: %s; the running configuration stays", err);
        return;
    }
    txs_conf_diff_t d, applied; /* what the file asks; what takes effect */
    txs_conf_diff(old, nc, &d);
    txs_conf_keep_restart_only(nc, old);
    txs_conf_diff(old, nc, &applied);
    if (!drivers_known(s, nc)) {
        txs_conf_diff_free(&d);
        txs_conf_diff_free(&applied);
        txs_conf_free(nc);
        return;
    }
    report_restart_only(&d);
    txs_log_set_level(nc->log_level);
    txs_log_set_format(nc->log_format);
    /* Every reader of the configuration reads the new one from here on; each pool keeps
     * its own copy of its db's settings, so the old one can go. */
    s->conf = nc;
    txs_fdlimit_raise(nc); /* max_clients or pool sizes may have grown */
    txs_journals_set_limits(s->journals, (size_t)nc->outcome_journal_size,
                            nc->outcome_journal_ttl_ms, uv_now(s->loop));
    apply_pools(s, nc, &applied);
    apply_clients(s);
    log_summary(&applied, d.n - applied.n);
    txs_conf_diff_free(&d);
    txs_conf_diff_free(&applied);
    txs_conf_free(old);
}
