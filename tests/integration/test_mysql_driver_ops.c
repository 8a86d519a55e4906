/* test_mysql_driver_ops.c - the MySQL/MariaDB driver: cancel, death, close, batches, reset. */
#include <check.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/mysqltest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h;
 * test_mysql_driver.c has connect, values and types, and errors.
 * The tests both drivers pass alike are in drvtest_*.c (drvtest_add_*_tests). */
Suite *suite_mysql_driver_ops(void);

static const txs_driver_t *drv = &txs_driver_mysql;

/* ---- cancel ---- */

START_TEST(cancel_stops_a_running_statement)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    int id = drv->backend_pid(t.c);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* nothing runs: no-op */
    ck_assert_int_eq(drvtest_run(&t, "select sleep(0.3)"), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[0]]"), "%s", drvtest_out(&t));

    const char *ten[] = {"10"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    for (int prepared = 0; prepared < 2; prepared++) {
        int lens[1];
        txs_stmt_t s =
            drvtest_stmt(prepared ? "select sleep(?)" : "select sleep(10)", prepared, ten, lens);
        s.kinds = num;
        drvtest_expect_cancel_spares_the_next(&t, &s); /* 70100, the next not killed */
    }
    /* the server's error, and the connection lives on */
    t.then_sql = NULL;
    drvtest_start(&t, "select sleep(10)", 0, NULL);
    drvtest_cancel_after(&t, 100);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert_str_eq(t.message, "Query execution was interrupted");
    ck_assert(t.from_db);
    ck_assert_int_eq(drv->backend_pid(t.c), id);
    drvtest_expect(&t, "select 3", "3");
    drvtest_close(&t);
}
END_TEST

/* A KILL that the running step swallows (DO SLEEP ends OK when killed) still stops the op
 * before its next step. */
START_TEST(cancel_stops_an_op_between_its_steps)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *dos[] = {"do sleep(0.5)", "select 2", "select 3"};
    txs_stmt_t d[3];
    drvtest_plain(d, dos, 3);
    drvtest_batch_start(&t, d, 3);
    drvtest_cancel_after(&t, 100);
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 100 + 800);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert_str_eq(t.message, "Query execution was interrupted");
    ck_assert(!t.from_db); /* stopped by the driver, not the server */
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);

    /* cancel() while a prepared statement is being prepared: it never runs to its end (it
     * stops before execute; or, when the prepare was answered at once, inside it) */
    const char *five[] = {"5"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    t0 = drvtest_now_ms();
    drvtest_start_k(&t, "select sleep(?)", 1, five, num);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 1000);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert(!t.has_index);

    const char *sqls[] = {"select 1", "select sleep(5)", "select 3"};
    txs_stmt_t s[3];
    drvtest_plain(s, sqls, 3);
    t0 = drvtest_now_ms();
    drvtest_batch_start(&t, s, 3); /* "select 1" runs now */
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 1000);
    ck_assert_str_eq(t.code, "70100");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);
    drvtest_expect(&t, "select 4", "4");
    drvtest_close(&t);
}
END_TEST

/* While a KILL is under way, the next op is held back, so that the late KILL cannot hit
 * it: a statement that finished before its KILL landed is followed by one that is not
 * killed. */
START_TEST(next_statement_waits_for_the_kill)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    for (int i = 0; i < 10; i++) {
        t.then_sql = "select sleep(0.2)";
        t.then_cancel = false;
        drvtest_hold_back(&t); /* its KILL lands after "select 1" */
        ck_assert_int_eq(t.first_st, TXS_DRV_OK);
        ck_assert_msg(drvtest_wait(&t) == TXS_DRV_OK, "round %d: %s %s", i, t.code, t.message);
        ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[0]]"), "%s", drvtest_out(&t));
    }
    /* the held statement is cancelled in turn when asked to */
    int lens[1];
    txs_stmt_t s = drvtest_stmt("select 1", 0, NULL, lens);
    t.then_sql = "select sleep(5)";
    t.then_cancel = true;
    t.first_done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, drvtest_on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(drvtest_run_until(&t.loop, &t.first_done, DRVTEST_WAIT_MS));
    int64_t t0 = drvtest_now_ms();
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_lt(t.done_at - t0, 2500);
    drvtest_expect(&t, "select 4", "4");
    /* and a held batch, with its parameters copied */
    int l0[1], l1[2];
    const char *v0[] = {"x"}, *v1[] = {"2", "3"};
    txs_stmt_t b[2] = {drvtest_stmt("select ?", 1, v0, l0),
                       drvtest_stmt("select ? + ?", 2, v1, l1)};
    t.then_sql = NULL;
    t.then_batch = b;
    t.then_batch_n = 2;
    t.then_cancel = false;
    drvtest_hold_back(&t);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[\"x\"]]\n"), "%s", drvtest_out(&t));
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[5]]"), "%s", drvtest_out(&t));
    drvtest_close(&t);
}
END_TEST

