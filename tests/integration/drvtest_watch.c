/* drvtest_watch.c - the idle watch both driver suites test: death told once, waiting costs nothing.
 */
#include <check.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(watch_reports_a_dead_connection)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_expect(&t, "select 1", "1"); /* a statement in between leaves the watch on */
    ck_assert_int_eq(t.watched, 0);
    drvtest_kill(drv, drv->backend_pid(t.c));
    ck_assert_msg(drvtest_run_until(&t.loop, &t.watched, DRVTEST_WAIT_MS), "watch never fired");
    ck_assert_int_eq(t.watched, 1);
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, b->lost_idle);
    ck_assert(!t.from_db);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select 1", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_on_op, &t), TXS_ELOST);
    drvtest_run_for(&t.loop, 100);
    ck_assert_int_eq(t.watched, 1);
    drvtest_close(&t);
}
END_TEST

START_TEST(unwatched_death_is_told_to_the_next_run)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_kill(drv, drv->backend_pid(t.c));
    drvtest_run_for(&t.loop, 300); /* notices the EOF, tells nobody */
    ck_assert_int_eq(drvtest_run(&t, "select 1"), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    drvtest_close(&t);

    /* the same, told to a watch set afterwards */
    drvtest_open(&t, drv);
    drvtest_kill(drv, drv->backend_pid(t.c));
    drvtest_run_for(&t.loop, 300);
    drv->watch(t.c, drvtest_on_watch, &t);
    ck_assert_int_eq(t.watched, 0);
    ck_assert(drvtest_run_until(&t.loop, &t.watched, DRVTEST_WAIT_MS));
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    drvtest_close(&t);
}
END_TEST

START_TEST(waiting_uses_no_cpu)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    double c0 = drvtest_cpu_ms();
    ck_assert_int_eq(drvtest_run(&t, drvtest_sleep(drv, "0.5")), TXS_DRV_OK);
    drvtest_run_for(&t.loop, 500); /* idle, watched */
    double used = drvtest_cpu_ms() - c0;
    ck_assert_msg(used < 250, "%.0f ms of CPU over 1 s of waiting", used);
    ck_assert_int_eq(t.watched, 0);
    drvtest_close(&t);
}
END_TEST

void drvtest_add_watch_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, watch_reports_a_dead_connection, drv);
    drvtest_add(tc, unwatched_death_is_told_to_the_next_run, drv);
    drvtest_add(tc, waiting_uses_no_cpu, drv);
}
