/* test_state_reset.c - what a session leaves in its backend connection never reaches the
 * next session on that connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_state_reset(void);

/* One backend connection, so that the next session gets the same one. */
static const char *const one_conn[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};

static cJSON *query(txscope_conn_t *c, const char *ctx, const char *sql)
{
    return th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\"}", ctx, sql);
}

/* sql in ctx gives one value, shown as text (JSON null as "null"). */
static void expect_value(txscope_conn_t *c, const char *ctx, const char *sql, const char *want)
{
    cJSON *r = query(c, ctx, sql);
    ck_assert_msg(txscope_reply_ok(r), "%s: %s", sql, txscope_last_line(c));
    char *v = th_first_value(r);
    ck_assert_msg(v && strcmp(v, want) == 0, "%s: got %s, want %s", sql, v ? v : "(none)", want);
    free(v);
    cJSON_Delete(r);
}

static void run_all(txscope_conn_t *c, const char *ctx, const char *const *sqls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        th_expect_ok(query(c, ctx, sqls[i]), sqls[i]);
}

static void commit_and_end(txscope_conn_t *c, const char *ctx)
{
    char what[64];
    snprintf(what, sizeof what, "commit %s", ctx);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"%s\"}", ctx), what);
    snprintf(what, sizeof what, "end %s", ctx);
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"%s\"}", ctx), what);
}

/* A daemon with one backend connection, and a client whose session "a" holds it; the
 * connection's backend id in *first. */
static txscope_conn_t *start_on_one_conn(th_daemon_t *d, const char *const *env, long *first)
{
    th_daemon_start(d, env);
    txscope_conn_t *c = th_connect(d);
    *first = th_backend_id(c, "a", false);
    return c;
}

/* Session "a" ends; session "b" gets the same backend connection. */
static void next_session_on_it(txscope_conn_t *c, long first)
{
    commit_and_end(c, "a");
    ck_assert_int_eq(th_backend_id(c, "b", false), first);
}

/* Ends session ctx, closes the client, and stops the daemon cleanly. */
static void end_and_stop(th_daemon_t *d, txscope_conn_t *c, const char *ctx)
{
    char what[64];
    snprintf(what, sizeof what, "end %s", ctx);
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"%s\"}", ctx), what);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(d), 0);
}

/* The acceptance: SET (not SET LOCAL), a temporary table, LISTEN, a session
 * advisory lock (and a prepared statement, a held cursor) in one session; the next
 * session on the same backend sees none of them. */
START_TEST(pg_session_state_does_not_reach_the_next_session)
{
    th_daemon_t d;
    long first;
    txscope_conn_t *c = start_on_one_conn(&d, one_conn, &first);
    th_side_t *side = th_side();
    static const char *const leaks[] = {
        "set search_path = pg_catalog, public",
        "set statement_timeout = 43210",
        "create temp table t_sr_tmp (id int)",
        "insert into t_sr_tmp values (1)",
        "listen sr_chan",
        "select pg_advisory_lock(5151)",
        "prepare sr_q as select 1",
        "declare sr_c cursor with hold for select 1",
    };
    run_all(c, "a", leaks, sizeof leaks / sizeof leaks[0]);
    expect_value(c, "a", "select current_setting('search_path')", "pg_catalog, public");
    expect_value(c, "a", "select count(*) from t_sr_tmp", "1");
    commit_and_end(c, "a");

    /* from the side: the lock is gone, the backend is still there */
    char locks[160];
    snprintf(locks, sizeof locks,
             "select count(*) from pg_locks where locktype = 'advisory' and pid = %ld", first);
    ck_assert_int_ge(th_side_wait_zero(side, locks, 2000), 0);
    ck_assert_int_eq(
        th_side_long(side, "select count(*) from pg_stat_activity where pid = %ld", first), 1);

    /* from inside the next session */
    ck_assert_int_eq(th_backend_id(c, "b", false), first);
    expect_value(c, "b", "select current_setting('search_path')", "\"$user\", public");
    expect_value(c, "b", "select current_setting('statement_timeout')", "0");
    expect_value(c, "b", "select to_regclass('pg_temp.t_sr_tmp')", "null");
    th_expect_code(query(c, "b", "select count(*) from t_sr_tmp"), "42P01", "temp table gone");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"b\"}"), "rollback b");
    expect_value(c, "b", "select count(*) from pg_listening_channels()", "0");
    /* from_sql: statements made with PREPARE, the user's; the daemon's own statement
     * cache (protocol-level, named txs_s*) may be there and is nobody's state. */
    expect_value(c, "b", "select count(*) from pg_prepared_statements where from_sql", "0");
    expect_value(c, "b", "select count(*) from pg_cursors where name = 'sr_c'", "0");
    expect_value(c, "b",
                 "select count(*) from pg_locks where locktype = 'advisory' and "
                 "pid = pg_backend_pid()",
                 "0");
    commit_and_end(c, "b");
    ck_assert_int_eq(th_side_long(side, "%s", locks), 0);

    /* a SET in autocommit mode, the connection going back after each statement */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"set search_path = "
                            "pg_catalog\",\"autocommit\":true}"),
                 "autocommit set");
    ck_assert_int_eq(th_backend_id(c, "d", false), first);
    expect_value(c, "d", "select current_setting('search_path')", "\"$user\", public");
    th_side_close(side);
    end_and_stop(&d, c, "d");
}
END_TEST

