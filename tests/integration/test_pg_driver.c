/* test_pg_driver.c - the PostgreSQL driver on a real uv loop against the test server. */
#include <arpa/inet.h>
#include <check.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/utf8.h"
#include "tests/integration/pgtest.h"

Suite *suite_pg_driver(void);

#define WAIT_MS 5000
#define NBLOCK 16 /* more than the thread pool's threads: blocks it for cancel tests */

static const txs_driver_t *drv = &txs_driver_pg;

typedef struct t {
    uv_loop_t loop;
    txs_dconn_t *c;
    int done; /* op callbacks since the op started */
    txs_drv_status_t st;
    txs_drv_txstatus_t tx; /* tx_status inside the callback */
    char code[8], message[512], detail[512], hint[256], constraint[128];
    int position;
    bool from_db;
    bool has_index; /* last_error's batch index */
    int index;
    int batch_n;    /* on_batch: how many results to encode */
    int oob_rc;     /* encode_result just past the last index, when OK */
    int neg_rc;     /* encode_result at index -1, when OK */
    size_t oob_len; /* out->len unchanged by them? */
    txs_buf_t out;  /* encode_result inside the callback, when OK */
    size_t max_len;
    int enc_rc;
    int64_t done_at;
    int closed;
    int watched;
    txs_drv_status_t watch_st;
    /* on_then: after saving, run this right away, from inside the callback */
    const char *then_sql;
    const txs_stmt_t *then_batch; /* or this batch */
    int then_batch_n;
    bool then_cancel;
    txs_drv_txstatus_t tx_after_then;
    int first_done;
    txs_drv_status_t first_st;
    char first_code[8];
    int64_t first_at;
} t_t;

static void save_error(t_t *t)
{
    txs_error_info_t e;
    drv->last_error(t->c, &e);
    snprintf(t->code, sizeof t->code, "%s", e.code ? e.code : "");
    snprintf(t->message, sizeof t->message, "%s", e.message ? e.message : "");
    snprintf(t->detail, sizeof t->detail, "%s", e.detail ? e.detail : "");
    snprintf(t->hint, sizeof t->hint, "%s", e.hint ? e.hint : "");
    snprintf(t->constraint, sizeof t->constraint, "%s", e.constraint ? e.constraint : "");
    t->position = e.position;
    t->from_db = e.from_db;
    t->has_index = e.has_index;
    t->index = e.index;
}

/* encode_result at two indexes without a result: refused, out untouched */
static void try_out_of_range(t_t *t, int past)
{
    size_t len = t->out.len;
    t->oob_rc = drv->encode_result(t->c, past, &t->out, t->max_len);
    t->neg_rc = drv->encode_result(t->c, -1, &t->out, t->max_len);
    t->oob_len = t->out.len - len;
}

static void on_op(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = drv->tx_status(c);
    txs_buf_truncate(&t->out, 0);
    if (st == TXS_DRV_OK) {
        t->enc_rc = drv->encode_result(c, 0, &t->out, t->max_len);
        try_out_of_range(t, 1);
    } else {
        save_error(t);
    }
    t->done_at = txs_pgtest_now_ms();
    t->done++;
}

/* run_batch's callback: the results of t->batch_n statements, one a line, in t->out. */
static void on_batch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = drv->tx_status(c);
    txs_buf_truncate(&t->out, 0);
    t->enc_rc = TXS_OK;
    if (st == TXS_DRV_OK) {
        for (int i = 0; i < t->batch_n && t->enc_rc == TXS_OK; i++) {
            if (i > 0)
                txs_buf_putc(&t->out, '\n');
            t->enc_rc = drv->encode_result(c, i, &t->out, t->max_len);
        }
        try_out_of_range(t, t->batch_n);
    } else {
        save_error(t);
    }
    t->done_at = txs_pgtest_now_ms();
    t->done++;
}

static void on_closed(void *arg)
{
    ((t_t *)arg)->closed++;
}

static void on_watch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->watch_st = st;
    save_error(t);
    t->watched++;
}

/* The encoded result as a C string. */
static const char *out_str(t_t *t)
{
    *txs_buf_reserve(&t->out, 1) = '\0';
    return t->out.data;
}

static void t_init(t_t *t)
{
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    txs_buf_init(&t->out);
    t->max_len = 1 << 20;
}

static txs_drv_status_t t_connect(t_t *t, const char *dsn, uint64_t timeout_ms)
{
    t->done = 0;
    ck_assert_int_eq(drv->connect(&t->loop, dsn, timeout_ms, on_op, t, &t->c), TXS_OK);
    ck_assert_ptr_nonnull(t->c);
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->done, WAIT_MS + timeout_ms),
                  "connect never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

static void t_open(t_t *t)
{
    t_init(t);
    txs_drv_status_t st = t_connect(t, txs_pgtest_dsn(), 10000);
    ck_assert_msg(st == TXS_DRV_OK, "connect: %s %s", t->code, t->message);
}

static txs_stmt_t mkstmt(const char *sql, int n, const char *const *vals, int *lens)
{
    for (int i = 0; i < n; i++)
        lens[i] = vals[i] ? (int)strlen(vals[i]) : 0;
    txs_stmt_t s = {sql, strlen(sql), n, vals, lens, NULL};
    return s;
}

static void t_start(t_t *t, const char *sql, int n, const char *const *vals)
{
    int lens[16];
    ck_assert_int_le(n, 16);
    txs_stmt_t s = mkstmt(sql, n, vals, lens);
    t->done = 0;
    ck_assert_int_eq(drv->run(t->c, &s, on_op, t), TXS_OK);
}

static txs_drv_status_t t_wait(t_t *t)
{
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->done, WAIT_MS), "run never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

static txs_drv_status_t t_runp(t_t *t, const char *sql, int n, const char *const *vals)
{
    t_start(t, sql, n, vals);
    return t_wait(t);
}

static txs_drv_status_t t_run(t_t *t, const char *sql)
{
    return t_runp(t, sql, 0, NULL);
}

/* Run sql, expect OK, and return the encoded result. */
static const char *t_ok(t_t *t, const char *sql)
{
    txs_drv_status_t st = t_run(t, sql);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %d %s %s", sql, st, t->code, t->message);
    ck_assert_int_eq(t->enc_rc, TXS_OK);
    return out_str(t);
}

/* Close, wait for closed_cb, and check the loop closes cleanly. */
static void t_close(t_t *t)
{
    drv->close(t->c, on_closed, t);
    ck_assert_int_eq(t->closed, 0); /* never from inside close() */
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->closed, WAIT_MS), "close never finished");
    ck_assert_int_eq(t->closed, 1);
    txs_pgtest_loop_finish(&t->loop);
    txs_buf_free(&t->out);
}

/* The value of a one-row, one-column text result, from the encoded JSON. */
static void expect_single(t_t *t, const char *sql, const char *json_value)
{
    const char *out = t_ok(t, sql);
    char want[512];
    snprintf(want, sizeof want, "\"rows\":[[%s]]", json_value);
    ck_assert_msg(strstr(out, want), "%s: got %s, want %s", sql, out, want);
}

/* Start a batch. The statement array is freed as soon as run_batch() returns: the
 * driver may not keep it. */
