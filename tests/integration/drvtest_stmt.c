/* drvtest_stmt.c - single statements both driver suites run: refused, large, quoted names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(multi_statement_is_refused)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    drvtest_t t;
    drvtest_open(&t, b->drv);
    ck_assert_int_eq(drvtest_run(&t, "select 1; select 2"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, b->multi_code);
    ck_assert_int_eq(t.vendor, b->multi_vendor);
    if (b->multi_message)
        ck_assert_str_eq(t.message, b->multi_message);
    ck_assert_int_eq(
        drvtest_run(&t, "create temporary table drvtest_m (x int); drop table drvtest_m"),
        TXS_DRV_DB_ERROR);
    ck_assert_int_eq(drvtest_run(&t, "select count(*) from information_schema.tables where "
                                     "table_name = 'drvtest_m'"),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[0]]"), "%s", drvtest_out(&t));
    drvtest_close(&t);
}
END_TEST

START_TEST(nul_bytes_are_refused_before_sending)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *vals[] = {"a\0b"};
    int lens[] = {3};
    const char *sql = drvtest_sql(drv, "select ?");
    txs_stmt_t s = {sql, strlen(sql), 1, vals, lens, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_on_op, &t), TXS_OK);
    ck_assert_int_eq(t.done, 0); /* never from inside run() */
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert(!t.from_db);
    static const char sql2[] = "select 1\0; drop table x";
    txs_stmt_t s2 = {sql2, sizeof sql2 - 1, 0, NULL, NULL, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s2, drvtest_on_op, &t), TXS_OK);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    drvtest_expect(&t, "select 'ok'", "\"ok\"");
    drvtest_close(&t);
}
END_TEST

/* 5000 rows of 1000 bytes, with a parameter or without */
static void expect_5000_rows(drvtest_t *t, const char *sql, int n, const char *const *vals)
{
    ck_assert_msg(drvtest_runp(t, sql, n, vals) == TXS_DRV_OK, "%s: %s", sql, t->message);
    ck_assert_int_eq(t->enc_rc, TXS_OK);
    ck_assert_msg(strstr(drvtest_out(t), "\"rowCount\":5000,"), "%.200s", drvtest_out(t));
    ck_assert_uint_gt(t->out.len, 5000 * 1004);
}

START_TEST(large_statement_and_result)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    size_t n = 4 << 20; /* more than the socket takes at once: sent in steps */
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    ck_assert_int_eq(drvtest_runp(&t, drvtest_sql(drv, "select length(?) as n"), 1, vals),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[4194304]]"), "%.200s", drvtest_out(&t));
    /* the same text as a statement of its own */
    memcpy(big, "select length('", 15);
    memcpy(big + n - 8, "') as n ", 8);
    ck_assert_int_eq(drvtest_run(&t, big), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[4194281]]"), "%.200s", drvtest_out(&t));
    free(big);

    t.max_len = 64 << 20;
    char sql[256], want[256];
    snprintf(sql, sizeof sql, "select count(*) as n from (%s) s", b->rows_5000);
    snprintf(want, sizeof want,
             "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"n\","
             "\"type\":\"%s\"}],\"rows\":[[5000]]",
             b->count_type);
    ck_assert_str_eq(drvtest_ok(&t, sql), want);
    expect_5000_rows(&t, b->rows_5000, 0, NULL);
    const char *one[] = {"1"};
    snprintf(sql, sizeof sql, "%s where ? = 1", b->rows_5000);
    expect_5000_rows(&t, drvtest_sql(drv, sql), 1, one);
    ck_assert_int_eq(t.watched, 0);
    drvtest_close(&t);
}
END_TEST

START_TEST(too_big_result_is_refused_and_cut_back)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    drvtest_t t;
    drvtest_open(&t, b->drv);
    char prepared[256];
    snprintf(prepared, sizeof prepared, "%s where ? = 1", b->wide_rows);
    const char *sqls[] = {b->wide_rows, drvtest_sql(b->drv, prepared)};
    const char *one[] = {"1"};
    for (int i = 0; i < 2; i++) {
        int lens[1];
        txs_stmt_t s = drvtest_stmt(sqls[i], i, one, lens);
        t.done = 0;
        ck_assert_int_eq(b->drv->run(t.c, &s, drvtest_on_encode_limits, &t), TXS_OK);
        ck_assert(drvtest_run_until(&t.loop, &t.done, DRVTEST_WAIT_MS));
    }
    drvtest_expect(&t, "select 1", "1"); /* still usable */
    drvtest_close(&t);
}
END_TEST

START_TEST(quote_ident_round_trips)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    drvtest_t t;
    drvtest_open(&t, b->drv);
    txs_buf_t sql;
    txs_buf_init(&sql);
    txs_buf_puts(&sql, "select 1 as ");
    b->drv->quote_ident(&sql, "a`b c\"", 6);
    *txs_buf_reserve(&sql, 1) = '\0';
    char want[128];
    snprintf(want, sizeof want, "\"fields\":[{\"name\":\"a`b c\\\"\",\"type\":\"%s\"}]",
             b->int_type);
    ck_assert_msg(strstr(drvtest_ok(&t, sql.data), want), "%s", drvtest_out(&t));
    txs_buf_free(&sql);
    drvtest_close(&t);
}
END_TEST

void drvtest_add_stmt_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, large_statement_and_result, drv);
    drvtest_add(tc, multi_statement_is_refused, drv);
    drvtest_add(tc, nul_bytes_are_refused_before_sending, drv);
    drvtest_add(tc, too_big_result_is_refused_and_cut_back, drv);
    drvtest_add(tc, quote_ident_round_trips, drv);
}
