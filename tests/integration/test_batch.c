/* test_batch.c - the batch op on PostgreSQL and MySQL: its own transaction or joining one,
 * results in order, the failing statement's index, and one round trip on PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_batch(void);

/* The SQLSTATE of a duplicate key. */
#define DUP_KEY TH_PICK("23505", "23000")

/* A batch request of n inserts into t, ids first..first+n-1, except that statement
 * `dup_at` (-1: none) inserts `first` again. */
static char *inserts(const char *ctx, const char *t, int first, int n, int dup_at)
{
    size_t cap = 200 + (size_t)n * 80, len = 0;
    char *buf = malloc(cap);
    len += (size_t)snprintf(buf + len, cap - len,
                            "{\"op\":\"batch\",\"ctx\":\"%s\",\"statements\":[", ctx);
    char sql[80];
    snprintf(sql, sizeof sql, "insert into %s values (?)", t);
    const char *stmt = th_sql(sql);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s{\"sql\":\"%s\",\"params\":[%d]}",
                                i ? "," : "", stmt, i == dup_at ? first : first + i);
    snprintf(buf + len, cap - len, "]}");
    return buf;
}

static const cJSON *result_at(const cJSON *r, int i)
{
    const cJSON *results = cJSON_GetObjectItem(r, "results");
    ck_assert_msg(cJSON_IsArray(results), "no results array");
    return cJSON_GetArrayItem(results, i);
}

/* Poll until the statement `sql` runs on the server. */
static void wait_running(th_side_t *side, const char *sql)
{
    char q[300];
    snprintf(q, sizeof q,
             TH_PICK("select 1 - count(*) from pg_stat_activity where query = '%s' and state = "
                     "'active'",
                     "select 1 - count(*) from information_schema.processlist where info = '%s' "
                     "and command in ('Query', 'Execute')"),
             sql);
    ck_assert_msg(th_side_wait_zero(side, q, T_TIMEOUT) >= 0, "%s never showed as running", sql);
}

/* A batch with nothing open is its own transaction: committed when all succeed, and
 * each statement's result comes back in order. */
START_TEST(batch_is_its_own_transaction)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_b1");
    txscope_conn_t *c = th_connect(&d);

    cJSON *r = th_call(c,
                       "{\"op\":\"batch\",\"ctx\":\"b\",\"id\":\"x\",\"statements\":["
                       "{\"sql\":\"%s\",\"params\":[1,2]},"
                       "{\"sql\":\"insert into t_b1 values (3)\"},"
                       "{\"sql\":\"%s\",\"params\":[\"é\"]}]}",
                       th_sql("insert into t_b1 values (?), (?)"),
                       TH_PICK("select count(*) as n, $1::text as p from t_b1",
                               "select count(*) as n, cast(? as char) as p from t_b1"));
    char *txt = cJSON_PrintUnformatted(r);
    ck_assert_msg(txscope_reply_ok(r), "%s", txt);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "id")->valuestring, "x");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "results")), 3);
    ck_assert_str_eq(cJSON_GetObjectItem(result_at(r, 0), "command")->valuestring, "INSERT");
    ck_assert_int_eq(cJSON_GetObjectItem(result_at(r, 0), "rowCount")->valueint, 2);
    ck_assert_int_eq(cJSON_GetObjectItem(result_at(r, 1), "rowCount")->valueint, 1);
    const cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(result_at(r, 2), "rows"), 0);
    ck_assert_int_eq(cJSON_GetArrayItem(row, 0)->valueint, 3); /* sees its own inserts */
    ck_assert_str_eq(cJSON_GetArrayItem(row, 1)->valuestring, "é");
    ck_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(result_at(r, 2), "fields"), 0),
                            "name")
            ->valuestring,
        "n");
    free(txt);
    cJSON_Delete(r);
    ck_assert_int_eq(th_side_count_rows(side, "t_b1"), 3);
    /* The backend went back to the pool, clean. */
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, T_TIMEOUT), 0);

    /* Transaction options apply to the batch's own transaction. */
    r = th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"isolation\":\"serializable\","
                   "\"read_only\":true,\"statements\":[{\"sql\":\"select count(*) from "
                   "t_b1\"},{\"sql\":\"insert into t_b1 values (9)\"}]}");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "index")->valueint, 1);
    th_expect_code(r, "25006", "read-only batch");
    /* The server's word on the isolation: on MySQL, InnoDB shows the transaction in
     * innodb_trx once it read a table, through a cache refreshed at most every 100 ms. */
    r = th_call(c,
                "{\"op\":\"batch\",\"ctx\":\"b\",\"isolation\":\"serializable\","
                "\"statements\":[{\"sql\":\"select count(*) from t_b1\"},{\"sql\":\"%s\"},"
                "{\"sql\":\"%s\"}]}",
                th_sleep_sql("0.2"),
                TH_PICK("select current_setting('transaction_isolation')",
                        "select lower(trx_isolation_level) from information_schema.innodb_trx "
                        "where trx_mysql_thread_id = connection_id()"));
    txt = cJSON_PrintUnformatted(r);
    row = cJSON_GetArrayItem(cJSON_GetObjectItem(result_at(r, 2), "rows"), 0);
    ck_assert_msg(cJSON_IsString(cJSON_GetArrayItem(row, 0)) &&
                      strcmp(cJSON_GetArrayItem(row, 0)->valuestring, "serializable") == 0,
                  "serializable batch: %s", txt);
    free(txt);
    th_expect_ok(r, "serializable batch");

    /* An empty batch is ok and touches nothing. */
    r = th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"statements\":[]}");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "results")), 0);
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "empty batch");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* 50 inserts as one batch against 50 single queries: on PostgreSQL the batch is one round
 * trip to the database (the times are logged; no timing assertion). */
