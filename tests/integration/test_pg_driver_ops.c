/* test_pg_driver_ops.c - the PostgreSQL driver: cancel, death, close, batches. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/pgtest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h;
 * test_pg_driver.c has connect, values and types, and errors.
 * The tests both drivers pass alike are in drvtest_*.c (drvtest_add_*_tests). */
Suite *suite_pg_driver_ops(void);

#define NBLOCK 16 /* more than the thread pool's threads: blocks it for cancel tests */

static const txs_driver_t *drv = &txs_driver_pg;

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
    for (int64_t end = drvtest_now_ms() + DRVTEST_WAIT_MS; blockers_done < NBLOCK;) {
        ck_assert_int_lt(drvtest_now_ms(), end);
        drvtest_run_until(loop, &all, 10);
    }
    uv_sem_destroy(&gate);
}

/* While drvtest_hold_back's cancel request is stuck behind the blocked pool: the op it
 * holds back has not been sent, the backend is idle after "select 1". */
static void expect_nothing_sent(drvtest_t *t)
{
    drvtest_run_for(&t->loop, 200);
    ck_assert_int_eq(t->done, 0);
    PGconn *side = txs_pgtest_pg();
    char sql[128];
    snprintf(sql, sizeof sql, "select state || ':' || query from pg_stat_activity where pid = %d",
             drv->backend_pid(t->c));
    char *v = txs_pgtest_value(side, sql);
    ck_assert_str_eq(v, "idle:select 1");
    free(v);
    PQfinish(side);
}

/* Close while drvtest_hold_back's op is held back behind the blocked pool, then release
 * the pool: the held op never reports, and the loop closes cleanly. */
static void close_held_back(drvtest_t *t)
{
    drv->close(t->c, drvtest_on_closed, t);
    ck_assert(drvtest_run_until(&t->loop, &t->closed, DRVTEST_WAIT_MS));
    pool_release(&t->loop);
    ck_assert_int_eq(t->done, 0);
    drvtest_loop_finish(&t->loop);
    txs_buf_free(&t->out);
}

/* A connection whose loop's thread pool is blocked: its cancel requests stay under way. */
static void open_blocked(drvtest_t *t)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    drvtest_open(t, drv);
    pool_block(&t->loop);
}

/* drvtest_hold_back with the pool blocked: "select 1" answered, and its cancel request,
 * stuck behind the pool, never reached the server: the op it holds back is not sent. */
static void hold_back_unsent(drvtest_t *t)
{
    drvtest_hold_back(t);
    ck_assert_int_eq(t->first_st, TXS_DRV_OK);
    expect_nothing_sent(t);
}

/* Release the pool: the held op, cancelled once it is sent (then_cancel), fails soon. */
static void release_expect_cancelled(drvtest_t *t)
{
    int64_t t0 = drvtest_now_ms();
    pool_release(&t->loop);
    ck_assert_int_eq(drvtest_wait(t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t->code, "57014");
    ck_assert_int_lt(t->done_at - t0, 2500);
}

/* ---- cancel ---- */

START_TEST(cancel_stops_a_running_statement)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* nothing runs: no-op */
    ck_assert_int_eq(drvtest_run(&t, "select pg_sleep(0.3)"), TXS_DRV_OK);

    int lens[1];
    txs_stmt_t s = drvtest_stmt("select pg_sleep(10)", 0, NULL, lens);
    drvtest_expect_cancel_spares_the_next(&t, &s); /* 57014 */
    drvtest_expect(&t, "select 3", "3");
    drvtest_close(&t);
}
END_TEST

/* While a cancel request is under way, the next statement is held back, so the late
 * request cannot hit it. The thread pool is blocked to keep the request under way. */
START_TEST(statement_waits_for_the_cancel_request)
{
    drvtest_t t;
    open_blocked(&t);
    t.then_sql = "select pg_sleep(5)";
    t.then_cancel = true; /* cancel the held statement too: once it is sent */
    hold_back_unsent(&t); /* pg_sleep(5) */
    release_expect_cancelled(&t);
    drvtest_expect(&t, "select 4", "4");
    drvtest_close(&t);
}
END_TEST