static void t_batch_start(t_t *t, const txs_stmt_t *stmts, int n)
{
    txs_stmt_t *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (n > 0)
        memcpy(copy, stmts, (size_t)n * sizeof *copy);
    t->batch_n = n;
    t->done = 0;
    ck_assert_int_eq(drv->run_batch(t->c, copy, n, on_batch, t), TXS_OK);
    free(copy);
    ck_assert_int_eq(t->done, 0); /* never from inside run_batch() */
}

/* A batch of statements without parameters. */
static txs_drv_status_t t_batch(t_t *t, const char *const *sqls, int n)
{
    txs_stmt_t *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    for (int i = 0; i < n; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t_batch_start(t, s, n);
    free(s);
    return t_wait(t);
}

/* A blocking side connection's view of one value. */
static char *side_value(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

static void side_terminate(int pid)
{
    PGconn *pg = txs_pgtest_pg();
    char sql[96];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%d)", pid);
    char *v = side_value(pg, sql);
    ck_assert_str_eq(v, "t");
    free(v);
    PQfinish(pg);
}

/* ---- blocking the thread pool, so that a cancel request stays "under way" ---- */

static uv_sem_t gate;
static uv_work_t blockers[NBLOCK];
static int blockers_done;

static void block_work(uv_work_t *w)
{
    (void)w;
    uv_sem_wait(&gate);
}

static void block_done(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    blockers_done++;
}

static void pool_block(uv_loop_t *loop)
{
    ck_assert_int_eq(uv_sem_init(&gate, 0), 0);
    blockers_done = 0;
    for (int i = 0; i < NBLOCK; i++)
        ck_assert_int_eq(uv_queue_work(loop, &blockers[i], block_work, block_done), 0);
}

static void pool_release(uv_loop_t *loop)
{
    for (int i = 0; i < NBLOCK; i++)
        uv_sem_post(&gate);
    int all = 0;
    for (int64_t end = txs_pgtest_now_ms() + WAIT_MS; blockers_done < NBLOCK;) {
        ck_assert_int_lt(txs_pgtest_now_ms(), end);
        txs_pgtest_run_until(loop, &all, 10);
    }
    uv_sem_destroy(&gate);
}

/* ---- a port nobody answers on ---- */

/* A listening socket that never accepts: the kernel completes the TCP handshake, then
 * nothing ever answers. */
static int silent_listener(int *port)
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

static int closed_port(void)
{
    int port;
    int fd = silent_listener(&port);
    close(fd);
    return port;
}

/* ---- connect ---- */

START_TEST(connect_ok_sets_session)
{
    t_t t;
    t_open(&t);
    ck_assert_int_gt(drv->backend_pid(t.c), 0);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select current_setting('application_name')", "\"txscope\"");
    expect_single(&t, "select current_setting('DateStyle')", "\"ISO, MDY\"");
    expect_single(&t, "select current_setting('TimeZone')", "\"UTC\"");
    expect_single(&t, "select current_setting('client_encoding')", "\"UTF8\"");
    expect_single(&t, "select current_setting('extra_float_digits')", "\"1\"");
    char pid[16];
    snprintf(pid, sizeof pid, "%d", drv->backend_pid(t.c));
    expect_single(&t, "select pg_backend_pid()", pid);
    t_close(&t);
}
END_TEST

START_TEST(connect_keeps_user_options_but_pins_ours)
{
    t_t t;
    t_init(&t);
    char dsn[700];
    snprintf(dsn, sizeof dsn,
             "%s application_name=myapp client_encoding=LATIN1 "
             "options='-c work_mem=8MB -c DateStyle=German -c TimeZone=Europe/Paris'",
             txs_pgtest_dsn());
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_OK);
    expect_single(&t, "select current_setting('application_name')", "\"myapp\"");
    expect_single(&t, "select current_setting('work_mem')", "\"8MB\"");
    /* ours come after: ISO output (German's day-month order stays), UTC, UTF8 */
    expect_single(&t, "select current_setting('DateStyle')", "\"ISO, DMY\"");
    expect_single(&t, "select current_setting('TimeZone')", "\"UTC\"");
    expect_single(&t, "select current_setting('client_encoding')", "\"UTF8\"");
    t_close(&t);
}
END_TEST

START_TEST(connect_uri_dsn)
{
    t_t t;
    t_init(&t);
    char dsn[512];
    snprintf(dsn, sizeof dsn, "postgresql://%s@%s:%s/%s?application_name=uriapp", getenv("PGUSER"),
             getenv("PGHOST"), getenv("PGPORT"), getenv("PGDATABASE"));
    txs_pgtest_dsn(); /* fails the test when the variables are missing */
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_OK);
    expect_single(&t, "select current_setting('application_name')", "\"uriapp\"");
    expect_single(&t, "select current_setting('TimeZone')", "\"UTC\"");
    t_close(&t);
}
END_TEST

START_TEST(connect_refused_is_lost_08001)
{
    t_t t;
    t_init(&t);
    txs_pgtest_dsn();
    char dsn[128];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres", closed_port());
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_int_lt(t.done_at - t0, 2000);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "refused"), "message: %s", t.message);
    ck_assert_msg(t.message[strlen(t.message) - 1] != '\n', "trailing newline kept");
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    /* after LOST only close() may follow: run() refuses without calling back */
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_ELOST);
    t_close(&t);
    ck_assert_int_eq(t.done, 0);
}
END_TEST

START_TEST(connect_timeout_is_lost_08001)
{
    t_t t;
    t_init(&t);
    txs_pgtest_dsn();
    int port;
    int fd = silent_listener(&port);
    char dsn[128];
    /* libpq ignores connect_timeout in asynchronous mode: the driver's own timer acts */
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres connect_timeout=1", port);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_connect(&t, dsn, 300), TXS_DRV_LOST);
    int64_t took = t.done_at - t0;
    ck_assert_msg(took >= 290 && took < 1000, "timed out after %lld ms", (long long)took);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_str_eq(t.message, "could not connect to server within 300 ms");
    t_close(&t);
    close(fd);
}
END_TEST

START_TEST(connect_bad_dsn_is_lost_08001)
{
    t_t t;
    t_init(&t);
    ck_assert_int_eq(t_connect(&t, "host=127.0.0.1 nosuchoption=1", 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "nosuchoption"), "message: %s", t.message);
    t_close(&t);
}
END_TEST

/* A fake server that accepts one connection, says it is read-only, and waits for the
 * client to hang up: with target_session_attrs=read-write, libpq then drops that socket
 * and opens another for the next host. */
