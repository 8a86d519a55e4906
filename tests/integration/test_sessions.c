/* test_sessions.c - contexts on one connection: isolation, ordering, concurrency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_sessions(void);

static char *value_of(txscope_conn_t *c, const char *ctx, const char *sql)
{
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\"}", ctx, sql);
    ck_assert_msg(txscope_reply_ok(r), "%s: %s", sql, txscope_reply_message(r));
    char *v = th_first_value(r);
    cJSON_Delete(r);
    return v;
}

START_TEST(two_contexts_interleave_on_one_connection)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_inter; create table t_inter(id int primary key, "
                       "who varchar(8))");
    txscope_conn_t *c = th_connect(&d);
    const char *agg = TH_PICK("select string_agg(who || id, ',' order by id) from t_inter",
                              "select group_concat(concat(who, id) order by id separator ',') "
                              "from t_inter");

    cJSON *r = th_call(
        c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_inter values (1,'a')\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "open");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 1);
    th_expect_ok(r, "a insert");
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"b\"}"), "b begin");
    th_expect_ok(
        th_call(c,
                "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"insert into t_inter values (2,'b')\"}"),
        "b insert");
    th_expect_ok(
        th_call(c,
                "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_inter values (3,'a')\"}"),
        "a insert 2");

    char *va = value_of(c, "a", agg);
    char *vb = value_of(c, "b", agg);
    ck_assert_str_eq(va, "a1,a3");
    ck_assert_str_eq(vb, "b2");
    free(va);
    free(vb);
    ck_assert_int_eq(th_side_count_rows(side, "t_inter"), 0);

    r = th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\",\"id\":\"c1\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "id")->valuestring, "c1");
    th_expect_ok(r, "a commit");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"b\"}"), "b rollback");

    char *committed = th_side_text(side, "%s", agg);
    ck_assert_str_eq(committed, "a1,a3");
    free(committed);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(slow_context_does_not_delay_another)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    txscope_conn_t *c = th_connect(&d);
    int64_t slow =
        th_send(c, "{\"op\":\"query\",\"ctx\":\"slow\",\"sql\":\"%s\",\"autocommit\":true}",
                th_sleep_sql("1.5"));
    long long t0 = th_now_ms();
    int64_t fast =
        th_send(c, "{\"op\":\"query\",\"ctx\":\"fast\",\"sql\":\"select 42\",\"autocommit\":true}");
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    int64_t id = 0;
    txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id);
    ck_assert_int_eq(id, fast);
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    cJSON_Delete(r);
    r = txscope_recv(c, T_TIMEOUT);
    txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id);
    ck_assert_int_eq(id, slow);
    th_expect_ok(r, "slow");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Requests of one ctx run strictly in order, even when pipelined past max_pipeline. */
START_TEST(one_context_in_order_with_backpressure)
{
    const char *env[] = {"TXSCOPE_MAX_PIPELINE=4", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_order; create table t_order(n int)");
    txscope_conn_t *c = th_connect(&d);
    enum { N = 60 };
    int64_t ids[N + 1];
    for (int i = 0; i < N; i++)
        ids[i] = th_send(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\",\"params\":[%d]}",
                         i % 3 == 0 ? "o" : (i % 3 == 1 ? "p" : "q"),
                         th_sql("insert into t_order values (?)"), i);
    ids[N] = th_send(c, "{\"op\":\"commit\",\"ctx\":\"o\"}");
    int64_t last_o = -1;
    for (int i = 0; i <= N; i++) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_msg(r != NULL, "reply %d missing: %s", i, txscope_errmsg(c));
        ck_assert_msg(txscope_reply_ok(r), "reply %d not ok: %s", i, txscope_last_line(c));
        int64_t id;
        txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id);
        for (int k = 0; k <= N; k += 3)
            if (ids[k] == id) {
                ck_assert_int_gt(id, last_o); /* ctx o: replies in the order sent */
                last_o = id;
            }
        cJSON_Delete(r);
    }
    /* Only ctx o committed: rows 0, 3, 6, ... */
    ck_assert_int_eq(th_side_count_rows(side, "t_order"), N / 3);
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_order where n %% 3 <> 0"), 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The open transaction's isolation level and read-only flag, as "serializable,on". MySQL
 * shows them only in information_schema.innodb_trx, once the transaction has touched an
 * InnoDB table, and that view is a cache refreshed after 100 ms without readers. */
static char *isolation_and_read_only(txscope_conn_t *c, const char *ctx, const char *table)
{
    if (th_backend == TH_PG)
        return value_of(c, ctx,
                        "select current_setting('transaction_isolation') || ',' || "
                        "current_setting('transaction_read_only')");
    char sql[80];
    snprintf(sql, sizeof sql, "select count(*) from %s", table);
    free(value_of(c, ctx, sql));
    th_sleep_ms(150);
    return value_of(c, ctx,
                    "select concat(lower(trx_isolation_level), ',', if(trx_is_read_only, 'on', "
                    "'off')) from information_schema.innodb_trx where trx_mysql_thread_id = "
                    "connection_id()");
}

