/* mysql_io.h - a MariaDB connection's socket and timeouts watched on a uv loop, for its
 * non-blocking API (X_start / X_cont and their MYSQL_WAIT_* masks). */
#ifndef TXS_DRIVERS_MYSQL_IO_H
#define TXS_DRIVERS_MYSQL_IO_H

#include <mysql.h>
#include <stdbool.h>
#include <uv.h>

typedef struct txs_my_io txs_my_io_t;

/* What happened, as the MYSQL_WAIT_* mask to give X_cont: READ / WRITE when the socket
 * is ready (both on a socket error, so that the library finds it), TIMEOUT when the
 * library's own timeout ran out; or a negative uv error when a new poll handle could not
 * be made for a new socket (no X_cont is due then: the wait failed). */
typedef void (*txs_my_io_cb)(txs_my_io_t *io, int events);

struct txs_my_io {
    uv_loop_t *loop;
    MYSQL *my; /* the connection; its socket is read again at every wait */
    txs_my_io_cb cb;
    void *data; /* the owner's */

    uv_poll_t poll;
    int poll_fd;     /* the socket `poll` was made for; -1: not made */
    int poll_events; /* the UV_* events it is started for; 0: stopped */
    bool reopening;  /* poll is closing, to be remade on the new socket */
    int want;        /* the MYSQL_WAIT_* mask to wait for once remade */
    uv_timer_t timer;

    int closing; /* after txs_my_io_close: handles not closed yet */
    void (*closed_cb)(txs_my_io_t *io);
};

/* mysql_library_init, once per process (before the first mysql_init). */
void txs_my_library_init(void);

/* Make the handles (the poll comes at the first wait). */
void txs_my_io_init(txs_my_io_t *io, uv_loop_t *loop, MYSQL *my, txs_my_io_cb cb, void *data);

/* Wait for what the library asked (the mask X_start or X_cont returned; 0 stops waiting).
 * Returns 0, or a uv error (no socket, or the poll could not start). A socket with a new
 * number gets a new poll handle, made in the old one's close callback. */
int txs_my_io_wait(txs_my_io_t *io, int status);

/* Stop waiting. Call before a step that may close the socket and open another with the
 * same number (connecting): the next wait registers the socket again. */
void txs_my_io_stop(txs_my_io_t *io);

/* Close both handles; closed_cb(io) runs once they are closed (a later loop turn). The
 * socket itself is the library's to close, after this call. */
void txs_my_io_close(txs_my_io_t *io, void (*closed_cb)(txs_my_io_t *io));

#endif
