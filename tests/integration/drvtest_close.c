/* drvtest_close.c - close() in the states both driver suites share: no callback after it. */
#include <check.h>
#include <stdio.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "tests/integration/drvtest.h"

START_TEST(close_while_connecting)
{
    const drvtest_backend_t *b = drvtest_backend(_i);
    const txs_driver_t *drv = b->drv;
    drvtest_t t;
    drvtest_init(&t, drv);
    ck_assert_int_eq(drv->connect(&t.loop, drvtest_dsn(drv), 10000, drvtest_never, &t, &t.c),
                     TXS_OK);
    drvtest_close(&t);

    /* mid-handshake with a server that never answers */
    drvtest_init(&t, drv);
    int port;
    int fd = drvtest_silent_listener(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, b->port_dsn, port);
    ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, drvtest_never, &t, &t.c), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    drvtest_close(&t);
    close(fd);

    /* with the failure report pending */
    drvtest_init(&t, drv);
    ck_assert_int_eq(drv->connect(&t.loop, b->bad_dsn, 10000, drvtest_never, &t, &t.c), TXS_OK);
    drvtest_close(&t);
}
END_TEST

START_TEST(close_while_running)
{
    const txs_driver_t *drv = drvtest_backend(_i)->drv;
    drvtest_t t;
    drvtest_open(&t, drv);
    int lens[1];
    txs_stmt_t s = drvtest_stmt(drvtest_sleep(drv, "10"), 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_never, &t), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    drvtest_close(&t);

    /* with a cancel request (a KILL) being sent */
    drvtest_open(&t, drv);
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_never, &t), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    drvtest_close(&t);
}
END_TEST

void drvtest_add_close_tests(TCase *tc, const txs_driver_t *drv)
{
    drvtest_add(tc, close_while_connecting, drv);
    drvtest_add(tc, close_while_running, drv);
}
