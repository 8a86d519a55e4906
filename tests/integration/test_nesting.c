/* test_nesting.c - transaction levels: joined (subtransaction) levels, nested (SAVEPOINT)
 * levels, their mix, and named savepoints, checked against what the database committed,
 * on PostgreSQL and on MySQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_nesting(void);

/* Send one request; its reply must have `code` ("ok" or a SQLSTATE) and tx state/depth. */
static void step(txscope_conn_t *c, const char *code, const char *state, int depth, const char *req)
{
    cJSON *r = th_call(c, "%s", req);
    char *txt = cJSON_PrintUnformatted(r);
    if (strcmp(code, "ok") == 0)
        ck_assert_msg(txscope_reply_ok(r), "%s -> %s", req, txt);
    else
        ck_assert_msg(!txscope_reply_ok(r) && strcmp(txscope_reply_code(r), code) == 0,
                      "%s: want %s -> %s", req, code, txt);
    ck_assert_msg(strcmp(txscope_reply_tx_state(r), state) == 0, "%s: want state %s -> %s", req,
                  state, txt);
    ck_assert_msg(txscope_reply_tx_depth(r) == depth, "%s: want depth %d -> %s", req, depth, txt);
    free(txt);
    cJSON_Delete(r);
}

/* The SQLSTATE of a duplicate key. */
#define DUP_KEY TH_PICK("23505", "23000")

/* The ids in table t, in order, as "1,3" ("" when empty). */
static void expect_ids(th_side_t *s, const char *t, const char *want)
{
    char *got = th_side_text(
        s,
        TH_PICK("select coalesce(string_agg(id::text, ',' order by id), '') from %s",
                "select coalesce(group_concat(id order by id separator ','), '') from %s"),
        t);
    ck_assert_msg(got && strcmp(got, want) == 0, "%s holds {%s}, want {%s}", t, got, want);
    free(got);
}

/* Transaction-control statements the server has run: pg_stat_statements on PostgreSQL,
 * the server's Com_* counters on MySQL (global, so the test compares before and after). */
typedef struct tx_counts {
    long commits, begins, savepoints; /* savepoints: SAVEPOINT, RELEASE, ROLLBACK TO */
} tx_counts_t;

static void server_tx_counts(th_side_t *s, tx_counts_t *n)
{
    if (th_backend == TH_PG) {
        static const char q[] = "select coalesce(sum(calls), 0) from pg_stat_statements where %s";
        n->commits = th_side_long(s, q, "query = 'COMMIT'");
        n->begins = th_side_long(s, q, "query = 'BEGIN'");
        n->savepoints = th_side_long(s, q, "query ilike '%savepoint%'");
        return;
    }
    static const char q[] = "select coalesce(sum(variable_value), 0) from "
                            "information_schema.global_status where variable_name in (%s)";
    n->commits = th_side_long(s, q, "'COM_COMMIT'");
    n->begins = th_side_long(s, q, "'COM_BEGIN'");
    n->savepoints =
        th_side_long(s, q, "'COM_SAVEPOINT', 'COM_RELEASE_SAVEPOINT', 'COM_ROLLBACK_TO_SAVEPOINT'");
}

/* The isolation level of ctx's open transaction, as the server tells it; caller frees. */
static char *isolation_of(txscope_conn_t *c, const char *ctx, const char *table)
{
    if (th_backend == TH_PG) {
        cJSON *r = th_call(c,
                           "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"select "
                           "current_setting('transaction_isolation')\"}",
                           ctx);
        char *v = th_first_value(r);
        th_expect_ok(r, "isolation");
        return v;
    }
    /* InnoDB shows a transaction in innodb_trx once it read a table, and the view is a
     * cache refreshed at most every 100 ms: read, then poll. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"select count(*) from %s\"}",
                         ctx, table),
                 "a read to start the InnoDB transaction");
    long long t0 = th_now_ms();
    for (;;) {
        cJSON *r = th_call(c,
                           "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"select "
                           "lower(trx_isolation_level) from information_schema.innodb_trx where "
                           "trx_mysql_thread_id = connection_id()\"}",
                           ctx);
        char *v = th_first_value(r);
        th_expect_ok(r, "isolation");
        if (v || th_now_ms() - t0 > 2000)
            return v;
        th_sleep_ms(20);
    }
}

/* The seeds' pattern: a function begins with join, calls one that also begins with join
 * and commits, then commits itself: exactly one COMMIT reaches the database. */
START_TEST(joined_levels_commit_once)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n1");
    if (th_backend == TH_PG) {
        th_side_exec(side, "create extension if not exists pg_stat_statements");
        th_side_exec(side, "select pg_stat_statements_reset()");
    }
    tx_counts_t before, after;
    server_tx_counts(side, &before);
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"j\",\"join\":true}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_n1 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"j\",\"join\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_n1 values (2)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"j\"}");
    expect_ids(side, "t_n1", ""); /* the inner commit only closed its level */
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"j\"}");
    expect_ids(side, "t_n1", "1,2");
    server_tx_counts(side, &after);
    ck_assert_int_eq(after.commits - before.commits, 1);
    ck_assert_int_eq(after.begins - before.begins, 1);
    ck_assert_int_eq(after.savepoints - before.savepoints, 0); /* a joined level sends no SQL */

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* An inner rollback at a joined level undoes everything at once; the session is then
 * inactive until every level has rolled back. */
