/* journal.c - the outcome journal: a hash of ctx -> how its last transaction ended, and a
 * list of the entries in the order they were last touched, so that the oldest go first
 * when the journal is full or their time is up. */
#include "daemon/journal.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "protocol/buf.h"

struct txs_journal_entry {
    UT_hash_handle hh;                  /* in txs_journal.entries, by ctx */
    txs_journal_entry_t *older, *newer; /* in txs_journal's age list */
    uint64_t ended_at;
    txs_outcome_t outcome; /* NOT_FOUND while only a pending commit is known */
    unsigned pending;      /* commits under way */
    txs_journal_waiter_t *waiters;
    char ctx[];
};

struct txs_journal {
    UT_hash_handle hh;   /* in txs_journals.by_principal */
    txs_journal_t *next; /* txs_journals.all */
    txs_journal_entry_t *entries;
    txs_journal_entry_t *oldest, *newest;
    size_t max_entries;
    uint64_t ttl_ms;
    char principal[];
};

struct txs_journals {
    txs_journal_t *by_principal;
    txs_journal_t *all;
    size_t max_entries;
    uint64_t ttl_ms;
};

const char *txs_outcome_name(txs_outcome_t o)
{
    switch (o) {
    case TXS_OUTCOME_COMMITTED:
        return "committed";
    case TXS_OUTCOME_ROLLED_BACK:
        return "rolled_back";
    case TXS_OUTCOME_UNKNOWN:
        return "unknown";
    case TXS_OUTCOME_PENDING:
        return "pending";
    case TXS_OUTCOME_NOT_FOUND:
        break;
    }
    return "not_found";
}

txs_journals_t *txs_journals_create(size_t max_entries, uint64_t ttl_ms)
{
    txs_journals_t *js = txs_xcalloc(1, sizeof *js);
    js->max_entries = max_entries;
    js->ttl_ms = ttl_ms;
    return js;
}

static void unlink_entry(txs_journal_t *j, txs_journal_entry_t *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        j->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        j->newest = e->older;
    e->older = e->newer = NULL;
}

static void link_newest(txs_journal_t *j, txs_journal_entry_t *e)
{
    e->older = j->newest;
    e->newer = NULL;
    if (j->newest)
        j->newest->newer = e;
    else
        j->oldest = e;
    j->newest = e;
}

static void entry_free(txs_journal_t *j, txs_journal_entry_t *e)
{
    HASH_DEL(j->entries, e);
    unlink_entry(j, e);
    free(e);
}

void txs_journals_free(txs_journals_t *js)
{
    if (!js)
        return;
    /* The hash tables go first (HASH_CLEAR reads only their head), then the items, by
     * the lists that hold them all. */
    HASH_CLEAR(hh, js->by_principal);
    txs_journal_t *j = js->all;
    while (j) {
        txs_journal_t *jnext = j->next;
        HASH_CLEAR(hh, j->entries);
        txs_journal_entry_t *e = j->oldest;
        while (e) {
            txs_journal_entry_t *enext = e->newer;
            for (txs_journal_waiter_t *w = e->waiters; w; w = w->next)
                w->entry = NULL;
            free(e);
            e = enext;
        }
        free(j);
        j = jnext;
    }
    free(js);
}

txs_journal_t *txs_journals_get(txs_journals_t *js, const char *principal)
{
    txs_journal_t *j = NULL;
    HASH_FIND_STR(js->by_principal, principal, j);
    if (j)
        return j;
    size_t len = strlen(principal);
    j = txs_xcalloc(1, sizeof *j + len + 1);
    memcpy(j->principal, principal, len + 1);
    j->max_entries = js->max_entries;
    j->ttl_ms = js->ttl_ms;
    HASH_ADD_KEYPTR(hh, js->by_principal, j->principal, len, j);
    j->next = js->all;
    js->all = j;
    return j;
}

static bool expired(const txs_journal_t *j, const txs_journal_entry_t *e, uint64_t now)
{
    return e->pending == 0 && now >= e->ended_at + j->ttl_ms;
}

/* Drop ended entries past their time, oldest first, and the oldest ended ones while the
 * journal holds more than max_entries. A pending entry stays: its commit has not ended. */
