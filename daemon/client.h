/* client.h - one app connection: socket, framing, the registry of its sessions,
 * coalesced output and read backpressure. */
#ifndef TXS_DAEMON_CLIENT_H
#define TXS_DAEMON_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "conf/config.h"
#include "daemon/log.h"
#include "daemon/session.h"
#include "protocol/buf.h"

struct txs_server;

/* The size of one read. */
#define TXS_READ_CHUNK 65536

typedef enum txs_client_state {
    TXS_CLIENT_ACTIVE,  /* in server->clients; reading requests */
    TXS_CLIENT_CLOSING, /* socket closing; sessions winding down; freed when refs hit 0 */
} txs_client_state_t;

typedef struct txs_client {
    struct txs_server *server;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } sock;
    uint64_t id;
    char peer[64];
    txs_client_state_t state;
    int refs; /* the socket handle + each live session */

    bool authenticated;
    char principal[TXS_CONF_NAME_MAX + 1]; /* who hello authenticated as ("default" when no
                                              tokens are configured); "" until then */
    txs_journal_t *journal; /* the outcome journal of the principal; NULL until then */
    bool reading;
    bool close_after_flush;   /* framing lost (54000), auth failed: close once written */
    bool lingering;           /* that reply is written: FIN sent, input discarded until the
                                 peer closes or linger_timer fires (see linger()) */
    uv_timer_t *linger_timer; /* allocated only while lingering */

    /* client_login_timeout and client_idle_timeout (client_timeout.c) */
    uv_timer_t *timer;      /* allocated while one of them may still fire */
    uint64_t accepted_at;   /* uv_now() ms */
    uint64_t last_activity; /* a read, or a reply done */
    bool logged_in;         /* hello done (with tokens), or a first line read (without) */

    txs_buf_t in;      /* unparsed input left over from a read; empty (unallocated) when
                          nothing waits, since reads go to the server's shared buffer */
    size_t in_scanned; /* bytes of `in` known to hold no newline */

    txs_buf_t out;                    /* replies being coalesced */
    struct txs_client_write *writing; /* handed to uv_write; NULL when no write is in
                                          flight, so an idle client holds no buffer */
    bool in_flush_list;
    struct txs_client *flush_next;

    txs_session_t *sessions; /* uthash by ctx */
    int nsessions;
    int pending; /* requests queued or running, across sessions */

    struct txs_client *prev, *next; /* server->clients */
} txs_client_t;

/* Accept a connection from a listening stream. */
void txs_client_accept(struct txs_server *srv, uv_stream_t *listener, bool is_unix);
/* Close the socket and wind down every session; safe to call twice. */
void txs_client_close(txs_client_t *c, const char *why);
/* The daemon's final wind-down (txs_server_shutdown), in two passes over the clients:
 * the sessions waiting for the pool (waiters_only), then the rest. Nothing more is read;
 * each waiting request hears 57P01, transactions roll back (a COMMIT under way finishes
 * and is answered); once no session is left, a last 57P01 line with id null, then FIN
 * and the close as after a fatal error. */
void txs_client_shut_down(txs_client_t *c, bool waiters_only);

/* Replies: append to txs_client_out(c), then call txs_client_reply_done(). */
txs_buf_t *txs_client_out(txs_client_t *c);
/* A reply was appended (or dropped): schedules the write and counts the request
 * as done for pipelining. */
void txs_client_request_done(txs_client_t *c);
/* Write what was coalesced (called before the loop sleeps). */
void txs_client_flush(txs_client_t *c);
/* A session let go (freed): unlinks it and drops the client's reference. */
void txs_client_session_freed(txs_client_t *c, txs_session_t *s);
/* max_result_bytes and friends, from the server's config. */
size_t txs_client_max_result(const txs_client_t *c);
struct txs_pool *txs_client_find_pool(txs_client_t *c, const char *name);

/* client_timeout.c: arm at accept; stop when the client closes. */
void txs_client_timer_start(txs_client_t *c);
/* The client just logged in: its clock switches to client_idle_timeout. */
void txs_client_timer_logged_in(txs_client_t *c);
void txs_client_timer_stop(txs_client_t *c);
/* A reload changed client_login_timeout or client_idle_timeout: re-armed for the new
 * values, counted from when the client was accepted / last active. */
void txs_client_timer_reload(txs_client_t *c);

/* Who a log line about c is about: its id and peer. */
txs_log_who_t txs_client_who(const txs_client_t *c);

#endif