START_TEST(joined_inner_rollback_makes_the_session_inactive)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n2");
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"j\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_n2 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"j\",\"join\":true}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"j\",\"join\":true}");
    step(c, "ok", "open", 3,
         "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_n2 values (2)\"}");
    step(c, "ok", "inactive", 2, "{\"op\":\"rollback\",\"ctx\":\"j\"}");
    /* Rolled back on the database already: no lock, no backend held. */
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);
    step(c, "25P02", "inactive", 2, "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"select 1\"}");
    step(c, "25P02", "inactive", 2, "{\"op\":\"commit\",\"ctx\":\"j\"}");
    step(c, "25P02", "inactive", 2, "{\"op\":\"begin\",\"ctx\":\"j\",\"join\":true}");
    step(c, "25P02", "inactive", 2, "{\"op\":\"savepoint\",\"ctx\":\"j\",\"name\":\"s\"}");
    step(c, "25P02", "inactive", 2, "{\"op\":\"rollback_to\",\"ctx\":\"j\",\"name\":\"s\"}");
    step(c, "25P02", "inactive", 2,
         "{\"op\":\"batch\",\"ctx\":\"j\",\"statements\":[{\"sql\":\"select 1\"}]}");
    step(c, "ok", "inactive", 2, "{\"op\":\"status\",\"ctx\":\"j\"}");
    step(c, "ok", "inactive", 1, "{\"op\":\"rollback\",\"ctx\":\"j\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"rollback\",\"ctx\":\"j\"}");
    expect_ids(side, "t_n2", "");
    /* The ctx is usable again. */
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"j\",\"sql\":\"insert into t_n2 values (3)\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"j\"}");
    expect_ids(side, "t_n2", "3");

    /* end works at any point of it, and forgets the ctx. */
    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"e\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"e\",\"join\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"e\",\"sql\":\"insert into t_n2 values (4)\"}");
    step(c, "ok", "inactive", 1, "{\"op\":\"rollback\",\"ctx\":\"e\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"end\",\"ctx\":\"e\"}");
    expect_ids(side, "t_n2", "3");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* insert A, begin nested, insert B, rollback, insert C, commit: A and C, not B. */
START_TEST(nested_level_rollback_undoes_only_its_work)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n3");
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_n3 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"s\",\"nested\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_n3 values (2)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback\",\"ctx\":\"s\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_n3 values (3)\"}");
    /* A nested level whose commit releases its savepoint keeps its work. */
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"s\",\"nested\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"insert into t_n3 values (4)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"s\"}");
    expect_ids(side, "t_n3", "");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"s\"}");
    expect_ids(side, "t_n3", "1,3,4");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A statement fails inside a nested level: rolling back that level clears the failure
 * and the outer transaction goes on. */
START_TEST(nested_level_rollback_clears_the_failure)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n4");
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"f\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"insert into t_n4 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"f\",\"nested\":true}");
    step(c, DUP_KEY, "failed", 2,
         "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"insert into t_n4 values (1)\"}");
    step(c, "25P02", "failed", 2, "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"select 1\"}");
    step(c, "25P02", "failed", 2, "{\"op\":\"commit\",\"ctx\":\"f\"}");
    step(c, "25P02", "failed", 2, "{\"op\":\"begin\",\"ctx\":\"f\",\"nested\":true}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback\",\"ctx\":\"f\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"f\",\"sql\":\"insert into t_n4 values (2)\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"f\"}");
    expect_ids(side, "t_n4", "1,2");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Levels mix: a join inside a savepoint inside a transaction, and tx.depth tells the truth
 * at every step. */