START_TEST(batch_of_50_is_one_round_trip)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_b2");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"w\",\"sql\":\"select 1\"}"), "warm up");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"w\"}"), "warm up");

    long long t0 = th_now_ms();
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"s\"}"), "begin");
    for (int i = 0; i < 50; i++)
        th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"%s\",\"params\":[%d]}",
                             th_sql("insert into t_b2 values (?)"), i),
                     "single insert");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"s\"}"), "commit");
    long long singles = th_now_ms() - t0;

    char *req = inserts("b", "t_b2", 100, 50, -1);
    t0 = th_now_ms();
    cJSON *r = th_call(c, "%s", req);
    long long batch = th_now_ms() - t0;
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "results")), 50);
    th_expect_ok(r, "batch of 50");
    free(req);
    fprintf(stderr,
            "batch (%s): 50 inserts as single queries in one transaction took %lld ms; as one "
            "batch %lld ms\n",
            TH_PICK("pg", "mysql"), singles, batch);
    ck_assert_int_eq(th_side_count_rows(side, "t_b2"), 100);

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A batch whose 30th statement fails leaves no row of it, and names that statement. */
START_TEST(batch_failure_rolls_back_and_names_the_statement)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_b3");
    txscope_conn_t *c = th_connect(&d);

    char *req = inserts("b", "t_b3", 1, 50, 29);
    cJSON *r = th_call(c, "%s", req);
    free(req);
    char *txt = cJSON_PrintUnformatted(r);
    ck_assert_msg(!txscope_reply_ok(r), "%s", txt);
    const cJSON *err = cJSON_GetObjectItem(r, "error");
    ck_assert_str_eq(cJSON_GetObjectItem(err, "code")->valuestring, DUP_KEY);
    ck_assert_int_eq(cJSON_GetObjectItem(err, "index")->valueint, 29);
    ck_assert_str_eq(cJSON_GetObjectItem(err, "source")->valuestring, "db");
    ck_assert_ptr_null(cJSON_GetObjectItem(r, "results"));
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    free(txt);
    cJSON_Delete(r);
    ck_assert_int_eq(th_side_count_rows(side, "t_b3"), 0);
    /* The connection went back clean: nothing is left in a transaction. */
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, T_TIMEOUT), 0);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"insert into t_b3 values "
                            "(1)\",\"autocommit\":true}"),
                 "the session goes on");
    ck_assert_int_eq(th_side_count_rows(side, "t_b3"), 1);

    /* Transaction control in a statement is refused before anything runs, with its
     * index; so is a malformed statement. */
    r = th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"statements\":[{\"sql\":\"insert into t_b3 "
                   "values (2)\"},{\"sql\":\"/* x */ commit\"}]}");
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "index")->valueint, 1);
    th_expect_code(r, "0A000", "COMMIT in a batch");
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"statements\":[{\"params\":[]}]}"),
                   "08P01", "a statement without sql");
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"statements\":{}}"), "08P01",
                   "statements not an array");
    ck_assert_int_eq(th_side_count_rows(side, "t_b3"), 1);

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Inside an open transaction a batch joins it: its work commits or rolls back with the
 * transaction, and a failure makes the session failed. */
