/* drvtest.c - the fixture of the driver suites: one driver connection on a uv loop. */
#include "tests/integration/drvtest.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "tests/integration/mysqltest.h"
#include "tests/integration/pgtest.h"

/* ---- what differs between the backends ---- */

static const drvtest_backend_t backends[] = {
    {
        .drv = &txs_driver_pg,
        .port_dsn = "host=127.0.0.1 port=%d user=postgres connect_timeout=1",
        .bad_dsn = "nosuchoption=1",
        .sleep_fmt = "select pg_sleep(%s)",
        .numbered_markers = true,
        .int_type = "int4",
        .count_type = "int8",
        .rows_5000 = "select repeat('b', 1000) as r from generate_series(1, 5000)",
        .backend_id_sql = "select pg_backend_pid()",
        .wide_rows = "select repeat('x', 1000) as r, '\\x0102'::bytea as b, "
                     "'{\"a\": 1}'::json as j from generate_series(1, 3) s",
        .begin = "begin",
        .begin_command = "BEGIN",
        .cancel_code = "57014",
        .cancel_vendor = 0,
        .cancel_ms = 1000,
        .lost_idle = "terminating connection due to administrator command",
        .batch_atomic = true,
        .multi_code = "42601",
        .multi_vendor = 0,
        .multi_message = "cannot insert multiple commands into a prepared statement",
    },
    {
        .drv = &txs_driver_mysql,
        .port_dsn = "mysql://txs:txs@127.0.0.1:%d/txs",
        .bad_dsn = "nonsense",
        .sleep_fmt = "select sleep(%s)",
        .numbered_markers = false,
        .int_type = "int",
        .count_type = "bigint",
        .rows_5000 = "select repeat('b', 1000) as r, seq from seq_1_to_5000",
        .backend_id_sql = "select connection_id()",
        .wide_rows = "select repeat('x', 1000) as r, x'0102' as b, json_object('a', 1) as j"
                     " from (select 1 union all select 2 union all select 3) s",
        .begin = "start transaction",
        .begin_command = "START",
        .cancel_code = "70100",
        .cancel_vendor = 1317,
        .cancel_ms = 800,
        .lost_idle = "the server closed the connection",
        .batch_atomic = false,
        .multi_code = "42000",
        .multi_vendor = 1064,
        .multi_message = NULL,
    },
};

enum { NBACKENDS = sizeof backends / sizeof *backends };

const drvtest_backend_t *drvtest_backend(int i)
{
    ck_assert_int_lt(i, NBACKENDS);
    return &backends[i];
}

static int backend_index(const txs_driver_t *drv)
{
    for (int i = 0; i < NBACKENDS; i++)
        if (backends[i].drv == drv)
            return i;
    ck_abort_msg("test bug: no such driver");
    return -1;
}

const drvtest_backend_t *drvtest_backend_of(const txs_driver_t *drv)
{
    return &backends[backend_index(drv)];
}

void drvtest_add(TCase *tc, const TTest *test, const txs_driver_t *drv)
{
    int i = backend_index(drv);
    tcase_add_loop_test(tc, test, i, i + 1);
}

const char *drvtest_dsn(const txs_driver_t *drv)
{
    return drv == &txs_driver_mysql ? txs_mysqltest_dsn() : txs_pgtest_dsn();
}

enum { NBUFS = 8, BUFLEN = 1024 };

static char *next_buf(void)
{
    static char bufs[NBUFS][BUFLEN];
    static unsigned n;
    return bufs[n++ % NBUFS];
}

const char *drvtest_sql(const txs_driver_t *drv, const char *sql)
{
    bool numbered = drvtest_backend_of(drv)->numbered_markers;
    char *out = next_buf();
    size_t len = 0;
    int marker = 0;
    for (const char *p = sql; *p; p++) {
        int n = numbered && *p == '?' ? snprintf(out + len, BUFLEN - len, "$%d", ++marker)
                                      : snprintf(out + len, BUFLEN - len, "%c", *p);
        ck_assert_msg(n > 0 && (size_t)n < BUFLEN - len, "test bug: statement too long");
        len += (size_t)n;
    }
    out[len] = '\0';
    return out;
}

const char *drvtest_sleep(const txs_driver_t *drv, const char *secs)
{
    char *out = next_buf();
    int n = snprintf(out, BUFLEN, drvtest_backend_of(drv)->sleep_fmt, secs);
    ck_assert_msg(n > 0 && n < BUFLEN, "test bug: statement too long");
    return out;
}

