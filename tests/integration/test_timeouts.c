/* test_timeouts.c - the timeouts that release what a session holds: query_timeout (57014,
 * the connection kept; a hung statement's connection closed), idle_in_transaction_timeout
 * and transaction_timeout (rolled back, 25P03 on the next request), session_idle_timeout
 * (the context forgotten), client_login_timeout and client_idle_timeout (the client
 * closed). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_timeouts(void);

static void expect_state(cJSON *r, const char *code, const char *state, const char *what)
{
    ck_assert_msg(r != NULL, "%s: no reply", what);
    const char *got = txscope_reply_tx_state(r);
    ck_assert_msg(got && strcmp(got, state) == 0, "%s: tx state %s, expected %s", what,
                  got ? got : "(none)", state);
    if (code)
        th_expect_code(r, code, what);
    else
        th_expect_ok(r, what);
}

static const char *insert_sql(const char *table, int id)
{
    static char sql[128];
    snprintf(sql, sizeof sql, "insert into %s values (%d)", table, id);
    return sql;
}

START_TEST(query_timeout_cancels_and_keeps_the_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_QUERY_TIMEOUT=200ms",
                         NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long before = th_backend_id(c, "a", false); /* autobegun: the transaction is open */

    long long t0 = th_now_ms();
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    long long took = th_now_ms() - t0;
    ck_assert_ptr_nonnull(strstr(txscope_reply_message(r), "query_timeout (200ms)"));
    expect_state(r, "57014", "failed", "sleep past query_timeout");
    ck_assert_msg(took < 1000, "57014 after %lld ms", took);
    expect_state(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), NULL, "idle", "rollback");

    /* An autocommit statement: cancelled, rolled back, the session idle. */
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\",\"autocommit\":true}",
                th_sleep_sql("5"));
    expect_state(r, "57014", "idle", "autocommit sleep past query_timeout");

    /* The one connection was kept through both: the next transaction is on it. */
    ck_assert_int_eq(th_backend_id(c, "b", false), before);
    /* A statement within the limit is untouched. */
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"%s\"}", th_sleep_sql("0.05")),
        "short sleep");
    ck_assert_int_eq(th_daemon_stat(&d, "main", "timeouts_query"), 2);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "closed"), 0);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A statement that does not stop when cancelled (its backend process is stopped, as a hung
 * or unreachable server looks): two seconds after the cancel the connection is closed, the
 * request hears 08006, and the next transaction gets a new connection. PostgreSQL only:
 * a MariaDB connection is a thread, not a process that can be stopped. */
