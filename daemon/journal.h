/* journal.h - the outcome journal: how each principal's recently ended transactions
 * ended, by ctx, so that an app whose connection dropped during `commit` can ask.
 *
 * Pure bookkeeping (no libuv): the caller passes the time. A ctx whose commit is under
 * way is "pending"; a lookup then waits (through a waiter) until the commit ends, so an
 * answer is never an older transaction's outcome. */
#ifndef TXS_DAEMON_JOURNAL_H
#define TXS_DAEMON_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who every client is while the config has no named tokens. */
#define TXS_DEFAULT_PRINCIPAL "default"

typedef enum txs_outcome {
    TXS_OUTCOME_NOT_FOUND,
    TXS_OUTCOME_COMMITTED,
    TXS_OUTCOME_ROLLED_BACK,
    TXS_OUTCOME_UNKNOWN,
    TXS_OUTCOME_PENDING, /* a commit is under way: lookups wait */
} txs_outcome_t;

/* "committed", "rolled_back", "unknown", "not_found" (and "pending"). */
const char *txs_outcome_name(txs_outcome_t o);

typedef struct txs_journal txs_journal_t;   /* one principal's */
typedef struct txs_journals txs_journals_t; /* every principal's */
typedef struct txs_journal_entry txs_journal_entry_t;

/* Embedded in whatever waits for a pending outcome (a session). */
typedef struct txs_journal_waiter txs_journal_waiter_t;
struct txs_journal_waiter {
    void (*cb)(txs_journal_waiter_t *w, txs_outcome_t outcome);
    txs_journal_entry_t *entry; /* non-NULL while waiting */
    txs_journal_waiter_t *prev, *next;
};

/* max_entries ended transactions per principal are kept (0: the journal is off and
 * every lookup is not_found), each for ttl_ms. */
txs_journals_t *txs_journals_create(size_t max_entries, uint64_t ttl_ms);
void txs_journals_free(txs_journals_t *js);
/* A reload: every journal keeps max_entries and ttl_ms from now on (0: off), and drops
 * at once what the new limits leave out (time passed in). A commit pending when the
 * journal is turned off still records its outcome for whoever waits on it. */
void txs_journals_set_limits(txs_journals_t *js, size_t max_entries, uint64_t ttl_ms,
                             uint64_t now_ms);
/* The journal of `principal`, made on first use. */
txs_journal_t *txs_journals_get(txs_journals_t *js, const char *principal);

/* A transaction of ctx is committing (COMMIT sent): until txs_journal_record(), a
 * lookup of ctx waits. Calls nest: each needs its record(). */
void txs_journal_begin_commit(txs_journal_t *j, const char *ctx);
/* A transaction of ctx ended. committing: it was announced by begin_commit. Waiters
 * are called (from inside this call) once no commit of ctx is pending. */
void txs_journal_record(txs_journal_t *j, const char *ctx, txs_outcome_t outcome, bool committing,
                        uint64_t now_ms);
/* How the most recent transaction of ctx ended. PENDING: w is queued and w->cb runs
 * later with the outcome (w NULL: only says so). */
txs_outcome_t txs_journal_lookup(txs_journal_t *j, const char *ctx, uint64_t now_ms,
                                 txs_journal_waiter_t *w);
/* Stop waiting without a callback. Safe when not waiting. */
void txs_journal_cancel_wait(txs_journal_waiter_t *w);
/* Entries held now (ended ones and pending ones), for tests and stats. */
size_t txs_journal_count(const txs_journal_t *j);

#endif
