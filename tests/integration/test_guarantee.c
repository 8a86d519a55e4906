/* test_guarantee.c - the rollback guarantee: a client that goes away, by close or by
 * death, leaves no transaction, no lock and no busy backend behind. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_guarantee(void);

/* The row lock an open transaction holds would make this insert wait; lock_timeout
 * turns that wait into an error. */
static void assert_key_free(PGconn *pg, const char *table, int key)
{
    char sql[200];
    snprintf(sql, sizeof sql, "set lock_timeout = '2s'; insert into %s values (%d)", table, key);
    th_pg_exec(pg, sql);
}

START_TEST(close_with_open_transaction_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_g1; create table t_g1(id int primary key)");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"insert into t_g1 values (1), (2)\"}"),
        "insert");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"y\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "other");
    long before = th_daemon_backends(pg, &d, NULL);
    ck_assert_int_ge(before, 1);
    ck_assert_int_eq(th_daemon_backends(pg, &d, "state = 'idle in transaction'"), 1);

    txscope_close(c);
    ck_assert_int_ge(th_wait_no_backends(pg, &d, "state like 'idle in transaction%'", 2000), 0);
    assert_key_free(pg, "t_g1", 1);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_g1"), 1); /* only ours */
    ck_assert_int_le(th_daemon_backends(pg, &d, NULL), before);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(killed_client_cancels_running_statement)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_g2; create table t_g2(id int primary key)");
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        txscope_conn_t *c = th_connect(&d);
        cJSON *r =
            th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_g2 values (7)\"}");
        if (!txscope_reply_ok(r))
            _exit(3);
        th_send(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select pg_sleep(10)\"}");
        pause();
        _exit(0);
    }
    const char *running = "state = 'active' and query like '%pg_sleep(10)%'";
    long long t0 = th_now_ms();
    while (th_daemon_backends(pg, &d, running) == 0) {
        ck_assert_msg(th_now_ms() - t0 < 5000, "the statement never started");
        th_sleep_ms(10);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long long took = th_wait_no_backends(pg, &d, running, 5000);
    ck_assert_msg(took >= 0 && took < 1000, "statement still running %lld ms after the kill", took);
    ck_assert_int_ge(th_wait_no_backends(pg, &d, "state <> 'idle'", 2000), 0);
    assert_key_free(pg, "t_g2", 7);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(end_rolls_back_and_releases)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_g3; create table t_g3(id int primary key)");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"e\"}"), "begin");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"insert into t_g3 values (5)\"}"),
        "insert");
    cJSON *r = th_call(c, "{\"op\":\"end\",\"ctx\":\"e\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "end");
    assert_key_free(pg, "t_g3", 5);
    /* The single connection went back: another context gets it at once. */
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "reuse");
    txscope_close(c);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* SIGTERM with a transaction open: rolled back, daemon exits 0. */
START_TEST(shutdown_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_g4; create table t_g4(id int primary key)");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_g4 values (9)\"}"),
        "insert");
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    assert_key_free(pg, "t_g4", 9);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_g4"), 1);
    txscope_close(c);
    PQfinish(pg);
}
END_TEST

/* A failed transaction (INERROR on the backend) is rolled back the same way, and the
 * one pooled connection serves the next client, clean. */
START_TEST(close_with_failed_transaction_returns_a_clean_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_pid(c, "x", false);
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"select 1/0\"}"), "22012",
                   "fail");
    PGconn *pg = th_pg();
    char sql[160];
    snprintf(sql, sizeof sql,
             "select count(*) from pg_stat_activity where pid = %ld and state <> 'idle'", pid);
    ck_assert_int_eq(th_pg_long(pg, sql), 1); /* idle in transaction (aborted) */
    txscope_close(c);
    ck_assert_int_ge(th_wait_zero(pg, sql, 2000), 0);
    c = th_connect(&d);
    ck_assert_int_eq(th_backend_pid(c, "y", true), pid); /* the same backend, reused */
    PQfinish(pg);
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
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_chaos; create table t_chaos(n int)");
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
            case 2:
                th_send(c, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"select pg_sleep(0.0%d)\"}",
                        ctx, rand_r(&seed) % 5);
                break;
            case 3:
                th_send(c, "{\"op\":\"commit\",\"ctx\":\"c%d\"}", ctx);
                break;
            default:
                th_send(c, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"select 1/0\"}", ctx);
                break;
            }
        }
        th_sleep_ms(rand_r(&seed) % 30);
        txscope_close(c);
        long n = th_daemon_backends(pg, &d, NULL);
        if (n > max_backends)
            max_backends = n;
    }
    ck_assert_msg(th_wait_no_backends(pg, &d, "state <> 'idle'", 5000) >= 0,
                  "backends still busy or in a transaction");
    ck_assert_int_le(max_backends, 3);
    ck_assert_int_le(th_daemon_backends(pg, &d, NULL), 3);
    txscope_conn_t *c = th_connect(&d);
    long long t0 = th_now_ms();
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"after\",\"sql\":\"select count(*) from t_chaos\"}"),
        "after the chaos");
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    txscope_close(c);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_guarantee(void)
{
    Suite *s = suite_create("guarantee");
    TCase *tc = tcase_create("guarantee");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, close_with_open_transaction_rolls_back);
    tcase_add_test(tc, killed_client_cancels_running_statement);
    tcase_add_test(tc, end_rolls_back_and_releases);
    tcase_add_test(tc, close_with_failed_transaction_returns_a_clean_connection);
    tcase_add_test(tc, close_while_waiting_for_the_pool);
    tcase_add_test(tc, clients_vanishing_at_random_moments);
    tcase_add_test(tc, shutdown_rolls_back);
    suite_add_tcase(s, tc);
    return s;
}
