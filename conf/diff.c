/* diff.c - two configurations compared through the key table: what a reload changes,
 * which of it needs a restart, and the deep copies of a db's settings pools keep. */
#include "conf/diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/keys.h"
#include "protocol/buf.h"
#include "protocol/mask.h"

/* ---- values ---- */

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static const char *field(const txs_conf_key_t *k, const void *base)
{
    return (const char *)base + k->offset;
}

static bool value_eq(const txs_conf_key_t *k, const void *a, const void *b)
{
    const char *fa = field(k, a), *fb = field(k, b);
    switch (k->type) {
    case TXS_CT_STRING:
    case TXS_CT_CHOICE:
        return str_eq(*(char *const *)fa, *(char *const *)fb);
    case TXS_CT_INT:
    case TXS_CT_ENUM:
        return *(const int *)fa == *(const int *)fb;
    case TXS_CT_DURATION:
        return *(const uint64_t *)fa == *(const uint64_t *)fb;
    case TXS_CT_SIZE:
        return *(const size_t *)fa == *(const size_t *)fb;
    case TXS_CT_BOOL:
        return *(const bool *)fa == *(const bool *)fb;
    case TXS_CT_LISTEN:
        return str_eq(*(char *const *)fa, *(char *const *)fb) &&
               *(const int *)((const char *)a + k->port_offset) ==
                   *(const int *)((const char *)b + k->port_offset);
    }
    return false;
}

/* The value as a file would have it. */
static void format_value(const txs_conf_key_t *k, const void *base, char *buf, size_t len)
{
    const char *f = field(k, base);
    switch (k->type) {
    case TXS_CT_STRING:
    case TXS_CT_CHOICE: {
        const char *s = *(char *const *)f;
        if (s && strcmp(k->info.name, "dsn") == 0)
            txs_mask_copy(buf, len, s); /* its password, if any, is not for the log */
        else
            snprintf(buf, len, "%s", s ? s : "");
        return;
    }
    case TXS_CT_INT:
        snprintf(buf, len, "%d", *(const int *)f);
        return;
    case TXS_CT_ENUM:
        snprintf(buf, len, "%s", k->choices[*(const int *)f]);
        return;
    case TXS_CT_DURATION:
        txs_conf_format_duration(*(const uint64_t *)f, buf, len);
        return;
    case TXS_CT_SIZE:
        txs_conf_format_size(*(const size_t *)f, buf, len);
        return;
    case TXS_CT_BOOL:
        snprintf(buf, len, "%s", *(const bool *)f ? "on" : "off");
        return;
    case TXS_CT_LISTEN: {
        const char *host = *(char *const *)f;
        int port = *(const int *)((const char *)base + k->port_offset);
        bool v6 = host && strchr(host, ':');
        snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", host ? host : "", v6 ? "]" : "", port);
        return;
    }
    }
    buf[0] = '\0';
}

/* ---- the diff ---- */

static txs_conf_change_t *add(txs_conf_diff_t *d, txs_conf_change_kind_t kind, const char *db,
                              const char *key)
{
    d->changes = txs_xrealloc(d->changes, (size_t)(d->n + 1) * sizeof *d->changes);
    txs_conf_change_t *c = &d->changes[d->n++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    snprintf(c->db, sizeof c->db, "%s", db ? db : "");
    snprintf(c->key, sizeof c->key, "%s", key ? key : "");
    return c;
}

static void diff_keys(txs_conf_diff_t *d, txs_conf_section_t s, const char *db, const void *a,
                      const void *b)
{
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
        const txs_conf_key_t *k = &txs_conf_keys[i];
        if (k->section != s || value_eq(k, a, b))
            continue;
        txs_conf_change_t *c = add(d, TXS_CHANGE_KEY, db, k->info.name);
        c->secret = strcmp(k->info.name, "auth_token") == 0;
        if (!c->secret) {
            format_value(k, a, c->from, sizeof c->from);
            format_value(k, b, c->to, sizeof c->to);
        }
        c->restart = !k->info.reloadable;
        d->nrestart += c->restart;
    }
}

