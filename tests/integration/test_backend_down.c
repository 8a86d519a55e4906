/* test_backend_down.c - the database stops under a running daemon and starts again:
 * requests are answered promptly (08001 / 08006) while it is down, none hangs, and the
 * pool comes back by itself. PostgreSQL only: the suite runs its own throwaway server
 * (tests/scripts/pg.sh), which it stops and starts as an operator would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_backend_down(void);

#define APP "txs_down" /* application_name of the daemon's connections */

static char tmp_dir[256], srv_dir[300];
static int srv_port;
static th_run_t run_res;

static void pg_sh(const char *cmd)
{
    const char *args[] = {cmd, srv_dir, NULL};
    th_run(&run_res, "tests/scripts/pg.sh", args, NULL, NULL);
    ck_assert_msg(run_res.status == 0, "pg.sh %s %s: %s", cmd, srv_dir, run_res.err);
}

/* Once per TCase (in the runner's process): a server of our own. */
static void server_start(void)
{
    const char *base = getenv("TXS_TEST_LOGDIR") ? getenv("TXS_TEST_LOGDIR") : "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s/txs_down_XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    ck_assert_int_eq(chmod(tmp_dir, 0755), 0);
    snprintf(srv_dir, sizeof srv_dir, "%s/db", tmp_dir);
    pg_sh("start");
    const char *p = strstr(run_res.out, "PGPORT=");
    ck_assert_ptr_nonnull(p);
    srv_port = atoi(p + 7);
    ck_assert_int_gt(srv_port, 0);
}

static void server_remove(void)
{
    pg_sh("stop");
    rmdir(tmp_dir);
}

/* The daemon's DSN for our server, as an env entry (later entries win over the
 * harness's). */
static const char *dsn_env(void)
{
    static char env[200];
    snprintf(
        env, sizeof env,
        "TXSCOPE_DB_MAIN_DSN=postgresql://postgres@127.0.0.1:%d/postgres?application_name=" APP,
        srv_port);
    return env;
}

static PGconn *own_pg(void)
{
    char dsn[128];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", srv_port);
    PGconn *pg = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "libpq: %s", PQerrorMessage(pg));
    return pg;
}

/* Per test: the server is up, even after a test that failed while it was halted. */
static void server_up(void)
{
    char dsn[128];
    snprintf(dsn, sizeof dsn, "host=127.0.0.1 port=%d user=postgres dbname=postgres", srv_port);
    PGconn *pg = PQconnectdb(dsn);
    bool up = PQstatus(pg) == CONNECTION_OK;
    PQfinish(pg);
    if (!up)
        pg_sh("resume");
}

/* Assert r is an error of the database being away, then free it. */
static void expect_unreachable(cJSON *r, const char *what)
{
    ck_assert_msg(r != NULL, "%s: no reply", what);
    const char *code = txscope_reply_code(r);
    ck_assert_msg(code && (strcmp(code, "08001") == 0 || strcmp(code, "08006") == 0),
                  "%s: expected 08001 or 08006, got %s", what, code ? code : "ok");
    cJSON_Delete(r);
}