START_TEST(statement_that_ignores_its_cancel_loses_its_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_QUERY_TIMEOUT=200ms",
                         NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_id(c, "a", false);
    int64_t id = th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select pg_sleep(30)\"}");
    th_sleep_ms(50); /* the statement is on its way; stop the process that runs it */
    ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
    long long t0 = th_now_ms();
    cJSON *r = txscope_wait(c, id, 10000);
    long long took = th_now_ms() - t0;
    kill((pid_t)pid, SIGCONT);
    PGconn *pg = th_pg();
    char sql[160];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%ld)", pid);
    PQclear(PQexec(pg, sql)); /* it may have gone by itself, seeing its socket closed */
    snprintf(sql, sizeof sql, "select count(*) from pg_stat_activity where pid = %ld", pid);
    ck_assert_int_ge(th_wait_zero(pg, sql, 5000), 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(strstr(txscope_reply_message(r), "did not stop"));
    expect_state(r, "08006", "failed", "hung statement");
    ck_assert_msg(took >= 1800 && took < 4000, "08006 after %lld ms", took);
    expect_state(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), NULL, "idle", "rollback");
    ck_assert_int_ne(th_backend_id(c, "b", true), pid);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "closed_cancel_failed"), 1);
    PQfinish(pg);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(idle_in_transaction_timeout_rolls_back_and_frees_the_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1",
                         "TXSCOPE_DB_MAIN_IDLE_IN_TRANSACTION_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_to1");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to1", 1)),
        "insert");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 1);

    /* a goes quiet: within the timeout (and a poll's slack) its transaction is gone ... */
    long long waited = th_side_wait_no_backends(side, &d, TH_IN_TX, 3000);
    ck_assert_msg(waited >= 0, "the transaction is still open on the server");
    ck_assert_int_eq(th_side_count_rows(side, "t_to1"), 0);
    /* ... and the pool's only connection serves another session meanwhile. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\"}"), "b");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "b commit");

    /* status tells the truth without using up the report ... */
    expect_state(th_call(c, "{\"op\":\"status\",\"ctx\":\"a\"}"), NULL, "idle", "status");
    /* ... the next request hears 25P03, and the session goes on, idle. */
    cJSON *r =
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to1", 2));
    ck_assert_ptr_nonnull(strstr(txscope_reply_message(r), "idle_in_transaction_timeout"));
    expect_state(r, "25P03", "idle", "after the timeout");
    r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"a\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "outcome")->valuestring, "rolled_back");
    cJSON_Delete(r);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to1", 3)),
        "a again");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "a commit");
    ck_assert_int_eq(th_side_count_rows(side, "t_to1"), 1);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "timeouts_idle_in_transaction"), 1);
    th_side_close(side);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* After such a timeout, rollback (what an app's error handling sends) is simply done. */
START_TEST(rollback_after_a_timeout_is_ok)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_IDLE_IN_TRANSACTION_TIMEOUT=200ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_to5");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to5", 1)),
        "insert");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 1);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_IN_TX, 3000), 0);
    expect_state(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), NULL, "idle", "rollback");
    /* Heard once: nothing is left to report. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "again");
    th_side_close(side);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(transaction_timeout_rolls_back_an_idle_transaction)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_TRANSACTION_TIMEOUT=400ms",
                         "TXSCOPE_DB_MAIN_IDLE_IN_TRANSACTION_TIMEOUT=0", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_to2");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"a\"}"), "begin");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to2", 1)),
        "insert");
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_IN_TX, 3000), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_to2"), 0);
    cJSON *r = th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}");
    ck_assert_ptr_nonnull(strstr(txscope_reply_message(r), "transaction_timeout (400ms)"));
    expect_state(r, "25P03", "idle", "commit after transaction_timeout");
    ck_assert_int_eq(th_side_count_rows(side, "t_to2"), 0);
    th_side_close(side);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(transaction_timeout_cancels_a_running_statement)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_TRANSACTION_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_to3");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to3", 1)),
        "insert");
    long long t0 = th_now_ms();
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    long long took = th_now_ms() - t0;
    expect_state(r, "25P03", "idle", "sleep past transaction_timeout");
    ck_assert_msg(took < 1500, "25P03 after %lld ms", took);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, 2000), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_to3"), 0);
    /* The next transaction has its own clock. */
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to3", 2)),
        "insert again");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit");
    ck_assert_int_eq(th_side_count_rows(side, "t_to3"), 1);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "timeouts_transaction"), 1);
    th_side_close(side);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A context nobody ended stops counting against max_sessions_per_client once idle, and
 * its next request starts afresh (here: bound to another db). */
START_TEST(session_idle_timeout_forgets_the_context)
{
    char other_dsn[512];
    snprintf(other_dsn, sizeof other_dsn, "TXSCOPE_DB_OTHER_DSN=%s", th_dsn());
    const char *env[] = {
        "TXSCOPE_MAX_SESSIONS_PER_CLIENT=1", "TXSCOPE_DB_MAIN_SESSION_IDLE_TIMEOUT=200ms",
        other_dsn, TH_PICK("TXSCOPE_DB_OTHER_DRIVER=postgresql", "TXSCOPE_DB_OTHER_DRIVER=mysql"),
        NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "a");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\"}"), "53300",
                   "b while a is remembered");
    th_expect_code(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"db\":\"other\",\"sql\":\"select 1\"}"),
        "25001", "a is bound to main");
    long long t0 = th_now_ms();
    cJSON *r;
    for (;;) {
        r = th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\",\"autocommit\":true}");
        if (txscope_reply_ok(r))
            break;
        ck_assert_str_eq(txscope_reply_code(r), "53300");
        cJSON_Delete(r);
        ck_assert_msg(th_now_ms() - t0 < 2000, "a was never forgotten");
        th_sleep_ms(20);
    }
    cJSON_Delete(r);
    ck_assert_msg(th_now_ms() - t0 >= 100, "a forgotten before session_idle_timeout");
    th_sleep_ms(400); /* b is forgotten too: a may come back, bound to the other db */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"db\":\"other\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "a afresh on other");
    ck_assert_int_ge(th_daemon_stat(&d, "main", "timeouts_session_idle"), 2);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Read from a raw socket until the daemon closes it; the ms it took, or -1 after ms. */
