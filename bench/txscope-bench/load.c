/* load.c - txscope-bench's load: contexts running transactions back to back on libuv. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench/txscope-bench/bench.h"

/* How long in-flight transactions may take to finish after the end of the run. */
#define GRACE_MS 10000

struct lconn;

/* One context: a sequence of transactions, one request in flight at a time. */
typedef struct lctx {
    struct lconn *conn;
    uint64_t seq; /* of the request in flight: its id is seq * contexts + index */
    uint64_t t_start;
    txs_wl_vals_t vals;
    txs_rng_t rng;
    long started; /* transactions begun */
    uint32_t index;
    uint8_t step;      /* of the transaction's request in flight */
    bool rolling_back; /* the request in flight is the rollback after an error */
    bool in_flight;
    uint16_t ctx_len;
    char *ctx_part;
} lctx_t;

typedef struct lconn {
    uv_poll_t poll;
    txscope_conn_t *tc;
    int index;
    lctx_t *ctxs;
} lconn_t;

static struct {
    const txs_bench_opts_t *o;
    txs_bench_result_t *res;
    uv_loop_t *loop;
    lconn_t *conns;
    int steps;
    bool needs_rollback;
    uint64_t m; /* contexts per connection */
    uint64_t t0, t_end;
    bool stopping; /* no new transactions; completions no longer count */
    bool done;
    long active; /* contexts still running */
    /* The current progress period. */
    txs_hist_t period;
    uint64_t period_start, period_tx, period_errors;
    uv_timer_t deadline, progress, grace;
    uv_signal_t sigint, sigterm;
    /* Requests are written whole by txscope_send_raw, so one buffer serves them all. */
    char buf[TXS_WL_MAX_LINE + 1024];
} R;

static void finish(void)
{
    if (R.done)
        return;
    R.done = true;
    if (R.t_end == 0)
        R.t_end = uv_hrtime();
    uv_stop(R.loop);
}

static void send_line(lctx_t *x, size_t len)
{
    if (len == 0)
        txs_bench_fatal("a request does not fit its buffer");
    x->in_flight = true;
    if (txscope_send_raw(x->conn->tc, R.buf, len) != 0)
        txs_bench_fatal("client %d: lost the connection: %s", x->conn->index + 1,
                        txscope_errmsg(x->conn->tc));
}

static uint64_t next_id(lctx_t *x)
{
    return ++x->seq * R.m + x->index;
}

static void send_step(lctx_t *x)
{
    send_line(x, txs_workload_format(R.o->workload, x->step, &x->vals, next_id(x), x->ctx_part,
                                     x->ctx_len, R.buf, sizeof R.buf));
}

static void send_rollback(lctx_t *x)
{
    x->rolling_back = true;
    send_line(x, txs_workload_rollback(next_id(x), x->ctx_part, x->ctx_len, R.buf, sizeof R.buf));
}

/* Starts the context's next transaction, or retires the context. */
static void next_txn(lctx_t *x)
{
    if (R.stopping || (R.o->transactions > 0 && x->started >= R.o->transactions)) {
        if (--R.active == 0)
            finish();
        return;
    }
    x->started++;
    txs_workload_draw(&x->rng, R.o->scale, &x->vals);
    x->step = 0;
    x->t_start = uv_hrtime();
    send_step(x);
}

static void count_error(const char *code)
{
    R.res->errors++;
    R.period_errors++;
    txs_bench_count_code(R.res, code);
}

static void on_line(lconn_t *c, const char *line, size_t len)
{
    uint64_t id;
    bool ok;
    char code[8];
    if (!txs_bench_parse_reply(line, len, &id, &ok, code))
        txs_bench_fatal("client %d: unexpected line from the daemon: %.200s", c->index + 1, line);
    lctx_t *x = &c->ctxs[id % R.m];
    if (!x->in_flight || id / R.m != x->seq)
        txs_bench_fatal("client %d: a reply to no request in flight: %.200s", c->index + 1, line);
    x->in_flight = false;
    if (x->rolling_back) {
        x->rolling_back = false;
        if (!ok)
            count_error(code);
        next_txn(x);
        return;
    }
    if (!ok) {
        count_error(code);
        if (R.needs_rollback)
            send_rollback(x);
        else
            next_txn(x);
        return;
    }
    if (++x->step < R.steps) {
        send_step(x);
        return;
    }
    if (!R.stopping) {
        txs_hist_record(&R.period, uv_hrtime() - x->t_start);
        R.period_tx++;
    }
    next_txn(x);
}

/* Every complete line now: one read() per readable event, plus the one that says EAGAIN. */
static void drain(lconn_t *c)
{
    for (;;) {
        const char *line;
        size_t len;
        int rc = txscope_recv_line(c->tc, 0, &line, &len);
        if (rc == TXSCOPE_ETIMEDOUT)
            return;
        if (rc != 0)
            txs_bench_fatal("client %d: lost the connection: %s", c->index + 1,
                            txscope_errmsg(c->tc));
        on_line(c, line, len);
        if (R.done)
            return;
    }
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    lconn_t *c = h->data;
    if (status < 0)
        txs_bench_fatal("client %d: poll: %s", c->index + 1, uv_strerror(status));
    drain(c);
}

/* The period's numbers go into the totals. */
static void close_period(uint64_t now)
{
    txs_hist_merge(R.res->latency, &R.period);
    R.res->transactions += R.period_tx;
    txs_hist_reset(&R.period);
    R.period_tx = R.period_errors = 0;
    R.period_start = now;
}