START_TEST(batch_joins_the_open_transaction)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_b4");
    txscope_conn_t *c = th_connect(&d);

    /* begin, then a batch as the first statement: BEGIN travels with it. */
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"j\"}"), "begin");
    char *req = inserts("j", "t_b4", 1, 3, -1);
    cJSON *r = th_call(c, "%s", req);
    free(req);
    ck_assert_str_eq(txscope_reply_tx_state(r), "open");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 1);
    th_expect_ok(r, "batch in tx");
    ck_assert_int_eq(th_side_count_rows(side, "t_b4"), 0);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"j\"}"), "rollback");
    ck_assert_int_eq(th_side_count_rows(side, "t_b4"), 0);

    /* After a query; then commit. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_b4 values "
                            "(10)\"}"),
                 "query");
    req = inserts("j", "t_b4", 11, 2, -1);
    th_expect_ok(th_call(c, "%s", req), "batch after a query");
    free(req);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"j\"}"), "commit");
    ck_assert_int_eq(th_side_count_rows(side, "t_b4"), 3);

    /* A failing batch in a transaction: failed, with the index, until rollback. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_b4 values "
                            "(20)\"}"),
                 "query");
    req = inserts("j", "t_b4", 21, 3, 2);
    r = th_call(c, "%s", req);
    free(req);
    ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "index")->valueint, 2);
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, DUP_KEY, "failing batch in tx");
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"j\",\"statements\":[{\"sql\":"
                              "\"select 1\"}]}"),
                   "25P02", "batch in a failed tx");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"j\"}"), "rollback");
    ck_assert_int_eq(th_side_count_rows(side, "t_b4"), 3);

    /* In a nested level: rolling the level back undoes the batch. */
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"j\"}"), "begin");
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"j\",\"nested\":true}"), "nested");
    req = inserts("j", "t_b4", 30, 2, -1);
    r = th_call(c, "%s", req);
    free(req);
    ck_assert_int_eq(txscope_reply_tx_depth(r), 2);
    th_expect_ok(r, "batch in a nested level");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"j\"}"), "level rollback");
    req = inserts("j", "t_b4", 40, 1, -1);
    th_expect_ok(th_call(c, "%s", req), "batch after the level");
    free(req);
    /* Options that differ from the open transaction's are refused. */
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"j\",\"isolation\":\"serializable\","
                              "\"statements\":[{\"sql\":\"select 1\"}]}"),
                   "25001", "isolation of a joining batch");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"j\"}"), "commit");
    ck_assert_int_eq(th_side_count_rows(side, "t_b4"), 4);
    ck_assert_int_eq(th_side_long(side, "select max(id) from t_b4"), 40);

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A client that leaves while its long batch runs in an open transaction: the batch is
 * cancelled and everything rolled back. */
START_TEST(close_during_a_batch_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_b5");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"k\"}"), "begin");
    th_send(c,
            "{\"op\":\"batch\",\"ctx\":\"k\",\"statements\":[{\"sql\":\"insert into t_b5 "
            "values (1)\"},{\"sql\":\"%s\"}]}",
            th_sleep_sql("30"));
    wait_running(side, th_sleep_sql("30"));
    long long t0 = th_now_ms();
    txscope_close(c);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, T_TIMEOUT), 0);
    ck_assert_int_lt(th_now_ms() - t0, 5000);
    ck_assert_int_eq(th_side_count_rows(side, "t_b5"), 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_batch(void)
{
    Suite *s = suite_create("batch");
    TCase *tcs[2];
    th_tcases(s, tcs, 60);
    TH_ADD_TEST(tcs, batch_is_its_own_transaction);
    TH_ADD_TEST(tcs, batch_of_50_is_one_round_trip);
    TH_ADD_TEST(tcs, batch_failure_rolls_back_and_names_the_statement);
    TH_ADD_TEST(tcs, batch_joins_the_open_transaction);
    TH_ADD_TEST(tcs, close_during_a_batch_rolls_back);
    return s;
}