typedef struct fake_ro {
    int listen_fd;
    int port;
    uv_thread_t thread;
    uv_sem_t accepted;
} fake_ro_t;

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static bool read_n(int fd, unsigned char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static size_t put_param(unsigned char *p, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    p[0] = 'S';
    put32(p + 1, (uint32_t)(4 + nl + vl));
    memcpy(p + 5, name, nl);
    memcpy(p + 5 + nl, value, vl);
    return 5 + nl + vl;
}

static void fake_ro_main(void *arg)
{
    fake_ro_t *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    uv_sem_post(&f->accepted);
    if (fd < 0)
        return;
    unsigned char buf[512];
    /* SSLRequest (8 bytes): no */
    if (read_n(fd, buf, 8) && write(fd, "N", 1) == 1 && read_n(fd, buf, 4)) {
        uint32_t len = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
        if (len >= 4 && len - 4 <= sizeof buf && read_n(fd, buf, len - 4)) { /* startup */
            size_t n = 0;
            buf[n++] = 'R'; /* AuthenticationOk */
            put32(buf + n, 8);
            put32(buf + n + 4, 0);
            n += 8;
            n += put_param(buf + n, "default_transaction_read_only", "on");
            n += put_param(buf + n, "in_hot_standby", "off");
            buf[n++] = 'Z'; /* ReadyForQuery */
            put32(buf + n, 5);
            n += 4;
            buf[n++] = 'I';
            if (write(fd, buf, n) == (ssize_t)n)
                while (read(fd, buf, sizeof buf) > 0) /* until libpq hangs up */
                    ;
        }
    }
    close(fd);
}

static int silent_listener(int *port);

static void fake_ro_start(fake_ro_t *f)
{
    f->listen_fd = silent_listener(&f->port);
    ck_assert_int_eq(uv_sem_init(&f->accepted, 0), 0);
    ck_assert_int_eq(uv_thread_create(&f->thread, fake_ro_main, f), 0);
}

static void fake_ro_stop(fake_ro_t *f)
{
    ck_assert_int_eq(uv_thread_join(&f->thread), 0);
    uv_sem_destroy(&f->accepted);
    close(f->listen_fd);
}

START_TEST(connect_follows_a_new_socket)
{
    for (int renumber = 0; renumber < 2; renumber++) {
        fake_ro_t f;
        fake_ro_start(&f);
        t_t t;
        t_init(&t);
        char dsn[512];
        snprintf(dsn, sizeof dsn,
                 "host=127.0.0.1,%s port=%d,%s user=%s dbname=%s gssencmode=disable "
                 "target_session_attrs=read-write",
                 getenv("PGHOST"), f.port, getenv("PGPORT"), getenv("PGUSER"),
                 getenv("PGDATABASE"));
        txs_pgtest_dsn(); /* fails the test when the variables are missing */
        /* renumber: hold the lowest free descriptor during the first attempt and free it
         * after, so the next socket gets another number (else usually the same one) */
        int hold = renumber ? dup(2) : -1;
        t.done = 0;
        ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, on_op, &t, &t.c), TXS_OK);
        uv_sem_wait(&f.accepted);
        if (hold >= 0)
            close(hold);
        ck_assert(txs_pgtest_run_until(&t.loop, &t.done, WAIT_MS));
        ck_assert_msg(t.st == TXS_DRV_OK, "%s %s", t.code, t.message);
        expect_single(&t, "select current_setting('transaction_read_only')", "\"off\"");
        t_close(&t);
        fake_ro_stop(&f);
    }
}
END_TEST

START_TEST(large_statement_and_result)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    size_t n = 4 << 20; /* more than the socket takes at once: flushed in steps */
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    ck_assert_int_eq(t_runp(&t, "select length($1) as n", 1, vals), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[4194304]]"), "%.200s", out_str(&t));
    free(big);
    t.max_len = 64 << 20;
    ck_assert_str_eq(t_ok(&t, "select count(*) from (select repeat('b', 1000) from "
                              "generate_series(1, 5000)) s"),
                     "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"count\","
                     "\"type\":\"int8\"}],\"rows\":[[5000]]");
    t_ok(&t, "select repeat('b', 1000) as r from generate_series(1, 5000)");
    ck_assert_msg(strstr(out_str(&t), "\"rowCount\":5000,"), "%.200s", out_str(&t));
    ck_assert_uint_gt(t.out.len, 5000 * 1004);
    ck_assert_int_eq(t.watched, 0);
    t_close(&t);
}
END_TEST

START_TEST(notifications_and_notices_while_idle_are_not_death)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    t_ok(&t, "listen pgdrv_chan");
    t_ok(&t, "do $$ begin raise notice 'hello'; end $$");
    PGconn *side = txs_pgtest_pg();
    for (int i = 0; i < 50; i++)
        txs_pgtest_exec(side, "notify pgdrv_chan, 'x'");
    PQfinish(side);
    txs_pgtest_run_for(&t.loop, 300);
    ck_assert_int_eq(t.watched, 0);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    expect_single(&t, "select 5", "5");
    t_close(&t);
}
END_TEST

/* ---- values and types ---- */

START_TEST(types_encode_exactly)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "drop type if exists pgdrv_mood cascade");
    txs_pgtest_exec(side, "create type pgdrv_mood as enum ('sad', 'happy')");
    txs_pgtest_exec(side, "drop type if exists pgdrv_pair cascade");
    txs_pgtest_exec(side, "create type pgdrv_pair as (a int, b text)");
    t_t t;
    t_open(&t); /* after the enum exists: its name is known */
    const char *vals[] = {"true",
                          "-32768",
                          "2147483647",
                          "4611686018427387904",
                          "-9223372036854775808",
                          "say \"hi\"\nnext \xc3\xa9\xf0\x9f\x98\x80",
                          "{ \"a\" : [1, 2,\n 3],\t\"b\": \"x y\" }",
                          "{\"k\": [true, null]}"};
    txs_drv_status_t st = t_runp(
        &t,
        "select $1::bool as b, $2::int2 as i2, $3::int4 as i4, $4::int8 as i8, $5::int8 as i8min,"
        " 1.5::float8 as f, 'NaN'::float8 as fnan, 'Infinity'::float8 as finf,"
        " '-Infinity'::float8 as fninf, 0.25::float4 as f4, 1.10::numeric as n,"
        " 'NaN'::numeric as nnan, $6::text as t, $7::json as j, $8::jsonb as jb,"
        " '\\x00ff10'::bytea as by, '2024-01-02 03:04:05.5'::timestamp as ts,"
        " '2024-01-02 03:04:05+02'::timestamptz as tstz,"
        " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u, null::text as nul,"
        " 'happy'::pgdrv_mood as m, array[1,2]::int4[] as arr, row(1, 'x y')::pgdrv_pair as p",
        8, vals);
    ck_assert_msg(st == TXS_DRV_OK, "%s %s", t.code, t.message);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    ck_assert_str_eq(
        out_str(&t),
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":["
        "{\"name\":\"b\",\"type\":\"bool\"},{\"name\":\"i2\",\"type\":\"int2\"},"
        "{\"name\":\"i4\",\"type\":\"int4\"},{\"name\":\"i8\",\"type\":\"int8\"},"
        "{\"name\":\"i8min\",\"type\":\"int8\"},{\"name\":\"f\",\"type\":\"float8\"},"
        "{\"name\":\"fnan\",\"type\":\"float8\"},{\"name\":\"finf\",\"type\":\"float8\"},"
        "{\"name\":\"fninf\",\"type\":\"float8\"},{\"name\":\"f4\",\"type\":\"float4\"},"
        "{\"name\":\"n\",\"type\":\"numeric\"},{\"name\":\"nnan\",\"type\":\"numeric\"},"
        "{\"name\":\"t\",\"type\":\"text\"},{\"name\":\"j\",\"type\":\"json\"},"
        "{\"name\":\"jb\",\"type\":\"jsonb\"},{\"name\":\"by\",\"type\":\"bytea\"},"
        "{\"name\":\"ts\",\"type\":\"timestamp\"},{\"name\":\"tstz\",\"type\":\"timestamptz\"},"
        "{\"name\":\"u\",\"type\":\"uuid\"},{\"name\":\"nul\",\"type\":\"text\"},"
        "{\"name\":\"m\",\"type\":\"pgdrv_mood\"},{\"name\":\"arr\",\"type\":\"_int4\"},"
        "{\"name\":\"p\",\"type\":\"pgdrv_pair\"}],"
        "\"rows\":[[true,-32768,2147483647,4611686018427387904,-9223372036854775808,"
        "1.5,\"NaN\",\"Infinity\",\"-Infinity\",0.25,\"1.10\",\"NaN\","
        "\"say \\\"hi\\\"\\nnext \xc3\xa9\xf0\x9f\x98\x80\","
        "{\"a\":[1,2,3],\"b\":\"x y\"},{\"k\":[true,null]},\"AP8Q\","
        "\"2024-01-02 03:04:05.5\",\"2024-01-02 01:04:05+00\","
        "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",null,\"happy\",\"{1,2}\",\"(1,\\\"x y\\\")\"]]");
    /* false, and NULL parameters */
    const char *vals2[] = {"f", NULL};
    ck_assert_int_eq(t_runp(&t, "select $1::bool as b, $2::int4 as n", 2, vals2), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[false,null]]"), "%s", out_str(&t));
    t_close(&t);
    txs_pgtest_exec(side, "drop type pgdrv_mood");
    txs_pgtest_exec(side, "drop type pgdrv_pair");
    PQfinish(side);
}
END_TEST