START_TEST(status_end_and_unknown_context)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_ro");
    txscope_conn_t *c = th_connect(&d);
    cJSON *r = th_call(c, "{\"op\":\"status\",\"ctx\":\"nobody\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "status of unknown ctx");
    th_expect_ok(
        th_call(
            c,
            "{\"op\":\"begin\",\"ctx\":\"e\",\"isolation\":\"serializable\",\"read_only\":true}"),
        "begin");
    char *v = isolation_and_read_only(c, "e", "t_ro");
    ck_assert_str_eq(v, "serializable,on");
    free(v);
    th_expect_code(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"insert into t_ro values (1)\"}"),
        "25006", "write in read-only tx");
    r = th_call(c, "{\"op\":\"end\",\"ctx\":\"e\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "end");
    th_expect_code(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"select 1\",\"db\":\"nope\"}"),
        "3D000", "unknown db");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"select 1\",\"db\":\"main\"}"),
        "named db");
    th_expect_code(th_call(c, "{\"op\":\"begin\",\"ctx\":\"e\"}"), "25001", "begin in tx");
    r = th_call(c, "{\"op\":\"begin\",\"ctx\":\"e\",\"nested\":true}");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 2);
    th_expect_ok(r, "begin nested in tx");
    th_expect_code(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "25001", "autocommit in tx");
    r = th_call(c, "{\"op\":\"ping\"}");
    ck_assert_ptr_null(cJSON_GetObjectItem(r, "tx"));
    th_expect_ok(r, "ping");
    txscope_close(c);
    ck_assert_int_eq(th_side_count_rows(side, "t_ro"), 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(session_limit_per_client)
{
    const char *env[] = {"TXSCOPE_MAX_SESSIONS_PER_CLIENT=2", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"s1\"}"), "s1");
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"s2\"}"), "s2");
    th_expect_code(th_call(c, "{\"op\":\"begin\",\"ctx\":\"s3\"}"), "53300", "s3");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"s1\"}"), "end s1");
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"s3\"}"), "s3 after end");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A request that arrives in pieces, and one larger than a single read. */
START_TEST(requests_split_across_reads)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    txscope_conn_t *c = th_connect(&d);
    const char *parts[] = {"{\"op\":\"query\",", "\"ctx\":\"s\",\"sql\":\"sel", "ect 6 * 7\"}\r",
                           "\n"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(txscope_send_raw(c, parts[i], strlen(parts[i])), 0);
        th_sleep_ms(30);
    }
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    char *v = th_first_value(r);
    ck_assert_str_eq(v, "42");
    free(v);
    th_expect_ok(r, "split request");

    enum { BIG = 300000 };
    char *req = malloc(BIG + 200);
    int n = snprintf(req, 200, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"%s\",\"params\":[\"",
                     th_sql("select length(?)"));
    memset(req + n, 'y', BIG);
    n += BIG;
    n += snprintf(req + n, 200, "\"]}\n{\"op\":\"status\",\"ctx\":\"s\"}\n");
    ck_assert_int_eq(txscope_send_raw(c, req, (size_t)n), 0);
    free(req);
    r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    v = th_first_value(r);
    ck_assert_str_eq(v, "300000");
    free(v);
    th_expect_ok(r, "large request");
    th_expect_ok(txscope_recv(c, T_TIMEOUT), "the line after it");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(unix_socket_listener)
{
    char path[128], env_sock[160];
    snprintf(path, sizeof path, "/tmp/txs_test_%d.sock", (int)getpid());
    snprintf(env_sock, sizeof env_sock, "TXSCOPE_UNIX_SOCKET=%s", path);
    const char *env[] = {env_sock, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    char err[256];
    txscope_conn_t *c = txscope_connect(path, T_TIMEOUT, err, sizeof err);
    ck_assert_msg(c != NULL, "connect %s: %s", path, err);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"u\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "query over the unix socket");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    ck_assert_int_ne(access(path, F_OK), 0); /* removed at exit */
}
END_TEST

Suite *suite_sessions(void)
{
    Suite *s = suite_create("sessions");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, two_contexts_interleave_on_one_connection);
    TH_ADD_TEST(tc, slow_context_does_not_delay_another);
    TH_ADD_TEST(tc, one_context_in_order_with_backpressure);
    TH_ADD_TEST(tc, status_end_and_unknown_context);
    TH_ADD_TEST(tc, session_limit_per_client);
    TH_ADD_TEST(tc, unix_socket_listener);
    TH_ADD_TEST(tc, requests_split_across_reads);
    return s;
}
