/* mysql_cancel.c - KILL QUERY sent from a short-lived side connection. */
#include "drivers/mysql_cancel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/mysql_io.h"
#include "protocol/buf.h"

typedef enum kill_call {
    KC_NONE,    /* no library call under way */
    KC_CONNECT, /* mysql_real_connect */
    KC_QUERY,   /* mysql_real_query of the KILL */
} kill_call_t;

struct txs_my_kill {
    uv_loop_t *loop;
    MYSQL *my;
    txs_my_io_t io;
    uv_timer_t deadline;
    kill_call_t call;
    MYSQL *ret_my;
    int ret_int;
    txs_my_kill_cb cb; /* NULL once called, or after abort */
    void *arg;
    int pending; /* handles still to close */
    char sql[48];
    char *host, *socket, *user, *password;
    unsigned port;
    uint64_t timeout_ms;
    char msg[256];
};

static void on_io(txs_my_io_t *io, int events);

static char *dup_or_null(const char *s)
{
    return s ? txs_xstrdup(s) : NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    txs_my_kill_t *k = h->data;
    if (--k->pending == 0) {
        free(k->host);
        free(k->socket);
        free(k->user);
        free(k->password);
        free(k);
    }
}

static void on_io_closed(txs_my_io_t *io)
{
    on_handle_closed((uv_handle_t *)&((txs_my_kill_t *)io->data)->deadline);
}

/* Hang up without waiting: a suspended call is ended by telling it its wait timed out
 * (each read or write it waits for then fails at once), then COM_QUIT goes out if the
 * socket takes it at once. */
static void teardown(txs_my_kill_t *k)
{
    k->cb = NULL;
    k->pending = 2;
    txs_my_io_close(&k->io, on_io_closed); /* stops the poll before the socket closes */
    uv_close((uv_handle_t *)&k->deadline, on_handle_closed);
    for (int i = 0; k->call != KC_NONE && i < 100; i++) {
        int st = k->call == KC_CONNECT
                     ? mysql_real_connect_cont(&k->ret_my, k->my, MYSQL_WAIT_TIMEOUT)
                     : mysql_real_query_cont(&k->ret_int, k->my, MYSQL_WAIT_TIMEOUT);
        if (st == 0)
            k->call = KC_NONE;
    }
    int st = mysql_close_start(k->my);
    for (int i = 0; st != 0 && i < 100; i++)
        st = mysql_close_cont(k->my, MYSQL_WAIT_TIMEOUT);
    k->my = NULL;
}

/* The kill is over: tell the owner, then hang up. */
static void finish(txs_my_kill_t *k, bool ok, const char *msg)
{
    txs_my_kill_cb cb = k->cb;
    void *arg = k->arg;
    if (msg && msg != k->msg)
        snprintf(k->msg, sizeof k->msg, "%s", msg);
    teardown(k);
    if (cb)
        cb(arg, ok, ok ? NULL : k->msg);
}

/* Go on after a call returned st (0: done). */
static void drive(txs_my_kill_t *k, int st)
{
    for (;;) {
        if (st != 0) {
            int r = txs_my_io_wait(&k->io, st);
            if (r)
                finish(k, false, uv_strerror(r));
            return;
        }
        kill_call_t done = k->call;
        k->call = KC_NONE;
        if (done == KC_CONNECT) {
            if (!k->ret_my) {
                finish(k, false, mysql_error(k->my));
                return;
            }
            k->call = KC_QUERY;
            st = mysql_real_query_start(&k->ret_int, k->my, k->sql, strlen(k->sql));
            continue;
        }
        if (k->ret_int != 0)
            finish(k, false, mysql_error(k->my));
        else
            finish(k, true, NULL);
        return;
    }
}

static void on_io(txs_my_io_t *io, int events)
{
    txs_my_kill_t *k = io->data;
    if (events < 0) {
        finish(k, false, uv_strerror(events));
        return;
    }
    if (k->call == KC_CONNECT)
        txs_my_io_stop(io); /* connecting may close the socket and open another */
    int st = k->call == KC_CONNECT ? mysql_real_connect_cont(&k->ret_my, k->my, events)
                                   : mysql_real_query_cont(&k->ret_int, k->my, events);
    drive(k, st);
}

static void on_deadline(uv_timer_t *t)
{
    txs_my_kill_t *k = t->data;
    snprintf(k->msg, sizeof k->msg, "the KILL did not get through within %llu ms",
             (unsigned long long)k->timeout_ms);
    finish(k, false, k->msg);
}

/* The first step runs on the next loop turn, so that cb never runs inside start. */
static void on_first_step(uv_timer_t *t)
{
    txs_my_kill_t *k = t->data;
    if (k->timeout_ms)
        uv_timer_start(&k->deadline, on_deadline, k->timeout_ms, 0);
    k->call = KC_CONNECT;
    drive(k, mysql_real_connect_start(&k->ret_my, k->my, k->host, k->user, k->password, NULL,
                                      k->port, k->socket, 0));
}

txs_my_kill_t *txs_my_kill_start(uv_loop_t *loop, const txs_my_target_t *to,
                                 unsigned long thread_id, uint64_t timeout_ms, txs_my_kill_cb cb,
                                 void *arg)
{
    txs_my_library_init();
    txs_my_kill_t *k = txs_xcalloc(1, sizeof *k);
    k->loop = loop;
    k->cb = cb;
    k->arg = arg;
    k->timeout_ms = timeout_ms;
    k->host = dup_or_null(to->host);
    k->socket = dup_or_null(to->socket);
    k->user = dup_or_null(to->user);
    k->password = dup_or_null(to->password);
    k->port = to->port;
    snprintf(k->sql, sizeof k->sql, "KILL QUERY %lu", thread_id);
    k->my = mysql_init(NULL);
    if (!k->my) {
        fprintf(stderr, "txscope: out of memory starting a MySQL connection\n");
        abort();
    }
    unsigned int no = 0;
    mysql_options(k->my, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(k->my, MYSQL_OPT_LOCAL_INFILE, &no);
    txs_my_io_init(&k->io, loop, k->my, on_io, k);
    uv_timer_init(loop, &k->deadline);
    k->deadline.data = k;
    uv_timer_start(&k->deadline, on_first_step, 0, 0);
    return k;
}

void txs_my_kill_abort(txs_my_kill_t *k)
{
    teardown(k);
}