START_TEST(stop_and_start_under_load)
{
    const char *env[] = {dsn_env(),
                         "TXSCOPE_DB_MAIN_POOL_SIZE=4",
                         "TXSCOPE_DB_MAIN_MIN_IDLE=1",
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s",
                         "TXSCOPE_DB_MAIN_CONNECT_TIMEOUT=1s",
                         NULL};
    PGconn *pg = own_pg();
    th_make_table(pg, "t_down");
    PQfinish(pg);
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    /* A transaction open, requests flowing. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"tx\",\"sql\":\"insert into t_down "
                            "values (1)\"}"),
                 "insert in the open transaction");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"flow\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "flowing");

    pg_sh("halt");

    long long t0 = th_now_ms();
    expect_unreachable(th_call(c, "{\"op\":\"query\",\"ctx\":\"tx\",\"sql\":\"select 1\"}"),
                       "the open transaction's next statement");
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    for (int i = 0; i < 6; i++) {
        t0 = th_now_ms();
        expect_unreachable(th_call(c, "{\"op\":\"query\",\"ctx\":\"flow\",\"sql\":\"select 1\","
                                      "\"autocommit\":true}"),
                           "a request while the server is down");
        ck_assert_int_lt(th_now_ms() - t0, 1000);
        th_sleep_ms(50);
    }
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"tx\"}"), "rollback of the lost one");
    ck_assert_int_eq(th_daemon_stat(&d, "main", "down"), 1);

    pg_sh("resume");

    /* The first request after the server is back succeeds: no operator action. */
    t0 = th_now_ms();
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"flow\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "the first request after the restart");
    ck_assert_int_lt(th_now_ms() - t0, 1500);
    /* The transaction that was open is gone with the old server. */
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"tx2\",\"sql\":\"select count(*) from "
                          "t_down\",\"autocommit\":true}");
    char *v = th_first_value(r);
    th_expect_ok(r, "count");
    ck_assert_str_eq(v, "0");
    free(v);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "down"), 0);
    ck_assert_int_ge(th_daemon_stat(&d, "main", "connect_failures"), 1);
    /* min_idle is back too, by itself. */
    pg = own_pg();
    ck_assert(
        th_wait_zero(pg,
                     "select count(*) < 1 from pg_stat_activity where application_name = '" APP "'",
                     3000) >= 0);
    PQfinish(pg);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Send n requests at once on n contexts; every reply is "unreachable" and comes well
 * before pool_timeout (5s). */
static void burst_unreachable(txscope_conn_t *c, int n, const char *what)
{
    int64_t ids[16];
    long long t0 = th_now_ms();
    for (int i = 0; i < n; i++)
        ids[i] = th_send(c, "{\"op\":\"query\",\"ctx\":\"w%d\",\"sql\":\"select 1\"}", i);
    for (int i = 0; i < n; i++)
        expect_unreachable(txscope_wait(c, ids[i], T_TIMEOUT), what);
    ck_assert_int_lt(th_now_ms() - t0, 1500);
}

START_TEST(waiters_answered_promptly_while_down)
{
    enum { N = 8 };
    const char *env[] = {dsn_env(),
                         "TXSCOPE_DB_MAIN_POOL_SIZE=4",
                         "TXSCOPE_DB_MAIN_MAX_OVERFLOW=2",
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s",
                         "TXSCOPE_DB_MAIN_CONNECT_TIMEOUT=1s",
                         NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"w0\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "warm-up");

    pg_sh("halt");

    /* More requests than the pool may hold: all answered at once, none waits out
     * pool_timeout. */
    burst_unreachable(c, N, "first burst while down");
    /* Down: one connect attempt answers every request waiting for it. */
    long long failures = th_daemon_stat(&d, "main", "connect_failures");
    burst_unreachable(c, N, "second burst while down");
    ck_assert_int_le(th_daemon_stat(&d, "main", "connect_failures") - failures, 2);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "waiters"), 0);

    pg_sh("resume");

    int64_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = th_send(c,
                         "{\"op\":\"query\",\"ctx\":\"w%d\",\"sql\":\"select 1\","
                         "\"autocommit\":true}",
                         i);
    for (int i = 0; i < N; i++)
        th_expect_ok(txscope_wait(c, ids[i], T_TIMEOUT), "after the restart");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_backend_down(void)
{
    Suite *s = suite_create("backend_down");
    TCase *tc = tcase_create("pg");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, server_start, server_remove);
    tcase_add_checked_fixture(tc, server_up, NULL);
    tcase_add_test(tc, stop_and_start_under_load);
    tcase_add_test(tc, waiters_answered_promptly_while_down);
    suite_add_tcase(s, tc);
    return s;
}