START_TEST(mixed_levels)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n5");
    txscope_conn_t *c = th_connect(&d);

    /* A joined level inside a savepoint: its commit only closes it; rolling back the
     * savepoint level undoes the joined level's work too. */
    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"m\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into t_n5 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"m\",\"nested\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into t_n5 values (2)\"}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"m\",\"join\":true}");
    step(c, "ok", "open", 3,
         "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into t_n5 values (3)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback\",\"ctx\":\"m\"}");
    /* A savepoint inside a joined level inside a savepoint. */
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"m\",\"nested\":true}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"m\",\"join\":true}");
    step(c, "ok", "open", 4, "{\"op\":\"begin\",\"ctx\":\"m\",\"nested\":true}");
    step(c, "ok", "open", 4,
         "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into t_n5 values (4)\"}");
    step(c, "ok", "open", 3, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    step(c, "ok", "open", 2, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    expect_ids(side, "t_n5", "1,4");

    /* A joined level inside a savepoint rolls back: the whole transaction is gone, even
     * the savepoint's outer work, and the remaining two levels each roll back. */
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into t_n5 values (5)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"m\",\"nested\":true}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"m\",\"join\":true}");
    step(c, "ok", "inactive", 2, "{\"op\":\"rollback\",\"ctx\":\"m\"}");
    step(c, "ok", "inactive", 1, "{\"op\":\"rollback\",\"ctx\":\"m\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"rollback\",\"ctx\":\"m\"}");
    expect_ids(side, "t_n5", "1,4");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* begin with nested or join and nothing open; begin options on inner levels; the limit
 * on depth. */
START_TEST(begin_variants)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n6");
    txscope_conn_t *c = th_connect(&d);

    /* nested with nothing open: the transaction and a savepoint in it, as SQLAlchemy's
     * begin_nested(); its commit leaves the transaction open. */
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"b\",\"nested\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"insert into t_n6 values (1)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"b\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"rollback\",\"ctx\":\"b\"}");
    expect_ids(side, "t_n6", "");
    /* join with nothing open: the outermost level. */
    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"b\",\"join\":true}");
    step(c, "25001", "open", 1, "{\"op\":\"begin\",\"ctx\":\"b\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"b\"}");

    /* An inner level may repeat the transaction's options, not change them. */
    step(c, "ok", "open", 1,
         "{\"op\":\"begin\",\"ctx\":\"o\",\"isolation\":\"serializable\",\"read_only\":true}");
    step(c, "ok", "open", 2,
         "{\"op\":\"begin\",\"ctx\":\"o\",\"join\":true,\"isolation\":\"serializable\"}");
    step(c, "25001", "open", 2,
         "{\"op\":\"begin\",\"ctx\":\"o\",\"join\":true,\"isolation\":\"read committed\"}");
    step(c, "25001", "open", 2,
         "{\"op\":\"begin\",\"ctx\":\"o\",\"nested\":true,\"read_only\":false}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"o\",\"nested\":true}");
    char *iso = isolation_of(c, "o", "t_n6");
    ck_assert_msg(iso && strcmp(iso, "serializable") == 0, "isolation inside the levels: %s", iso);
    free(iso);
    step(c, "ok", "open", 3, "{\"op\":\"status\",\"ctx\":\"o\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"end\",\"ctx\":\"o\"}");

    /* At most 255 levels: the next begin is refused and changes nothing. */
    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"deep\"}");
    for (int i = 2; i <= 255; i++) {
        cJSON *r = th_call(c, "{\"op\":\"begin\",\"ctx\":\"deep\",\"join\":true}");
        ck_assert_int_eq(txscope_reply_tx_depth(r), i);
        th_expect_ok(r, "begin join");
    }
    step(c, "54000", "open", 255, "{\"op\":\"begin\",\"ctx\":\"deep\",\"nested\":true}");
    step(c, "ok", "open", 255,
         "{\"op\":\"query\",\"ctx\":\"deep\",\"sql\":\"insert into t_n6 values (2)\"}");
    for (int i = 254; i >= 0; i--) {
        cJSON *r = th_call(c, "{\"op\":\"commit\",\"ctx\":\"deep\"}");
        ck_assert_int_eq(txscope_reply_tx_depth(r), i);
        th_expect_ok(r, "commit a level");
    }
    expect_ids(side, "t_n6", "2");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Named savepoints: savepoint, release, rollback_to; names are case-insensitive; 3B001
 * for an unknown one, which changes nothing. */
