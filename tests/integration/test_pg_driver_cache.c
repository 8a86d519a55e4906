/* test_pg_driver_cache.c - the PostgreSQL driver's statement cache on a real server. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/driver.h"
#include "drivers/pg_cache.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/pgtest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h.
 * What the server holds is read with pg_prepared_statements on the connection itself:
 * prepared statements are the session's, no other connection sees them. */
Suite *suite_pg_driver_cache(void);

static const txs_driver_t *drv = &txs_driver_pg;

/* A parameterised query whose result tells its parameters apart. */
static const char *const Q = "select g, $2::text || g as s from generate_series(1, $1::int) g";

/* Q's encoded result for n rows of prefix p. */
static const char *q_want(int n, const char *p)
{
    static char want[512];
    int len = snprintf(want, sizeof want,
                       "\"command\":\"SELECT\",\"rowCount\":%d,\"fields\":[{\"name\":\"g\","
                       "\"type\":\"int4\"},{\"name\":\"s\",\"type\":\"text\"}],\"rows\":[",
                       n);
    for (int i = 1; i <= n; i++)
        len += snprintf(want + len, sizeof want - (size_t)len, "%s[%d,\"%s%d\"]", i > 1 ? "," : "",
                        i, p, i);
    snprintf(want + len, sizeof want - (size_t)len, "]");
    return want;
}

/* Run Q for n rows of prefix p and check its whole result, and the transaction state
 * after it. */
static void run_q_tx(drvtest_t *t, int n, const char *p, txs_drv_txstatus_t tx)
{
    char ns[16];
    snprintf(ns, sizeof ns, "%d", n);
    const char *vals[] = {ns, p};
    txs_drv_status_t st = drvtest_runp(t, Q, 2, vals);
    ck_assert_msg(st == TXS_DRV_OK, "Q: %d %s %s", st, t->code, t->message);
    ck_assert_str_eq(drvtest_out(t), q_want(n, p));
    ck_assert_int_eq(t->tx, tx);
}

static void run_q(drvtest_t *t, int n, const char *p)
{
    run_q_tx(t, n, p, TXS_DRV_TX_IDLE);
}

/* The first row of the last result, past `"rows":[[`. */
static const char *first_row(drvtest_t *t)
{
    const char *out = drvtest_out(t);
    const char *r = strstr(out, "\"rows\":[[");
    ck_assert_msg(r, "no row: %s", out);
    return r + 9;
}

/* How many statements of the text sql the server holds for this connection: *ours, the
 * protocol-level ones named txs_s<N>; *all, any. */
static void prepared(drvtest_t *t, const char *sql, int *ours, int *all)
{
    const char *vals[] = {sql};
    txs_drv_status_t st =
        drvtest_runp(t,
                     "select (count(*) filter (where name like 'txs\\_s%' and not from_sql))::int, "
                     "count(*)::int from pg_prepared_statements where statement = $1",
                     1, vals);
    ck_assert_msg(st == TXS_DRV_OK, "pg_prepared_statements: %s %s", t->code, t->message);
    ck_assert_int_eq(sscanf(first_row(t), "%d,%d", ours, all), 2);
}

/* Expect sql to be prepared once, under a txs_s name, or not at all. */
static void expect_prepared(drvtest_t *t, const char *sql, int n)
{
    int ours, all;
    prepared(t, sql, &ours, &all);
    ck_assert_msg(ours == n && all == n, "%s: %d prepared by the driver, %d in all, want %d", sql,
                  ours, all, n);
}

/* How many statements the server holds for this connection, but those of the probes. */
static int prepared_all(drvtest_t *t)
{
    const char *out = drvtest_ok(t, "select count(*)::int from pg_prepared_statements "
                                    "where statement not like '%pg\\_prepared\\_statements%'");
    int n;
    ck_assert_msg(sscanf(first_row(t), "%d", &n) == 1, "%s", out);
    return n;
}

/* A fresh table name(a int) holding the row (1), made on the side. */
static void make_table(const char *name)
{
    PGconn *side = txs_pgtest_pg();
    char sql[160];
    snprintf(sql, sizeof sql, "drop table if exists %s", name);
    txs_pgtest_exec(side, sql);
    snprintf(sql, sizeof sql, "create table %s (a int)", name);
    txs_pgtest_exec(side, sql);
    snprintf(sql, sizeof sql, "insert into %s values (1)", name);
    txs_pgtest_exec(side, sql);
    PQfinish(side);
}

