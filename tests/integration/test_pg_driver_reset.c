/* test_pg_driver_reset.c - the PostgreSQL driver: ping, and reset's ROLLBACK and DISCARD ALL. */
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/driver.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/pgtest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h. */
Suite *suite_pg_driver_reset(void);

static const txs_driver_t *drv = &txs_driver_pg;

/* ---- ping (drvtest_add_ping_tests has the tests both drivers pass) ---- */

/* A server that takes the ping and never answers: its backend stopped (SIGSTOP; the
 * tests run as root). */
START_TEST(ping_without_answer_is_lost_within_its_timeout)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    int pid = drv->backend_pid(t.c);
    bool stopped = drvtest_stop_process(pid);
    t.done = 0;
    int64_t t0 = drvtest_now_ms();
    int rc = drv->ping(t.c, 200, drvtest_on_reset, &t);
    bool called = rc == TXS_OK && drvtest_run_until(&t.loop, &t.done, DRVTEST_WAIT_MS);
    int64_t took = t.done_at - t0;
    kill(pid, SIGCONT); /* before any assertion can end the test */
    ck_assert_msg(stopped, "could not stop process %d", (int)pid);
    ck_assert_int_eq(rc, TXS_OK);
    ck_assert_msg(called, "the ping never called back");
    drvtest_expect_ping_timed_out(&t, 200, took);
    drvtest_close(&t);
    drvtest_kill_and_wait(drv, pid);
}
END_TEST

/* ---- reset ---- */

/* The sequence of the tests: its currval lives until a DISCARD ALL (DISCARD SEQUENCES),
 * so it tells whether one ran. */
static void make_seq(void)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "create sequence if not exists drvreset_seq");
    PQfinish(side);
}

/* Whether a DISCARD ALL ran since nextval: currval fails after one (55000). */
static bool discarded(drvtest_t *t)
{
    txs_drv_status_t st = drvtest_run(t, "select currval('drvreset_seq') > 0");
    ck_assert_msg(st == TXS_DRV_OK || strcmp(t->code, "55000") == 0, "currval: %s %s", t->code,
                  t->message);
    return st != TXS_DRV_OK;
}

static void expect_reset(drvtest_t *t, bool full, const char *what)
{
    txs_drv_status_t st;
    ck_assert_msg(drvtest_reset_full(t, full, &st) == TXS_OK, "%s: reset had nothing to do", what);
    ck_assert_msg(st == TXS_DRV_OK, "%s: reset failed: %s %s", what, t->code, t->message);
    ck_assert_int_eq(t->tx, TXS_DRV_TX_IDLE);
}

static void expect_clean(drvtest_t *t, const char *what)
{
    txs_drv_status_t st;
    ck_assert_msg(drvtest_reset(t, &st) == 1, "%s: reset was not free", what);
}