START_TEST(named_savepoints)
{
    th_daemon_t d, d2;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side(); /* d's database on MySQL: opened before d2 starts */
    const char *one_session[] = {"TXSCOPE_MAX_SESSIONS_PER_CLIENT=1", NULL};
    th_daemon_start(&d2, one_session);
    th_side_make_table(side, "t_n7");
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1, "{\"op\":\"begin\",\"ctx\":\"n\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"insert into t_n7 values (1)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"n\",\"name\":\"a\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"insert into t_n7 values (2)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"n\",\"name\":\"B\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"insert into t_n7 values (3)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"n\",\"name\":\"b\"}");
    /* rollback_to keeps the savepoint: it can be rolled back to again. */
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"insert into t_n7 values (4)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"n\",\"name\":\"B\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"insert into t_n7 values (5)\"}");
    /* Releasing a also releases b, made after it. */
    step(c, "ok", "open", 1, "{\"op\":\"release\",\"ctx\":\"n\",\"name\":\"A\"}");
    step(c, "3B001", "open", 1, "{\"op\":\"release\",\"ctx\":\"n\",\"name\":\"b\"}");
    step(c, "3B001", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"n\",\"name\":\"a\"}");
    step(c, "3B001", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"n\",\"name\":\"never\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"n\"}");
    expect_ids(side, "t_n7", "1,2,5");

    /* With nothing open: savepoint begins the transaction (as a query would); release
     * and rollback_to find nothing. */
    step(c, "3B001", "idle", 0, "{\"op\":\"release\",\"ctx\":\"i\",\"name\":\"x\"}");
    step(c, "3B001", "idle", 0, "{\"op\":\"rollback_to\",\"ctx\":\"i\",\"name\":\"x\"}");
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"i\",\"name\":\"x\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"i\",\"sql\":\"insert into t_n7 values (6)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"i\",\"name\":\"x\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"i\"}");
    expect_ids(side, "t_n7", "1,2,5");

    /* A level sees only its own savepoints. Closing a nested level drops the ones made in
     * it (RELEASE does on the server); a joined level hands them to the enclosing one. */
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"l\",\"name\":\"outer\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"l\",\"join\":true}");
    cJSON *r = th_call(c, "{\"op\":\"rollback_to\",\"ctx\":\"l\",\"name\":\"outer\"}");
    ck_assert_ptr_nonnull(strstr(txscope_reply_message(r), "outer level"));
    th_expect_code(r, "3B001", "a savepoint of an outer level");
    step(c, "ok", "open", 2, "{\"op\":\"savepoint\",\"ctx\":\"l\",\"name\":\"inner\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"l\"}");
    step(c, "ok", "open", 1, "{\"op\":\"release\",\"ctx\":\"l\",\"name\":\"inner\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"l\",\"nested\":true}");
    step(c, "ok", "open", 2, "{\"op\":\"savepoint\",\"ctx\":\"l\",\"name\":\"deeper\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"l\"}");
    step(c, "3B001", "open", 1, "{\"op\":\"release\",\"ctx\":\"l\",\"name\":\"deeper\"}");
    step(c, "ok", "open", 1, "{\"op\":\"release\",\"ctx\":\"l\",\"name\":\"outer\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"end\",\"ctx\":\"l\"}");

    /* A joined level's commit sends nothing, so the savepoints made in it stay on the
     * server: the enclosing level now sees them (a same-named one shadows the outer). */
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"k\",\"name\":\"a\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_n7 values (20)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"k\",\"join\":true}");
    step(c, "ok", "open", 2, "{\"op\":\"savepoint\",\"ctx\":\"k\",\"name\":\"a\"}");
    step(c, "ok", "open", 2,
         "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_n7 values (21)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"savepoint\",\"ctx\":\"k\",\"name\":\"b\"}");
    step(c, "ok", "open", 1, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"k\",\"name\":\"a\"}");
    step(c, "3B001", "open", 1, "{\"op\":\"release\",\"ctx\":\"k\",\"name\":\"b\"}");
    step(c, "ok", "open", 1, "{\"op\":\"release\",\"ctx\":\"k\",\"name\":\"a\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"k\",\"name\":\"a\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    expect_ids(side, "t_n7", "1,2,5");

    /* release and rollback_to of a ctx with no session are answered without making one. */
    txscope_conn_t *lim = th_connect(&d2);
    step(lim, "ok", "open", 1, "{\"op\":\"query\",\"ctx\":\"only\",\"sql\":\"select 1\"}");
    step(lim, "3B001", "idle", 0, "{\"op\":\"release\",\"ctx\":\"p1\",\"name\":\"x\"}");
    step(lim, "3B001", "idle", 0, "{\"op\":\"rollback_to\",\"ctx\":\"p2\",\"name\":\"x\"}");
    step(lim, "ok", "idle", 0, "{\"op\":\"end\",\"ctx\":\"only\"}");
    step(lim, "ok", "open", 1, "{\"op\":\"query\",\"ctx\":\"next\",\"sql\":\"select 1\"}");
    txscope_close(lim);

    /* A reserved or malformed name is a malformed request. */
    th_expect_code(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"l\",\"name\":\"txscope_level_1\"}"),
                   "08P01", "a reserved name");
    th_expect_code(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"l\",\"name\":\"a b\"}"), "08P01",
                   "not an identifier");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d2), 0);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* rollback_to a savepoint made before a failure clears the failed state, as in
 * PostgreSQL; other savepoint ops are refused while failed. */
