/* mysql_io.c - a MariaDB connection's socket and timeouts watched on a uv loop. */
#include "drivers/mysql_io.h"

static void on_poll(uv_poll_t *h, int status, int events);

static uv_once_t library_once = UV_ONCE_INIT;

static void library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

void txs_my_library_init(void)
{
    uv_once(&library_once, library_init);
}
static void on_timer(uv_timer_t *t);
static void on_reopened(uv_handle_t *h);

void txs_my_io_init(txs_my_io_t *io, uv_loop_t *loop, MYSQL *my, txs_my_io_cb cb, void *data)
{
    io->loop = loop;
    io->my = my;
    io->cb = cb;
    io->data = data;
    io->poll_fd = -1;
    io->poll_events = 0;
    io->reopening = false;
    io->want = 0;
    io->closing = 0;
    io->closed_cb = NULL;
    uv_timer_init(loop, &io->timer); /* cannot fail on unix */
    io->timer.data = io;
}

static int uv_events(int status)
{
    return (status & MYSQL_WAIT_READ ? UV_READABLE : 0) |
           (status & MYSQL_WAIT_WRITE ? UV_WRITABLE : 0);
}

int txs_my_io_wait(txs_my_io_t *io, int status)
{
    if (io->closing)
        return UV_ECANCELED;
    if (status & MYSQL_WAIT_TIMEOUT)
        uv_timer_start(&io->timer, on_timer, mysql_get_timeout_value_ms(io->my), 0);
    else
        uv_timer_stop(&io->timer);
    if (io->reopening) {
        io->want = status;
        return 0;
    }
    int events = uv_events(status);
    if (events == 0) {
        if (io->poll_events)
            uv_poll_stop(&io->poll);
        io->poll_events = 0;
        return 0;
    }
    int fd = (int)mysql_get_socket(io->my);
    if (fd < 0)
        return UV_EBADF;
    if (io->poll_fd >= 0 && fd != io->poll_fd) {
        /* a uv_poll_t cannot move to another descriptor: remake it once closed */
        io->reopening = true;
        io->want = status;
        io->poll_fd = -1;
        io->poll_events = 0;
        uv_close((uv_handle_t *)&io->poll, on_reopened);
        return 0;
    }
    if (io->poll_fd < 0) {
        int r = uv_poll_init(io->loop, &io->poll, fd);
        if (r)
            return r;
        io->poll.data = io;
        io->poll_fd = fd;
        io->poll_events = 0;
    }
    if (io->poll_events != events) {
        int r = uv_poll_start(&io->poll, events, on_poll);
        if (r)
            return r;
        io->poll_events = events;
    }
    return 0;
}

void txs_my_io_stop(txs_my_io_t *io)
{
    uv_timer_stop(&io->timer);
    if (io->reopening) {
        io->want = 0;
        return;
    }
    if (io->poll_events)
        uv_poll_stop(&io->poll);
    io->poll_events = 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    txs_my_io_t *io = h->data;
    int got;
    if (status < 0) /* let the library find the error on the socket */
        got = (io->poll_events & UV_READABLE ? MYSQL_WAIT_READ : 0) |
              (io->poll_events & UV_WRITABLE ? MYSQL_WAIT_WRITE : 0);
    else
        got = (events & UV_READABLE ? MYSQL_WAIT_READ : 0) |
              (events & UV_WRITABLE ? MYSQL_WAIT_WRITE : 0);
    uv_timer_stop(&io->timer);
    io->cb(io, got);
}

static void on_timer(uv_timer_t *t)
{
    txs_my_io_t *io = t->data;
    io->cb(io, MYSQL_WAIT_TIMEOUT);
}

static void closed_one(txs_my_io_t *io)
{
    if (--io->closing == 0 && io->closed_cb)
        io->closed_cb(io);
}

static void on_reopened(uv_handle_t *h)
{
    txs_my_io_t *io = h->data;
    io->reopening = false;
    if (io->closing) {
        closed_one(io);
        return;
    }
    int r = txs_my_io_wait(io, io->want);
    if (r)
        io->cb(io, r);
}

static void on_closed(uv_handle_t *h)
{
    closed_one(h->data);
}

void txs_my_io_close(txs_my_io_t *io, void (*closed_cb)(txs_my_io_t *io))
{
    io->closed_cb = closed_cb;
    io->closing = 1;
    uv_close((uv_handle_t *)&io->timer, on_closed);
    if (io->reopening) {
        io->closing++; /* on_reopened finishes it */
    } else if (io->poll_fd >= 0) {
        io->closing++;
        uv_close((uv_handle_t *)&io->poll, on_closed);
        io->poll_fd = -1;
        io->poll_events = 0;
    }
}
