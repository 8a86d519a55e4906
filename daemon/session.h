/* session.h - a request-scoped session: one ctx of one client, its transaction state,
 * its FIFO of requests and, while a transaction runs, one linked backend connection. */
#ifndef TXS_DAEMON_SESSION_H
#define TXS_DAEMON_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "daemon/journal.h"
#include "daemon/levels.h"
#include "daemon/log.h"
#include "daemon/pool.h"
#include "protocol/reply.h"
#include "protocol/request.h"

struct txs_client;

/* A request waiting in (or at the head of) a session's FIFO. */
typedef struct txs_queued {
    txs_request_t req;
    struct txs_queued *next;
} txs_queued_t;

typedef enum txs_session_state {
    TXS_SESSION_READY,     /* nothing in flight: the head request may start */
    TXS_SESSION_ACQUIRING, /* in the pool's waiter FIFO for a backend */
    TXS_SESSION_RUNNING,   /* a statement runs on the linked backend */
    TXS_SESSION_WAITING,   /* `outcome` waits for another connection's commit to end */
} txs_session_state_t;

/* What runs on the backend for the current request. */
typedef enum txs_step {
    TXS_STEP_NONE,
    TXS_STEP_BEGIN,           /* BEGIN ... before the request's own SQL */
    TXS_STEP_STATEMENT,       /* query */
    TXS_STEP_BEGIN_STATEMENT, /* BEGIN ... and the query, in one round trip */
    TXS_STEP_BATCH,           /* batch (with BEGIN and COMMIT in it when it is its own tx) */
    TXS_STEP_COMMIT,          /* COMMIT of the outermost level */
    TXS_STEP_ROLLBACK,        /* ROLLBACK of the whole transaction (rollback, end) */
    TXS_STEP_LEVEL_OPEN,      /* SAVEPOINT of begin nested */
    TXS_STEP_LEVEL_RELEASE,   /* RELEASE SAVEPOINT: commit of a nested level */
    TXS_STEP_LEVEL_UNDO,      /* ROLLBACK TO + RELEASE: rollback of a nested level */
    TXS_STEP_SAVEPOINT,       /* the named savepoint ops */
    TXS_STEP_RELEASE,
    TXS_STEP_ROLLBACK_TO,
    TXS_STEP_DDL_COMMIT, /* COMMIT + the DDL: MySQL's implicit commit, made explicit */
} txs_step_t;

typedef struct txs_session {
    UT_hash_handle hh; /* in client->sessions, keyed by ctx */
    char ctx[TXS_CTX_MAX + 1];
    struct txs_client *client;
    txs_pool_t *pool; /* the db it is bound to; NULL until a request binds it */
    txs_session_state_t state;
    txs_step_t step;

    txs_tx_state_t tx;
    txs_levels_t levels;  /* tx.depth is levels.depth */
    bool tx_on_backend;   /* BEGIN ran on the linked backend */
    bool tx_gone;         /* the transaction already ended on the database (a rollback at a
                             joined level, or the backend was lost): rollbacks only unwind
                             the levels */
    bool lost_unreported; /* the backend died between requests: the next one hears 08006 */
    bool committing;      /* the step running may commit: the journal has it pending */
    txs_isolation_t isolation;
    txs_tristate_t read_only, deferrable;

    txs_backend_t *backend;
    txs_pool_waiter_t waiter;
    txs_journal_waiter_t outcome_waiter;
    int batch_first; /* the statements sent: index of the first of the request's own */
    bool batch_own_tx;
    bool run_alone;  /* the query runs as a transaction of its own (autocommit, or DDL
                        that commits implicitly with nothing open on the backend) */
    bool ddl_commit; /* the query is DDL that commits the open transaction first */

    txs_queued_t *current; /* running, acquiring or waiting; NULL when READY */
    txs_queued_t *head, *tail;
    bool winding_down; /* the client is gone: no replies, roll back, let go */
    bool cancel_sent;
    bool in_advance;    /* advance() is on the stack: completions must not recurse */
    bool ended;         /* `end` answered: forget the ctx once the queue is empty */
    bool autobegun;     /* the current request opened the transaction */
    bool stale_retried; /* the current request's statement was sent again once, its
                           cached form having gone stale (retry_stale) */

    /* Timeouts (session_timeout.c). Times are uv_now() ms; 0 = not set. */
    uv_timer_t *timer;      /* allocated on first use, armed for the nearest deadline */
    uint64_t timer_due;     /* when it is armed for; 0 = stopped */
    uint64_t step_started;  /* the running step was sent (query_timeout counts from here) */
    uint64_t sent_ns;       /* the same, uv_hrtime(): the query-time histogram */
    uint64_t cancel_at;     /* a cancel was sent (the hard stop counts from here) */
    uint64_t tx_started;    /* the transaction was opened (transaction_timeout) */
    uint64_t idle_since;    /* the session last had nothing to do */
    int timing_out;         /* the running step is being cancelled by this timeout:
                               TXS_TIMEOUT_QUERY or TXS_TIMEOUT_TRANSACTION; -1 none */
    int timeout_unreported; /* a timeout rolled the transaction back between requests: the
                               next request hears 25P03 (the kind); -1 none */
    bool abandoned;         /* the step did not stop when cancelled: connection closed */
} txs_session_t;

txs_session_t *txs_session_create(struct txs_client *c, const char *ctx);
/* Append a request (ownership passes); starts it when the session is ready. */
void txs_session_enqueue(txs_session_t *s, txs_queued_t *q);
/* The client is gone: drop queued requests, cancel what runs (never a commit),
 * roll back, give the backend back, then free the session. */
void txs_session_wind_down(txs_session_t *s);
/* session_timeout.c: a reload changed the timeouts: the timer is re-armed for the
 * nearest deadline under the new ones (counted from the same moments as before). */
void txs_session_timer_reload(txs_session_t *s);
/* The daemon is shutting down: every request still waiting, queued or running, hears
 * 57P01, then the session winds down as for a close. A commit under way is left to finish
 * and answered as usual; the client winds the session down after it (client.c). */
void txs_session_shut_down(txs_session_t *s);

/* Who a log line about s is about: its client's id and peer, its ctx, its db once
 * bound, its backend while linked. */
txs_log_who_t txs_session_who(const txs_session_t *s);

#endif