START_TEST(type_created_after_connect_is_its_oid)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "drop type if exists pgdrv_late cascade");
    t_t t;
    t_open(&t);
    txs_pgtest_exec(side, "create type pgdrv_late as enum ('x')");
    char *oid = side_value(side, "select 'pgdrv_late'::regtype::oid");
    t_ok(&t, "select 'x'::pgdrv_late as l");
    char want[128];
    snprintf(want, sizeof want, "\"fields\":[{\"name\":\"l\",\"type\":\"%s\"}]", oid);
    ck_assert_msg(strstr(out_str(&t), want), "%s", out_str(&t));
    t_close(&t);
    free(oid);
    txs_pgtest_exec(side, "drop type pgdrv_late");
    PQfinish(side);
}
END_TEST

START_TEST(non_utf8_session_text_is_repaired)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "set client_encoding to 'LATIN1'");
    /* chr(233) is é: sent as the single LATIN1 byte 0xE9; so is the column name's
     * \xe9, which this query text is read as (LATIN1) */
    const char *out = t_ok(&t, "select 'caf' || chr(233) as \"w\xe9\"");
    ck_assert_msg(txs_utf8_valid(t.out.data, t.out.len), "invalid UTF-8: %s", out);
    ck_assert_msg(strstr(out, "{\"name\":\"w\xef\xbf\xbd\",\"type\":\"text\"}"), "%s", out);
    ck_assert_msg(strstr(out, "\"rows\":[[\"caf\xef\xbf\xbd\"]]"), "%s", out);
    t_ok(&t, "reset client_encoding");
    expect_single(&t, "select 'caf\xc3\xa9'", "\"caf\xc3\xa9\"");
    t_close(&t);
}
END_TEST

START_TEST(bytea_escape_output_still_base64)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "set bytea_output = escape");
    expect_single(&t, "select '\\x00ff10'::bytea", "\"AP8Q\"");
    expect_single(&t, "select ''::bytea", "\"\"");
    t_close(&t);
}
END_TEST

/* ---- commands ---- */