/* ---- the loop ---- */

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs last before the loop would block for I/O: if a callback of this turn (a timer's,
 * say) set the flag, do not block. */
static void on_prepare(uv_prepare_t *p)
{
    if (*(const int *)p->data)
        uv_stop(p->loop);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

bool drvtest_run_until(uv_loop_t *loop, const int *flag, uint64_t timeout_ms)
{
    /* On the heap, closed without running the loop again: one more turn here could run
     * callbacks the caller has yet to look at the results before. */
    bool expired = false;
    uv_timer_t *timer = malloc(sizeof *timer);
    uv_prepare_t *prepare = malloc(sizeof *prepare);
    ck_assert(timer && prepare);
    uv_timer_init(loop, timer);
    timer->data = &expired;
    uv_timer_start(timer, on_deadline, timeout_ms, 0);
    uv_prepare_init(loop, prepare);
    prepare->data = (void *)flag;
    uv_prepare_start(prepare, on_prepare);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)timer, free_handle);
    uv_close((uv_handle_t *)prepare, free_handle);
    return *flag != 0;
}

void drvtest_run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;
    drvtest_run_until(loop, &never, ms);
}

static void name_handle(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        return;
    fprintf(stderr, "drvtest: handle still open: %s\n", uv_handle_type_name(h->type));
    (*(int *)arg)++;
}

void drvtest_loop_finish(uv_loop_t *loop)
{
    int open = 0;
    uv_walk(loop, name_handle, &open);
    ck_assert_msg(open == 0, "%d handle(s) left open on the loop", open);
    uv_run(loop, UV_RUN_DEFAULT); /* pending close callbacks and thread pool work */
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

int64_t drvtest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double drvtest_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
           ru.ru_stime.tv_usec / 1e3;
}

/* ---- callbacks ---- */

static void save_error(drvtest_t *t)
{
    txs_error_info_t e;
    t->drv->last_error(t->c, &e);
    snprintf(t->code, sizeof t->code, "%s", e.code ? e.code : "");
    snprintf(t->message, sizeof t->message, "%s", e.message ? e.message : "");
    snprintf(t->detail, sizeof t->detail, "%s", e.detail ? e.detail : "");
    snprintf(t->hint, sizeof t->hint, "%s", e.hint ? e.hint : "");
    snprintf(t->constraint, sizeof t->constraint, "%s", e.constraint ? e.constraint : "");
    t->position = e.position;
    t->vendor = e.vendor_code;
    t->from_db = e.from_db;
    t->has_index = e.has_index;
    t->index = e.index;
}

/* encode_result at two indexes without a result: refused, out untouched */
static void try_out_of_range(drvtest_t *t, int past)
{
    size_t len = t->out.len;
    t->oob_rc = t->drv->encode_result(t->c, past, &t->out, t->max_len);
    t->neg_rc = t->drv->encode_result(t->c, -1, &t->out, t->max_len);
    t->oob_len = t->out.len - len;
}

/* An op's callback: its status, tx_status, and the results 0..n-1 encoded one a line (or
 * the error). */
static void save_op(drvtest_t *t, txs_dconn_t *c, txs_drv_status_t st, int n)
{
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = t->drv->tx_status(c);
    txs_buf_truncate(&t->out, 0);
    t->enc_rc = TXS_OK;
    if (st == TXS_DRV_OK) {
        for (int i = 0; i < n && t->enc_rc == TXS_OK; i++) {
            if (i > 0)
                txs_buf_putc(&t->out, '\n');
            t->enc_rc = t->drv->encode_result(c, i, &t->out, t->max_len);
        }
        try_out_of_range(t, n);
    } else {
        save_error(t);
    }
    t->done_at = drvtest_now_ms();
    t->done++;
}

void drvtest_on_op(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    save_op(arg, c, st, 1);
}

void drvtest_on_batch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    drvtest_t *t = arg;
    save_op(t, c, st, t->batch_n);
}

void drvtest_on_reset(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    drvtest_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = t->drv->tx_status(c);
    if (st != TXS_DRV_OK)
        save_error(t);
    t->done_at = drvtest_now_ms();
    t->done++;
}

void drvtest_on_closed(void *arg)
{
    ((drvtest_t *)arg)->closed++;
}

void drvtest_on_watch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    drvtest_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->watch_st = st;
    save_error(t);
    t->watched++;
}