static const txs_token_conf_t *find_token(const txs_token_conf_t *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

/* The [tokens] entries (and TXSCOPE_TOKEN_*): tokens[] without the "default" entry that
 * auth_token puts in front, which diff_keys reports as auth_token. */
static void diff_tokens(txs_conf_diff_t *d, const txs_conf_t *old, const txs_conf_t *neu)
{
    const txs_token_conf_t *ot = old->tokens + (old->auth_token ? 1 : 0);
    const txs_token_conf_t *nt = neu->tokens + (neu->auth_token ? 1 : 0);
    int on = old->ntokens - (old->auth_token ? 1 : 0);
    int nn = neu->ntokens - (neu->auth_token ? 1 : 0);
    for (int i = 0; i < on; i++) {
        const txs_token_conf_t *t = find_token(nt, nn, ot[i].name);
        if (!t || strcmp(t->secret, ot[i].secret) != 0) {
            txs_conf_change_t *c = add(d, TXS_CHANGE_TOKEN, NULL, ot[i].name);
            c->secret = true;
            snprintf(c->from, sizeof c->from, "set");
            snprintf(c->to, sizeof c->to, "%s", t ? "set" : "");
        }
    }
    for (int i = 0; i < nn; i++) {
        if (find_token(ot, on, nt[i].name))
            continue;
        txs_conf_change_t *c = add(d, TXS_CHANGE_TOKEN, NULL, nt[i].name);
        c->secret = true;
        snprintf(c->to, sizeof c->to, "set");
    }
}

void txs_conf_diff(const txs_conf_t *old, const txs_conf_t *neu, txs_conf_diff_t *out)
{
    memset(out, 0, sizeof *out);
    diff_keys(out, TXS_CS_TXSCOPE, NULL, old, neu);
    diff_tokens(out, old, neu);
    if (old->ndbs > 0 && neu->ndbs > 0 && strcmp(old->dbs[0].name, neu->dbs[0].name) != 0) {
        txs_conf_change_t *c = add(out, TXS_CHANGE_DEFAULT_DB, NULL, NULL);
        snprintf(c->from, sizeof c->from, "%s", old->dbs[0].name);
        snprintf(c->to, sizeof c->to, "%s", neu->dbs[0].name);
    }
    for (int i = 0; i < neu->ndbs; i++) {
        const txs_db_conf_t *o = txs_conf_find_db(old, neu->dbs[i].name);
        if (o)
            diff_keys(out, TXS_CS_DB, neu->dbs[i].name, o, &neu->dbs[i]);
        else
            add(out, TXS_CHANGE_DB_ADDED, neu->dbs[i].name, NULL);
    }
    for (int i = 0; i < old->ndbs; i++)
        if (!txs_conf_find_db(neu, old->dbs[i].name))
            add(out, TXS_CHANGE_DB_REMOVED, old->dbs[i].name, NULL);
}

void txs_conf_diff_free(txs_conf_diff_t *d)
{
    free(d->changes);
    memset(d, 0, sizeof *d);
}

void txs_conf_change_describe(const txs_conf_change_t *c, char *buf, size_t len)
{
    const char *from = c->from[0] ? c->from : "(none)", *to = c->to[0] ? c->to : "(none)";
    switch (c->kind) {
    case TXS_CHANGE_KEY: {
        char scope[TXS_CONF_NAME_MAX + 8] = "";
        if (c->db[0])
            snprintf(scope, sizeof scope, "db %s ", c->db);
        if (c->secret)
            snprintf(buf, len, "%s%s changed", scope, c->key);
        else
            snprintf(buf, len, "%s%s %s -> %s", scope, c->key, from, to);
        return;
    }
    case TXS_CHANGE_DB_ADDED:
        snprintf(buf, len, "db %s added", c->db);
        return;
    case TXS_CHANGE_DB_REMOVED:
        snprintf(buf, len, "db %s removed", c->db);
        return;
    case TXS_CHANGE_DEFAULT_DB:
        snprintf(buf, len, "default db %s -> %s", from, to);
        return;
    case TXS_CHANGE_TOKEN:
        snprintf(buf, len, "[tokens] %s %s", c->key,
                 !c->from[0] ? "added"
                 : !c->to[0] ? "removed"
                             : "changed");
        return;
    }
    buf[0] = '\0';
}

/* ---- copies ---- */

void txs_conf_keep_restart_only(txs_conf_t *neu, const txs_conf_t *old)
{
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
        const txs_conf_key_t *k = &txs_conf_keys[i];
        if (k->info.reloadable)
            continue;
        if (k->section == TXS_CS_DB) {
            /* A db whose driver changed keeps all its running settings: its new dsn (a
             * mysql:// URI, say) and the rest were written for the other driver. */
            for (int j = 0; j < neu->ndbs; j++) {
                const txs_db_conf_t *o = txs_conf_find_db(old, neu->dbs[j].name);
                if (o && !value_eq(k, &neu->dbs[j], o))
                    txs_conf_db_copy(&neu->dbs[j], o);
            }
        } else if (k->type == TXS_CT_LISTEN) {
            /* key_copy leaves LISTEN alone: host and port by hand. */
            char **host = (char **)((char *)neu + k->offset);
            free(*host);
            const char *h = *(char *const *)field(k, old);
            *host = h ? txs_xstrdup(h) : NULL;
            *(int *)((char *)neu + k->port_offset) =
                *(const int *)((const char *)old + k->port_offset);
        } else {
            txs_conf_key_copy(k, neu, old);
        }
    }
}

void txs_conf_db_copy(txs_db_conf_t *dst, const txs_db_conf_t *src)
{
    if (dst == src)
        return;
    memcpy(dst->name, src->name, sizeof dst->name);
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++)
        if (txs_conf_keys[i].section == TXS_CS_DB)
            txs_conf_key_copy(&txs_conf_keys[i], dst, src);
}

void txs_conf_db_clear(txs_db_conf_t *db)
{
    txs_conf_keys_free_strings(TXS_CS_DB, db);
    memset(db, 0, sizeof *db);
}
