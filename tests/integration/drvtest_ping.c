/* drvtest_ping.c - the ping tests both driver suites run: same requests, same answers. */
#include <check.h>
#include <stdio.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(ping_answers_on_a_live_connection)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    txs_drv_status_t st;
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_lt(t.done_at - t0, 500);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select 1", "1"); /* usable after it */

    /* inside a transaction: the answer says alive, the state stays */
    drvtest_ok(&t, "start transaction");
    ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    if (drv == &txs_driver_pg) { /* and a failed one, which MySQL does not have */
        ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
        ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK);
        ck_assert_int_eq(st, TXS_DRV_OK);
        ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
    }
    drvtest_ok(&t, "rollback");

    /* no timeout at all (0), and with the idle watch on: the watch stays in force */
    drv->watch(t.c, drvtest_on_watch, &t);
    ck_assert_int_eq(drvtest_ping(&t, 0, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(drvtest_ping(&t, 200, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    drvtest_run_for(&t.loop, 300); /* past the timeout: the deadline went with the answer */
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    ck_assert_int_eq(t.watched, 0);
    drvtest_kill(drv, drv->backend_pid(t.c));
    ck_assert_msg(drvtest_run_until(&t.loop, &t.watched, DRVTEST_WAIT_MS), "watch never fired");
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    drvtest_close(&t);
}
END_TEST

START_TEST(ping_on_a_dead_connection_is_lost)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    /* ended, and the driver has not looked yet: the ping finds out */
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_kill_and_wait(drv, drv->backend_pid(t.c));
    txs_drv_status_t st;
    ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert(!t.from_db);
    ck_assert_int_eq(t.watched, 0); /* the ping's callback tells it, not the watch */
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    ck_assert_int_eq(drv->ping(t.c, 1000, drvtest_on_reset, &t), TXS_ELOST); /* told already */
    drvtest_close(&t);

    /* died while idle and unwatched: the ping's callback hears it */
    drvtest_open(&t, drv);
    drvtest_kill_and_wait(drv, drv->backend_pid(t.c));
    drvtest_run_for(&t.loop, 200); /* the driver sees the EOF, tells nobody */
    ck_assert_int_eq(drvtest_ping(&t, 1000, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    /* PostgreSQL says why; MariaDB sends nothing, and the driver says what it saw */
    ck_assert_str_eq(t.message, drvtest_backend(_i)->lost_idle);
    drvtest_close(&t);

    /* the watch told it first: the ping is refused */
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_kill(drv, drv->backend_pid(t.c));
    ck_assert(drvtest_run_until(&t.loop, &t.watched, DRVTEST_WAIT_MS));
    t.done = 0;
    ck_assert_int_eq(drv->ping(t.c, 1000, drvtest_on_reset, &t), TXS_ELOST);
    drvtest_run_for(&t.loop, 50);
    ck_assert_int_eq(t.done, 0);
    drvtest_close(&t);
}
END_TEST

void drvtest_expect_ping_timed_out(drvtest_t *t, uint64_t timeout_ms, int64_t took)
{
    const txs_driver_t *drv = t->drv;
    ck_assert_int_eq(t->st, TXS_DRV_LOST);
    ck_assert_msg(took >= (int64_t)timeout_ms - 5 && took < (int64_t)timeout_ms + 800, /* slack */
                  "the ping gave up after %lld ms", (long long)took);
    ck_assert_str_eq(t->code, "08006");
    char msg[96];
    snprintf(msg, sizeof msg, "no answer to ping within %llu ms", (unsigned long long)timeout_ms);
    ck_assert_str_eq(t->message, msg);
    ck_assert(!t->from_db);
    ck_assert_int_eq(t->watched, 0);
    ck_assert_int_eq(drv->tx_status(t->c), TXS_DRV_TX_UNKNOWN); /* for good */
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select 1", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t->c, &s, drvtest_on_op, t), TXS_ELOST);
}

START_TEST(ping_and_reset_wait_their_turn)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_start(&t, drvtest_sleep(drv, "0.2"), 0, NULL);
    ck_assert_int_eq(drv->ping(t.c, 1000, drvtest_on_reset, &t), TXS_ESTATE);
    ck_assert_int_eq(drv->reset(t.c, false, drvtest_on_reset, &t), TXS_ESTATE);
    ck_assert_int_eq(drv->reset(t.c, true, drvtest_on_reset, &t), TXS_ESTATE);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    /* cancel() during a ping: nothing to cancel, the ping answers */
    t.done = 0;
    ck_assert_int_eq(drv->ping(t.c, 1000, drvtest_on_reset, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(drvtest_run_until(&t.loop, &t.done, DRVTEST_WAIT_MS));
    ck_assert_int_eq(t.st, TXS_DRV_OK);
    drvtest_expect(&t, "select 2", "2");
    drvtest_close(&t);
}
END_TEST

void drvtest_add_ping_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, ping_answers_on_a_live_connection, drv);
    drvtest_add(tc, ping_on_a_dead_connection_is_lost, drv);
    drvtest_add(tc, ping_and_reset_wait_their_turn, drv);
}
