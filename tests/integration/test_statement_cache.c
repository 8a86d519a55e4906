/* test_statement_cache.c - the PostgreSQL statement cache through the daemon: repeated
 * statements give the same replies, and nothing of one session's shows in the next. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_statement_cache(void);

/* One backend connection: every request of every session runs on it. */
static const char *const one_backend[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};

static const char *const Q = "select id, v from t_sc where id >= $1 and id <= $2 order by id";

/* The reply's fields and rows for Q from lo to hi (rows of t_sc: id, 'v' || id). */
static const char *q_want(int lo, int hi)
{
    static char want[512];
    int len = snprintf(want, sizeof want,
                       "\"fields\":[{\"name\":\"id\",\"type\":\"int4\"},{\"name\":\"v\","
                       "\"type\":\"text\"}],\"rows\":[");
    for (int i = lo; i <= hi; i++)
        len += snprintf(want + len, sizeof want - (size_t)len, "%s[%d,\"v%d\"]", i > lo ? "," : "",
                        i, i);
    snprintf(want + len, sizeof want - (size_t)len, "]");
    return want;
}

/* Run Q in ctx (autocommit or not) and check its reply: the rows, and the tx state. */
static void run_q(txscope_conn_t *c, const char *ctx, bool autocommit, int lo, int hi,
                  const char *state)
{
    cJSON *r = th_call(c,
                       "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\",\"params\":[%d,\"%d\"],"
                       "\"autocommit\":%s}",
                       ctx, Q, lo, hi, autocommit ? "true" : "false");
    ck_assert_msg(txscope_reply_ok(r), "Q %d..%d: %s", lo, hi, txscope_last_line(c));
    char want[600];
    snprintf(want, sizeof want, "\"command\":\"SELECT\",\"rowCount\":%d,%s", hi - lo + 1,
             q_want(lo, hi));
    ck_assert_msg(strstr(txscope_last_line(c), want), "Q %d..%d: got %s, want %s", lo, hi,
                  txscope_last_line(c), want);
    ck_assert_str_eq(txscope_reply_tx_state(r), state);
    cJSON_Delete(r);
}

/* A count query run in ctx with autocommit, its one parameter (or none) as JSON. */
static long count(txscope_conn_t *c, const char *ctx, const char *sql, const char *param)
{
    cJSON *r;
    if (param)
        r = th_call(c,
                    "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\",\"params\":[%s],"
                    "\"autocommit\":true}",
                    ctx, sql, param);
    else
        r = th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\",\"autocommit\":true}", ctx,
                    sql);
    ck_assert_msg(txscope_reply_ok(r), "%s: %s", sql, txscope_last_line(c));
    char *v = th_first_value(r);
    ck_assert_ptr_nonnull(v);
    long n = atol(v);
    free(v);
    cJSON_Delete(r);
    return n;
}

/* How many statements of Q's text the backend holds (the protocol's: from_sql false). */
static long q_prepared(txscope_conn_t *c, const char *ctx)
{
    char param[256];
    snprintf(param, sizeof param, "\"%s\"", Q);
    return count(
        c, ctx, "select count(*) from pg_prepared_statements where statement = $1 and not from_sql",
        param);
}

static void make_tables(void)
{
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_sc; create table t_sc(id int primary key, v text); "
                       "insert into t_sc select g, 'v' || g from generate_series(1, 9) g");
    th_side_close(side);
}

START_TEST(autocommit_query_repeated_with_other_params)
{
    make_tables();
    th_daemon_t d;
    th_daemon_start(&d, one_backend);
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_id(c, "a", true);
    for (int i = 1; i <= 5; i++)
        run_q(c, "a", true, i, i + i % 3, "idle");
    ck_assert_int_eq(q_prepared(c, "a"), 1); /* the cache was used: once, on the backend */
    for (int i = 5; i >= 1; i--)             /* and from other sessions */
        run_q(c, i % 2 ? "b" : "c", true, i, 9, "idle");
    ck_assert_int_eq(th_backend_id(c, "c", true), pid);
    ck_assert_int_eq(q_prepared(c, "c"), 1);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(query_repeated_in_transactions)
{
    make_tables();
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_sc2; create table t_sc2(id int primary key)");
    th_daemon_t d;
    th_daemon_start(&d, one_backend);
    txscope_conn_t *c = th_connect(&d);
    for (int round = 0; round < 3; round++) {
        /* begin, then the statements */
        th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"t\"}"), "begin");
        for (int i = 1; i <= 5; i++) {
            run_q(c, "t", false, i, 9 - i, "open");
            th_expect_ok(th_call(c,
                                 "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"insert into t_sc2 "
                                 "values ($1)\",\"params\":[%d]}",
                                 round * 10 + i),
                         "insert");
        }
        th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"t\"}"), "commit");
        /* autobegin: the transaction's first statement goes with its BEGIN */
        run_q(c, "u", false, round + 1, round + 2, "open");
        run_q(c, "u", false, round + 3, round + 3, "open");
        th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"u\"}"), "rollback");
        /* a batch of its own, with the statement twice */
        cJSON *r = th_call(c,
                           "{\"op\":\"batch\",\"ctx\":\"v\",\"statements\":[{\"sql\":\"%s\","
                           "\"params\":[1,2]},{\"sql\":\"%s\",\"params\":[%d,%d]}]}",
                           Q, Q, round + 4, round + 4);
        ck_assert_msg(txscope_reply_ok(r), "batch: %s", txscope_last_line(c));
        const cJSON *results = cJSON_GetObjectItem(r, "results");
        ck_assert_int_eq(cJSON_GetArraySize(results), 2);
        char *r1 = cJSON_PrintUnformatted(cJSON_GetArrayItem(results, 1));
        char want[300];
        snprintf(want, sizeof want, "%s", q_want(round + 4, round + 4));
        ck_assert_msg(strstr(r1, want), "got %s, want %s", r1, want);
        free(r1);
        cJSON_Delete(r);
    }
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_sc2"), 15);
    ck_assert_int_eq(q_prepared(c, "w"), 1);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

