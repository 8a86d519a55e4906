/* idle.c - txscope-bench --idle: hold N clients with M idle sessions each, for memory. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "bench/txscope-bench/bench.h"

#define REPLY_TIMEOUT_MS 30000
/* Requests in flight per connection while the contexts are made: few, so that the
 * daemon's RSS afterwards shows what idle contexts keep, not the peak of requests that
 * were queued at once (each is freed, but the heap's high-water mark stays). */
#define WINDOW 4

typedef struct iconn {
    uv_poll_t poll;
    txscope_conn_t *tc;
    int index;
} iconn_t;

static uv_loop_t *loop;

/* Waits for one reply on c; fatal unless it is ok. */
static void expect_ok(txscope_conn_t *c, int client)
{
    const char *line;
    size_t len;
    if (txscope_recv_line(c, REPLY_TIMEOUT_MS, &line, &len) != 0)
        txs_bench_fatal("client %d: %s", client, txscope_errmsg(c));
    uint64_t id;
    bool ok;
    char code[8];
    if (!txs_bench_parse_reply(line, len, &id, &ok, code) || !ok)
        txs_bench_fatal("client %d: a context was not made: %.300s", client, line);
}

/* {"op":"query","ctx":..,"sql":"SELECT 1","autocommit":true} for each context of client i
 * (1-based), WINDOW at a time: the session then stays in the daemon, idle. */
static void make_contexts(const txs_bench_opts_t *o, txscope_conn_t *c, int i)
{
    int sent = 0, answered = 0;
    while (answered < o->contexts) {
        while (sent < o->contexts && sent - answered < WINDOW) {
            size_t len;
            char *part = txs_bench_ctx_part(o, i, sent + 1, &len);
            char line[1200];
            int n = snprintf(line, sizeof line,
                             "{\"id\":%d%s,\"op\":\"query\",\"sql\":\"SELECT 1\","
                             "\"autocommit\":true}\n",
                             sent + 1, part);
            free(part);
            if (n < 0 || (size_t)n >= sizeof line)
                txs_bench_fatal("a request does not fit its buffer");
            if (txscope_send_raw(c, line, (size_t)n) != 0)
                txs_bench_fatal("client %d: %s", i, txscope_errmsg(c));
            sent++;
        }
        expect_ok(c, i);
        answered++;
    }
}

/* The daemon should send nothing to an idle client: a closed connection ends the run. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    iconn_t *ic = h->data;
    for (;;) {
        const char *line;
        size_t len;
        int rc = txscope_recv_line(ic->tc, 0, &line, &len);
        if (rc == TXSCOPE_ETIMEDOUT)
            return;
        if (rc != 0)
            txs_bench_fatal("client %d: lost the connection: %s", ic->index + 1,
                            txscope_errmsg(ic->tc));
        fprintf(stderr, "txscope-bench: client %d: unexpected line: %.200s\n", ic->index + 1, line);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    uv_stop(loop);
}

static void on_timer(uv_timer_t *t)
{
    uv_stop(loop);
}

static void close_cb(uv_handle_t *h)
{
}

int txs_bench_run_idle(const txs_bench_opts_t *o, txscope_conn_t **conns)
{
    for (int i = 0; i < o->clients; i++)
        make_contexts(o, conns[i], i + 1);
    printf("idle: %d clients, %d contexts each, ready\n", o->clients, o->contexts);
    fflush(stdout);

    loop = uv_default_loop();
    iconn_t *ics = txs_bench_xcalloc((size_t)o->clients, sizeof *ics);
    for (int i = 0; i < o->clients; i++) {
        ics[i].tc = conns[i];
        ics[i].index = i;
        ics[i].poll.data = &ics[i];
        if (uv_poll_init(loop, &ics[i].poll, txscope_fd(conns[i])) != 0)
            txs_bench_fatal("uv_poll_init failed");
        uv_poll_start(&ics[i].poll, UV_READABLE, on_readable);
    }
    uv_signal_t sigint, sigterm;
    uv_timer_t timer;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &timer);
    if (o->seconds_given)
        uv_timer_start(&timer, on_timer, (uint64_t)(o->seconds * 1000 + 0.5), 0);
    uv_run(loop, UV_RUN_DEFAULT);

    uv_close((uv_handle_t *)&sigint, close_cb);
    uv_close((uv_handle_t *)&sigterm, close_cb);
    uv_close((uv_handle_t *)&timer, close_cb);
    for (int i = 0; i < o->clients; i++)
        uv_close((uv_handle_t *)&ics[i].poll, close_cb);
    uv_run(loop, UV_RUN_DEFAULT);
    free(ics);
    return 0;
}