START_TEST(command_and_row_count)
{
    t_t t;
    t_open(&t);
    ck_assert_str_eq(t_ok(&t, "create temp table pgdrv_t (id int primary key, v text)"),
                     "\"command\":\"CREATE TABLE\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    const char *vals[] = {"1", "a", "2", NULL};
    ck_assert_int_eq(t_runp(&t, "insert into pgdrv_t values ($1, $2), ($3, $4)", 4, vals),
                     TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    const char *one[] = {"1"};
    ck_assert_int_eq(t_runp(&t, "update pgdrv_t set v = 'z' where id >= $1", 1, one), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(
        t_ok(&t, "select id, v from pgdrv_t order by id"),
        "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
        "\"int4\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[1,\"z\"],[2,\"z\"]]");
    ck_assert_str_eq(t_ok(&t, "select id from pgdrv_t where false"),
                     "\"command\":\"SELECT\",\"rowCount\":0,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int4\"}],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "delete from pgdrv_t where id = 1"),
                     "\"command\":\"DELETE\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, ""), "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    /* COPY TO STDOUT: the data cannot be returned; the command and count are */
    ck_assert_str_eq(t_ok(&t, "copy pgdrv_t to stdout"),
                     "\"command\":\"COPY\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    t_close(&t);
}
END_TEST

START_TEST(copy_from_stdin_is_refused_not_hung)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_c (x int)");
    ck_assert_int_eq(t_run(&t, "copy pgdrv_c from stdin"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "57014");
    ck_assert_msg(strstr(t.message, "not supported"), "%s", t.message);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from pgdrv_c", "0");
    t_close(&t);
}
END_TEST

/* ---- errors ---- */

START_TEST(db_errors_carry_their_fields)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_t (id int primary key)");
    t_ok(&t, "insert into pgdrv_t values (1)");
    ck_assert_int_eq(t_run(&t, "insert into pgdrv_t values (1)"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "23505");
    ck_assert_str_eq(t.message, "duplicate key value violates unique constraint \"pgdrv_t_pkey\"");
    ck_assert_str_eq(t.detail, "Key (id)=(1) already exists.");
    ck_assert_str_eq(t.constraint, "pgdrv_t_pkey");
    ck_assert(t.from_db);
    ck_assert_int_eq(t.position, 0);

    ck_assert_int_eq(t_run(&t, "select 1 frm pgdrv_t"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42601");
    ck_assert_str_eq(t.message, "syntax error at or near \"pgdrv_t\"");
    ck_assert_int_eq(t.position, 14);
    ck_assert_str_eq(t.constraint, "");

    ck_assert_int_eq(t_run(&t, "select nosuchcolumn from pgdrv_t"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42703");
    ck_assert_int_eq(t.position, 8);

    /* the connection stays usable */
    expect_single(&t, "select 41 + 1", "42");
    t_close(&t);
}
END_TEST

START_TEST(multi_statement_is_refused)
{
    t_t t;
    t_open(&t);
    ck_assert_int_eq(t_run(&t, "select 1; select 2"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42601");
    ck_assert_str_eq(t.message, "cannot insert multiple commands into a prepared statement");
    ck_assert_int_eq(t_run(&t, "create temp table pgdrv_m (x int); drop table pgdrv_m"),
                     TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t_run(&t, "select count(*) from pg_class where relname = 'pgdrv_m'"),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[0]]"), "%s", out_str(&t));
    t_close(&t);
}
END_TEST

START_TEST(nul_bytes_are_refused_before_sending)
{
    t_t t;
    t_open(&t);
    const char *vals[] = {"a\0b"};
    int lens[] = {3};
    txs_stmt_t s = {"select $1::text", 15, 1, vals, lens, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_OK);
    ck_assert_int_eq(t.done, 0); /* never from inside run() */
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    static const char sql2[] = "select 1\0; drop table x";
    txs_stmt_t s2 = {sql2, sizeof sql2 - 1, 0, NULL, NULL, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s2, on_op, &t), TXS_OK);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    expect_single(&t, "select 'ok'", "\"ok\"");
    t_close(&t);
}
END_TEST

START_TEST(tx_status_follows_the_backend)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_t (id int)");
    t_ok(&t, "begin");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    t_ok(&t, "insert into pgdrv_t values (1)");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(t_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
    ck_assert_int_eq(t_run(&t, "select 1"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "25P02");
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INERROR);
    t_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    /* while a statement runs */
    t_start(&t, "select 1", 0, NULL);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    t_wait(&t);
    t_close(&t);
}
END_TEST

/* ---- size limit ---- */

static void on_encode_limits(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
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

START_TEST(too_big_result_is_refused_and_cut_back)
{
    t_t t;
    t_open(&t);
    int lens[1];
    txs_stmt_t s = mkstmt("select repeat('x', 1000) as r, '\\x0102'::bytea as b, "
                          "'{\"a\": 1}'::json as j from generate_series(1, 3)",
                          0, NULL, lens);
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_encode_limits, &t), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.done, WAIT_MS));
    expect_single(&t, "select 1", "1"); /* still usable */
    t_close(&t);
}
END_TEST

/* ---- cancel ---- */

static void on_then(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    t->first_st = st;
    t->first_at = txs_pgtest_now_ms();
    txs_error_info_t e;
    drv->last_error(c, &e);
    snprintf(t->first_code, sizeof t->first_code, "%s", st != TXS_DRV_OK ? e.code : "");
    t->first_done++;
    if (t->then_sql) {
        int lens[1];
        txs_stmt_t s = mkstmt(t->then_sql, 0, NULL, lens);
        t->done = 0;
        ck_assert_int_eq(drv->run(c, &s, on_op, t), TXS_OK);
    } else if (t->then_batch) {
        t->done = 0;
        t->batch_n = t->then_batch_n;
        ck_assert_int_eq(drv->run_batch(c, t->then_batch, t->then_batch_n, on_batch, t), TXS_OK);
    }
    if (t->then_sql || t->then_batch) {
        t->tx_after_then = drv->tx_status(c);
        if (t->then_cancel)
            ck_assert_int_eq(drv->cancel(c), TXS_OK);
    }
}

static void cancel_now(uv_timer_t *timer)
{
    t_t *t = timer->data;
    ck_assert_int_eq(drv->cancel(t->c), TXS_OK);
    ck_assert_int_eq(drv->cancel(t->c), TXS_OK); /* twice is harmless */
}

START_TEST(cancel_stops_a_running_statement)
{
    t_t t;
    t_open(&t);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* nothing runs: no-op */
    ck_assert_int_eq(t_run(&t, "select pg_sleep(0.3)"), TXS_DRV_OK);

    int lens[1];
    txs_stmt_t s = mkstmt("select pg_sleep(10)", 0, NULL, lens);
    t.then_sql = "select 2"; /* sent right away from the callback */
    ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
    uv_timer_t timer;
    uv_timer_init(&t.loop, &timer);
    timer.data = &t;
    uv_timer_start(&timer, cancel_now, 200, 0);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    uv_close((uv_handle_t *)&timer, NULL);
    ck_assert_int_eq(t.first_st, TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.first_code, "57014");
    ck_assert_int_lt(t.first_at - t0, 200 + 1000);
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[2]]"), "%s", out_str(&t));
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select 3", "3");
    t_close(&t);
}
END_TEST

/* While a cancel request is under way, the next statement is held back, so the late
 * request cannot hit it. The thread pool is blocked to keep the request under way. */
START_TEST(statement_waits_for_the_cancel_request)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    t_t t;
    t_open(&t);
    pool_block(&t.loop);
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    t.then_sql = "select pg_sleep(5)";
    t.then_cancel = true; /* cancel the held statement too: once it is sent */
    ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* stuck behind the blocked pool */
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    ck_assert_int_eq(t.first_st, TXS_DRV_OK); /* the cancel never reached the server */
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);

    /* pg_sleep(5) has not been sent: the backend is idle */
    txs_pgtest_run_for(&t.loop, 200);
    ck_assert_int_eq(t.done, 0);
    PGconn *side = txs_pgtest_pg();
    char sql[128];
    snprintf(sql, sizeof sql, "select state || ':' || query from pg_stat_activity where pid = %d",
             drv->backend_pid(t.c));
    char *v = side_value(side, sql);
    ck_assert_str_eq(v, "idle:select 1");
    free(v);
    PQfinish(side);

    int64_t t0 = txs_pgtest_now_ms();
    pool_release(&t.loop);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "57014");
    ck_assert_int_lt(t.done_at - t0, 2500);
    expect_single(&t, "select 4", "4");
    t_close(&t);
}
END_TEST

/* ---- the connection dies ---- */

START_TEST(watch_reports_a_terminated_backend)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    expect_single(&t, "select 1", "1"); /* a statement in between leaves the watch on */
    ck_assert_int_eq(t.watched, 0);
    side_terminate(drv->backend_pid(t.c));
    ck_assert_msg(txs_pgtest_run_until(&t.loop, &t.watched, WAIT_MS), "watch never fired");
    ck_assert_int_eq(t.watched, 1);
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "terminating connection due to administrator command");
    ck_assert(!t.from_db);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_ELOST);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(t.watched, 1);
    t_close(&t);
}
END_TEST

START_TEST(unwatched_death_is_told_to_the_next_run)
{
    t_t t;
    t_open(&t);
    side_terminate(drv->backend_pid(t.c));
    txs_pgtest_run_for(&t.loop, 300); /* notices the EOF, tells nobody */
    ck_assert_int_eq(t_run(&t, "select 1"), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    t_close(&t);

    /* the same, told to a watch set afterwards */
    t_open(&t);
    side_terminate(drv->backend_pid(t.c));
    txs_pgtest_run_for(&t.loop, 300);
    drv->watch(t.c, on_watch, &t);
    ck_assert_int_eq(t.watched, 0);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.watched, WAIT_MS));
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    t_close(&t);
}
END_TEST

static void terminate_now(uv_timer_t *timer)
{
    t_t *t = timer->data;
    side_terminate(drv->backend_pid(t->c));
}

START_TEST(death_during_a_statement_is_lost)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    t_start(&t, "select pg_sleep(10)", 0, NULL);
    uv_timer_t timer;
    uv_timer_init(&t.loop, &timer);
    timer.data = &t;
    uv_timer_start(&timer, terminate_now, 200, 0);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_LOST);
    uv_close((uv_handle_t *)&timer, NULL);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "terminating connection due to administrator command");
    ck_assert_int_eq(t.watched, 0); /* the run's callback tells it, not the watch */
    t_close(&t);
}
END_TEST

/* ---- close in every state ---- */

static void never(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)c;
    (void)st;
    (void)arg;
    ck_abort_msg("a callback ran after close()");
}

START_TEST(close_while_connecting)
{
    t_t t;
    t_init(&t);
    ck_assert_int_eq(drv->connect(&t.loop, txs_pgtest_dsn(), 10000, never, &t, &t.c), TXS_OK);
    t_close(&t);

    /* mid-handshake with a server that never answers */
    t_init(&t);
    int port;
    int fd = silent_listener(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres", port);
    ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, never, &t, &t.c), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    t_close(&t);
    close(fd);

    /* with the failure report pending */
    t_init(&t);
    ck_assert_int_eq(drv->connect(&t.loop, "nosuchoption=1", 10000, never, &t, &t.c), TXS_OK);
    t_close(&t);
}
END_TEST

