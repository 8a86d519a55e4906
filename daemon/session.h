/* session.h - a request-scoped session: one ctx of one client, its transaction state,
 * its FIFO of requests and, while a transaction runs, one linked backend connection. */
#ifndef TXS_DAEMON_SESSION_H
#define TXS_DAEMON_SESSION_H

#include <stdbool.h>
#include <uthash.h>

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
} txs_session_state_t;

/* Which statement of the current request runs on the backend. */
typedef enum txs_step {
    TXS_STEP_NONE,
    TXS_STEP_BEGIN,     /* BEGIN ... before the request's statement */
    TXS_STEP_STATEMENT, /* the request's own statement */
    TXS_STEP_COMMIT,
    TXS_STEP_ROLLBACK, /* rollback or end */
} txs_step_t;

typedef struct txs_session {
    UT_hash_handle hh; /* in client->sessions, keyed by ctx */
    char ctx[TXS_CTX_MAX + 1];
    struct txs_client *client;
    txs_pool_t *pool; /* the db it is bound to; NULL until a request binds it */
    txs_session_state_t state;
    txs_step_t step;

    txs_tx_state_t tx;
    int depth;
    bool tx_on_backend; /* BEGIN ran on the linked backend */
    txs_isolation_t isolation;
    txs_tristate_t read_only, deferrable;

    txs_backend_t *backend;
    txs_pool_waiter_t waiter;

    txs_queued_t *current; /* running or acquiring; NULL when READY */
    txs_queued_t *head, *tail;
    bool winding_down; /* the client is gone: no replies, roll back, let go */
    bool cancel_sent;
    bool in_advance; /* advance() is on the stack: completions must not recurse */
    bool ended;      /* `end` answered: forget the ctx once the queue is empty */
    bool autobegun;  /* the current query opened the transaction */
} txs_session_t;

txs_session_t *txs_session_create(struct txs_client *c, const char *ctx);
/* Append a request (ownership passes); starts it when the session is ready. */
void txs_session_enqueue(txs_session_t *s, txs_queued_t *q);
/* The client is gone: drop queued requests, cancel what runs (never a commit),
 * roll back, give the backend back, then free the session. */
void txs_session_wind_down(txs_session_t *s);

#endif
