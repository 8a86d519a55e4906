/* test_statements.c - failed transactions, refused transaction control, commands and
 * row counts, and the mapping of PostgreSQL types to JSON. */
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_statements(void);

START_TEST(failed_statement_fails_the_transaction)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_f");
    th_side_exec(side, "insert into t_f values (1)");
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_id(c, "f", false);
    cJSON *r =
        th_call(c, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"insert into t_f values (1)\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    cJSON *err = cJSON_GetObjectItem(r, "error");
    ck_assert_str_eq(cJSON_GetObjectItem(err, "source")->valuestring, "db");
    /* The backend's own message, and on MySQL its errno. */
    ck_assert_str_eq(cJSON_GetObjectItem(err, "message")->valuestring,
                     TH_PICK("duplicate key value violates unique constraint \"t_f_pkey\"",
                             "Duplicate entry '1' for key 'PRIMARY'"));
    if (th_backend == TH_MYSQL)
        ck_assert_int_eq(cJSON_GetObjectItem(err, "vendorCode")->valueint, 1062);
    th_expect_code(r, TH_PICK("23505", "23000"), "duplicate key");
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"select 1\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 1);
    th_expect_code(r, "25P02", "after failure");
    th_expect_code(th_call(c, "{\"op\":\"commit\",\"ctx\":\"f\"}"), "25P02",
                   "commit after failure");
    r = th_call(c, "{\"op\":\"status\",\"ctx\":\"f\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_ok(r, "status");
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"f\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "rollback");
    ck_assert_int_eq(th_backend_id(c, "f", false), pid); /* the same backend, reused */
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"f\"}"), "rollback");
    /* An error in an autocommit statement leaves the session idle. */
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"select * from "
                   "no_such_table\",\"autocommit\":true}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, TH_PICK("42P01", "42S02"), "missing table");
    txscope_close(c);
    ck_assert_int_eq(th_side_count_rows(side, "t_f"), 1);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(transaction_control_sql_is_refused)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    txscope_conn_t *c = th_connect(&d);
    const char *refused[] = {"BEGIN",
                             "COMMIT",
                             "SAVEPOINT x",
                             "  rollback",
                             "start transaction",
                             "/* hi */ END",
                             "release savepoint x",
                             "set transaction read only",
                             "xa start 'x'"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"%s\"}", refused[i]);
        ck_assert_str_eq(
            cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "source")->valuestring, "proxy");
        th_expect_code(r, "0A000", refused[i]);
    }
    /* Refusal changes nothing: the session is still idle and usable. */
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select 'BEGIN'\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "open");
    th_expect_ok(r, "select 'BEGIN'");
    /* Two statements in one query cannot smuggle a COMMIT: a syntax error on both. */
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"u\",\"sql\":\"select 1; commit\"}"),
                   TH_PICK("42601", "42000"), "multi");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Each statement's command and row count, and no fields or rows when it returns none. */