START_TEST(reset_costs_nothing_after_plain_statements)
{
    make_seq();
    drvtest_t t;
    drvtest_open(&t, drv);
    expect_clean(&t, "fresh");
    drvtest_ok(&t, "select nextval('drvreset_seq')");
    static const char *const plain[] = {
        "select 1",
        "select current_setting('search_path'), 'set search_path = x' as s",
        "select count(*) from pg_locks where locktype = 'advisory'",
        "select pg_advisory_xact_lock(5)", /* released with its transaction */
        "set local statement_timeout = 5", /* outside a transaction: nothing */
        "unlisten *",
        "deallocate all",
        "begin",
        "commit",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        drvtest_ok(&t, plain[i]);
    const char *const batch[] = {"select 1", "select 2"};
    ck_assert_int_eq(drvtest_batch(&t, batch, 2), TXS_DRV_OK);
    expect_clean(&t, "plain statements");
    ck_assert(!discarded(&t));

    /* a transaction open: one ROLLBACK and no DISCARD ALL, even when it changed settings
     * for itself (SET LOCAL; TimeZone is reported while the transaction lasts) */
    drvtest_ok(&t, "begin");
    drvtest_ok(&t, "set local search_path = pg_catalog");
    drvtest_ok(&t, "set local timezone = 'Asia/Tokyo'");
    drvtest_ok(&t, "select pg_advisory_xact_lock(6)");
    expect_reset(&t, false, "open transaction");
    ck_assert(!discarded(&t));
    drvtest_expect(&t, "select current_setting('search_path')", "\"\\\"$user\\\", public\"");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    expect_clean(&t, "after the rollback");

    drvtest_ok(&t, "begin");
    ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    expect_reset(&t, false, "failed transaction");
    ck_assert(!discarded(&t));

    /* a failed statement that would have changed nothing */
    ck_assert_int_eq(drvtest_run(&t, "select nosuch"), TXS_DRV_DB_ERROR);
    expect_clean(&t, "failed statement");
    drvtest_close(&t);
}
END_TEST

/* Each kind of session state: set up, seen, reset, gone. The probe is true while the
 * state is there. */
static const struct kind {
    const char *setup;
    const char *probe;
} kinds[] = {
    {"set search_path = pg_catalog", "select current_setting('search_path') = 'pg_catalog'"},
    {"SET SESSION statement_timeout = 123456",
     "select current_setting('statement_timeout') = '123456ms'"},
    {"set role pg_monitor", "select current_user = 'pg_monitor'"},
    {"set session authorization pg_monitor", "select session_user = 'pg_monitor'"},
    {"select set_config('search_path', 'pg_catalog', false)",
     "select current_setting('search_path') = 'pg_catalog'"},
    {"create temp table drv_tmp (x int)", "select to_regclass('pg_temp.drv_tmp') is not null"},
    {"create table pg_temp.drv_tmp2 (x int)", "select to_regclass('pg_temp.drv_tmp2') is not null"},
    {"select 1 as x into temp drv_tmp3", "select to_regclass('pg_temp.drv_tmp3') is not null"},
    {"listen drv_chan", "select count(*) > 0 from pg_listening_channels()"},
    {"select pg_advisory_lock(4242)",
     "select count(*) > 0 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"},
    {"select pg_try_advisory_lock_shared(4243)",
     "select count(*) > 0 from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()"},
    {"prepare drv_q as select 1", "select count(*) > 0 from pg_prepared_statements"},
    {"declare drv_c cursor with hold for select 1",
     "select count(*) > 0 from pg_cursors where name = 'drv_c'"},
};

START_TEST(reset_discards_each_kind_of_state)
{
    make_seq();
    drvtest_t t;
    drvtest_open(&t, drv);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        drvtest_ok(&t, "select nextval('drvreset_seq')");
        drvtest_ok(&t, kinds[i].setup);
        drvtest_expect(&t, kinds[i].probe, "true");
        expect_reset(&t, false, kinds[i].setup);
        drvtest_expect(&t, kinds[i].probe, "false");
        ck_assert(discarded(&t));
        expect_clean(&t, kinds[i].setup); /* once is enough */
    }

    /* the advisory lock, seen from the side */
    int pid = drv->backend_pid(t.c);
    char sql[160];
    snprintf(sql, sizeof sql,
             "select count(*) from pg_locks where locktype = 'advisory' and pid = %d", pid);
    PGconn *side = txs_pgtest_pg();
    drvtest_ok(&t, "select pg_advisory_lock(4244)");
    char *n = txs_pgtest_value(side, sql);
    ck_assert_str_eq(n, "1");
    free(n);
    expect_reset(&t, false, "advisory lock");
    n = txs_pgtest_value(side, sql);
    ck_assert_str_eq(n, "0");
    free(n);
    PQfinish(side);

    /* in a batch, a statement of any rank */
    const char *const batch[] = {"select 1", "set search_path = pg_catalog", "select 3"};
    ck_assert_int_eq(drvtest_batch(&t, batch, 3), TXS_DRV_OK);
    expect_reset(&t, false, "batch");
    drvtest_expect(&t, kinds[0].probe, "false");

    /* a statement that failed may have done part of its work: reset anyway */
    ck_assert_int_eq(drvtest_run(&t, "set search_path = 1/0"), TXS_DRV_DB_ERROR);
    expect_reset(&t, false, "failed SET");
    drvtest_close(&t);
}
END_TEST