static void side_exec(const char *sql)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, sql);
    PQfinish(side);
}

/* reset(false) had to send something, and it went well. */
static void expect_reset_sent(drvtest_t *t)
{
    txs_drv_status_t st;
    ck_assert_msg(drvtest_reset(t, &st) == TXS_OK, "reset had nothing to do");
    ck_assert_msg(st == TXS_DRV_OK, "reset: %s %s", t->code, t->message);
    ck_assert_int_eq(t->tx, TXS_DRV_TX_IDLE);
}

/* ---- prepared on the 2nd use ---- */

START_TEST(third_use_runs_by_name_with_the_same_results)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 2, "x");
    expect_prepared(&t, Q, 0);
    run_q(&t, 2, "x");
    expect_prepared(&t, Q, 1);
    run_q(&t, 3, "y");
    run_q(&t, 1, "z");
    expect_prepared(&t, Q, 1); /* the same one */

    /* by name, a NULL parameter is still NULL */
    const char *vals[] = {"2", NULL};
    ck_assert_int_eq(drvtest_runp(&t, Q, 2, vals), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[1,null],[2,null]]"), "%s", drvtest_out(&t));
    /* and a row count of a DML by name */
    make_table("pgcache_dml");
    for (int i = 0; i < 3; i++) {
        const char *v[] = {"5"};
        ck_assert_int_eq(drvtest_runp(&t, "update pgcache_dml set a = $1", 1, v), TXS_DRV_OK);
        ck_assert_str_eq(drvtest_out(&t),
                         "\"command\":\"UPDATE\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    }
    expect_prepared(&t, "update pgcache_dml set a = $1", 1);
    drvtest_close(&t);
}
END_TEST

START_TEST(one_use_and_utility_statements_are_not_prepared)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "once");
    expect_prepared(&t, Q, 0);
    for (int i = 0; i < 3; i++) {
        drvtest_ok(&t, "show search_path");
        drvtest_ok(&t, "set local work_mem = '1MB'");
    }
    expect_prepared(&t, "show search_path", 0);
    expect_prepared(&t, "set local work_mem = '1MB'", 0);
    ck_assert_int_eq(prepared_all(&t), 0);
    drvtest_close(&t);
}
END_TEST

/* ---- batches ---- */

/* Q as a batch statement: n rows of prefix p (ns: n's text, living as long as s). */
static txs_stmt_t q_stmt(const char **vals, char *ns, int n, const char *p, int *lens)
{
    sprintf(ns, "%d", n);
    vals[0] = ns;
    vals[1] = p;
    return drvtest_stmt(Q, 2, vals, lens);
}

START_TEST(batch_with_a_statement_twice)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    for (int round = 0; round < 3; round++) {
        /* 1st round: Q plain, then prepared; later rounds: Q by name twice, and the other
         * statement prepared in the 2nd round */
        const char *v0[2], *v1[2];
        char n0[8], n1[8];
        int l0[2], l1[2];
        txs_stmt_t s[3] = {q_stmt(v0, n0, 2, "a", l0), q_stmt(v1, n1, 1, "b", l1),
                           drvtest_stmt("select 'other' as o", 0, NULL, NULL)};
        drvtest_batch_start(&t, s, 3);
        ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
        ck_assert_int_eq(t.enc_rc, TXS_OK);
        char want[1024];
        snprintf(want, sizeof want, "%s\n", q_want(2, "a"));
        strcat(want, q_want(1, "b"));
        strcat(want, "\n\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"o\","
                     "\"type\":\"text\"}],\"rows\":[[\"other\"]]");
        ck_assert_str_eq(drvtest_out(&t), want);
        ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
        expect_prepared(&t, Q, 1);
        expect_prepared(&t, "select 'other' as o", round == 0 ? 0 : 1);
    }
    run_q(&t, 1, "single"); /* a run() by name after batches */
    drvtest_close(&t);
}
END_TEST

