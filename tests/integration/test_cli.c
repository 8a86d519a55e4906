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
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_cli; create table t_cli(id int primary key)");
    th_run_t r;
    const char *ok[] = {"-a", d.addr,
                        "-c", "cli-1",
                        "-e", "insert into t_cli values (1)",
                        "-e", "select count(*) as n from t_cli",
                        NULL};
    run_cli(&r, NULL, ok);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_msg(strstr(r.out, "INSERT 1") && strstr(r.out, "(1 row)"), "output: %s", r.out);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_cli"), 1);

    const char *bad[] = {"-a", d.addr,       "-e", "insert into t_cli values (2)",
                         "-e", "select 1/0", NULL};
    run_cli(&r, NULL, bad);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "22012") && strstr(r.err, "division by zero"), "stderr: %s", r.err);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_cli"), 1);

    const char *json[] = {"-a", d.addr, "--json", "-e", "select 7 as x", NULL};
    run_cli(&r, NULL, json);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "\"rows\":[[7]]"), "json: %s", r.out);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(script_on_stdin_ends_uncommitted_work)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_cli2; create table t_cli2(id int primary key)");
    th_run_t r;
    const char *args[] = {"-a", d.addr, "-c", "script", NULL};
    run_cli(&r, "insert into t_cli2 values (1);\ninsert into t_cli2\n values (2);\n", args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_cli2"), 0); /* never committed */
    run_cli(&r,
            "insert into t_cli2 values (3);\ncommit;\nbegin;\ninsert into t_cli2 values "
            "(4);\nrollback;\n",
            args);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_cli2"), 1);
    ck_assert_int_eq(th_pg_long(pg, "select id from t_cli2"), 3);
    PQfinish(pg);
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
           "begin;\nselect 41 + 1 as answer;\nselect 1/0;\n\\status\nrollback;\n\\q\n");
    ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
    ck_assert_msg(strstr(r.out, "txscope:tty*> select 41 + 1"), "open prompt: %s", r.out);
    ck_assert_msg(strstr(r.out, "42"), "result: %s", r.out);
    ck_assert_msg(strstr(r.out, "22012 division by zero"), "error: %s", r.out);
    ck_assert_msg(strstr(r.out, "txscope:tty!> \\status"), "failed prompt: %s", r.out);
    ck_assert_msg(strstr(r.out, "tty: failed (depth 1)"), "status: %s", r.out);
    ck_assert_msg(strstr(r.out, "txscope:tty> \\q"), "idle prompt after rollback: %s", r.out);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_cli(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, execute_commits_or_rolls_back);
    tcase_add_test(tc, script_on_stdin_ends_uncommitted_work);
    tcase_add_test(tc, ping_tells_whether_the_daemon_answers);
    tcase_add_test(tc, interactive_prompt_follows_the_transaction);
    suite_add_tcase(s, tc);
    return s;
}