/* ---- the connection dies ---- */

START_TEST(death_during_a_statement_is_lost)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_start(&t, "select pg_sleep(10)", 0, NULL);
    drvtest_kill_after(&t, 200);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "terminating connection due to administrator command");
    ck_assert_int_eq(t.watched, 0); /* the run's callback tells it, not the watch */
    drvtest_close(&t);
}
END_TEST

/* ---- close in every state ---- */

START_TEST(close_waits_for_the_cancel_request)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    drvtest_t t;
    drvtest_open(&t, drv);
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select pg_sleep(10)", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_never, &t), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    pool_block(&t.loop);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    drv->close(t.c, drvtest_on_closed, &t);
    /* the queued cancel work is withdrawn (or, once started, waited for) */
    ck_assert(drvtest_run_until(&t.loop, &t.closed, DRVTEST_WAIT_MS));
    pool_release(&t.loop);
    drvtest_loop_finish(&t.loop);
    txs_buf_free(&t.out);
}
END_TEST

START_TEST(close_with_a_statement_held_back)
{
    drvtest_t t;
    open_blocked(&t);
    t.then_sql = "select 2";
    drvtest_hold_back(&t);
    close_held_back(&t); /* "select 2" never reported */
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_is_one_pipeline)
{
    enum { N = 50 };
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temp table pgdrv_p (id int primary key)");
    drvtest_ok(&t, "create temp table pgdrv_s (id int primary key)");
    /* the statements' text is freed right after run_batch() returns */
    char *sql[N];
    const char *sqls[N];
    for (int i = 0; i < N; i++) {
        sql[i] = malloc(64);
        snprintf(sql[i], 64, "insert into pgdrv_p values (%d)", i);
        sqls[i] = sql[i];
    }
    txs_stmt_t s[N];
    drvtest_plain(s, sqls, N);
    int64_t t0 = drvtest_now_ms();
    drvtest_batch_start(&t, s, N);
    for (int i = 0; i < N; i++)
        free(sql[i]);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    int64_t batch_ms = t.done_at - t0;
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    drvtest_expect(&t, "select count(*) from pgdrv_p", "50");

    t0 = drvtest_now_ms();
    for (int i = 0; i < N; i++) {
        char one[64];
        snprintf(one, sizeof one, "insert into pgdrv_s values (%d)", i);
        drvtest_ok(&t, one);
    }
    int64_t single_ms = drvtest_now_ms() - t0;
    fprintf(stderr, "pg_driver: %d inserts: one batch %lld ms, one at a time %lld ms\n", N,
            (long long)batch_ms, (long long)single_ms);

    /* One Sync for all: the statements share the pipeline's implicit transaction, where
     * separate runs get one transaction each. */
    const char *xids[] = {"select txid_current()::text", "select 1", "select txid_current()::text"};
    ck_assert_int_eq(drvtest_batch(&t, xids, 3), TXS_DRV_OK);
    const char *out = drvtest_out(&t);
    const char *a = strstr(out, "\"rows\":[[\""), *b = a ? strstr(a + 1, "\"rows\":[[\"") : NULL;
    ck_assert_msg(a && b, "%s", out);
    ck_assert_msg(strncmp(a, b, strcspn(a, "]")) == 0, "two transactions: %s", out);
    char first[128];
    snprintf(first, sizeof first, "%s", drvtest_ok(&t, "select txid_current()::text"));
    ck_assert_str_ne(first, drvtest_ok(&t, "select txid_current()::text"));

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
        bs[i] = drvtest_stmt("select length($1) as n", 1, vals, lens[i]);
    bs[3] =
        drvtest_stmt("select repeat('b', 1000) as r from generate_series(1, 5000)", 0, NULL, NULL);
    t.max_len = 64 << 20;
    drvtest_batch_start(&t, bs, 4);
    free(big);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    out = drvtest_out(&t);
    const char *p = out;
    for (int i = 0; i < 3; i++, p++)
        ck_assert_msg((p = strstr(p, "\"rows\":[[4194304]]\n")) != NULL, "%.300s", out);
    ck_assert_msg(strstr(p, "\"rowCount\":5000,"), "%.300s", p);
    ck_assert_uint_gt(t.out.len, 5000 * 1004);
    drvtest_close(&t);
}
END_TEST