static const char *const FROM_SQL = "select count(*) from pg_prepared_statements where from_sql";

/* Sessions in sequence on the one backend: each finds none of the earlier ones' own
 * prepared statements (SQL PREPARE), and the driver's statements serve each alike. */
START_TEST(next_session_sees_no_user_statement)
{
    make_tables();
    th_daemon_t d;
    th_daemon_start(&d, one_backend);

    /* A runs Q (prepared), nothing else: its release is clean, Q stays prepared */
    txscope_conn_t *a = th_connect(&d);
    long pid = th_backend_id(a, "A", true);
    for (int i = 0; i < 3; i++)
        run_q(a, "A", true, 2, 4, "idle");
    th_expect_ok(th_call(a, "{\"op\":\"end\",\"ctx\":\"A\"}"), "end");
    txscope_close(a);
    txscope_conn_t *b = th_connect(&d);
    ck_assert_int_eq(th_backend_id(b, "B", true), pid);
    ck_assert_int_eq(count(b, "B", FROM_SQL, NULL), 0);
    ck_assert_int_eq(q_prepared(b, "B"), 1);
    for (int i = 0; i < 3; i++)
        run_q(b, "B", true, 3, 5 + i, "idle");
    ck_assert_int_eq(q_prepared(b, "B"), 1);

    /* C prepares a statement of its own, in a transaction that also runs Q */
    txscope_conn_t *cc = th_connect(&d);
    th_expect_ok(th_call(cc, "{\"op\":\"begin\",\"ctx\":\"C\"}"), "begin");
    run_q(cc, "C", false, 1, 1, "open");
    th_expect_ok(th_call(cc, "{\"op\":\"query\",\"ctx\":\"C\",\"sql\":\"prepare c_own as "
                             "select 1\"}"),
                 "prepare");
    cJSON *r = th_call(cc, "{\"op\":\"query\",\"ctx\":\"C\",\"sql\":\"%s\"}", FROM_SQL);
    char *n = th_first_value(r);
    ck_assert_msg(n && strcmp(n, "1") == 0, "%s", txscope_last_line(cc));
    free(n);
    cJSON_Delete(r);
    th_expect_ok(th_call(cc, "{\"op\":\"commit\",\"ctx\":\"C\"}"), "commit");
    th_expect_ok(th_call(cc, "{\"op\":\"end\",\"ctx\":\"C\"}"), "end");
    txscope_close(cc);

    /* D, on another client connection like B: C's statement is gone, Q still works */
    ck_assert_int_eq(th_backend_id(b, "D", true), pid);
    ck_assert_int_eq(count(b, "D", FROM_SQL, NULL), 0);
    for (int i = 0; i < 3; i++)
        run_q(b, "D", true, 1, 2 + i, "idle");
    ck_assert_int_eq(q_prepared(b, "D"), 1);
    txscope_close(b);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A table changed between two sessions (a migration, say): the next session's query gets
 * the rows it would get from PostgreSQL directly, not an error made by a statement an
 * earlier session's use prepared. */
START_TEST(table_changed_between_sessions)
{
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_sc3; create table t_sc3(a int); "
                       "insert into t_sc3 values (1)");
    th_daemon_t d;
    th_daemon_start(&d, one_backend);
    txscope_conn_t *c = th_connect(&d);
    for (int i = 0; i < 3; i++)
        th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"A\",\"sql\":\"select * from t_sc3\","
                                "\"autocommit\":true}"),
                     "A's select");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"A\"}"), "end");
    th_side_exec(side, "alter table t_sc3 add column b int");
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"B\",\"sql\":\"select * from t_sc3\","
                          "\"autocommit\":true}");
    ck_assert_msg(txscope_reply_ok(r), "B's select: %s", txscope_last_line(c));
    ck_assert_msg(strstr(txscope_last_line(c), "\"fields\":[{\"name\":\"a\",\"type\":\"int4\"},"
                                               "{\"name\":\"b\",\"type\":\"int4\"}],"
                                               "\"rows\":[[1,null]]"),
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_statement_cache(void)
{
    Suite *s = suite_create("statement_cache");
    TCase *tc = tcase_create("pg"); /* the cache is the PostgreSQL driver's */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, autocommit_query_repeated_with_other_params);
    tcase_add_test(tc, query_repeated_in_transactions);
    tcase_add_test(tc, next_session_sees_no_user_statement);
    tcase_add_test(tc, table_changed_between_sessions);
    suite_add_tcase(s, tc);
    return s;
}