static void on_progress(uv_timer_t *t)
{
    uint64_t now = uv_hrtime();
    double secs = (double)(now - R.period_start) / 1e9;
    fprintf(stderr, "progress: %.1f s, %.1f tps, lat p99 %.3f ms, %" PRIu64 " errors\n",
            (double)(now - R.t0) / 1e9, secs > 0 ? (double)R.period_tx / secs : 0,
            txs_hist_quantile(&R.period, 0.99) / 1e6, R.period_errors);
    close_period(now);
}

static void on_grace(uv_timer_t *t)
{
    fprintf(stderr,
            "txscope-bench: %ld contexts still had a request in flight after %d ms; "
            "closing\n",
            R.active, GRACE_MS);
    finish();
}

/* The end of the run (time's up, or a signal): no new transactions; the ones in flight
 * may finish (uncounted) for up to GRACE_MS. */
static void stop_now(void)
{
    if (R.stopping)
        return;
    if (uv_is_active((uv_handle_t *)&R.progress)) {
        on_progress(&R.progress); /* the last period, whole or not */
        uv_timer_stop(&R.progress);
    }
    R.stopping = true;
    R.t_end = uv_hrtime();
    uv_timer_stop(&R.deadline);
    uv_timer_start(&R.grace, on_grace, GRACE_MS, 0);
}

static void on_deadline(uv_timer_t *t)
{
    stop_now();
}

static void on_signal(uv_signal_t *s, int signum)
{
    stop_now();
}

static void close_cb(uv_handle_t *h)
{
}

static void set_up_contexts(txscope_conn_t **conns)
{
    const txs_bench_opts_t *o = R.o;
    R.conns = txs_bench_xcalloc((size_t)o->clients, sizeof *R.conns);
    uint64_t seed = uv_hrtime() ^ ((uint64_t)getpid() << 32);
    for (int i = 0; i < o->clients; i++) {
        lconn_t *c = &R.conns[i];
        c->tc = conns[i];
        c->index = i;
        c->poll.data = c;
        c->ctxs = txs_bench_xcalloc((size_t)o->contexts, sizeof *c->ctxs);
        if (uv_poll_init(R.loop, &c->poll, txscope_fd(c->tc)) != 0)
            txs_bench_fatal("uv_poll_init failed");
        for (int j = 0; j < o->contexts; j++) {
            lctx_t *x = &c->ctxs[j];
            x->conn = c;
            x->index = (uint32_t)j;
            size_t len;
            x->ctx_part = txs_bench_ctx_part(o, i + 1, j + 1, &len);
            x->ctx_len = (uint16_t)len;
            txs_rng_t s = {seed + (uint64_t)i * (uint64_t)o->contexts + (uint64_t)j};
            x->rng.s = txs_rng_next(&s);
        }
    }
}

static void tear_down(void)
{
    uv_close((uv_handle_t *)&R.deadline, close_cb);
    uv_close((uv_handle_t *)&R.progress, close_cb);
    uv_close((uv_handle_t *)&R.grace, close_cb);
    uv_close((uv_handle_t *)&R.sigint, close_cb);
    uv_close((uv_handle_t *)&R.sigterm, close_cb);
    for (int i = 0; i < R.o->clients; i++)
        uv_close((uv_handle_t *)&R.conns[i].poll, close_cb);
    uv_run(R.loop, UV_RUN_DEFAULT);
    for (int i = 0; i < R.o->clients; i++) {
        for (int j = 0; j < R.o->contexts; j++)
            free(R.conns[i].ctxs[j].ctx_part);
        free(R.conns[i].ctxs);
    }
    free(R.conns);
}

void txs_bench_run_load(const txs_bench_opts_t *o, txscope_conn_t **conns, txs_bench_result_t *r)
{
    R.o = o;
    R.res = r;
    R.loop = uv_default_loop();
    R.steps = txs_workload_steps(o->workload);
    R.needs_rollback = txs_workload_needs_rollback(o->workload);
    R.m = (uint64_t)o->contexts;
    R.active = (long)o->clients * o->contexts;
    txs_hist_reset(&R.period);
    set_up_contexts(conns);
    uv_timer_init(R.loop, &R.deadline);
    uv_timer_init(R.loop, &R.progress);
    uv_timer_init(R.loop, &R.grace);
    uv_signal_init(R.loop, &R.sigint);
    uv_signal_init(R.loop, &R.sigterm);
    uv_signal_start(&R.sigint, on_signal, SIGINT);
    uv_signal_start(&R.sigterm, on_signal, SIGTERM);
    uv_update_time(R.loop);

    R.t0 = R.period_start = uv_hrtime();
    for (int i = 0; i < o->clients; i++)
        for (int j = 0; j < o->contexts; j++)
            next_txn(&R.conns[i].ctxs[j]);
    for (int i = 0; i < o->clients && !R.done; i++) {
        /* A send that found the socket full read replies into the library's buffer. */
        drain(&R.conns[i]);
        uv_poll_start(&R.conns[i].poll, UV_READABLE, on_readable);
    }
    if (o->transactions == 0)
        uv_timer_start(&R.deadline, on_deadline, (uint64_t)(o->seconds * 1000 + 0.5), 0);
    if (o->progress > 0) {
        uint64_t ms = (uint64_t)(o->progress * 1000 + 0.5);
        uv_timer_start(&R.progress, on_progress, ms ? ms : 1, ms ? ms : 1);
    }
    if (!R.done)
        uv_run(R.loop, UV_RUN_DEFAULT);
    close_period(R.t_end);
    r->seconds = (double)(R.t_end - R.t0) / 1e9;
    tear_down();
}