START_TEST(failed_batch_forgets_the_skipped_prepare)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "a"); /* its next use prepares it */
    const char *v[2];
    char ns[8];
    int l[2];
    txs_stmt_t s[2] = {drvtest_stmt("select 1/0", 0, NULL, NULL), q_stmt(v, ns, 2, "b", l)};
    drvtest_batch_start(&t, s, 2);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 0);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_prepared(&t, Q, 0); /* skipped: never prepared */
    run_q(&t, 2, "c");         /* not sent by a name the server lacks */
    run_q(&t, 3, "d");
    expect_prepared(&t, Q, 1); /* a later use prepared it */
    run_q(&t, 1, "e");

    /* the other way round: prepared, then a later statement fails and the batch's
     * implicit transaction rolls back; the prepared statement stays (not transactional) */
    const char *w[2];
    char ws[8];
    int wl[2];
    const char *o = "select 'o'::text as o, $1::int as n";
    const char *ov[] = {"1"};
    int ol[1];
    ck_assert_int_eq(drvtest_runp(&t, o, 1, ov), TXS_DRV_OK);
    txs_stmt_t s2[3] = {q_stmt(w, ws, 1, "f", wl), drvtest_stmt(o, 1, ov, ol),
                        drvtest_stmt("select 1/0", 0, NULL, NULL)};
    drvtest_batch_start(&t, s2, 3);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert_int_eq(t.index, 2);
    expect_prepared(&t, o, 1);
    ck_assert_int_eq(drvtest_runp(&t, o, 1, ov), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[\"o\",1]]"), "%s", drvtest_out(&t));
    run_q(&t, 2, "g");
    drvtest_close(&t);
}
END_TEST

/* ---- statements the server refuses ---- */

START_TEST(syntax_error_is_the_statements_own_each_time)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *bad = "select 1 frm x";
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(drvtest_run(&t, bad), TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42601");
        ck_assert_str_eq(t.message, "syntax error at or near \"x\"");
        ck_assert_int_eq(t.position, 14);
        ck_assert(t.from_db);
        ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    }
    expect_prepared(&t, bad, 0);
    for (int i = 0; i < 4; i++) {
        const char *sqls[] = {"select 1", bad, "select 2"};
        ck_assert_int_eq(drvtest_batch(&t, sqls, 3), TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42601");
        ck_assert_int_eq(t.position, 14);
        ck_assert(t.has_index);
        ck_assert_int_eq(t.index, 1);
    }
    expect_prepared(&t, bad, 0);
    /* an unknown table, in a transaction: the transaction is failed each time */
    const char *missing = "select * from pgcache_no_such_table";
    for (int i = 0; i < 3; i++) {
        drvtest_ok(&t, "begin");
        ck_assert_int_eq(drvtest_run(&t, missing), TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42P01");
        ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
        drvtest_ok(&t, "rollback");
    }
    expect_prepared(&t, missing, 0);
    drvtest_expect(&t, "select 'usable'", "\"usable\"");
    drvtest_close(&t);
}
END_TEST

/* run() has no batch index (drivers/driver.h), whichever use of the statement failed:
 * the one that prepares it goes as a pipeline of one, which must not show. */
START_TEST(run_error_has_no_index_on_any_use)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    static const char *const bad[] = {"select 1 frm x", "select 1/0",
                                      "select * from pgcache_no_such_table"};
    static const char *const codes[] = {"42601", "22012", "42P01"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        for (int i = 0; i < 3; i++) {
            ck_assert_int_eq(drvtest_run(&t, bad[k]), TXS_DRV_DB_ERROR);
            ck_assert_str_eq(t.code, codes[k]);
            ck_assert_msg(!t.has_index, "%s, use %d: run() has no index (got %d)", bad[k], i + 1,
                          t.index);
        }
    drvtest_close(&t);
}
END_TEST

/* A statement due to be prepared, inside a failed transaction: 25P02, as without the
 * cache; by name too. Neither leaves the cache wrong. */
START_TEST(failed_transaction_refuses_prepare_and_named_alike)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "a");
    for (int i = 0; i < 2; i++) { /* its PREPARE refused, then (after) its run by name */
        drvtest_ok(&t, "begin");
        ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
        const char *v[] = {"1", "x"};
        ck_assert_int_eq(drvtest_runp(&t, Q, 2, v), TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "25P02");
        ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
        drvtest_ok(&t, "rollback");
        run_q(&t, 2, "b");
        run_q(&t, 2, "c");
        expect_prepared(&t, Q, 1);
    }
    drvtest_close(&t);
}
END_TEST

/* ---- the server's statements dropped by the user ---- */

