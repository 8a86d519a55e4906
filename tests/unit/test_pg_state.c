/* test_pg_state.c - which PostgreSQL statements mark the session for a DISCARD ALL. */
#include <check.h>
#include <string.h>

#include "drivers/pg_state.h"

Suite *suite_pg_state(void);

static bool changes(const char *sql)
{
    return txs_pg_changes_session(sql, strlen(sql));
}

START_TEST(set_and_reset)
{
    ck_assert(changes("set search_path = app, public"));
    ck_assert(changes("SET search_path TO app"));
    ck_assert(changes("set session statement_timeout = 5"));
    ck_assert(changes("Set Role app_reader"));
    ck_assert(changes("set session authorization app"));
    ck_assert(changes("set session characteristics as transaction read only"));
    ck_assert(changes("set time zone 'Europe/Paris'"));
    ck_assert(changes("  -- why\n /* a /* nested */ comment */ SET work_mem = '1MB'"));
    ck_assert(changes("set"));
    ck_assert(changes("reset all"));
    ck_assert(changes("RESET search_path"));
    ck_assert(changes("reset role"));
    /* scoped to the transaction: the rollback or commit undoes them */
    ck_assert(!changes("set local search_path = app"));
    ck_assert(!changes("SET LOCAL statement_timeout = 5"));
    ck_assert(!changes("set transaction isolation level serializable"));
    ck_assert(!changes("set constraints all deferred"));
    ck_assert(!changes("/* c */ set -- c\n local work_mem = '1MB'"));
    /* SET further on is not the statement's */
    ck_assert(!changes("update t set x = 1"));
    ck_assert(!changes("insert into t values (1) on conflict (id) do update set x = 2"));
    ck_assert(!changes("settings"));
    ck_assert(!changes("select 'set search_path = x'"));
}
END_TEST

START_TEST(statements_that_keep_state)
{
    ck_assert(changes("listen chan"));
    ck_assert(changes("LISTEN \"Chan\""));
    ck_assert(changes("prepare q (int) as select $1"));
    ck_assert(changes("declare c cursor with hold for select 1"));
    ck_assert(changes("load 'auto_explain'"));
    ck_assert(changes("discard plans"));
    ck_assert(changes("DISCARD ALL"));
    ck_assert(!changes("unlisten *"));
    ck_assert(!changes("deallocate q"));
    ck_assert(!changes("notify chan, 'x'"));
    ck_assert(!changes("execute q(1)"));
    ck_assert(!changes("close c"));
    ck_assert(!changes("listening"));
}
END_TEST

START_TEST(temporary_objects)
{
    ck_assert(changes("create temp table t (x int)"));
    ck_assert(changes("CREATE TEMPORARY TABLE t AS SELECT 1"));
    ck_assert(changes("create local temporary view v as select 1"));
    ck_assert(changes("create global temp sequence s"));
    ck_assert(changes("create table pg_temp.t (x int)"));
    ck_assert(changes("create function pg_temp.f() returns int language sql as 'select 1'"));
    ck_assert(changes("select 1 into temp t"));
    ck_assert(changes("select * into t from u")); /* SELECT INTO makes a table */
    ck_assert(changes("SELECT a, b\nINTO TABLE t FROM u"));
    ck_assert(changes("insert into pg_temp.t values (1)"));
    ck_assert(changes("create \"temp\" table t (x int)")); /* quoted: read as a word */
    ck_assert(!changes("create table t (x int)"));
    ck_assert(!changes("create unlogged table t (x int)"));
    ck_assert(!changes("insert into t select 1"));
    ck_assert(!changes("create table t (tempo int, temperature int, pg_temp1 int)"));
    ck_assert(!changes("select 'temp', \"a temp\" from t"));
    ck_assert(!changes("with x as (select 1) insert into t select * from x"));
}
END_TEST