/* ---- the connection dies ---- */

START_TEST(watch_reports_an_idle_timeout)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_ok(&t, "set session wait_timeout = 1");
    int64_t t0 = drvtest_now_ms();
    ck_assert_msg(drvtest_run_until(&t.loop, &t.watched, DRVTEST_WAIT_MS), "watch never fired");
    ck_assert_int_ge(drvtest_now_ms() - t0, 900);
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    drvtest_close(&t);
}
END_TEST

static void kill_now(uv_timer_t *timer)
{
    drvtest_t *t = timer->data;
    txs_mysqltest_kill(drv->backend_pid(t->c));
    drvtest_timer_free(timer);
}

START_TEST(death_during_a_statement_is_lost)
{
    for (int prepared = 0; prepared < 2; prepared++) {
        drvtest_t t;
        drvtest_open(&t, drv);
        drv->watch(t.c, drvtest_on_watch, &t);
        const char *ten[] = {"10"};
        drvtest_start(&t, prepared ? "select sleep(?)" : "select sleep(10)", prepared, ten);
        drvtest_after_ms(&t, 200, kill_now);
        ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_LOST);
        ck_assert_str_eq(t.code, "08006");
        ck_assert_msg(strstr(t.message, "Connection was killed") ||
                          strstr(t.message, "Lost connection"),
                      "%s", t.message);
        ck_assert(!t.from_db);
        ck_assert_int_eq(t.watched, 0); /* the run's callback tells it, not the watch */
        ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
        drvtest_close(&t);
    }
}
END_TEST

/* ---- close in every state ---- */

/* (drvtest_add_close_tests has the states both drivers share.) */

START_TEST(close_while_resolving_the_host)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@LocalHost:%s/txs",
             txs_mysqltest_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, drvtest_never, &t, &t.c), TXS_OK);
    drvtest_close(&t);
}
END_TEST

START_TEST(close_while_preparing_held_back_or_sending)
{
    drvtest_t t;
    int lens[1];
    /* a prepared statement */
    drvtest_open(&t, drv);
    const char *ten[] = {"10"};
    txs_stmt_t p = drvtest_stmt("select sleep(?)", 1, ten, lens);
    ck_assert_int_eq(drv->run(t.c, &p, drvtest_never, &t), TXS_OK);
    drvtest_run_for(&t.loop, 100);
    drvtest_close(&t);

    /* with a statement held back behind a KILL */
    drvtest_open(&t, drv);
    t.then_sql = "select 2";
    drvtest_hold_back(&t);
    t.done = 0;
    drvtest_close(&t);
    ck_assert_int_eq(t.done, 0); /* "select 2" never reported */

    /* while a large statement is being sent */
    drvtest_open(&t, drv);
    size_t n = 8 << 20;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    txs_stmt_t b = drvtest_stmt("select length(?)", 1, vals, lens);
    ck_assert_int_eq(drv->run(t.c, &b, drvtest_never, &t), TXS_OK);
    free(big);
    drvtest_close(&t);

    /* with the report pending */
    drvtest_open(&t, drv);
    txs_stmt_t s = drvtest_stmt("select sleep(10)", 0, NULL, lens);
    ck_assert_int_eq(drv->run_batch(t.c, &s, 0, drvtest_never, &t), TXS_OK);
    drvtest_close(&t);
}
END_TEST

/* ---- batches ---- */

/* 50 inserts where the 30th repeats a key: the batch stops there. */
static int dup_batch(drvtest_t *t, bool explicit_tx)
{
    int index = drvtest_dup_batch(t, "mdrv_d", explicit_tx);
    ck_assert_str_eq(t->code, "23000");
    ck_assert_int_eq(t->vendor, 1062);
    ck_assert_str_eq(t->message, "Duplicate entry '3' for key 'PRIMARY'");
    return index;
}