START_TEST(commands_and_row_counts)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_rc; create table t_rc(x int)");
    txscope_conn_t *c = th_connect(&d);
    cJSON *r = th_call(
        c, "{\"op\":\"query\",\"ctx\":\"rc\",\"sql\":\"insert into t_rc values (1), (2), (3)\"}");
    ck_assert_msg(strstr(txscope_last_line(c),
                         "\"command\":\"INSERT\",\"rowCount\":3,\"fields\":[],\"rows\":[]") != NULL,
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    r = th_call(
        c, "{\"op\":\"query\",\"ctx\":\"rc\",\"sql\":\"update t_rc set x = x + 1 where x > 1\"}");
    ck_assert_msg(strstr(txscope_last_line(c), "\"command\":\"UPDATE\",\"rowCount\":2,") != NULL,
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"rc\",\"sql\":\"select x from t_rc order by x\"}");
    ck_assert_msg(strstr(txscope_last_line(c), "\"command\":\"SELECT\",\"rowCount\":3,") &&
                      strstr(txscope_last_line(c), "\"rows\":[[1],[3],[4]]"),
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"rc\",\"sql\":\"delete from t_rc where x = 7\"}");
    ck_assert_msg(strstr(txscope_last_line(c),
                         "\"command\":\"DELETE\",\"rowCount\":0,\"fields\":[],\"rows\":[]") != NULL,
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"rc\"}"), "rollback");
    ck_assert_int_eq(th_side_count_rows(side, "t_rc"), 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* PostgreSQL only: its types, their names and casts (MySQL's are in test_mysql.c). */
START_TEST(types_map_to_json)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    txscope_conn_t *c = th_connect(&d);
    cJSON *r = th_call_raw(
        c,
        "{\"op\":\"query\",\"ctx\":\"ty\",\"autocommit\":true,\"sql\":\"select true as b, 12::int2 "
        "as i2, "
        "-123456::int4 as i4, (2^62)::int8 as i8, $1::int8 as p8, 1.5::float8 as f, 'NaN'::float8 "
        "as fnan, "
        "'-Infinity'::float4 as finf, 1.10::numeric as n, E'q\\\"uo\\\\\\\\te\\\\nnew "
        "\\u00e9\\ud83d\\ude00'::text as t, "
        "'{\\\"a\\\": [1, 2.50],\\n \\\"b\\\": null}'::json as j, '{\\\"b\\\": 1}'::jsonb as jb, "
        "'\\\\x00ff10'::bytea as by, '2024-01-02 03:04:05.5'::timestamp as ts, "
        "'2024-01-02 03:04:05+02'::timestamptz as tz, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u, null::text as "
        "nul\",\"params\":[4611686018427387905]}");
    const char *line = txscope_last_line(c);
    ck_assert_msg(txscope_reply_ok(r), "%s", line);
    const char *rows = strstr(line, "\"rows\":");
    ck_assert_ptr_nonnull(rows);
    const char *want = "\"rows\":[[true,12,-123456,4611686018427387904,4611686018427387905,1.5,"
                       "\"NaN\",\"-Infinity\","
                       "\"1.10\",\"q\\\"uo\\\\te\\nnew "
                       "\xc3\xa9\xf0\x9f\x98\x80\",{\"a\":[1,2.50],\"b\":null},{\"b\":1},"
                       "\"AP8Q\",\"2024-01-02 03:04:05.5\",\"2024-01-02 01:04:05+00\","
                       "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",null]]";
    ck_assert_msg(strncmp(rows, want, strlen(want)) == 0, "got  %s\nwant %s", rows, want);
    const char *fields =
        "\"fields\":[{\"name\":\"b\",\"type\":\"bool\"},{\"name\":\"i2\",\"type\":\"int2\"},"
        "{\"name\":\"i4\",\"type\":\"int4\"},{\"name\":\"i8\",\"type\":\"int8\"},{\"name\":\"p8\","
        "\"type\":\"int8\"},"
        "{\"name\":\"f\",\"type\":\"float8\"},{\"name\":\"fnan\",\"type\":\"float8\"},{\"name\":"
        "\"finf\",\"type\":\"float4\"},"
        "{\"name\":\"n\",\"type\":\"numeric\"},{\"name\":\"t\",\"type\":\"text\"},{\"name\":\"j\","
        "\"type\":\"json\"},"
        "{\"name\":\"jb\",\"type\":\"jsonb\"},{\"name\":\"by\",\"type\":\"bytea\"},{\"name\":"
        "\"ts\",\"type\":\"timestamp\"},"
        "{\"name\":\"tz\",\"type\":\"timestamptz\"},{\"name\":\"u\",\"type\":\"uuid\"},{\"name\":"
        "\"nul\",\"type\":\"text\"}]";
    ck_assert_msg(strstr(line, fields) != NULL, "fields: %s", line);
    ck_assert_msg(strstr(line, "\"command\":\"SELECT\",\"rowCount\":1") != NULL, "%s", line);
    cJSON_Delete(r);

    /* Parameters: null, booleans, exact numbers, strings, and JSON as its text. */
    r = th_call_raw(
        c, "{\"op\":\"query\",\"ctx\":\"ty\",\"autocommit\":true,"
           "\"sql\":\"select $1::text is null, $2::bool, $3::numeric, $4::text, $5::jsonb -> 'k'\","
           "\"params\":[null, false, 1.10, \"it's\\n\", {\"k\": [1, 12345678901234567890]}]}");
    line = txscope_last_line(c);
    ck_assert_msg(
        strstr(line, "\"rows\":[[true,false,\"1.10\",\"it's\\n\",[1,12345678901234567890]]]") !=
            NULL,
        "%s", line);
    cJSON_Delete(r);

    /* Commands and row counts. */
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"ty\",\"sql\":\"create temp table tt(x int)\"}"),
        "create");
    r = th_call(
        c,
        "{\"op\":\"query\",\"ctx\":\"ty\",\"sql\":\"insert into tt select generate_series(1,3)\"}");
    ck_assert_msg(strstr(txscope_last_line(c),
                         "\"command\":\"INSERT\",\"rowCount\":3,\"fields\":[],\"rows\":[]") != NULL,
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    r = th_call(
        c, "{\"op\":\"query\",\"ctx\":\"ty\",\"sql\":\"update tt set x = x + 1 where x > 1\"}");
    ck_assert_msg(strstr(txscope_last_line(c), "\"command\":\"UPDATE\",\"rowCount\":2") != NULL,
                  "%s", txscope_last_line(c));
    cJSON_Delete(r);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"ty\"}"), "rollback");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(large_result_is_refused_with_54000)
{
    const char *env[] = {"TXSCOPE_MAX_RESULT_BYTES=4kB", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    cJSON *r =
        th_call(c, "{\"op\":\"query\",\"ctx\":\"big\",\"sql\":\"select repeat('x', 10000)\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "54000", "large result");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"big\"}"), "rollback");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"big\",\"sql\":\"select repeat('x', 100)\"}"),
        "small");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_statements(void)
{
    Suite *s = suite_create("statements");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, failed_statement_fails_the_transaction);
    TH_ADD_TEST(tc, transaction_control_sql_is_refused);
    TH_ADD_TEST(tc, commands_and_row_counts);
    tcase_add_test(tc[TH_PG], types_map_to_json); /* PostgreSQL's types */
    TH_ADD_TEST(tc, large_result_is_refused_with_54000);
    return s;
}
