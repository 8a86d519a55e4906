/* test_mysql_driver_reset.c - the MySQL/MariaDB driver: ping, and reset with `full`. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "drivers/driver.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/mysqltest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h;
 * test_mysql_driver_ops.c has the rest of reset, drvtest_ping.c the tests of ping both
 * drivers pass. */
Suite *suite_mysql_driver_reset(void);

static const txs_driver_t *drv = &txs_driver_mysql;

/* A server that takes the ping and never answers: behind a relay that stops passing
 * bytes (stopping the server itself would stop runuser, its parent, for good). */
START_TEST(ping_without_answer_is_lost_within_its_timeout)
{
    drvtest_relay_t relay;
    drvtest_relay_start(&relay, atoi(txs_mysqltest_env("MYSQL_TCP_PORT")));
    char dsn[160];
    snprintf(dsn, sizeof dsn, "mysql://%s:%s@127.0.0.1:%d/%s", txs_mysqltest_env("MYSQL_USER"),
             txs_mysqltest_env("MYSQL_PWD"), relay.port, txs_mysqltest_env("MYSQL_DATABASE"));
    drvtest_t t;
    drvtest_init(&t, drv);
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_OK);
    drv->watch(t.c, drvtest_on_watch, &t);
    txs_drv_status_t st;
    ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK); /* the relay passes it */
    ck_assert_int_eq(st, TXS_DRV_OK);

    drvtest_relay_freeze(&relay);
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_ping(&t, 200, &st), TXS_OK);
    drvtest_expect_ping_timed_out(&t, 200, t.done_at - t0);
    drvtest_close(&t);
    drvtest_relay_stop(&relay);
}
END_TEST

/* full: COM_RESET_CONNECTION and the set-up statement even when nothing was seen. */
START_TEST(full_reset_always_resets)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    txs_drv_status_t st;
    /* session state the server does not flag, and the driver does not read */
    drvtest_ok(&t, "select last_insert_id(42)");
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);
    drvtest_expect(&t, "select last_insert_id()", "42");
    ck_assert_int_eq(drvtest_reset_full(&t, true, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select last_insert_id()", "0");
    /* the set-up holds again */
    drvtest_expect(&t, "select @@session.time_zone", "\"+00:00\"");
    drvtest_expect(&t, "select @@session.session_track_state_change", "1");
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);

    /* in a transaction: rolled back and reset */
    drvtest_ok(&t, "select last_insert_id(43)");
    drvtest_ok(&t, "start transaction");
    drvtest_ok(&t, "select 1");
    ck_assert_int_eq(drvtest_reset_full(&t, true, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select last_insert_id()", "0");
    drvtest_close(&t);
}
END_TEST

Suite *suite_mysql_driver_reset(void)
{
    Suite *s = suite_create("mysql_driver_reset");
    TCase *tc = tcase_create("mysql_driver_reset");
    tcase_set_timeout(tc, 30);
    drvtest_add_ping_tests(tc, drv);
    tcase_add_test(tc, ping_without_answer_is_lost_within_its_timeout);
    tcase_add_test(tc, full_reset_always_resets);
    suite_add_tcase(s, tc);
    return s;
}