static void trim(txs_journal_t *j, uint64_t now)
{
    txs_journal_entry_t *e = j->oldest;
    while (e) {
        txs_journal_entry_t *next = e->newer;
        if (!e->pending) {
            if (!expired(j, e, now) && HASH_COUNT(j->entries) <= j->max_entries)
                break; /* the rest were touched later */
            entry_free(j, e);
            if (!j->entries)
                break; /* the hash and the list hold the same entries */
        }
        e = next;
    }
}

static txs_journal_entry_t *find(txs_journal_t *j, const char *ctx)
{
    txs_journal_entry_t *e = NULL;
    HASH_FIND_STR(j->entries, ctx, e);
    return e;
}

/* The entry of ctx, made if need be, moved to the newest end of the order. */
static txs_journal_entry_t *touch(txs_journal_t *j, const char *ctx)
{
    txs_journal_entry_t *e = find(j, ctx);
    if (e) {
        unlink_entry(j, e);
    } else {
        size_t len = strlen(ctx);
        e = txs_xcalloc(1, sizeof *e + len + 1);
        memcpy(e->ctx, ctx, len + 1);
        e->outcome = TXS_OUTCOME_NOT_FOUND;
        HASH_ADD_KEYPTR(hh, j->entries, e->ctx, len, e);
    }
    link_newest(j, e);
    return e;
}

void txs_journals_set_limits(txs_journals_t *js, size_t max_entries, uint64_t ttl_ms,
                             uint64_t now_ms)
{
    js->max_entries = max_entries;
    js->ttl_ms = ttl_ms;
    for (txs_journal_t *j = js->all; j; j = j->next) {
        j->max_entries = max_entries;
        j->ttl_ms = ttl_ms;
        trim(j, now_ms);
    }
}

void txs_journal_begin_commit(txs_journal_t *j, const char *ctx)
{
    if (j->max_entries == 0)
        return;
    touch(j, ctx)->pending++;
}

void txs_journal_record(txs_journal_t *j, const char *ctx, txs_outcome_t outcome, bool committing,
                        uint64_t now_ms)
{
    /* Off, but an entry left from before a reload turned it off may have waiters. */
    if (j->max_entries == 0 && !find(j, ctx))
        return;
    txs_journal_entry_t *e = touch(j, ctx);
    e->outcome = outcome;
    e->ended_at = now_ms;
    if (committing && e->pending > 0)
        e->pending--;
    if (e->pending == 0 && e->waiters) {
        /* Take the whole list first: a callback may start its session's next request,
         * which can record a later transaction of this very ctx; the waiters here must
         * all hear this outcome, and e may be gone by then. */
        txs_journal_waiter_t *w = e->waiters;
        e->waiters = NULL;
        for (txs_journal_waiter_t *x = w; x; x = x->next)
            x->entry = NULL; /* no longer cancellable: answered now */
        while (w) {
            txs_journal_waiter_t *next = w->next;
            w->prev = w->next = NULL;
            w->cb(w, outcome);
            w = next;
        }
    }
    trim(j, now_ms);
}

txs_outcome_t txs_journal_lookup(txs_journal_t *j, const char *ctx, uint64_t now_ms,
                                 txs_journal_waiter_t *w)
{
    if (j->max_entries == 0)
        return TXS_OUTCOME_NOT_FOUND;
    trim(j, now_ms);
    txs_journal_entry_t *e = find(j, ctx);
    if (!e)
        return TXS_OUTCOME_NOT_FOUND;
    if (e->pending) {
        if (!w)
            return TXS_OUTCOME_PENDING;
        w->entry = e;
        w->prev = NULL;
        w->next = e->waiters;
        if (e->waiters)
            e->waiters->prev = w;
        e->waiters = w;
        return TXS_OUTCOME_PENDING;
    }
    if (expired(j, e, now_ms)) {
        entry_free(j, e);
        return TXS_OUTCOME_NOT_FOUND;
    }
    return e->outcome;
}

void txs_journal_cancel_wait(txs_journal_waiter_t *w)
{
    txs_journal_entry_t *e = w->entry;
    if (!e)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        e->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->entry = NULL;
    w->prev = w->next = NULL;
}

size_t txs_journal_count(const txs_journal_t *j)
{
    return HASH_COUNT(j->entries);
}