START_TEST(deallocate_and_discard_by_the_user)
{
    static const char *const droppers[] = {"deallocate all", "DISCARD ALL",
                                           "/* x */ deallocate prepare all"};
    drvtest_t t;
    drvtest_open(&t, drv);
    for (size_t k = 0; k < sizeof droppers / sizeof *droppers; k++) {
        run_q(&t, 1, "a");
        run_q(&t, 1, "a");
        expect_prepared(&t, Q, 1);
        drvtest_ok(&t, droppers[k]);
        expect_prepared(&t, Q, 0);
        run_q(&t, 2, "b"); /* no 26000: not sent by the name that is gone */
        run_q(&t, 3, "c");
        run_q(&t, 1, "d");
        expect_prepared(&t, Q, 1);
        if (strncmp(droppers[k], "DISCARD", 7) == 0) {
            drvtest_ok(&t, droppers[k]); /* not in a batch: not in a transaction block */
            continue;
        }
        /* in a batch, with Q by name before it and after it */
        const char *v0[2], *v1[2];
        char n0[8], n1[8];
        int l0[2], l1[2];
        txs_stmt_t s[3] = {q_stmt(v0, n0, 1, "e", l0), drvtest_stmt(droppers[k], 0, NULL, NULL),
                           q_stmt(v1, n1, 2, "f", l1)};
        drvtest_batch_start(&t, s, 3);
        ck_assert_msg(drvtest_wait(&t) == TXS_DRV_OK, "%s in a batch: %s %s", droppers[k], t.code,
                      t.message);
        ck_assert_msg(strstr(drvtest_out(&t), q_want(2, "f")), "%s", drvtest_out(&t));
        run_q(&t, 1, "g");
        run_q(&t, 1, "h");
        expect_prepared(&t, Q, 1);
        drvtest_ok(&t, droppers[k]); /* for the next round */
    }
    drvtest_close(&t);
}
END_TEST

/* Behind the driver's back (a function): the run by name fails once with 26000, then
 * the statement is prepared anew. */
START_TEST(deallocated_behind_the_drivers_back)
{
    side_exec("create or replace function pgcache_dealloc() returns void language plpgsql "
              "as $$ begin execute 'deallocate all'; end $$");
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "a");
    run_q(&t, 1, "a");
    drvtest_ok(&t, "select pgcache_dealloc()");
    expect_prepared(&t, Q, 0);
    const char *v[] = {"1", "b"};
    txs_drv_status_t st = drvtest_runp(&t, Q, 2, v);
    ck_assert_msg(st == TXS_DRV_DB_ERROR && strcmp(t.code, "26000") == 0,
                  "the statement gone from the server: %d %s %s", st, t.code, t.message);
    run_q(&t, 2, "c");
    run_q(&t, 2, "d");
    expect_prepared(&t, Q, 1);
    run_q(&t, 1, "e");
    drvtest_close(&t);
}
END_TEST

/* ---- a table that changes under a prepared statement ---- */

START_TEST(table_change_under_a_prepared_select)
{
    make_table("pgcache_alter");
    const char *sel = "select * from pgcache_alter";
    const char *one = "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"a\","
                      "\"type\":\"int4\"}],\"rows\":[[1]]";
    const char *two = "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"a\","
                      "\"type\":\"int4\"},{\"name\":\"b\",\"type\":\"int4\"}],\"rows\":[[1,null]]";
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_str_eq(drvtest_ok(&t, sel), one);
    ck_assert_str_eq(drvtest_ok(&t, sel), one);
    expect_prepared(&t, sel, 1);
    side_exec("alter table pgcache_alter add column b int");

    /* the statement prepared for one column cannot return two: 0A000 once, which forgets
     * it (the server still holds the name) */
    ck_assert_int_eq(drvtest_run(&t, sel), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "0A000");
    ck_assert_str_eq(t.message, "cached plan must not change result type");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_str_eq(drvtest_ok(&t, sel), two);
    ck_assert_str_eq(drvtest_ok(&t, sel), two);
    ck_assert_str_eq(drvtest_ok(&t, sel), two);

    /* the old statement is discarded at reset: nothing is left on the server */
    expect_reset_sent(&t);
    ck_assert_int_eq(prepared_all(&t), 0);
    ck_assert_str_eq(drvtest_ok(&t, sel), two);
    ck_assert_str_eq(drvtest_ok(&t, sel), two);
    expect_prepared(&t, sel, 1);

    /* inside a transaction, that error fails the transaction */
    side_exec("alter table pgcache_alter drop column b");
    drvtest_ok(&t, "begin");
    ck_assert_int_eq(drvtest_run(&t, sel), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "0A000");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
    drvtest_ok(&t, "rollback");
    ck_assert_str_eq(drvtest_ok(&t, sel), one);
    expect_reset_sent(&t);
    ck_assert_int_eq(prepared_all(&t), 0);
    drvtest_close(&t);
}
END_TEST