START_TEST(functions_that_keep_state)
{
    ck_assert(changes("select pg_advisory_lock(1)"));
    ck_assert(changes("SELECT pg_catalog.PG_ADVISORY_LOCK(1, 2)"));
    ck_assert(changes("select pg_advisory_lock_shared(1)"));
    ck_assert(changes("select pg_try_advisory_lock(1)"));
    ck_assert(changes("select pg_try_advisory_lock_shared(1)"));
    ck_assert(changes("select x from t where pg_try_advisory_lock(id)"));
    ck_assert(changes("select set_config('search_path', 'app', false)"));
    ck_assert(changes("select \"set_config\"('a.b', '1', false)"));
    ck_assert(changes("select dblink_connect('c', 'dbname=x')"));
    ck_assert(changes("select dblink_connect_u('c', 'dbname=x')"));
    ck_assert(changes("update pg_settings set setting = 'x' where name = 'search_path'"));
    ck_assert(changes("UPDATE pg_catalog.pg_settings SET setting = '1' WHERE name = 'a.b'"));
    /* scoped to the transaction, or read only */
    ck_assert(!changes("select pg_advisory_xact_lock(1)"));
    ck_assert(!changes("select pg_try_advisory_xact_lock(1)"));
    ck_assert(!changes("select pg_advisory_unlock(1)"));
    ck_assert(!changes("select current_setting('search_path')"));
    ck_assert(!changes("select name, setting from pg_settings"));
    ck_assert(!changes("select dblink('dbname=x', 'select 1')"));
    ck_assert(!changes("select set_configuration()"));
}
END_TEST

START_TEST(strings_and_comments_hide_words)
{
    ck_assert(!changes("select 'pg_advisory_lock(1)'"));
    ck_assert(!changes("select 'it''s temp'"));
    ck_assert(!changes("select E'a\\'temp'"));
    ck_assert(!changes("select e'\\\\', 1"));
    ck_assert(!changes("select $$ set_config $$"));
    ck_assert(!changes("select $f$ temp $ $$ pg_temp $f$"));
    ck_assert(!changes("select $a$ $b$ temp $b$ $a$"));
    ck_assert(!changes("select 1 -- temp table"));
    ck_assert(!changes("select /* temp /* nested */ temp */ 1"));
    ck_assert(!changes("do $body$ begin perform set_config('a.b', '1', false); end $body$"));
    ck_assert(!changes("select f(\"x\"\"temp\")"));
    /* what ends before the word leaves it in the open */
    ck_assert(changes("select $$ x $$, pg_advisory_lock(1)"));
    ck_assert(changes("select 'a''b', set_config('a.b', '1', false)"));
    ck_assert(changes("select /* a */ 1 /* b */, pg_advisory_lock(2)"));
    ck_assert(changes("select $1, pg_advisory_lock($2)")); /* parameters are no quotes */
    ck_assert(changes("select a$b, pg_advisory_lock(1) from t"));
    ck_assert(changes("select 1 -- x\n, pg_advisory_lock(1)"));
    /* with standard_conforming_strings off, 'a\' does not end: either reading counts */
    ck_assert(changes("select 'a\\', pg_advisory_lock(1), 'b'"));
    ck_assert(changes("select 'a\\'', pg_advisory_lock(1), ''"));
    /* unclosed: the rest is string or comment */
    ck_assert(!changes("select 'temp"));
    ck_assert(!changes("select $x$ temp"));
    ck_assert(!changes("select /* temp"));
}
END_TEST

START_TEST(plain_statements_cost_nothing)
{
    ck_assert(!changes(""));
    ck_assert(!changes("   "));
    ck_assert(!changes("-- nothing"));
    ck_assert(!changes("select 1"));
    ck_assert(!changes("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY"));
    ck_assert(!changes("commit"));
    ck_assert(!changes("rollback"));
    ck_assert(!changes("savepoint s1"));
    ck_assert(!changes("insert into t (a, b) values ($1, $2) returning id"));
    ck_assert(!changes("update t set a = $1 where id = $2"));
    ck_assert(!changes("delete from t where id = $1"));
    ck_assert(!changes("select * from t for update skip locked"));
    ck_assert(!changes("copy t to stdout"));
    ck_assert(!changes("lock table t in exclusive mode"));
    ck_assert(!changes("select nextval('s')"));
    /* len, not the NUL */
    ck_assert(!txs_pg_changes_session("select 1; set x = 1", 8));
    ck_assert(txs_pg_changes_session("set x = 1", 3));
}
END_TEST

Suite *suite_pg_state(void)
{
    Suite *s = suite_create("pg_state");
    TCase *tc = tcase_create("pg_state");
    tcase_add_test(tc, set_and_reset);
    tcase_add_test(tc, statements_that_keep_state);
    tcase_add_test(tc, temporary_objects);
    tcase_add_test(tc, functions_that_keep_state);
    tcase_add_test(tc, strings_and_comments_hide_words);
    tcase_add_test(tc, plain_statements_cost_nothing);
    suite_add_tcase(s, tc);
    return s;
}