START_TEST(close_while_running)
{
    t_t t;
    t_open(&t);
    int lens[1];
    txs_stmt_t s = mkstmt("select pg_sleep(10)", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    t_close(&t);

    /* with a cancel request being sent */
    t_open(&t);
    ck_assert_int_eq(drv->run(t.c, &s, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    t_close(&t);
}
END_TEST

START_TEST(close_waits_for_the_cancel_request)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    t_t t;
    t_open(&t);
    int lens[1];
    txs_stmt_t s = mkstmt("select pg_sleep(10)", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    pool_block(&t.loop);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    drv->close(t.c, on_closed, &t);
    /* the queued cancel work is withdrawn (or, once started, waited for) */
    ck_assert(txs_pgtest_run_until(&t.loop, &t.closed, WAIT_MS));
    pool_release(&t.loop);
    txs_pgtest_loop_finish(&t.loop);
    txs_buf_free(&t.out);
}
END_TEST

START_TEST(close_with_a_statement_held_back)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    t_t t;
    t_open(&t);
    pool_block(&t.loop);
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    t.then_sql = "select 2";
    ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
    drv->close(t.c, on_closed, &t);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.closed, WAIT_MS));
    pool_release(&t.loop);
    ck_assert_int_eq(t.done, 0); /* "select 2" never reported */
    txs_pgtest_loop_finish(&t.loop);
    txs_buf_free(&t.out);
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_runs_in_order_and_encodes_each_result)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_b (id int primary key, v text)");
    int l0[2], l1[1];
    const char *v0[] = {"1", "a"}, *v1[] = {"b"};
    txs_stmt_t s[3] = {mkstmt("insert into pgdrv_b values ($1, $2)", 2, v0, l0),
                       mkstmt("insert into pgdrv_b values (2, $1)", 1, v1, l1),
                       mkstmt("select id, v from pgdrv_b order by id", 0, NULL, NULL)};
    t_batch_start(&t, s, 3);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(drv->run_batch(t.c, s, 3, on_batch, &t), TXS_ESTATE); /* one at a time */
    ck_assert_int_eq(drv->run(t.c, &s[2], on_op, &t), TXS_ESTATE);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    ck_assert_str_eq(
        out_str(&t),
        "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
        "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
        "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
        "\"int4\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[1,\"a\"],[2,\"b\"]]");
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.neg_rc, TXS_ESTATE);
    ck_assert_uint_eq(t.oob_len, 0);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE); /* the batch's implicit transaction committed */
    /* results are not kept past the callback, and a run() after a batch has index 0 only */
    expect_single(&t, "select count(*) from pgdrv_b", "2");
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.neg_rc, TXS_ESTATE);
    ck_assert_uint_eq(t.oob_len, 0);
    ck_assert_int_eq(drv->encode_result(t.c, 0, &t.out, t.max_len), TXS_ESTATE);

    /* an explicit transaction written into the batch */
    const char *tx[] = {"begin", "insert into pgdrv_b values (3, 'c')", "commit"};
    ck_assert_int_eq(t_batch(&t, tx, 3), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"BEGIN\",\"rowCount\":0,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"COMMIT\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from pgdrv_b", "3");
    t_close(&t);
}
END_TEST

START_TEST(batch_is_one_pipeline)
{
    enum { N = 50 };
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_p (id int primary key)");
    t_ok(&t, "create temp table pgdrv_s (id int primary key)");
    /* the statements' text is freed right after run_batch() returns */
    char *sql[N];
    const char *sqls[N];
    for (int i = 0; i < N; i++) {
        sql[i] = malloc(64);
        snprintf(sql[i], 64, "insert into pgdrv_p values (%d)", i);
        sqls[i] = sql[i];
    }
    txs_stmt_t s[N];
    for (int i = 0; i < N; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    int64_t t0 = txs_pgtest_now_ms();
    t_batch_start(&t, s, N);
    for (int i = 0; i < N; i++)
        free(sql[i]);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    int64_t batch_ms = t.done_at - t0;
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    expect_single(&t, "select count(*) from pgdrv_p", "50");

    t0 = txs_pgtest_now_ms();
    for (int i = 0; i < N; i++) {
        char one[64];
        snprintf(one, sizeof one, "insert into pgdrv_s values (%d)", i);
        t_ok(&t, one);
    }
    int64_t single_ms = txs_pgtest_now_ms() - t0;
    fprintf(stderr, "pg_driver: %d inserts: one batch %lld ms, one at a time %lld ms\n", N,
            (long long)batch_ms, (long long)single_ms);

    /* One Sync for all: the statements share the pipeline's implicit transaction, where
     * separate runs get one transaction each. */
    const char *xids[] = {"select txid_current()::text", "select 1", "select txid_current()::text"};
    ck_assert_int_eq(t_batch(&t, xids, 3), TXS_DRV_OK);
    const char *out = out_str(&t);
    const char *a = strstr(out, "\"rows\":[[\""), *b = a ? strstr(a + 1, "\"rows\":[[\"") : NULL;
    ck_assert_msg(a && b, "%s", out);
    ck_assert_msg(strncmp(a, b, strcspn(a, "]")) == 0, "two transactions: %s", out);
    char first[128];
    snprintf(first, sizeof first, "%s", t_ok(&t, "select txid_current()::text"));
    ck_assert_str_ne(first, t_ok(&t, "select txid_current()::text"));

    /* more than the socket takes at once, both ways: the driver reads results while it
     * still sends, or client and server would wait for each other */
    size_t n = 4 << 20;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    int lens[3][1];
    txs_stmt_t bs[4];
    for (int i = 0; i < 3; i++)
        bs[i] = mkstmt("select length($1) as n", 1, vals, lens[i]);
    bs[3] = mkstmt("select repeat('b', 1000) as r from generate_series(1, 5000)", 0, NULL, NULL);
    t.max_len = 64 << 20;
    t_batch_start(&t, bs, 4);
    free(big);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    out = out_str(&t);
    const char *p = out;
    for (int i = 0; i < 3; i++, p++)
        ck_assert_msg((p = strstr(p, "\"rows\":[[4194304]]\n")) != NULL, "%.300s", out);
    ck_assert_msg(strstr(p, "\"rowCount\":5000,"), "%.300s", p);
    ck_assert_uint_gt(t.out.len, 5000 * 1004);
    t_close(&t);
}
END_TEST

/* 50 inserts where the 30th repeats a key: the batch stops there. */
static int dup_batch(t_t *t, bool explicit_tx)
{
    enum { N = 50 };
    char sql[N + 2][64];
    const char *sqls[N + 2];
    int n = 0;
    if (explicit_tx)
        snprintf(sql[n++], 64, "begin");
    for (int i = 0; i < N; i++)
        snprintf(sql[n++], 64, "insert into pgdrv_d values (%d)", i == 29 ? 3 : i);
    if (explicit_tx)
        snprintf(sql[n++], 64, "commit");
    for (int i = 0; i < n; i++)
        sqls[i] = sql[i];
    ck_assert_int_eq(t_batch(t, sqls, n), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t->code, "23505");
    ck_assert_str_eq(t->message, "duplicate key value violates unique constraint \"pgdrv_d_pkey\"");
    ck_assert_str_eq(t->detail, "Key (id)=(3) already exists.");
    ck_assert(t->from_db);
    ck_assert(t->has_index);
    return t->index;
}

START_TEST(batch_stops_at_the_failing_statement)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_d (id int primary key)");
    ck_assert_int_eq(dup_batch(&t, false), 29);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from pgdrv_d", "0"); /* the implicit tx rolled back */

    ck_assert_int_eq(dup_batch(&t, true), 30);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR); /* the caller's to roll back */
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INERROR);
    t_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from pgdrv_d", "0");

    /* a later error field is not mistaken for a batch index */
    ck_assert_int_eq(t_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    ck_assert(!t.has_index);
    /* the last statement, and a statement the server cannot even parse */
    const char *last[] = {"select 1", "select 1/0"};
    ck_assert_int_eq(t_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert_int_eq(t.index, 1);
    const char *bad[] = {"select 1", "select 1 frm x", "select 2"};
    ck_assert_int_eq(t_batch(&t, bad, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42601");
    ck_assert_int_eq(t.index, 1);
    ck_assert_int_eq(t.position, 14); /* at or near "x" */
    expect_single(&t, "select 'usable'", "\"usable\"");
    t_close(&t);
}
END_TEST

START_TEST(batch_with_a_nul_byte_sends_nothing)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_n (x text)");
    const char *vals[] = {"a\0b"}, *ok[] = {"fine"};
    int lens[] = {3}, oklens[] = {4};
    txs_stmt_t s[3] = {{"insert into pgdrv_n values ($1)", 31, 1, vals, lens, NULL},
                       {"insert into pgdrv_n values ($1)", 31, 1, ok, oklens, NULL},
                       {"insert into pgdrv_n values ('x')", 32, 0, NULL, NULL, NULL}};
    t_batch_start(&t, s, 3);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 0);
    ck_assert(!t.from_db);
    /* the bad one last: the ones before it were not sent either */
    txs_stmt_t s2[3] = {s[1], s[2], s[0]};
    t_batch_start(&t, s2, 3);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert_int_eq(t.index, 2);
    expect_single(&t, "select count(*) from pgdrv_n", "0");
    t_close(&t);
}
END_TEST

START_TEST(empty_batch_is_ok)
{
    t_t t;
    t_open(&t);
    ck_assert_int_eq(t_batch(&t, NULL, 0), TXS_DRV_OK);
    ck_assert_uint_eq(t.out.len, 0);
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE); /* index 0: no result */
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drv->run_batch(t.c, NULL, -1, on_batch, &t), TXS_EINVAL);
    expect_single(&t, "select 6", "6");
    t_close(&t);
}
END_TEST