/* A DEALLOCATE that drops nothing (it failed, or its batch failed before it) leaves the
 * server's statements in place: the driver must not lose track of them, or they stay on
 * the connection for good, a second copy made of each at its next uses. */
START_TEST(deallocate_that_drops_nothing_leaves_no_orphans)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "a");
    run_q(&t, 1, "a");
    ck_assert_int_eq(drvtest_run(&t, "deallocate pgcache_no_such_statement"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "26000");
    run_q(&t, 1, "b");
    run_q(&t, 1, "c");
    run_q(&t, 1, "d");
    txs_drv_status_t st;
    if (drvtest_reset(&t, &st) == TXS_OK)
        ck_assert_int_eq(st, TXS_DRV_OK);
    int ours, all;
    prepared(&t, Q, &ours, &all);
    ck_assert_msg(all <= 1, "after a failed DEALLOCATE and a reset: %d statements of Q", all);

    run_q(&t, 2, "x"); /* prepared (again, if the reset discarded it) */
    run_q(&t, 2, "y");
    expect_prepared(&t, Q, 1);
    const char *sqls[] = {"select 1/0", "deallocate all"};
    ck_assert_int_eq(drvtest_batch(&t, sqls, 2), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t.index, 0);
    run_q(&t, 1, "e");
    run_q(&t, 1, "f");
    run_q(&t, 1, "g");
    if (drvtest_reset(&t, &st) == TXS_OK)
        ck_assert_int_eq(st, TXS_DRV_OK);
    prepared(&t, Q, &ours, &all);
    ck_assert_msg(all <= 1, "after a DEALLOCATE skipped and a reset: %d statements of Q", all);
    drvtest_close(&t);
}
END_TEST

/* ---- the LRU, and reset ---- */

START_TEST(overflow_is_discarded_at_reset)
{
    enum { N = TXS_PG_CACHE_SIZE + 2 };
    drvtest_t t;
    drvtest_open(&t, drv);
    char sql[64], want[64];
    for (int i = 0; i < N; i++) {
        snprintf(sql, sizeof sql, "select 's%d' as v", i);
        snprintf(want, sizeof want, "\"s%d\"", i);
        drvtest_expect(&t, sql, want);
        drvtest_expect(&t, sql, want);
    }
    /* the two pushed out are still on the server, with the 128 the cache has */
    ck_assert_int_eq(prepared_all(&t), N);
    expect_reset_sent(&t);
    ck_assert_int_eq(prepared_all(&t), 0);
    for (int i = N - 3; i < N; i++) { /* and they work again */
        snprintf(sql, sizeof sql, "select 's%d' as v", i);
        snprintf(want, sizeof want, "\"s%d\"", i);
        for (int k = 0; k < 3; k++)
            drvtest_expect(&t, sql, want);
        expect_prepared(&t, sql, 1);
    }
    drvtest_close(&t);
}
END_TEST

