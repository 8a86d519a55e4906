/* test_cli.c - the txscope command against the real daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_cli(void);

static void run_cli(th_run_t *res, const char *in, const char *const *args)
{
    th_run(res, getenv("TXS_CLI") ? getenv("TXS_CLI") : "build/asan/bin/txscope", args, NULL, in);
}

START_TEST(execute_commits_or_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_cli");
    th_run_t r;
    const char *ok[] = {"-a", d.addr,
                        "-c", "cli-1",
                        "-e", "insert into t_cli values (1)",
                        "-e", "select count(*) as n from t_cli",
                        NULL};
    run_cli(&r, NULL, ok);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "INSERT 1") && strstr(r.out, "(1 row)"), "output: %s", r.out);
    ck_assert_int_eq(th_side_count_rows(side, "t_cli"), 1);

    /* The second statement fails (a duplicate key): the first is rolled back. */
    const char *bad[] = {
        "-a", d.addr, "-e", "insert into t_cli values (2)", "-e", "insert into t_cli values (1)",
        NULL};
    run_cli(&r, NULL, bad);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, TH_PICK("23505", "23000")) &&
                      strstr(r.err, TH_PICK("duplicate key value", "Duplicate entry '1'")),
                  "stderr: %s", r.err);
    ck_assert_int_eq(th_side_count_rows(side, "t_cli"), 1);

    const char *json[] = {"-a", d.addr, "--json", "-e", "select 7 as x", NULL};
    run_cli(&r, NULL, json);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\"rows\":[[7]]"), "json: %s", r.out);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(script_on_stdin_ends_uncommitted_work)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_cli2");
    th_run_t r;
    const char *args[] = {"-a", d.addr, "-c", "script", NULL};
    run_cli(&r, "insert into t_cli2 values (1);\ninsert into t_cli2\n values (2);\n", args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(th_side_count_rows(side, "t_cli2"), 0); /* never committed */
    run_cli(&r,
            "insert into t_cli2 values (3);\ncommit;\nbegin;\ninsert into t_cli2 values "
            "(4);\nrollback;\n",
            args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(th_side_count_rows(side, "t_cli2"), 1);
    ck_assert_int_eq(th_side_long(side, "select id from t_cli2"), 3);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A session whose user thinks before the first statement outlives client_login_timeout:
 * the CLI says something as soon as it connects. */
START_TEST(slow_first_statement_outlives_the_login_timeout)
{
    const char *env[] = {"TXSCOPE_CLIENT_LOGIN_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "(sleep 0.8; echo 'select 41 + 1 as answer;') | %s -a %s",
             getenv("TXS_CLI") ? getenv("TXS_CLI") : "build/asan/bin/txscope", d.addr);
    const char *args[] = {"-c", cmd, NULL};
    th_run_t r;
    th_run(&r, "/bin/sh", args, NULL, NULL);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "42"), "output: %s", r.out);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(ping_tells_whether_the_daemon_answers)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_run_t r;
    const char *args[] = {"ping", "-a", d.addr, NULL};
    run_cli(&r, NULL, args);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "ok"), "%s", r.out);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    run_cli(&r, NULL, args); /* nobody listens there any more */
    ck_assert_int_eq(r.status, 1);
}
END_TEST

/* At a terminal (a pty from script(1)): libedit reads the lines, and the prompt shows
 * the context's transaction state. */
START_TEST(interactive_prompt_follows_the_transaction)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -a %s -c tty",
             getenv("TXS_CLI") ? getenv("TXS_CLI") : "build/asan/bin/txscope", d.addr);
    const char *args[] = {"-q", "-e", "-c", cmd, "/dev/null", NULL};
    th_run_t r;
    th_run(&r, "/usr/bin/script", args, NULL,
           "begin;\nselect 41 + 1 as answer;\nselect * from no_such_table;\n\\status\nrollback;\n"
           "\\q\n");
    ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
    ck_assert_msg(strstr(r.out, "txscope:tty*> select 41 + 1"), "open prompt: %s", r.out);
    ck_assert_msg(strstr(r.out, "42"), "result: %s", r.out);
    char error[128];
    if (th_backend == TH_PG)
        snprintf(error, sizeof error, "42P01 relation \"no_such_table\" does not exist");
    else
        snprintf(error, sizeof error, "42S02 Table 'txs_%d.no_such_table' doesn't exist", d.port);
    ck_assert_msg(strstr(r.out, error), "error: %s", r.out);
    ck_assert_msg(strstr(r.out, "txscope:tty!> \\status"), "failed prompt: %s", r.out);
    ck_assert_msg(strstr(r.out, "tty: failed (depth 1)"), "status: %s", r.out);
    ck_assert_msg(strstr(r.out, "txscope:tty> \\q"), "idle prompt after rollback: %s", r.out);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, execute_commits_or_rolls_back);
    TH_ADD_TEST(tc, script_on_stdin_ends_uncommitted_work);
    TH_ADD_TEST(tc, ping_tells_whether_the_daemon_answers);
    tcase_add_test(tc[TH_PG], slow_first_statement_outlives_the_login_timeout);
    TH_ADD_TEST(tc, interactive_prompt_follows_the_transaction);
    return s;
}