static const char *quoted(txs_buf_t *b, const char *name, size_t len)
{
    txs_buf_truncate(b, 0);
    drv->quote_ident(b, name, len);
    *txs_buf_reserve(b, 1) = '\0';
    return b->data;
}

START_TEST(quote_ident_doubles_quotes)
{
    txs_buf_t b;
    txs_buf_init(&b);
    ck_assert_str_eq(quoted(&b, "a\"b", 3), "\"a\"\"b\"");
    ck_assert_str_eq(quoted(&b, "", 0), "\"\"");
    ck_assert_str_eq(quoted(&b, "\"\"", 2), "\"\"\"\"\"\"");
    ck_assert_str_eq(quoted(&b, "Mixed Case;drop", 15), "\"Mixed Case;drop\"");
    ck_assert_str_eq(quoted(&b, "xyz", 2), "\"xy\""); /* len, not strlen */
    /* and the server reads it back as the same name */
    t_t t;
    t_open(&t);
    txs_buf_t sql;
    txs_buf_init(&sql);
    txs_buf_puts(&sql, "select 1 as ");
    drv->quote_ident(&sql, "a\"b c", 5);
    *txs_buf_reserve(&sql, 1) = '\0';
    ck_assert_msg(
        strstr(t_ok(&t, sql.data), "\"fields\":[{\"name\":\"a\\\"b c\",\"type\":\"int4\"}]"), "%s",
        out_str(&t));
    txs_buf_free(&sql);
    txs_buf_free(&b);
    t_close(&t);
}
END_TEST

START_TEST(death_during_a_batch_is_lost)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    const char *sqls[] = {"select 1", "select pg_sleep(10)", "select 2"};
    txs_stmt_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t_batch_start(&t, s, 3);
    uv_timer_t timer;
    uv_timer_init(&t.loop, &timer);
    timer.data = &t;
    uv_timer_start(&timer, terminate_now, 200, 0);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_LOST);
    uv_close((uv_handle_t *)&timer, NULL);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "terminating connection due to administrator command");
    ck_assert(!t.from_db);
    ck_assert(!t.has_index);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    ck_assert_int_eq(drv->run_batch(t.c, s, 3, on_batch, &t), TXS_ELOST);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(t.watched, 0); /* the batch's callback tells it, not the watch */
    t_close(&t);
}
END_TEST

START_TEST(cancel_stops_a_running_batch)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temp table pgdrv_k (x int)");
    const char *sqls[] = {"insert into pgdrv_k values (1)", "select pg_sleep(30)",
                          "insert into pgdrv_k values (2)"};
    txs_stmt_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t_batch_start(&t, s, 3);
    uv_timer_t timer;
    uv_timer_init(&t.loop, &timer);
    timer.data = &t;
    uv_timer_start(&timer, cancel_now, 200, 0);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    uv_close((uv_handle_t *)&timer, NULL);
    ck_assert_str_eq(t.code, "57014");
    ck_assert(t.from_db);
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);
    ck_assert_int_lt(t.done_at - t0, 200 + 1000);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select 1", "1");
    expect_single(&t, "select count(*) from pgdrv_k", "0");
    t_close(&t);
}
END_TEST

/* A batch that comes while a cancel request is under way is held back whole, with its
 * parameters copied, and is cancelled in turn when asked to. */
START_TEST(batch_waits_for_the_cancel_request)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    t_t t;
    t_open(&t);
    int l0[1], l1[2], l2[1];
    const char *v0[] = {"x"}, *v1[] = {"2", "3"}, *v2[] = {NULL};
    txs_stmt_t b[3] = {mkstmt("select $1::text", 1, v0, l0),
                       mkstmt("select $1::int + $2::int", 2, v1, l1),
                       mkstmt("select $1::text is null", 1, v2, l2)};
    for (int cancel_it = 0; cancel_it < 2; cancel_it++) {
        const char *sleep_sql = "select pg_sleep(5)";
        txs_stmt_t sleepy[2] = {{sleep_sql, strlen(sleep_sql), 0, NULL, NULL, NULL}, b[0]};
        pool_block(&t.loop);
        int lens[1];
        txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
        t.then_batch = cancel_it ? sleepy : b;
        t.then_batch_n = cancel_it ? 2 : 3;
        t.then_cancel = cancel_it;
        t.first_done = 0;
        ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
        ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* stuck behind the blocked pool */
        ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
        ck_assert_int_eq(t.first_st, TXS_DRV_OK);
        ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);

        /* the batch has not been sent: the backend is idle */
        txs_pgtest_run_for(&t.loop, 200);
        ck_assert_int_eq(t.done, 0);
        PGconn *side = txs_pgtest_pg();
        char sql[128];
        snprintf(sql, sizeof sql,
                 "select state || ':' || query from pg_stat_activity where pid = %d",
                 drv->backend_pid(t.c));
        char *v = side_value(side, sql);
        ck_assert_str_eq(v, "idle:select 1");
        free(v);
        PQfinish(side);

        int64_t t0 = txs_pgtest_now_ms();
        pool_release(&t.loop);
        if (cancel_it) {
            ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
            ck_assert_str_eq(t.code, "57014");
            ck_assert_int_eq(t.index, 0);
            ck_assert_int_lt(t.done_at - t0, 2500);
        } else {
            ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
            ck_assert_int_eq(t.enc_rc, TXS_OK);
            const char *out = out_str(&t);
            ck_assert_msg(strstr(out, "\"rows\":[[\"x\"]]\n"), "%s", out);
            ck_assert_msg(strstr(out, "\"rows\":[[5]]\n"), "%s", out);
            ck_assert_msg(strstr(out, "\"rows\":[[true]]"), "%s", out);
        }
    }
    expect_single(&t, "select 4", "4");
    t_close(&t);
}
END_TEST