/* Session variables and prepared statements on MySQL (test_mysql.c has user variables,
 * temporary tables and GET_LOCK). */
START_TEST(mysql_session_variables_do_not_reach_the_next_session)
{
    th_daemon_t d;
    long first;
    txscope_conn_t *c = start_on_one_conn(&d, one_conn, &first);
    static const char *const leaks[] = {
        "set session sql_mode = 'ANSI_QUOTES'",
        "set session wait_timeout = 12345",
        "set @@session.max_join_size = 4321",
        "prepare sr_q from 'select 7'",
    };
    run_all(c, "a", leaks, sizeof leaks / sizeof leaks[0]);
    expect_value(c, "a", "execute sr_q", "7");
    next_session_on_it(c, first);
    expect_value(c, "b", "select @@session.sql_mode = @@global.sql_mode", "1");
    expect_value(c, "b", "select @@session.wait_timeout = @@global.wait_timeout", "1");
    expect_value(c, "b", "select @@session.max_join_size = @@global.max_join_size", "1");
    th_expect_code(query(c, "b", "execute sr_q"), "HY000", "prepared statement gone");
    end_and_stop(&d, c, "b");
}
END_TEST

/* The settings the driver pins when it connects (PostgreSQL: DateStyle ISO, TimeZone UTC;
 * MySQL: time_zone +00:00) hold again after a session changed them. */
START_TEST(settings_pinned_at_connect_survive_a_reset)
{
    th_daemon_t d;
    long first;
    txscope_conn_t *c = start_on_one_conn(&d, one_conn, &first);
    const char *date_sql =
        TH_PICK("select date '2020-01-02'", "select cast(date '2020-01-02' as char)");
    const char *epoch_sql =
        TH_PICK("select timestamptz 'epoch'::text", "select cast(from_unixtime(0) as char)");
    if (th_backend == TH_PG) {
        static const char *const sets[] = {"set datestyle = 'German, DMY'",
                                           "set timezone = 'Asia/Tokyo'"};
        run_all(c, "a", sets, 2);
        expect_value(c, "a", date_sql, "02.01.2020");
        expect_value(c, "a", epoch_sql, "01.01.1970 09:00:00 JST");
    } else {
        th_expect_ok(query(c, "a", "set time_zone = '+09:00'"), "time_zone");
        expect_value(c, "a", epoch_sql, "1970-01-01 09:00:00");
    }
    next_session_on_it(c, first);
    expect_value(c, "b", date_sql, "2020-01-02");
    expect_value(c, "b", epoch_sql, TH_PICK("1970-01-01 00:00:00+00", "1970-01-01 00:00:00"));
    end_and_stop(&d, c, "b");
}
END_TEST

/* reset_always: state that no statement's text shows (a function's SET on PostgreSQL,
 * LAST_INSERT_ID on MySQL) is cleared too. */
START_TEST(reset_always_clears_what_is_not_seen)
{
    th_daemon_t d;
    long first;
    static const char *const env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1",
                                      "TXSCOPE_DB_MAIN_RESET_ALWAYS=on", NULL};
    txscope_conn_t *c = start_on_one_conn(&d, env, &first);
    th_side_t *side = th_side();
    if (th_backend == TH_PG)
        th_side_exec(side, "create or replace function sr_path() returns text language sql as "
                           "$$ select set_config('search_path', 'pg_catalog', false) $$");
    const char *probe = TH_PICK("select current_setting('search_path') = 'pg_catalog'",
                                "select last_insert_id() = 42");
    th_expect_ok(query(c, "a", TH_PICK("select sr_path()", "select last_insert_id(42)")),
                 "hidden change");
    expect_value(c, "a", probe, TH_PICK("true", "1"));
    next_session_on_it(c, first);
    expect_value(c, "b", probe, TH_PICK("false", "0"));
    if (th_backend == TH_PG)
        th_side_exec(side, "drop function sr_path()");
    th_side_close(side);
    end_and_stop(&d, c, "b");
}
END_TEST

Suite *suite_state_reset(void)
{
    Suite *s = suite_create("state_reset");
    TCase *tcs[2];
    th_tcases(s, tcs, 60);
    tcase_add_test(tcs[TH_PG], pg_session_state_does_not_reach_the_next_session);
    tcase_add_test(tcs[TH_MYSQL], mysql_session_variables_do_not_reach_the_next_session);
    TH_ADD_TEST(tcs, settings_pinned_at_connect_survive_a_reset);
    TH_ADD_TEST(tcs, reset_always_clears_what_is_not_seen);
    return s;
}