static long long wait_closed(int fd, int ms)
{
    long long t0 = th_now_ms();
    struct timeval tv = {.tv_sec = 0, .tv_usec = 50000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    while (th_now_ms() - t0 < ms) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0)
            return th_now_ms() - t0;
    }
    return -1;
}

START_TEST(client_login_timeout_closes_a_silent_connection)
{
    const char *env[] = {"TXSCOPE_CLIENT_LOGIN_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    int silent = th_raw_connect(&d);
    int partial = th_raw_connect(&d);
    ck_assert_int_eq(send(partial, "{\"op\":\"pi", 9, 0), 9); /* never a whole line */
    txscope_conn_t *talker = th_connect(&d);
    ck_assert_int_eq(txscope_ping(talker, T_TIMEOUT), 0);

    long long took = wait_closed(silent, 3000);
    ck_assert_msg(took >= 200 && took < 1500, "silent client closed after %lld ms", took);
    ck_assert_int_ge(wait_closed(partial, 1500), 0);
    th_sleep_ms(200); /* well past the timeout: a client that spoke stays */
    ck_assert_int_eq(txscope_ping(talker, T_TIMEOUT), 0);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "timeouts_client_login"), 2);
    close(silent);
    close(partial);
    txscope_close(talker);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(client_login_timeout_waits_for_hello_with_tokens)
{
    const char *env[] = {"TXSCOPE_CLIENT_LOGIN_TIMEOUT=300ms", "TXSCOPE_AUTH_TOKEN=s3cret", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *late = th_connect(&d);
    txscope_conn_t *prompt = th_connect(&d);
    ck_assert_int_eq(txscope_hello(prompt, "s3cret", T_TIMEOUT), 0);
    th_sleep_ms(600);
    ck_assert_int_ne(txscope_hello(late, "s3cret", T_TIMEOUT), 0); /* closed meanwhile */
    ck_assert_int_eq(txscope_ping(prompt, T_TIMEOUT), 0);
    txscope_close(late);
    txscope_close(prompt);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(client_idle_timeout_closes_an_idle_client_and_rolls_back)
{
    const char *env[] = {"TXSCOPE_CLIENT_IDLE_TIMEOUT=400ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_to4");
    txscope_conn_t *idle = th_connect(&d);
    th_expect_ok(
        th_call(idle, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", insert_sql("t_to4", 1)),
        "insert");
    /* A client waiting for a statement longer than the timeout is not idle. */
    txscope_conn_t *busy = th_connect(&d);
    th_expect_ok(
        th_call(busy, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"%s\"}", th_sleep_sql("0.8")),
        "a statement longer than client_idle_timeout");
    ck_assert_int_eq(txscope_ping(busy, T_TIMEOUT), 0);
    txscope_close(busy); /* before it idles out too */

    /* The idle one was closed, and its transaction rolled back. */
    ck_assert_int_ne(txscope_ping(idle, T_TIMEOUT), 0);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_IN_TX, 2000), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_to4"), 0);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "timeouts_client_idle"), 1);
    th_side_close(side);
    txscope_close(idle);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_timeouts(void)
{
    Suite *s = suite_create("timeouts");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, query_timeout_cancels_and_keeps_the_connection);
    tcase_add_test(tc[TH_PG], statement_that_ignores_its_cancel_loses_its_connection);
    TH_ADD_TEST(tc, idle_in_transaction_timeout_rolls_back_and_frees_the_connection);
    TH_ADD_TEST(tc, rollback_after_a_timeout_is_ok);
    TH_ADD_TEST(tc, transaction_timeout_rolls_back_an_idle_transaction);
    TH_ADD_TEST(tc, transaction_timeout_cancels_a_running_statement);
    TH_ADD_TEST(tc, session_idle_timeout_forgets_the_context);
    /* The client timeouts do not depend on the backend: once is enough. */
    tcase_add_test(tc[TH_PG], client_login_timeout_closes_a_silent_connection);
    tcase_add_test(tc[TH_PG], client_login_timeout_waits_for_hello_with_tokens);
    TH_ADD_TEST(tc, client_idle_timeout_closes_an_idle_client_and_rolls_back);
    return s;
}
