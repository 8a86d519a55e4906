/* test_guarantee.c - the rollback guarantee: a client that goes away, by close or by
 * death, leaves no transaction, no lock and no busy backend behind. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_guarantee(void);

/* The row lock an open transaction holds would make this insert wait; a lock timeout
 * turns that wait into an error. */
static void assert_key_free(th_side_t *side, const char *table, int key)
{
    th_side_exec(side, "%s; insert into %s values (%d)",
                 TH_PICK("set lock_timeout = '2s'", "set innodb_lock_wait_timeout = 2"), table,
                 key);
}

START_TEST(close_with_open_transaction_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_g1");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"insert into t_g1 values (1), (2)\"}"),
        "insert");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"y\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "other");
    long before = th_side_backends(side, &d, TH_ALL);
    ck_assert_int_ge(before, 1);
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 1);

    txscope_close(c);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_IN_TX, 2000), 0);
    assert_key_free(side, "t_g1", 1);
    ck_assert_int_eq(th_side_count_rows(side, "t_g1"), 1); /* only ours */
    ck_assert_int_le(th_side_backends(side, &d, TH_ALL), before);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The count of the daemon's connections running the 10 s sleep (not the insert before
 * it), on either backend. */
static void sleep_running_sql(char *sql, size_t len, const th_daemon_t *d)
{
    if (th_backend == TH_PG)
        snprintf(sql, len,
                 "select count(*) from pg_stat_activity where application_name = 'txs_%d' and "
                 "state = 'active' and query like '%%pg_sleep(10)%%'",
                 d->port);
    else
        snprintf(sql, len,
                 "select count(*) from information_schema.processlist where db = 'txs_%d' and "
                 "id <> connection_id() and command in ('Query', 'Execute') and info like "
                 "'%%sleep(10)%%'",
                 d->port);
}

START_TEST(killed_client_cancels_running_statement)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_g2");
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        txscope_conn_t *c = th_connect(&d);
        cJSON *r =
            th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_g2 values (7)\"}");
        if (!txscope_reply_ok(r))
            _exit(3);
        th_send(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"%s\"}", th_sleep_sql("10"));
        pause();
        _exit(0);
    }
    char running[320];
    sleep_running_sql(running, sizeof running, &d);
    long long t0 = th_now_ms();
    while (th_side_long(side, "%s", running) == 0) {
        ck_assert_msg(th_now_ms() - t0 < 5000, "the statement never started");
        th_sleep_ms(10);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long long took = th_side_wait_zero(side, running, 5000);
    ck_assert_msg(took >= 0 && took < 1000, "statement still running %lld ms after the kill", took);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, 2000), 0);
    assert_key_free(side, "t_g2", 7);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(end_rolls_back_and_releases)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_g3");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"e\"}"), "begin");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"insert into t_g3 values (5)\"}"),
        "insert");
    cJSON *r = th_call(c, "{\"op\":\"end\",\"ctx\":\"e\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "end");
    assert_key_free(side, "t_g3", 5);
    /* The single connection went back: another context gets it at once. */
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "reuse");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* SIGTERM with a transaction open: rolled back, daemon exits 0. */
START_TEST(shutdown_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_g4");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_g4 values (9)\"}"),
        "insert");
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    assert_key_free(side, "t_g4", 9);
    ck_assert_int_eq(th_side_count_rows(side, "t_g4"), 1);
    txscope_close(c);
    th_side_close(side);
}
END_TEST

/* A failed transaction (INERROR on PostgreSQL) is rolled back the same way, and the
 * one pooled connection serves the next client, clean. */
START_TEST(close_with_failed_transaction_returns_a_clean_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_g5");
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_id(c, "x", false);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"insert into t_g5 values (1)\"}"),
        "insert");
    th_expect_code(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"insert into t_g5 values (1)\"}"),
        TH_PICK("23505", "23000"), "fail");
    /* The pool's one connection: idle in a (failed) transaction. */
    ck_assert_int_eq(th_side_backends(side, &d, TH_BUSY), 1);
    txscope_close(c);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, 2000), 0);
    assert_key_free(side, "t_g5", 1);
    c = th_connect(&d);
    ck_assert_int_eq(th_backend_id(c, "y", true), pid); /* the same backend, reused */
    th_side_close(side);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A client that leaves while its session waits for the pool is taken off the queue:
 * the connection goes to the next waiter, not to the departed one. */
