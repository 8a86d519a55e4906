/* drvtest_batch.c - the batch tests both driver suites run: same requests, same answers. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(batch_runs_in_order_and_encodes_each_result)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table drvtest_b (id int primary key, v text)");
    int l0[2], l1[1];
    const char *v0[] = {"1", "a"}, *v1[] = {"b"};
    txs_stmt_t s[3] = {
        drvtest_stmt(drvtest_sql(drv, "insert into drvtest_b values (?, ?)"), 2, v0, l0),
        drvtest_stmt(drvtest_sql(drv, "insert into drvtest_b values (2, ?)"), 1, v1, l1),
        drvtest_stmt("select id, v from drvtest_b order by id", 0, NULL, NULL)};
    drvtest_batch_start(&t, s, 3);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(drv->run_batch(t.c, s, 3, drvtest_on_batch, &t),
                     TXS_ESTATE); /* one at a time */
    ck_assert_int_eq(drv->run(t.c, &s[2], drvtest_on_op, &t), TXS_ESTATE);
    ck_assert_int_eq(drv->reset(t.c, false, drvtest_on_op, &t), TXS_ESTATE);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    char want[512];
    snprintf(want, sizeof want,
             "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
             "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
             "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
             "\"%s\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[1,\"a\"],[2,\"b\"]]",
             b->int_type);
    ck_assert_str_eq(drvtest_out(&t), want);
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.neg_rc, TXS_ESTATE);
    ck_assert_uint_eq(t.oob_len, 0);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE); /* an implicit transaction committed */
    /* results are not kept past the callback, and a run() after a batch has index 0 only */
    drvtest_expect(&t, "select count(*) from drvtest_b", "2");
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.neg_rc, TXS_ESTATE);
    ck_assert_uint_eq(t.oob_len, 0);
    ck_assert_int_eq(drv->encode_result(t.c, 0, &t.out, t.max_len), TXS_ESTATE);

    /* an explicit transaction written into the batch */
    const char *tx[] = {b->begin, "insert into drvtest_b values (3, 'c')", "commit"};
    ck_assert_int_eq(drvtest_batch(&t, tx, 3), TXS_DRV_OK);
    snprintf(want, sizeof want,
             "\"command\":\"%s\",\"rowCount\":0,\"fields\":[],\"rows\":[]\n"
             "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
             "\"command\":\"COMMIT\",\"rowCount\":0,\"fields\":[],\"rows\":[]",
             b->begin_command);
    ck_assert_str_eq(drvtest_out(&t), want);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from drvtest_b", "3");
    drvtest_close(&t);
}
END_TEST

int drvtest_dup_batch(drvtest_t *t, const char *table, bool explicit_tx)
{
    enum { N = 50 };
    char sql[N + 2][64];
    const char *sqls[N + 2];
    int n = 0;
    if (explicit_tx)
        snprintf(sql[n++], 64, "%s", drvtest_backend_of(t->drv)->begin);
    for (int i = 0; i < N; i++)
        snprintf(sql[n++], 64, "insert into %s values (%d)", table, i == 29 ? 3 : i);
    if (explicit_tx)
        snprintf(sql[n++], 64, "commit");
    for (int i = 0; i < n; i++)
        sqls[i] = sql[i];
    ck_assert_int_eq(drvtest_batch(t, sqls, n), TXS_DRV_DB_ERROR);
    ck_assert(t->from_db);
    ck_assert(t->has_index);
    return t->index;
}

START_TEST(batch_with_a_nul_byte_sends_nothing)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table drvtest_n (x text)");
    const char *vals[] = {"a\0b"}, *ok[] = {"fine"};
    int lens[] = {3}, oklens[] = {4};
    const char *ins = drvtest_sql(drv, "insert into drvtest_n values (?)");
    const char *lit = "insert into drvtest_n values ('x')";
    txs_stmt_t s[3] = {{ins, strlen(ins), 1, vals, lens, NULL},
                       {ins, strlen(ins), 1, ok, oklens, NULL},
                       {lit, strlen(lit), 0, NULL, NULL, NULL}};
    drvtest_batch_start(&t, s, 3);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 0);
    ck_assert(!t.from_db);
    /* the bad one last: the ones before it were not sent either */
    txs_stmt_t s2[3] = {s[1], s[2], s[0]};
    drvtest_batch_start(&t, s2, 3);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert_int_eq(t.index, 2);
    drvtest_expect(&t, "select count(*) from drvtest_n", "0");
    drvtest_close(&t);
}
END_TEST

START_TEST(empty_batch_is_ok)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_int_eq(drvtest_batch(&t, NULL, 0), TXS_DRV_OK);
    ck_assert_uint_eq(t.out.len, 0);
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE); /* index 0: no result */
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drv->run_batch(t.c, NULL, -1, drvtest_on_batch, &t), TXS_EINVAL);
    drvtest_expect(&t, "select 6", "6");
    drvtest_close(&t);
}
END_TEST

START_TEST(cancel_stops_a_running_batch)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table drvtest_k (x int)");
    const char *sqls[] = {"insert into drvtest_k values (1)", drvtest_sleep(drv, "30"),
                          "insert into drvtest_k values (2)"};
    txs_stmt_t s[3];
    drvtest_plain(s, sqls, 3);
    drvtest_batch_start(&t, s, 3);
    drvtest_cancel_after(&t, 200);
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, b->cancel_code);
    ck_assert_int_eq(t.vendor, b->cancel_vendor);
    ck_assert(t.from_db);
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);
    ck_assert_int_lt(t.done_at - t0, 200 + b->cancel_ms);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select 1", "1");
    /* PostgreSQL's batch is one implicit transaction, which the cancel rolled back; MySQL
     * has none: the statement before it stays */
    drvtest_expect(&t, "select count(*) from drvtest_k", b->batch_atomic ? "0" : "1");
    drvtest_close(&t);
}
END_TEST

void drvtest_add_batch_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, batch_runs_in_order_and_encodes_each_result, drv);
    drvtest_add(tc, batch_with_a_nul_byte_sends_nothing, drv);
    drvtest_add(tc, empty_batch_is_ok, drv);
    drvtest_add(tc, cancel_stops_a_running_batch, drv);
}
