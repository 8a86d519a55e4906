/* mysql_cancel.h - KILL QUERY sent from a short-lived side connection: MySQL has no
 * in-band cancel. */
#ifndef TXS_DRIVERS_MYSQL_CANCEL_H
#define TXS_DRIVERS_MYSQL_CANCEL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct txs_my_kill txs_my_kill_t;

/* The server to reach, as the victim's connection reached it. */
typedef struct txs_my_target {
    const char *host;   /* a numeric address, "localhost" or NULL (the default socket) */
    const char *socket; /* a unix socket path, or NULL */
    unsigned port;
    const char *user;
    const char *password; /* NULL: none given */
} txs_my_target_t;

/* ok: the server ran the KILL, so the statement running then was told to stop (or the
 * connection was idle); else message says why not. */
typedef void (*txs_my_kill_cb)(void *arg, bool ok, const char *message);

/* Connect to `to` (timeout_ms at most, 0: no limit), run KILL QUERY thread_id and hang up.
 * cb runs once, on a later loop turn, unless txs_my_kill_abort came first. The strings of
 * `to` are copied. */
txs_my_kill_t *txs_my_kill_start(uv_loop_t *loop, const txs_my_target_t *to,
                                 unsigned long thread_id, uint64_t timeout_ms, txs_my_kill_cb cb,
                                 void *arg);

/* Forget a kill under way: cb will not run. Its connection is closed in the background
 * (its handles close on later loop turns). */
void txs_my_kill_abort(txs_my_kill_t *k);

#endif