START_TEST(reset_rolls_back_then_discards)
{
    make_seq();
    drvtest_t t;
    drvtest_open(&t, drv);
    /* session state made inside a transaction outlives its rollback */
    drvtest_ok(&t, "select nextval('drvreset_seq')");
    drvtest_ok(&t, "begin");
    drvtest_ok(&t, "select pg_advisory_lock(4245)");
    drvtest_ok(&t, "declare drv_c2 cursor with hold for select 1");
    expect_reset(&t, false, "in a transaction");
    drvtest_expect(&t, kinds[9].probe, "false");
    drvtest_expect(&t, "select count(*) from pg_cursors where name = 'drv_c2'", "0");
    ck_assert(discarded(&t));
    expect_clean(&t, "after");

    /* in a failed transaction too */
    drvtest_ok(&t, "begin");
    drvtest_ok(&t, "set search_path = pg_catalog");
    ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    expect_reset(&t, false, "failed transaction");
    drvtest_expect(&t, kinds[0].probe, "false");
    expect_clean(&t, "after");
    drvtest_close(&t);
}
END_TEST

/* What the text does not show but the server does: a reported setting changed by a
 * function, a notification (LISTEN ran somewhere). */
START_TEST(reset_sees_reported_settings_and_notifications)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "create or replace function drvreset_tz() returns text language sql "
                          "as $$ select set_config('TimeZone', 'Asia/Tokyo', false) $$");
    txs_pgtest_exec(side, "create or replace function drvreset_listen() returns void "
                          "language plpgsql as $$ begin execute 'listen drvreset_chan'; end $$");
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "select drvreset_tz()");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"Asia/Tokyo\"");
    expect_reset(&t, false, "TimeZone in a function");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    expect_clean(&t, "after");

    drvtest_ok(&t, "select drvreset_listen()");
    txs_pgtest_exec(side, "notify drvreset_chan");
    drvtest_ok(&t, "select pg_sleep(0.05)"); /* the notification comes while idle, or before
                                                this statement's answer */
    expect_reset(&t, false, "a notification");
    drvtest_expect(&t, "select count(*) from pg_listening_channels()", "0");
    expect_clean(&t, "after");
    drvtest_close(&t);
    txs_pgtest_exec(side, "drop function drvreset_tz(); drop function drvreset_listen()");
    PQfinish(side);
}
END_TEST

START_TEST(full_reset_always_discards)
{
    make_seq();
    PGconn *side = txs_pgtest_pg();
    /* search_path is not reported: a function that sets it goes unseen (the reason for
     * reset_always) */
    txs_pgtest_exec(side, "create or replace function drvreset_path() returns text language sql "
                          "as $$ select set_config('search_path', 'pg_catalog', false) $$");
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "select nextval('drvreset_seq')");
    expect_reset(&t, true, "clean, full");
    ck_assert(discarded(&t));

    drvtest_ok(&t, "select nextval('drvreset_seq')");
    drvtest_ok(&t, "select drvreset_path()");
    expect_reset(&t, true, "unseen change, full");
    drvtest_expect(&t, kinds[0].probe, "false");
    ck_assert(discarded(&t));

    drvtest_ok(&t, "select nextval('drvreset_seq')");
    drvtest_ok(&t, "begin");
    drvtest_ok(&t, "select 1");
    expect_reset(&t, true, "in a transaction, full");
    ck_assert(discarded(&t));
    drvtest_close(&t);
    txs_pgtest_exec(side, "drop function drvreset_path()");
    PQfinish(side);
}
END_TEST

/* drvtest_open with these startup options in the dsn (settings DISCARD ALL resets to). */
static void open_with_options(drvtest_t *t, const char *options)
{
    drvtest_init(t, drv);
    char dsn[600];
    snprintf(dsn, sizeof dsn, "%s options='%s'", txs_pgtest_dsn(), options);
    ck_assert_int_eq(drvtest_connect(t, dsn, 10000), TXS_DRV_OK);
}

/* DISCARD ALL resets to the values of the startup packet: the ones the driver pins and
 * the ones the dsn's options give. */