void drvtest_on_then(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    drvtest_t *t = arg;
    const txs_driver_t *drv = t->drv;
    t->first_st = st;
    t->first_at = drvtest_now_ms();
    txs_error_info_t e;
    drv->last_error(c, &e);
    snprintf(t->first_code, sizeof t->first_code, "%s", st != TXS_DRV_OK ? e.code : "");
    t->first_done++;
    if (t->then_sql) {
        int lens[1];
        txs_stmt_t s = drvtest_stmt(t->then_sql, 0, NULL, lens);
        t->done = 0;
        ck_assert_int_eq(drv->run(c, &s, drvtest_on_op, t), TXS_OK);
    } else if (t->then_batch) {
        t->done = 0;
        t->batch_n = t->then_batch_n;
        ck_assert_int_eq(drv->run_batch(c, t->then_batch, t->then_batch_n, drvtest_on_batch, t),
                         TXS_OK);
    }
    if (t->then_sql || t->then_batch) {
        t->tx_after_then = drv->tx_status(c);
        if (t->then_cancel)
            ck_assert_int_eq(drv->cancel(c), TXS_OK);
    }
}

void drvtest_on_encode_limits(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    drvtest_t *t = arg;
    const txs_driver_t *drv = t->drv;
    ck_assert_int_eq(st, TXS_DRV_OK);
    txs_buf_truncate(&t->out, 0);
    txs_buf_puts(&t->out, "PREFIX");
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 1 << 20), TXS_OK);
    size_t full = t->out.len;
    txs_buf_truncate(&t->out, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, full), TXS_OK); /* exactly fits */
    ck_assert_uint_eq(t->out.len, full);
    txs_buf_truncate(&t->out, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, full - 1), TXS_ETOOBIG);
    ck_assert_uint_eq(t->out.len, 6);
    ck_assert_int_eq(memcmp(t->out.data, "PREFIX", 6), 0);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 20), TXS_ETOOBIG); /* in the header */
    ck_assert_uint_eq(t->out.len, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 200), TXS_ETOOBIG); /* in the rows */
    ck_assert_uint_eq(t->out.len, 6);
    t->done++;
}

void drvtest_never(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)c;
    (void)st;
    (void)arg;
    ck_abort_msg("a callback ran after close()");
}

/* ---- checks both suites make ---- */

void drvtest_expect_new_session(drvtest_t *t)
{
    const txs_driver_t *drv = t->drv;
    ck_assert_int_gt(drv->backend_pid(t->c), 0);
    ck_assert_int_eq(drv->tx_status(t->c), TXS_DRV_TX_IDLE);
    ck_assert_int_eq(t->tx, TXS_DRV_TX_IDLE);
    char pid[16];
    snprintf(pid, sizeof pid, "%d", drv->backend_pid(t->c));
    drvtest_expect(t, drvtest_backend_of(drv)->backend_id_sql, pid);
}