START_TEST(close_while_waiting_for_the_pool)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *holder = th_connect(&d), *leaver = th_connect(&d), *next = th_connect(&d);
    th_expect_ok(th_call(holder, "{\"op\":\"query\",\"ctx\":\"h\",\"sql\":\"select 1\"}"),
                 "holder");
    th_send(leaver, "{\"op\":\"query\",\"ctx\":\"l\",\"sql\":\"select 2\"}");
    th_sleep_ms(100); /* let it queue */
    txscope_close(leaver);
    th_sleep_ms(100);
    int64_t id = th_send(next, "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"select 3\"}");
    th_expect_ok(th_call(holder, "{\"op\":\"commit\",\"ctx\":\"h\"}"), "holder commit");
    long long t0 = th_now_ms();
    cJSON *r = txscope_wait(next, id, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    th_expect_ok(r, "next waiter");
    ck_assert_int_lt(th_now_ms() - t0, 2000);
    txscope_close(next);
    txscope_close(holder);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Clients that pipeline transactions into a small pool and vanish at random moments
 * (while waiting for the pool, in BEGIN, mid-statement, mid-commit): afterwards no
 * backend is in a transaction or busy, the pool limit held, and the daemon still
 * serves and exits cleanly. Fixed seed; TXS_CHAOS_SEED replays another. */
START_TEST(clients_vanishing_at_random_moments)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=2s",
                         "TXSCOPE_LOG_LEVEL=info", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_chaos; create table t_chaos(n int)");
    unsigned seed = getenv("TXS_CHAOS_SEED") ? (unsigned)atol(getenv("TXS_CHAOS_SEED")) : 7;
    long max_backends = 0;
    for (int i = 0; i < 40; i++) {
        txscope_conn_t *c = th_connect(&d);
        int nctx = 1 + rand_r(&seed) % 3;
        for (int k = 0; k < 6; k++) {
            int ctx = rand_r(&seed) % nctx;
            switch (rand_r(&seed) % 5) {
            case 0:
                th_send(c, "{\"op\":\"begin\",\"ctx\":\"c%d\"}", ctx);
                break;
            case 1:
                th_send(c,
                        "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"insert into t_chaos values "
                        "(%d)\"}",
                        ctx, i);
                break;
            case 2: {
                char secs[8];
                snprintf(secs, sizeof secs, "0.0%d", rand_r(&seed) % 5);
                th_send(c, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\"}", ctx,
                        th_sleep_sql(secs));
                break;
            }
            case 3:
                th_send(c, "{\"op\":\"commit\",\"ctx\":\"c%d\"}", ctx);
                break;
            default: /* a statement that fails on either backend */
                th_send(c, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"select * from no_such\"}",
                        ctx);
                break;
            }
        }
        th_sleep_ms(rand_r(&seed) % 30);
        txscope_close(c);
        long n = th_side_backends(side, &d, TH_ALL);
        if (n > max_backends)
            max_backends = n;
    }
    ck_assert_msg(th_side_wait_no_backends(side, &d, TH_BUSY, 5000) >= 0,
                  "backends still busy or in a transaction");
    ck_assert_int_le(max_backends, 3);
    ck_assert_int_le(th_side_backends(side, &d, TH_ALL), 3);
    txscope_conn_t *c = th_connect(&d);
    long long t0 = th_now_ms();
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"after\",\"sql\":\"select count(*) from t_chaos\"}"),
        "after the chaos");
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_guarantee(void)
{
    Suite *s = suite_create("guarantee");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, close_with_open_transaction_rolls_back);
    TH_ADD_TEST(tc, killed_client_cancels_running_statement);
    TH_ADD_TEST(tc, end_rolls_back_and_releases);
    TH_ADD_TEST(tc, close_with_failed_transaction_returns_a_clean_connection);
    TH_ADD_TEST(tc, close_while_waiting_for_the_pool);
    TH_ADD_TEST(tc, clients_vanishing_at_random_moments);
    TH_ADD_TEST(tc, shutdown_rolls_back);
    return s;
}