/* 50 inserts where the 30th repeats a key: the batch stops there. */
static int dup_batch(drvtest_t *t, bool explicit_tx)
{
    int index = drvtest_dup_batch(t, "pgdrv_d", explicit_tx);
    ck_assert_str_eq(t->code, "23505");
    ck_assert_str_eq(t->message, "duplicate key value violates unique constraint \"pgdrv_d_pkey\"");
    ck_assert_str_eq(t->detail, "Key (id)=(3) already exists.");
    return index;
}

START_TEST(batch_stops_at_the_failing_statement)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temp table pgdrv_d (id int primary key)");
    ck_assert_int_eq(dup_batch(&t, false), 29);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from pgdrv_d", "0"); /* the implicit tx rolled back */

    ck_assert_int_eq(dup_batch(&t, true), 30);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR); /* the caller's to roll back */
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INERROR);
    drvtest_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from pgdrv_d", "0");

    /* a later error field is not mistaken for a batch index */
    ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    ck_assert(!t.has_index);
    /* the last statement, and a statement the server cannot even parse */
    const char *last[] = {"select 1", "select 1/0"};
    ck_assert_int_eq(drvtest_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert_int_eq(t.index, 1);
    const char *bad[] = {"select 1", "select 1 frm x", "select 2"};
    ck_assert_int_eq(drvtest_batch(&t, bad, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42601");
    ck_assert_int_eq(t.index, 1);
    ck_assert_int_eq(t.position, 14); /* at or near "x" */
    drvtest_expect(&t, "select 'usable'", "\"usable\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(death_during_a_batch_is_lost)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    const char *sqls[] = {"select 1", "select pg_sleep(10)", "select 2"};
    txs_stmt_t s[3];
    drvtest_plain(s, sqls, 3);
    drvtest_batch_start(&t, s, 3);
    drvtest_kill_after(&t, 200);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "terminating connection due to administrator command");
    ck_assert(!t.from_db);
    ck_assert(!t.has_index);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    ck_assert_int_eq(drv->run_batch(t.c, s, 3, drvtest_on_batch, &t), TXS_ELOST);
    drvtest_run_for(&t.loop, 100);
    ck_assert_int_eq(t.watched, 0); /* the batch's callback tells it, not the watch */
    drvtest_close(&t);
}
END_TEST

/* A batch that comes while a cancel request is under way is held back whole, with its
 * parameters copied, and is cancelled in turn when asked to. */
START_TEST(batch_waits_for_the_cancel_request)
{
    setenv("UV_THREADPOOL_SIZE", "4", 1);
    drvtest_t t;
    drvtest_open(&t, drv);
    int l0[1], l1[2], l2[1];
    const char *v0[] = {"x"}, *v1[] = {"2", "3"}, *v2[] = {NULL};
    txs_stmt_t b[3] = {drvtest_stmt("select $1::text", 1, v0, l0),
                       drvtest_stmt("select $1::int + $2::int", 2, v1, l1),
                       drvtest_stmt("select $1::text is null", 1, v2, l2)};
    for (int cancel_it = 0; cancel_it < 2; cancel_it++) {
        const char *sleep_sql = "select pg_sleep(5)";
        txs_stmt_t sleepy[2] = {{sleep_sql, strlen(sleep_sql), 0, NULL, NULL, NULL}, b[0]};
        pool_block(&t.loop);
        t.then_batch = cancel_it ? sleepy : b;
        t.then_batch_n = cancel_it ? 2 : 3;
        t.then_cancel = cancel_it;
        hold_back_unsent(&t); /* the batch */
        if (cancel_it) {
            release_expect_cancelled(&t);
            ck_assert_int_eq(t.index, 0);
        } else {
            pool_release(&t.loop);
            ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
            ck_assert_int_eq(t.enc_rc, TXS_OK);
            const char *out = drvtest_out(&t);
            ck_assert_msg(strstr(out, "\"rows\":[[\"x\"]]\n"), "%s", out);
            ck_assert_msg(strstr(out, "\"rows\":[[5]]\n"), "%s", out);
            ck_assert_msg(strstr(out, "\"rows\":[[true]]"), "%s", out);
        }
    }
    drvtest_expect(&t, "select 4", "4");
    drvtest_close(&t);
}
END_TEST

START_TEST(copy_in_a_batch)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_ok(&t, "create temp table pgdrv_c (x int)");
    /* COPY FROM STDIN would take the next statements for its data and kill the session */
    const char *in[] = {"insert into pgdrv_c values (1)",
                        " -- load\n /* nested /* */ */ CoPy pgdrv_c FROM stdin", "select 2"};
    ck_assert_int_eq(drvtest_batch(&t, in, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "0A000");
    ck_assert_str_eq(t.message, "COPY FROM STDIN is not supported in a batch");
    ck_assert(!t.from_db);
    ck_assert_int_eq(t.index, 1);
    const char *last[] = {"insert into pgdrv_c values (1)", "copy pgdrv_c from stdin"};
    ck_assert_int_eq(drvtest_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t.index, 1);
    drvtest_expect(&t, "select count(*) from pgdrv_c", "0"); /* nothing was sent */
    /* COPY TO STDOUT works as in run(): the command and count, the data dropped */
    const char *out[] = {"insert into pgdrv_c values (1), (2)", "copy pgdrv_c to stdout",
                         "select count(*) from pgdrv_c", "copy (select 'stdout') to stdout"};
    ck_assert_int_eq(drvtest_batch(&t, out, 4), TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"COPY\",\"rowCount\":2,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"count\","
                     "\"type\":\"int8\"}],\"rows\":[[2]]\n"
                     "\"command\":\"COPY\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    /* mentioning stdin is fine in a statement that is no COPY */
    drvtest_ok(&t, "create temp table copyin (stdin int)");
    const char *word[] = {"insert into copyin values (1)", "select stdin from copyin"};
    ck_assert_int_eq(drvtest_batch(&t, word, 2), TXS_DRV_OK);
    ck_assert_int_eq(t.watched, 0);
    drvtest_close(&t);
}
END_TEST

START_TEST(close_while_running_a_batch)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *sqls[] = {"select 1", "select pg_sleep(10)"};
    txs_stmt_t s[2];
    drvtest_plain(s, sqls, 2);
    ck_assert_int_eq(drv->run_batch(t.c, s, 2, drvtest_never, &t), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    drvtest_close(&t);

    /* with its report pending */
    drvtest_open(&t, drv);
    ck_assert_int_eq(drv->run_batch(t.c, s, 0, drvtest_never, &t), TXS_OK);
    drvtest_close(&t);

    /* held back behind a cancel request */
    open_blocked(&t);
    t.then_batch = s;
    t.then_batch_n = 2;
    drvtest_hold_back(&t);
    close_held_back(&t); /* the batch never reported */
}
END_TEST

Suite *suite_pg_driver_ops(void)
{
    Suite *s = suite_create("pg_driver_ops");
    TCase *tc = tcase_create("pg_driver_ops");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cancel_stops_a_running_statement);
    tcase_add_test(tc, statement_waits_for_the_cancel_request);
    drvtest_add_watch_tests(tc, drv);
    tcase_add_test(tc, death_during_a_statement_is_lost);
    drvtest_add_close_tests(tc, drv);
    tcase_add_test(tc, close_waits_for_the_cancel_request);
    tcase_add_test(tc, close_with_a_statement_held_back);
    drvtest_add_batch_tests(tc, drv);
    tcase_add_test(tc, batch_is_one_pipeline);
    tcase_add_test(tc, batch_stops_at_the_failing_statement);
    tcase_add_test(tc, death_during_a_batch_is_lost);
    tcase_add_test(tc, batch_waits_for_the_cancel_request);
    tcase_add_test(tc, copy_in_a_batch);
    tcase_add_test(tc, close_while_running_a_batch);
    suite_add_tcase(s, tc);
    return s;
}