START_TEST(clean_release_keeps_the_cache)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    run_q(&t, 1, "a");
    run_q(&t, 1, "a");
    drvtest_expect(&t, "select 'other'", "\"other\"");
    drvtest_expect(&t, "select 'other'", "\"other\"");
    txs_drv_status_t st;
    ck_assert_msg(drvtest_reset(&t, &st) == 1, "reset was not free");
    expect_prepared(&t, Q, 1);
    expect_prepared(&t, "select 'other'", 1);
    run_q(&t, 2, "b");

    /* an open transaction: only a ROLLBACK */
    drvtest_ok(&t, "begin");
    run_q_tx(&t, 1, "c", TXS_DRV_TX_INTRANS);
    expect_reset_sent(&t);
    expect_prepared(&t, Q, 1);
    run_q(&t, 1, "d");

    /* a full reset discards them, and they are prepared anew */
    ck_assert_int_eq(drvtest_reset_full(&t, true, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(prepared_all(&t), 0);
    run_q(&t, 1, "e");
    run_q(&t, 1, "f");
    run_q(&t, 1, "g");
    expect_prepared(&t, Q, 1);
    /* and a session state change too */
    drvtest_ok(&t, "set search_path = public");
    expect_reset_sent(&t);
    ck_assert_int_eq(prepared_all(&t), 0);
    run_q(&t, 2, "h");
    run_q(&t, 2, "i");
    expect_prepared(&t, Q, 1);
    drvtest_close(&t);
}
END_TEST

START_TEST(rolled_back_transaction_keeps_the_statements)
{
    make_table("pgcache_tx");
    const char *ins = "insert into pgcache_tx values ($1)";
    const char *v[] = {"7"};
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "begin");
    run_q_tx(&t, 1, "a", TXS_DRV_TX_INTRANS);
    run_q_tx(&t, 1, "a", TXS_DRV_TX_INTRANS); /* prepared inside the transaction */
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(drvtest_runp(&t, ins, 1, v), TXS_DRV_OK);
    drvtest_ok(&t, "rollback");
    expect_prepared(&t, Q, 1);
    expect_prepared(&t, ins, 1);
    run_q(&t, 2, "b"); /* by name */
    ck_assert_int_eq(drvtest_runp(&t, ins, 1, v), TXS_DRV_OK);
    drvtest_expect(&t, "select count(*) from pgcache_tx where a = 7", "1");

    /* and a transaction rolled back by reset */
    drvtest_ok(&t, "begin");
    run_q_tx(&t, 1, "c", TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drvtest_runp(&t, ins, 1, v), TXS_DRV_OK);
    expect_reset_sent(&t);
    drvtest_expect(&t, "select count(*) from pgcache_tx where a = 7", "1");
    run_q(&t, 1, "d");
    ck_assert_int_eq(drvtest_runp(&t, ins, 1, v), TXS_DRV_OK);
    drvtest_expect(&t, "select count(*) from pgcache_tx where a = 7", "2");
    drvtest_close(&t);
}
END_TEST

/* ---- cancel ---- */

/* The use that prepares a statement, cancelled while it runs: the statement was
 * prepared (the PREPARE went before), and runs by name next. */
START_TEST(cancelled_while_being_prepared)
{
    const char *sleep = "select pg_sleep($1::float8) as z";
    const char *v[] = {"0"}, *long_v[] = {"5"};
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_int_eq(drvtest_runp(&t, sleep, 1, v), TXS_DRV_OK);
    drvtest_start(&t, sleep, 1, long_v);
    drvtest_cancel_after(&t, 200);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "57014");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drvtest_runp(&t, sleep, 1, v), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[\"\"]]"), "%s", drvtest_out(&t));
    expect_prepared(&t, sleep, 1);

    /* a statement due to be prepared, held back while a cancel request is under way */
    const char *held = "select 'held' as h";
    drvtest_expect(&t, held, "\"held\"");
    t.then_sql = held;
    drvtest_hold_back(&t);
    ck_assert_int_eq(drvtest_wait(&t), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[\"held\"]]"), "%s", drvtest_out(&t));
    t.then_sql = NULL;
    drvtest_expect(&t, held, "\"held\"");
    expect_prepared(&t, held, 1);
    drvtest_close(&t);
}
END_TEST

Suite *suite_pg_driver_cache(void)
{
    Suite *s = suite_create("pg_driver_cache");
    TCase *tc = tcase_create("pg_driver_cache");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, third_use_runs_by_name_with_the_same_results);
    tcase_add_test(tc, one_use_and_utility_statements_are_not_prepared);
    tcase_add_test(tc, batch_with_a_statement_twice);
    tcase_add_test(tc, failed_batch_forgets_the_skipped_prepare);
    tcase_add_test(tc, syntax_error_is_the_statements_own_each_time);
    tcase_add_test(tc, run_error_has_no_index_on_any_use);
    tcase_add_test(tc, failed_transaction_refuses_prepare_and_named_alike);
    tcase_add_test(tc, deallocate_and_discard_by_the_user);
    tcase_add_test(tc, deallocated_behind_the_drivers_back);
    tcase_add_test(tc, table_change_under_a_prepared_select);
    tcase_add_test(tc, deallocate_that_drops_nothing_leaves_no_orphans);
    tcase_add_test(tc, overflow_is_discarded_at_reset);
    tcase_add_test(tc, clean_release_keeps_the_cache);
    tcase_add_test(tc, rolled_back_transaction_keeps_the_statements);
    tcase_add_test(tc, cancelled_while_being_prepared);
    suite_add_tcase(s, tc);
    return s;
}