START_TEST(discard_keeps_the_settings_pinned_at_connect)
{
    drvtest_t t;
    open_with_options(&t, "-c work_mem=1234kB");
    static const char *const sets[] = {
        "set datestyle = 'German, DMY'",      "set timezone = 'Asia/Tokyo'",
        "set intervalstyle = 'sql_standard'", "set extra_float_digits = 0",
        "set bytea_output = 'escape'",        "set client_encoding = 'LATIN1'",
        "set application_name = 'other'",     "set work_mem = '2MB'",
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        drvtest_ok(&t, sets[i]);
    drvtest_expect(&t, "select current_setting('DateStyle')", "\"German, DMY\"");
    expect_reset(&t, false, "settings");
    drvtest_expect(&t, "select current_setting('DateStyle') like 'ISO,%'", "true");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    drvtest_expect(&t, "select current_setting('IntervalStyle')", "\"postgres\"");
    drvtest_expect(&t, "select current_setting('extra_float_digits')", "\"1\"");
    drvtest_expect(&t, "select current_setting('bytea_output')", "\"hex\"");
    drvtest_expect(&t, "select current_setting('client_encoding')", "\"UTF8\"");
    drvtest_expect(&t, "select current_setting('application_name')", "\"txscope\"");
    drvtest_expect(&t, "select current_setting('work_mem')", "\"1234kB\"");
    /* values read as before */
    drvtest_expect(&t, "select date '2020-01-02'", "\"2020-01-02\"");
    drvtest_expect(&t, "select timestamptz '2020-01-02 03:04:05+00'", "\"2020-01-02 03:04:05+00\"");
    drvtest_expect(&t, "select interval '1 day 2 hours'", "\"1 day 02:00:00\"");
    drvtest_expect(&t, "select 0.1::float8", "0.1");
    expect_clean(&t, "after");
    drvtest_close(&t);
}
END_TEST

/* DISCARD ALL drops the temporary tables: a lock held on one from the side makes it wait,
 * and the dsn's lock_timeout (a startup setting: it survives the RESET of DISCARD ALL)
 * makes it fail. */
START_TEST(failed_discard_is_a_db_error)
{
    drvtest_t t;
    open_with_options(&t, "-c lock_timeout=200");
    drvtest_ok(&t, "create temp table drv_locked (x int)");
    txs_buf_t q;
    txs_buf_init(&q);
    const char *out = drvtest_ok(&t, "select nspname from pg_namespace "
                                     "where oid = pg_my_temp_schema()");
    const char *at = strstr(out, "\"rows\":[[\"");
    ck_assert_ptr_nonnull(at);
    at += strlen("\"rows\":[[\"");
    txs_buf_printf(&q, "lock table %.*s.drv_locked", (int)strcspn(at, "\""), at);
    txs_buf_putc(&q, '\0');
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "begin");
    txs_pgtest_exec(side, q.data);
    txs_drv_status_t st;
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    txs_pgtest_exec(side, "rollback");
    ck_assert_int_eq(st, TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "55P03");
    ck_assert(t.from_db);
    drvtest_close(&t);
    PQfinish(side);
    txs_buf_free(&q);
}
END_TEST

START_TEST(reset_of_a_dead_connection_is_lost)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "set search_path = pg_catalog");
    drvtest_kill_and_wait(drv, drv->backend_pid(t.c));
    drvtest_run_for(&t.loop, 200); /* the driver sees the EOF, tells nobody */
    txs_drv_status_t st;
    ck_assert_int_eq(drvtest_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_int_eq(drv->reset(t.c, true, drvtest_on_reset, &t), TXS_ELOST); /* told already */
    drvtest_close(&t);
}
END_TEST

Suite *suite_pg_driver_reset(void)
{
    Suite *s = suite_create("pg_driver_reset");
    TCase *tc = tcase_create("pg_driver_reset");
    tcase_set_timeout(tc, 30);
    drvtest_add_ping_tests(tc, drv);
    tcase_add_test(tc, ping_without_answer_is_lost_within_its_timeout);
    tcase_add_test(tc, reset_costs_nothing_after_plain_statements);
    tcase_add_test(tc, reset_discards_each_kind_of_state);
    tcase_add_test(tc, reset_rolls_back_then_discards);
    tcase_add_test(tc, reset_sees_reported_settings_and_notifications);
    tcase_add_test(tc, full_reset_always_discards);
    tcase_add_test(tc, discard_keeps_the_settings_pinned_at_connect);
    tcase_add_test(tc, failed_discard_is_a_db_error);
    tcase_add_test(tc, reset_of_a_dead_connection_is_lost);
    suite_add_tcase(s, tc);
    return s;
}