void drvtest_expect_cancel_spares_the_next(drvtest_t *t, const txs_stmt_t *s)
{
    const drvtest_backend_t *b = drvtest_backend_of(t->drv);
    t->then_sql = "select 2"; /* sent right away from the callback */
    t->first_done = 0;
    ck_assert_int_eq(t->drv->run(t->c, s, drvtest_on_then, t), TXS_OK);
    drvtest_cancel_after(t, 200);
    int64_t t0 = drvtest_now_ms();
    ck_assert(drvtest_run_until(&t->loop, &t->first_done, DRVTEST_WAIT_MS));
    ck_assert_int_eq(t->first_st, TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t->first_code, b->cancel_code);
    ck_assert_int_lt(t->first_at - t0, 200 + b->cancel_ms);
    ck_assert_int_eq(t->tx_after_then, TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(drvtest_wait(t), TXS_DRV_OK); /* the next statement is not hit */
    ck_assert_msg(strstr(drvtest_out(t), "\"rows\":[[2]]"), "%s", drvtest_out(t));
    ck_assert_int_eq(t->tx, TXS_DRV_TX_IDLE);
}

/* ---- connecting and closing ---- */

void drvtest_init(drvtest_t *t, const txs_driver_t *drv)
{
    memset(t, 0, sizeof *t);
    t->drv = drv;
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    txs_buf_init(&t->out);
    t->max_len = 1 << 20;
}

txs_drv_status_t drvtest_connect(drvtest_t *t, const char *dsn, uint64_t timeout_ms)
{
    t->done = 0;
    ck_assert_int_eq(t->drv->connect(&t->loop, dsn, timeout_ms, drvtest_on_op, t, &t->c), TXS_OK);
    ck_assert_ptr_nonnull(t->c);
    ck_assert_int_eq(t->done, 0); /* never from inside connect() */
    ck_assert_msg(drvtest_run_until(&t->loop, &t->done, DRVTEST_WAIT_MS + timeout_ms),
                  "connect never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

void drvtest_open(drvtest_t *t, const txs_driver_t *drv)
{
    drvtest_init(t, drv);
    txs_drv_status_t st = drvtest_connect(t, drvtest_dsn(drv), 10000);
    ck_assert_msg(st == TXS_DRV_OK, "connect: %s %s", t->code, t->message);
}

void drvtest_close(drvtest_t *t)
{
    t->drv->close(t->c, drvtest_on_closed, t);
    ck_assert_int_eq(t->closed, 0); /* never from inside close() */
    ck_assert_msg(drvtest_run_until(&t->loop, &t->closed, DRVTEST_WAIT_MS), "close never finished");
    ck_assert_int_eq(t->closed, 1);
    drvtest_loop_finish(&t->loop);
    txs_buf_free(&t->out);
}

/* ---- the server side of a connection ---- */

void drvtest_kill(const txs_driver_t *drv, int pid)
{
    if (drv == &txs_driver_mysql)
        txs_mysqltest_kill(pid);
    else
        txs_pgtest_terminate(pid);
}

/* Whether the server no longer lists the connection: asked on the side connection of
 * its backend (one of the two is NULL). */
static bool gone(PGconn *pg, MYSQL *my, int pid)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             my ? "select count(*) from information_schema.processlist where id = %d"
                : "select count(*) from pg_stat_activity where pid = %d",
             pid);
    char *n = my ? txs_mysqltest_value(my, sql) : txs_pgtest_value(pg, sql);
    bool none = strcmp(n, "0") == 0;
    free(n);
    return none;
}

void drvtest_kill_and_wait(const txs_driver_t *drv, int pid)
{
    PGconn *pg = NULL;
    MYSQL *my = NULL;
    if (drv == &txs_driver_mysql) {
        txs_mysqltest_kill(pid);
        my = txs_mysqltest_side();
    } else {
        pg = txs_pgtest_pg();
        char sql[96];
        snprintf(sql, sizeof sql, "select pg_terminate_backend(%d)", pid);
        free(txs_pgtest_value(pg, sql)); /* false when it has ended already */
    }
    for (int64_t end = drvtest_now_ms() + DRVTEST_WAIT_MS; !gone(pg, my, pid);) {
        ck_assert_msg(drvtest_now_ms() < end, "connection %d never went away", pid);
        usleep(10 * 1000);
    }
    if (my)
        mysql_close(my);
    else
        PQfinish(pg);
}

/* ---- statements ---- */

txs_stmt_t drvtest_stmt(const char *sql, int n, const char *const *vals, int *lens)
{
    for (int i = 0; i < n; i++)
        lens[i] = vals[i] ? (int)strlen(vals[i]) : 0;
    txs_stmt_t s = {sql, strlen(sql), n, vals, lens, NULL};
    return s;
}

void drvtest_start_k(drvtest_t *t, const char *sql, int n, const char *const *vals,
                     const unsigned char *kinds)
{
    int lens[16];
    ck_assert_int_le(n, 16);
    txs_stmt_t s = drvtest_stmt(sql, n, vals, lens);
    s.kinds = kinds;
    t->done = 0;
    ck_assert_int_eq(t->drv->run(t->c, &s, drvtest_on_op, t), TXS_OK);
    ck_assert_int_eq(t->done, 0); /* never from inside run() */
}

void drvtest_start(drvtest_t *t, const char *sql, int n, const char *const *vals)
{
    drvtest_start_k(t, sql, n, vals, NULL);
}

txs_drv_status_t drvtest_wait(drvtest_t *t)
{
    ck_assert_msg(drvtest_run_until(&t->loop, &t->done, DRVTEST_WAIT_MS), "run never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

txs_drv_status_t drvtest_runp(drvtest_t *t, const char *sql, int n, const char *const *vals)
{
    drvtest_start(t, sql, n, vals);
    return drvtest_wait(t);
}

txs_drv_status_t drvtest_runk(drvtest_t *t, const char *sql, int n, const char *const *vals,
                              const unsigned char *kinds)
{
    drvtest_start_k(t, sql, n, vals, kinds);
    return drvtest_wait(t);
}

txs_drv_status_t drvtest_run(drvtest_t *t, const char *sql)
{
    return drvtest_runp(t, sql, 0, NULL);
}

const char *drvtest_out(drvtest_t *t)
{
    *txs_buf_reserve(&t->out, 1) = '\0';
    return t->out.data;
}

const char *drvtest_ok(drvtest_t *t, const char *sql)
{
    txs_drv_status_t st = drvtest_run(t, sql);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %d %s %s", sql, st, t->code, t->message);
    ck_assert_int_eq(t->enc_rc, TXS_OK);
    return drvtest_out(t);
}

void drvtest_expect(drvtest_t *t, const char *sql, const char *json_value)
{
    const char *out = drvtest_ok(t, sql);
    char want[512];
    snprintf(want, sizeof want, "\"rows\":[[%s]]", json_value);
    ck_assert_msg(strstr(out, want), "%s: got %s, want %s", sql, out, want);
}

void drvtest_batch_start(drvtest_t *t, const txs_stmt_t *stmts, int n)
{
    txs_stmt_t *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (n > 0)
        memcpy(copy, stmts, (size_t)n * sizeof *copy);
    t->batch_n = n;
    t->done = 0;
    ck_assert_int_eq(t->drv->run_batch(t->c, copy, n, drvtest_on_batch, t), TXS_OK);
    free(copy);
    ck_assert_int_eq(t->done, 0); /* never from inside run_batch() */
}

void drvtest_plain(txs_stmt_t *s, const char *const *sqls, int n)
{
    for (int i = 0; i < n; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
}

txs_drv_status_t drvtest_batch(drvtest_t *t, const char *const *sqls, int n)
{
    txs_stmt_t *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    drvtest_plain(s, sqls, n);
    drvtest_batch_start(t, s, n);
    free(s);
    return drvtest_wait(t);
}

int drvtest_reset_full(drvtest_t *t, bool full, txs_drv_status_t *st)
{
    t->done = 0;
    int rc = t->drv->reset(t->c, full, drvtest_on_reset, t);
    ck_assert_int_eq(t->done, 0);
    if (rc == TXS_OK) {
        ck_assert_msg(drvtest_run_until(&t->loop, &t->done, DRVTEST_WAIT_MS),
                      "reset never called back");
        ck_assert_int_eq(t->done, 1);
        *st = t->st;
    }
    return rc;
}

int drvtest_reset(drvtest_t *t, txs_drv_status_t *st)
{
    return drvtest_reset_full(t, false, st);
}

int drvtest_ping(drvtest_t *t, uint64_t timeout_ms, txs_drv_status_t *st)
{
    t->done = 0;
    int rc = t->drv->ping(t->c, timeout_ms, drvtest_on_reset, t);
    ck_assert_int_eq(t->done, 0); /* never from inside ping() */
    if (rc == TXS_OK) {
        ck_assert_msg(drvtest_run_until(&t->loop, &t->done, DRVTEST_WAIT_MS + timeout_ms),
                      "ping never called back");
        ck_assert_int_eq(t->done, 1);
        *st = t->st;
    }
    return rc;
}

void drvtest_hold_back(drvtest_t *t)
{
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select 1", 0, NULL, lens);
    t->first_done = 0;
    ck_assert_int_eq(t->drv->run(t->c, &s, drvtest_on_then, t), TXS_OK);
    ck_assert_int_eq(t->drv->cancel(t->c), TXS_OK);
    ck_assert(drvtest_run_until(&t->loop, &t->first_done, DRVTEST_WAIT_MS));
    ck_assert_int_eq(t->tx_after_then, TXS_DRV_TX_ACTIVE);
}

/* ---- timers ---- */

void drvtest_cancel_now(uv_timer_t *timer)
{
    drvtest_t *t = timer->data;
    ck_assert_int_eq(t->drv->cancel(t->c), TXS_OK);
    ck_assert_int_eq(t->drv->cancel(t->c), TXS_OK); /* twice is harmless */
}

void drvtest_after_ms(drvtest_t *t, uint64_t ms, uv_timer_cb cb)
{
    uv_timer_t *timer = malloc(sizeof *timer);
    ck_assert_ptr_nonnull(timer);
    uv_timer_init(&t->loop, timer);
    timer->data = t;
    uv_timer_start(timer, cb, ms, 0);
}

void drvtest_timer_free(uv_timer_t *timer)
{
    uv_close((uv_handle_t *)timer, free_handle);
}

static void cancel_then_close(uv_timer_t *timer)
{
    drvtest_cancel_now(timer);
    drvtest_timer_free(timer);
}

void drvtest_cancel_after(drvtest_t *t, uint64_t ms)
{
    drvtest_after_ms(t, ms, cancel_then_close);
}

static void kill_then_close(uv_timer_t *timer)
{
    drvtest_t *t = timer->data;
    drvtest_kill(t->drv, t->drv->backend_pid(t->c));
    drvtest_timer_free(timer);
}

void drvtest_kill_after(drvtest_t *t, uint64_t ms)
{
    drvtest_after_ms(t, ms, kill_then_close);
}

/* ---- a server that does not answer ---- */

/* Whether every thread of pid is stopped (state T or t in /proc/PID/task/TID/stat). */
static bool all_stopped(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *dir = opendir(path);
    if (!dir)
        return false;
    bool stopped = true;
    struct dirent *e;
    while (stopped && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char stat[128], line[512];
        snprintf(stat, sizeof stat, "/proc/%d/task/%.20s/stat", pid, e->d_name);
        FILE *f = fopen(stat, "r");
        if (!f)
            continue; /* the thread just ended */
        size_t n = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[n] = '\0';
        const char *close = strrchr(line, ')'); /* after the name, which may hold spaces */
        stopped = close && close[1] == ' ' && (close[2] == 'T' || close[2] == 't');
    }
    closedir(dir);
    return stopped;
}

bool drvtest_stop_process(int pid)
{
    if (kill(pid, SIGSTOP) != 0)
        return false;
    for (int64_t end = drvtest_now_ms() + DRVTEST_WAIT_MS; drvtest_now_ms() < end;) {
        if (all_stopped(pid))
            return true;
        usleep(1000);
    }
    return false;
}

/* Pass what is readable on `from` to `to`; false when from closed or failed. */
static bool relay_pass(int from, int to)
{
    char buf[16384];
    ssize_t n = recv(from, buf, sizeof buf, 0);
    if (n <= 0)
        return false;
    for (ssize_t off = 0; off < n;) {
        ssize_t w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        off += w;
    }
    return true;
}

static void relay_main(void *arg)
{
    drvtest_relay_t *r = arg;
    int client = -1, server = -1;
    while (!atomic_load(&r->stop) && client < 0) {
        struct pollfd p = {.fd = r->listen_fd, .events = POLLIN};
        if (poll(&p, 1, 20) == 1)
            client = accept(r->listen_fd, NULL, NULL);
    }
    if (client >= 0) {
        server = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)r->target_port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (server < 0 || connect(server, (struct sockaddr *)&a, sizeof a) != 0)
            atomic_store(&r->stop, true);
    }
    while (!atomic_load(&r->stop)) {
        if (atomic_load(&r->frozen)) {
            usleep(5 * 1000); /* what comes waits in the kernel, unread */
            continue;
        }
        struct pollfd p[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
        if (poll(p, 2, 20) <= 0)
            continue;
        if ((p[0].revents && !relay_pass(client, server)) ||
            (p[1].revents && !relay_pass(server, client)))
            break;
    }
    if (client >= 0)
        close(client);
    if (server >= 0)
        close(server);
}

void drvtest_relay_start(drvtest_relay_t *r, int target_port)
{
    r->listen_fd = drvtest_silent_listener(&r->port);
    r->target_port = target_port;
    atomic_init(&r->frozen, false);
    atomic_init(&r->stop, false);
    ck_assert_int_eq(uv_thread_create(&r->thread, relay_main, r), 0);
}

void drvtest_relay_freeze(drvtest_relay_t *r)
{
    atomic_store(&r->frozen, true);
}

void drvtest_relay_stop(drvtest_relay_t *r)
{
    atomic_store(&r->stop, true);
    ck_assert_int_eq(uv_thread_join(&r->thread), 0);
    close(r->listen_fd);
}

/* ---- ports ---- */

int drvtest_silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

int drvtest_closed_port(void)
{
    int port;
    int fd = drvtest_silent_listener(&port);
    close(fd);
    return port;
}
