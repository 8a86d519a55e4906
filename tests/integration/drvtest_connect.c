/* drvtest_connect.c - the connect failures both driver suites test: same requests, same answers. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(connect_refused_is_lost_08001)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_init(&t, drv);
    drvtest_dsn(drv); /* fails the test when the variables are missing */
    char dsn[128];
    snprintf(dsn, sizeof dsn, b->port_dsn, drvtest_closed_port());
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_int_lt(t.done_at - t0, 2000);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "Connection refused"), "message: %s", t.message);
    ck_assert_msg(t.message[strlen(t.message) - 1] != '\n', "trailing newline kept");
    ck_assert(!t.from_db);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    ck_assert_int_eq(drv->backend_pid(t.c), 0);
    /* after LOST only close() may follow: run() and reset() refuse without calling back */
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select 1", 0, NULL, lens);
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_on_op, &t), TXS_ELOST);
    ck_assert_int_eq(drv->reset(t.c, false, drvtest_on_op, &t), TXS_ELOST);
    drvtest_close(&t);
    ck_assert_int_eq(t.done, 0);
}
END_TEST

START_TEST(connect_timeout_is_lost_08001)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    drvtest_t t;
    drvtest_init(&t, b->drv);
    drvtest_dsn(b->drv);
    int port;
    int fd = drvtest_silent_listener(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, b->port_dsn, port);
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_connect(&t, dsn, 300), TXS_DRV_LOST);
    int64_t took = t.done_at - t0;
    ck_assert_msg(took >= 290 && took < 1000, "timed out after %lld ms", (long long)took);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_str_eq(t.message, "could not connect to server within 300 ms");
    drvtest_close(&t);
    close(fd);
}
END_TEST

void drvtest_add_connect_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, connect_refused_is_lost_08001, drv);
    drvtest_add(tc, connect_timeout_is_lost_08001, drv);
}