START_TEST(rollback_to_clears_the_failure)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n8");
    txscope_conn_t *c = th_connect(&d);

    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"insert into t_n8 values (10)\"}");
    step(c, "ok", "open", 1, "{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"s\"}");
    step(c, DUP_KEY, "failed", 1,
         "{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"insert into t_n8 values (10)\"}");
    step(c, "25P02", "failed", 1, "{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"t\"}");
    step(c, "25P02", "failed", 1, "{\"op\":\"release\",\"ctx\":\"r\",\"name\":\"s\"}");
    step(c, "25P02", "failed", 1, "{\"op\":\"commit\",\"ctx\":\"r\"}");
    step(c, "3B001", "failed", 1, "{\"op\":\"rollback_to\",\"ctx\":\"r\",\"name\":\"t\"}");
    step(c, "ok", "open", 1, "{\"op\":\"rollback_to\",\"ctx\":\"r\",\"name\":\"s\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"insert into t_n8 values (11)\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"r\"}");
    expect_ids(side, "t_n8", "10,11");

    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A client that goes away with levels open: everything is rolled back and the backend
 * goes back clean. */
START_TEST(close_with_levels_open_rolls_back)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_n9");
    txscope_conn_t *c = th_connect(&d);
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"g\",\"sql\":\"insert into t_n9 values (1)\"}");
    step(c, "ok", "open", 2, "{\"op\":\"begin\",\"ctx\":\"g\",\"nested\":true}");
    step(c, "ok", "open", 2, "{\"op\":\"savepoint\",\"ctx\":\"g\",\"name\":\"x\"}");
    step(c, "ok", "open", 3, "{\"op\":\"begin\",\"ctx\":\"g\",\"join\":true}");
    step(c, "ok", "open", 3,
         "{\"op\":\"query\",\"ctx\":\"g\",\"sql\":\"insert into t_n9 values (2)\"}");
    txscope_close(c);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_IN_TX, T_TIMEOUT), 0);
    /* The one backend is clean: the next user sees no transaction and no savepoint. */
    c = th_connect(&d);
    step(c, "3B001", "idle", 0, "{\"op\":\"rollback_to\",\"ctx\":\"h\",\"name\":\"x\"}");
    step(c, "ok", "open", 1,
         "{\"op\":\"query\",\"ctx\":\"h\",\"sql\":\"insert into t_n9 values (3)\"}");
    step(c, "ok", "idle", 0, "{\"op\":\"commit\",\"ctx\":\"h\"}");
    expect_ids(side, "t_n9", "3");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_nesting(void)
{
    Suite *s = suite_create("nesting");
    TCase *tcs[2];
    th_tcases(s, tcs, 60);
    TH_ADD_TEST(tcs, joined_levels_commit_once);
    TH_ADD_TEST(tcs, joined_inner_rollback_makes_the_session_inactive);
    TH_ADD_TEST(tcs, nested_level_rollback_undoes_only_its_work);
    TH_ADD_TEST(tcs, nested_level_rollback_clears_the_failure);
    TH_ADD_TEST(tcs, mixed_levels);
    TH_ADD_TEST(tcs, begin_variants);
    TH_ADD_TEST(tcs, named_savepoints);
    TH_ADD_TEST(tcs, rollback_to_clears_the_failure);
    TH_ADD_TEST(tcs, close_with_levels_open_rolls_back);
    return s;
}