START_TEST(batch_stops_at_the_failing_statement)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table mdrv_d (id int primary key) engine=innodb");
    /* no implicit transaction on MySQL: the 29 before it stay, the 20 after never ran */
    ck_assert_int_eq(dup_batch(&t, false), 29);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from mdrv_d", "29");
    drvtest_ok(&t, "delete from mdrv_d");

    ck_assert_int_eq(dup_batch(&t, true), 30);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS); /* the caller's to roll back */
    drvtest_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from mdrv_d", "0");

    ck_assert_int_eq(drvtest_run(&t, "select nosuch"), TXS_DRV_DB_ERROR);
    ck_assert(!t.has_index); /* run() has no index */
    const char *last[] = {"select 1", "select nosuch"};
    ck_assert_int_eq(drvtest_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42S22");
    ck_assert_int_eq(t.index, 1);
    const char *bad[] = {"select 1", "select 1 frm x", "insert into mdrv_d values (100)"};
    ck_assert_int_eq(drvtest_batch(&t, bad, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42000");
    ck_assert_int_eq(t.index, 1);
    drvtest_expect(&t, "select count(*) from mdrv_d", "0");
    /* a prepared statement fails in a batch */
    const char *one[] = {"1"};
    int l1[1];
    txs_stmt_t ps[2] = {drvtest_stmt("select ?", 1, one, l1),
                        drvtest_stmt("select ? + ?", 1, one, l1)};
    drvtest_batch_start(&t, ps, 2);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_int_eq(t.index, 1);
    drvtest_expect(&t, "select 'usable'", "\"usable\"");
    drvtest_close(&t);
}
END_TEST

/* ---- reset ---- */

START_TEST(reset_rolls_back_or_clears_the_session)
{
    MYSQL *side = txs_mysqltest_side();
    txs_mysqltest_exec(side, txs_mysqltest_own("drop table if exists mdrv_r"));
    txs_mysqltest_exec(side, txs_mysqltest_own("create table mdrv_r (x int) engine=innodb"));
    drvtest_t t;
    drvtest_open(&t, drv);
    txs_drv_status_t st;
    ck_assert_int_eq(drvtest_reset(&t, &st), 1); /* fresh: clean */
    drvtest_ok(&t, "select 1");
    drvtest_ok(&t, "select @never_set");
    ck_assert_int_eq(drvtest_reset(&t, &st), 1); /* still clean */

    /* clean but in a transaction: a rollback, and nothing else */
    drvtest_ok(&t, "select last_insert_id(42)"); /* session state the server does not flag */
    drvtest_ok(&t, "start transaction");
    drvtest_ok(&t, txs_mysqltest_own("insert into mdrv_r values (1)"));
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, txs_mysqltest_own("select count(*) from mdrv_r"), "0");
    drvtest_expect(&t, "select last_insert_id()", "42"); /* rolled back, not reset */
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);

    /* a user variable, a temporary table, a session variable, a user lock */
    drvtest_ok(&t, "set @v = 5");
    drvtest_ok(&t, "create temporary table mdrv_tt (x int)");
    drvtest_ok(&t, "set session sql_mode = 'ANSI_QUOTES'");
    drvtest_ok(&t, "set time_zone = '+05:00'");
    drvtest_ok(&t, "set autocommit = 0");
    drvtest_expect(&t, txs_mysqltest_own("select get_lock('mdrv_lock', 0)"), "1");
    char *free_lock =
        txs_mysqltest_value(side, txs_mysqltest_own("select is_free_lock('mdrv_lock')"));
    ck_assert_str_eq(free_lock, "0");
    free(free_lock);
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    drvtest_expect(&t, "select @v", "null");
    ck_assert_int_eq(drvtest_run(&t, "select * from mdrv_tt"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42S02");
    drvtest_expect(&t, "select @@session.sql_mode = @@global.sql_mode", "1");
    drvtest_expect(&t, "select @@autocommit", "1");
    drvtest_expect(&t, "select last_insert_id()", "0");
    free_lock = txs_mysqltest_value(side, txs_mysqltest_own("select is_free_lock('mdrv_lock')"));
    ck_assert_str_eq(free_lock, "1");
    free(free_lock);
    /* the set-up holds again, and does not count as a change */
    drvtest_expect(&t, "select @@session.time_zone", "\"+00:00\"");
    drvtest_expect(&t, "select @@session.session_track_state_change", "1");
    drvtest_expect(&t, "select @@character_set_client", "\"utf8mb4\"");
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);

    /* changes the server does not flag */
    char unflagged[4][128] = {"select @a := 1", "select 2 into @a"};
    snprintf(unflagged[2], sizeof unflagged[2], "%s", txs_mysqltest_own("call mdrv_noop()"));
    snprintf(unflagged[3], sizeof unflagged[3], "%s", txs_mysqltest_own("lock tables mdrv_r read"));
    drvtest_ok(&t, txs_mysqltest_own("drop procedure if exists mdrv_noop"));
    drvtest_ok(&t, txs_mysqltest_own("create procedure mdrv_noop() begin end"));
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);
    for (int i = 0; i < 4; i++) {
        drvtest_ok(&t, unflagged[i]);
        ck_assert_msg(drvtest_reset(&t, &st) == TXS_OK, "%s", unflagged[i]);
        ck_assert_int_eq(st, TXS_DRV_OK);
        drvtest_expect(&t, "select @a", "null");
        ck_assert_int_eq(drvtest_reset(&t, &st), 1);
    }
    txs_mysqltest_exec(
        side, txs_mysqltest_own("insert into mdrv_r values (7)")); /* the table lock is gone */

    /* dirty and in a transaction: both undone */
    drvtest_ok(&t, "set @w = 1");
    drvtest_ok(&t, "begin");
    drvtest_ok(&t, txs_mysqltest_own("insert into mdrv_r values (2)"));
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select @w", "null");
    drvtest_expect(&t, txs_mysqltest_own("select count(*) from mdrv_r where x = 2"), "0");
    /* a failed statement that flags nothing leaves it clean */
    ck_assert_int_eq(drvtest_run(&t, "select nosuch"), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);

    /* SET TRANSACTION waits, unflagged, for the next transaction: a begin cut short after
     * it must not hand its isolation level to the next user */
    drvtest_ok(&t, "set transaction isolation level serializable");
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    drvtest_ok(&t, "start transaction");
    drvtest_ok(&t, txs_mysqltest_own("select count(*) from mdrv_r"));
    usleep(150 * 1000); /* information_schema.innodb_trx is a cache of 100 ms */
    drvtest_expect(&t,
                   "select trx_isolation_level from information_schema.innodb_trx where "
                   "trx_mysql_thread_id = connection_id()",
                   "\"REPEATABLE READ\"");
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(drvtest_reset(&t, &st), 1);

    /* while something runs: refused */
    drvtest_start(&t, "select sleep(0.2)", 0, NULL);
    ck_assert_int_eq(drv->reset(t.c, false, drvtest_on_reset, &t), TXS_ESTATE);
    drvtest_wait(&t);
    drvtest_ok(&t, txs_mysqltest_own("drop procedure mdrv_noop"));

    /* dynamic SQL may hide anything: a reset follows */
    drvtest_ok(&t, "execute immediate 'set @d = 1'");
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    drvtest_expect(&t, "select @d", "null");

    /* another default database (USE): a reset would keep it, so the connection must go */
    drvtest_ok(&t, "use mysql");
    ck_assert_int_eq(drv->reset(t.c, false, drvtest_on_reset, &t), TXS_ESTATE);
    drvtest_close(&t);
    txs_mysqltest_exec(side, txs_mysqltest_own("drop table mdrv_r"));
    mysql_close(side);
}
END_TEST

Suite *suite_mysql_driver_ops(void)
{
    Suite *s = suite_create("mysql_driver_ops");
    TCase *tc = tcase_create("mysql_driver_ops");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cancel_stops_a_running_statement);
    tcase_add_test(tc, cancel_stops_an_op_between_its_steps);
    tcase_add_test(tc, next_statement_waits_for_the_kill);
    drvtest_add_watch_tests(tc, drv);
    tcase_add_test(tc, watch_reports_an_idle_timeout);
    tcase_add_test(tc, death_during_a_statement_is_lost);
    drvtest_add_close_tests(tc, drv);
    tcase_add_test(tc, close_while_resolving_the_host);
    tcase_add_test(tc, close_while_preparing_held_back_or_sending);
    drvtest_add_batch_tests(tc, drv);
    tcase_add_test(tc, batch_stops_at_the_failing_statement);
    tcase_add_test(tc, reset_rolls_back_or_clears_the_session);
    suite_add_tcase(s, tc);
    return s;
}