START_TEST(copy_in_a_batch)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    t_ok(&t, "create temp table pgdrv_c (x int)");
    /* COPY FROM STDIN would take the next statements for its data and kill the session */
    const char *in[] = {"insert into pgdrv_c values (1)",
                        " -- load\n /* nested /* */ */ CoPy pgdrv_c FROM stdin", "select 2"};
    ck_assert_int_eq(t_batch(&t, in, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "0A000");
    ck_assert_str_eq(t.message, "COPY FROM STDIN is not supported in a batch");
    ck_assert(!t.from_db);
    ck_assert_int_eq(t.index, 1);
    const char *last[] = {"insert into pgdrv_c values (1)", "copy pgdrv_c from stdin"};
    ck_assert_int_eq(t_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t.index, 1);
    expect_single(&t, "select count(*) from pgdrv_c", "0"); /* nothing was sent */
    /* COPY TO STDOUT works as in run(): the command and count, the data dropped */
    const char *out[] = {"insert into pgdrv_c values (1), (2)", "copy pgdrv_c to stdout",
                         "select count(*) from pgdrv_c", "copy (select 'stdout') to stdout"};
    ck_assert_int_eq(t_batch(&t, out, 4), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"COPY\",\"rowCount\":2,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"count\","
                     "\"type\":\"int8\"}],\"rows\":[[2]]\n"
                     "\"command\":\"COPY\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    /* mentioning stdin is fine in a statement that is no COPY */
    t_ok(&t, "create temp table copyin (stdin int)");
    const char *word[] = {"insert into copyin values (1)", "select stdin from copyin"};
    ck_assert_int_eq(t_batch(&t, word, 2), TXS_DRV_OK);
    ck_assert_int_eq(t.watched, 0);
    t_close(&t);
}
END_TEST

START_TEST(close_while_running_a_batch)
{
    t_t t;
    t_open(&t);
    const char *sqls[] = {"select 1", "select pg_sleep(10)"};
    txs_stmt_t s[2];
    for (int i = 0; i < 2; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    ck_assert_int_eq(drv->run_batch(t.c, s, 2, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    t_close(&t);

    /* with its report pending */
    t_open(&t);
    ck_assert_int_eq(drv->run_batch(t.c, s, 0, never, &t), TXS_OK);
    t_close(&t);

    /* held back behind a cancel request */
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    t_open(&t);
    pool_block(&t.loop);
    int lens[1];
    txs_stmt_t one = mkstmt("select 1", 0, NULL, lens);
    t.then_batch = s;
    t.then_batch_n = 2;
    ck_assert_int_eq(drv->run(t.c, &one, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
    drv->close(t.c, on_closed, &t);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.closed, WAIT_MS));
    pool_release(&t.loop);
    ck_assert_int_eq(t.done, 0); /* the batch never reported */
    txs_pgtest_loop_finish(&t.loop);
    txs_buf_free(&t.out);
}
END_TEST

/* ---- no busy waiting ---- */

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
           ru.ru_stime.tv_usec / 1e3;
}

START_TEST(waiting_uses_no_cpu)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    double c0 = cpu_ms();
    ck_assert_int_eq(t_run(&t, "select pg_sleep(0.5)"), TXS_DRV_OK);
    txs_pgtest_run_for(&t.loop, 500); /* idle, watched */
    double used = cpu_ms() - c0;
    ck_assert_msg(used < 250, "%.0f ms of CPU over 1 s of waiting", used);
    t_close(&t);
}
END_TEST

Suite *suite_pg_driver(void)
{
    Suite *s = suite_create("pg_driver");
    TCase *tc = tcase_create("pg_driver");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connect_ok_sets_session);
    tcase_add_test(tc, connect_keeps_user_options_but_pins_ours);
    tcase_add_test(tc, connect_uri_dsn);
    tcase_add_test(tc, connect_refused_is_lost_08001);
    tcase_add_test(tc, connect_timeout_is_lost_08001);
    tcase_add_test(tc, connect_bad_dsn_is_lost_08001);
    tcase_add_test(tc, connect_follows_a_new_socket);
    tcase_add_test(tc, large_statement_and_result);
    tcase_add_test(tc, notifications_and_notices_while_idle_are_not_death);
    tcase_add_test(tc, types_encode_exactly);
    tcase_add_test(tc, type_created_after_connect_is_its_oid);
    tcase_add_test(tc, non_utf8_session_text_is_repaired);
    tcase_add_test(tc, bytea_escape_output_still_base64);
    tcase_add_test(tc, command_and_row_count);
    tcase_add_test(tc, copy_from_stdin_is_refused_not_hung);
    tcase_add_test(tc, db_errors_carry_their_fields);
    tcase_add_test(tc, multi_statement_is_refused);
    tcase_add_test(tc, nul_bytes_are_refused_before_sending);
    tcase_add_test(tc, tx_status_follows_the_backend);
    tcase_add_test(tc, too_big_result_is_refused_and_cut_back);
    tcase_add_test(tc, cancel_stops_a_running_statement);
    tcase_add_test(tc, statement_waits_for_the_cancel_request);
    tcase_add_test(tc, watch_reports_a_terminated_backend);
    tcase_add_test(tc, unwatched_death_is_told_to_the_next_run);
    tcase_add_test(tc, death_during_a_statement_is_lost);
    tcase_add_test(tc, close_while_connecting);
    tcase_add_test(tc, close_while_running);
    tcase_add_test(tc, close_waits_for_the_cancel_request);
    tcase_add_test(tc, close_with_a_statement_held_back);
    tcase_add_test(tc, batch_runs_in_order_and_encodes_each_result);
    tcase_add_test(tc, batch_is_one_pipeline);
    tcase_add_test(tc, batch_stops_at_the_failing_statement);
    tcase_add_test(tc, batch_with_a_nul_byte_sends_nothing);
    tcase_add_test(tc, empty_batch_is_ok);
    tcase_add_test(tc, quote_ident_doubles_quotes);
    tcase_add_test(tc, death_during_a_batch_is_lost);
    tcase_add_test(tc, cancel_stops_a_running_batch);
    tcase_add_test(tc, batch_waits_for_the_cancel_request);
    tcase_add_test(tc, copy_in_a_batch);
    tcase_add_test(tc, close_while_running_a_batch);
    tcase_add_test(tc, waiting_uses_no_cpu);
    suite_add_tcase(s, tc);
    return s;
}
