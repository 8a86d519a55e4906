/* test_outcome.c - the outcome op and its journal, and sessions whose backend is lost, on
 * PostgreSQL and MySQL: commits the client left behind, commits killed half-way, dead
 * backends between and during statements, nested levels after a loss, and the journal's
 * size and time limits. A slow COMMIT needs PostgreSQL (a deferred constraint trigger);
 * the tests that need one run there only, the rest on both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_outcome(void);

/* The SQLSTATE of a duplicate key. */
#define DUP_KEY TH_PICK("23505", "23000")

/* The outcome reply for ctx (asserted ok, with a tx object); the caller frees it. */
static char *outcome_of(txscope_conn_t *c, const char *ctx)
{
    cJSON *r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"%s\"}", ctx);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "outcome");
    ck_assert_msg(txscope_reply_ok(r) && cJSON_IsString(o) && txscope_reply_tx_state(r),
                  "outcome of %s: %s", ctx, txscope_last_line(c));
    char *v = strdup(o->valuestring);
    cJSON_Delete(r);
    return v;
}

static void expect_outcome(txscope_conn_t *c, const char *ctx, const char *want)
{
    char *got = outcome_of(c, ctx);
    ck_assert_msg(strcmp(got, want) == 0, "outcome of %s: want %s, got %s", ctx, want, got);
    free(got);
}

/* Assert the reply's tx state and depth, then free it. */
static void expect_tx(cJSON *r, const char *state, int depth, const char *what)
{
    char *s = cJSON_PrintUnformatted(r);
    ck_assert_msg(txscope_reply_tx_state(r) && strcmp(txscope_reply_tx_state(r), state) == 0 &&
                      txscope_reply_tx_depth(r) == depth,
                  "%s: want %s/%d, got %s", what, state, depth, s);
    free(s);
    cJSON_Delete(r);
}

/* expect_outcome, and the reply's tx state and depth. */
static void expect_outcome_tx(txscope_conn_t *c, const char *ctx, const char *want,
                              const char *state, int depth)
{
    cJSON *r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"%s\"}", ctx);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "outcome");
    ck_assert_msg(txscope_reply_ok(r) && cJSON_IsString(o) && strcmp(o->valuestring, want) == 0,
                  "outcome of %s: want %s, got %s", ctx, want, txscope_last_line(c));
    expect_tx(r, state, depth, "the outcome reply's tx");
}

static void insert(txscope_conn_t *c, const char *ctx, const char *table, int id)
{
    th_expect_ok(th_call(c,
                         "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"insert into %s values (%d)\"}",
                         ctx, table, id),
                 "insert");
}

/* Poll the outcome of ctx (e.g. while a departed client's session winds down) until it
 * is no longer not_found; returns it (caller frees). */
static char *outcome_when_known(txscope_conn_t *c, const char *ctx, int ms)
{
    long long t0 = th_now_ms();
    for (;;) {
        char *o = outcome_of(c, ctx);
        if (strcmp(o, "not_found") != 0 || th_now_ms() - t0 > ms)
            return o;
        free(o);
        th_sleep_ms(20);
    }
}

/* An autocommit insert of `id` into t that takes `secs` seconds: a commit under way on
 * either backend. The text lives in a rotating buffer of th_sql. */
static const char *slow_insert(const char *t, int id, const char *secs)
{
    char sql[200];
    snprintf(sql, sizeof sql, "insert into %s select %d from (%s) x", t, id, th_sleep_sql(secs));
    return th_sql(sql);
}

/* Poll until the statement `sql` runs on the server (on connection id when not 0). */
static void wait_running(th_side_t *side, long id, const char *sql)
{
    char q[400], on[48] = "";
    if (id)
        snprintf(on, sizeof on, TH_PICK(" and pid = %ld", " and id = %ld"), id);
    snprintf(q, sizeof q,
             TH_PICK("select 1 - count(*) from pg_stat_activity where state = 'active' and "
                     "query = '%s'%s",
                     "select 1 - count(*) from information_schema.processlist where command in "
                     "('Query', 'Execute') and info = '%s'%s"),
             sql, on);
    ck_assert_msg(th_side_wait_zero(side, q, 4000) >= 0, "%s never showed as running", sql);
}

/* Every way a transaction ends, as outcome tells it, from the owner's connection and
 * from another one of the same principal. */
START_TEST(outcome_values)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o1");
    txscope_conn_t *c = th_connect(&d);

    /* commit */
    insert(c, "c1", "t_o1", 1);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"c1\"}"), "commit c1");
    expect_outcome_tx(c, "c1", "committed", "idle", 0);
    /* rollback */
    insert(c, "r1", "t_o1", 2);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"r1\"}"), "rollback r1");
    expect_outcome(c, "r1", "rolled_back");
    /* end of an open transaction: the session is forgotten, its outcome is not */
    insert(c, "e1", "t_o1", 3);
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"e1\"}"), "end e1");
    expect_outcome(c, "e1", "rolled_back");
    /* autocommit: ok, then a duplicate key */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a2\",\"sql\":\"insert into t_o1 values "
                            "(10)\",\"autocommit\":true}"),
                 "autocommit insert");
    expect_outcome(c, "a2", "committed");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"a1\",\"sql\":\"insert into t_o1 "
                              "values (1)\",\"autocommit\":true}"),
                   DUP_KEY, "autocommit duplicate");
    expect_outcome(c, "a1", "rolled_back");
    /* never used */
    expect_outcome_tx(c, "never", "not_found", "idle", 0);
    th_expect_code(th_call(c, "{\"op\":\"outcome\"}"), "08P01", "outcome without ctx");

    /* the most recent transaction wins; one still open has not ended */
    insert(c, "m", "t_o1", 20);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"m\"}"), "commit m");
    insert(c, "m", "t_o1", 21);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"m\"}"), "rollback m");
    expect_outcome(c, "m", "rolled_back");
    insert(c, "m", "t_o1", 22);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"m\"}"), "commit m again");
    expect_outcome(c, "m", "committed");
    insert(c, "m", "t_o1", 23);
    /* the open transaction has not ended; asking changes nothing */
    expect_outcome_tx(c, "m", "committed", "open", 1);
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"m\"}"), "rollback m again");
    expect_outcome(c, "m", "rolled_back");

    /* pipelined right behind the commit, same ctx: answered after it */
    insert(c, "p", "t_o1", 30);
    int64_t cid = th_send(c, "{\"op\":\"commit\",\"ctx\":\"p\"}");
    int64_t oid = th_send(c, "{\"op\":\"outcome\",\"ctx\":\"p\"}");
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    int64_t id = -1;
    ck_assert(txscope_get_int64(cJSON_GetObjectItemCaseSensitive(r, "id"), &id));
    ck_assert_int_eq(id, cid);
    th_expect_ok(r, "pipelined commit");
    r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    ck_assert(txscope_get_int64(cJSON_GetObjectItemCaseSensitive(r, "id"), &id));
    ck_assert_int_eq(id, oid);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "outcome");
    ck_assert_msg(txscope_reply_ok(r) && cJSON_IsString(o) &&
                      strcmp(o->valuestring, "committed") == 0,
                  "outcome behind commit: %s", txscope_last_line(c));
    cJSON_Delete(r);

    /* a batch that is its own transaction */
    th_expect_ok(th_call(c, "{\"op\":\"batch\",\"ctx\":\"b1\",\"statements\":[{\"sql\":\"insert "
                            "into t_o1 values (40)\"},{\"sql\":\"insert into t_o1 values "
                            "(41)\"}]}"),
                 "batch ok");
    expect_outcome(c, "b1", "committed");
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"b2\",\"statements\":[{\"sql\":\"insert "
                              "into t_o1 values (50)\"},{\"sql\":\"insert into t_o1 values "
                              "(1)\"}]}"),
                   DUP_KEY, "batch failing");
    expect_outcome(c, "b2", "rolled_back");
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_o1 where id = 50"), 0);
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_o1 where id in (40, 41)"), 2);

    /* another connection of the same principal hears the same */
    txscope_conn_t *c2 = th_connect(&d);
    const char *ctxs[] = {"c1", "r1", "e1", "a2", "a1", "never", "m", "p", "b1", "b2"};
    const char *want[] = {"committed", "rolled_back", "rolled_back", "committed", "rolled_back",
                          "not_found", "rolled_back", "committed",   "committed", "rolled_back"};
    for (size_t i = 0; i < sizeof ctxs / sizeof *ctxs; i++)
        expect_outcome(c2, ctxs[i], want[i]);

    ck_assert_int_eq(th_side_count_rows(side, "t_o1"), 7); /* 1, 10, 20, 22, 30, 40, 41 */
    txscope_close(c);
    txscope_close(c2);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A COMMIT refused by a deferred constraint ends rolled back, as every connection of the
 * principal hears. PostgreSQL only: MySQL has no deferred constraints. */
START_TEST(outcome_commit_refused_by_deferred_constraint)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_pg_exec(pg, "drop table if exists t_o1d; create table t_o1d(id int unique deferrable "
                   "initially deferred)");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"dc\",\"sql\":\"insert into t_o1d values "
                            "(1), (1)\"}"),
                 "deferred duplicate");
    th_expect_code(th_call(c, "{\"op\":\"commit\",\"ctx\":\"dc\"}"), "23505", "deferred commit");
    expect_outcome(c, "dc", "rolled_back");
    txscope_conn_t *c2 = th_connect(&d);
    expect_outcome(c2, "dc", "rolled_back");
    ck_assert_int_eq(th_count_rows(pg, "t_o1d"), 0);
    txscope_close(c);
    txscope_close(c2);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* With a token set every authenticated client is the one principal: B reads A's outcome;
 * a connection that did not say hello reads nothing. */
START_TEST(outcome_with_auth_token)
{
    const char *env[] = {"TXSCOPE_AUTH_TOKEN=s3cret", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o2");
    txscope_conn_t *a = th_connect(&d);
    ck_assert_int_eq(txscope_hello(a, "s3cret", T_TIMEOUT), 0);
    insert(a, "z", "t_o2", 1);
    th_expect_ok(th_call(a, "{\"op\":\"commit\",\"ctx\":\"z\"}"), "commit");
    txscope_conn_t *b = th_connect(&d);
    ck_assert_int_eq(txscope_hello(b, "s3cret", T_TIMEOUT), 0);
    expect_outcome(b, "z", "committed");
    txscope_conn_t *x = th_connect(&d);
    th_expect_code(th_call(x, "{\"op\":\"outcome\",\"ctx\":\"z\"}"), "28000", "no hello");
    txscope_close(a);
    txscope_close(b);
    txscope_close(x);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The client sends commit and is gone at once: the commit is not cancelled, it commits,
 * and a new connection learns so. A client gone with a transaction open: rolled back. */
START_TEST(disconnect_right_after_commit)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o3");
    txscope_conn_t *a = th_connect(&d);
    for (int i = 1; i <= 3; i++)
        insert(a, "k", "t_o3", i);
    th_send(a, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    txscope_close(a);
    txscope_conn_t *b = th_connect(&d);
    /* The commit line reached the daemon before b connected: it is known (or pending). */
    expect_outcome(b, "k", "committed");
    ck_assert_int_eq(th_side_count_rows(side, "t_o3"), 3);

    /* gone with the transaction open */
    txscope_conn_t *e = th_connect(&d);
    insert(e, "open", "t_o3", 9);
    txscope_close(e);
    char *o = outcome_when_known(b, "open", 5000);
    ck_assert_str_eq(o, "rolled_back");
    free(o);
    ck_assert(th_side_wait_no_backends(side, &d, TH_IN_TX, 5000) >= 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_o3"), 3);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The same with a slow COMMIT: asked while the commit still runs, outcome waits for it
 * and says committed, never the state before. PostgreSQL only: a slow COMMIT needs a deferred
 * constraint trigger. */
START_TEST(disconnect_during_slow_commit_outcome_waits)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_o4", 1);
    txscope_conn_t *a = th_connect(&d);
    /* an older transaction of k rolled back: that must not be the answer */
    insert(a, "k", "t_o4", 3);
    th_expect_ok(th_call(a, "{\"op\":\"rollback\",\"ctx\":\"k\"}"), "rollback");
    insert(a, "k", "t_o4", 1);
    insert(a, "k", "t_o4", 2);
    th_send(a, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    txscope_close(a);
    txscope_conn_t *b = th_connect(&d);
    long long t0 = th_now_ms();
    char *o = outcome_of(b, "k");
    long long took = th_now_ms() - t0;
    ck_assert_str_eq(o, "committed");
    free(o);
    ck_assert_msg(took >= 500, "outcome answered after %lld ms, before the commit ended", took);
    ck_assert_int_eq(th_count_rows(pg, "t_o4"), 2);
    txscope_close(b);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A connection waiting for another's commit goes away before the commit ends: nothing
 * breaks; the commit still commits and is journaled. PostgreSQL only: a slow COMMIT needs a
 * deferred constraint trigger. */
START_TEST(outcome_waiter_leaves_before_commit_ends)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_o5", 1);
    txscope_conn_t *a = th_connect(&d);
    insert(a, "k", "t_o5", 1);
    int64_t cid = th_send(a, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    txscope_conn_t *b = th_connect(&d);
    th_send(b, "{\"op\":\"outcome\",\"ctx\":\"k\"}");
    th_send(b, "{\"op\":\"outcome\",\"ctx\":\"other\"}");
    th_sleep_ms(200);
    txscope_close(b);
    cJSON *r = txscope_wait(a, cid, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    th_expect_ok(r, "slow commit");
    expect_outcome(a, "k", "committed");
    txscope_conn_t *c = th_connect(&d);
    expect_outcome(c, "k", "committed");
    ck_assert_int_eq(th_count_rows(pg, "t_o5"), 1);
    txscope_close(a);
    txscope_close(c);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The backend is killed between COMMIT and its reply: 08007, never ok and never a claim
 * that it rolled back; outcome is unknown or the truth (rolled back), never committed.
 * PostgreSQL only: a slow COMMIT needs a deferred constraint trigger. */
START_TEST(killed_during_commit_outcome_unknown)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_o6", 3);
    txscope_conn_t *c = th_connect(&d);
    insert(c, "k", "t_o6", 1);
    long pid = th_backend_pid(c, "k", false);
    int64_t id = th_send(c, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    /* another connection asks while the commit runs: it waits, and hears no guess */
    txscope_conn_t *w = th_connect(&d);
    int64_t wid = th_send(w, "{\"op\":\"outcome\",\"ctx\":\"k\"}");
    th_sleep_ms(500);
    char sql[120];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%ld)::int", pid);
    ck_assert_int_eq(th_pg_long(pg, sql), 1);
    cJSON *r = txscope_wait(w, wid, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(r, "outcome");
    ck_assert_msg(txscope_reply_ok(r) && cJSON_IsString(wo) &&
                      (strcmp(wo->valuestring, "unknown") == 0 ||
                       strcmp(wo->valuestring, "rolled_back") == 0),
                  "outcome waiting for a killed commit: %s", txscope_last_line(w));
    cJSON_Delete(r);
    txscope_close(w);
    r = txscope_wait(c, id, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    const char *msg = txscope_reply_message(r);
    ck_assert_msg(!txscope_reply_ok(r) && msg && !strstr(msg, "rolled back") &&
                      !strstr(msg, "committed"),
                  "commit killed: %s", txscope_last_line(c));
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "08007", "commit killed");
    ck_assert_int_eq(th_count_rows(pg, "t_o6"), 0);
    char *o = outcome_of(c, "k");
    ck_assert_msg(strcmp(o, "unknown") == 0 || strcmp(o, "rolled_back") == 0,
                  "outcome after a killed commit: %s", o);
    free(o);
    txscope_conn_t *c2 = th_connect(&d);
    o = outcome_of(c2, "k");
    ck_assert_msg(strcmp(o, "unknown") == 0 || strcmp(o, "rolled_back") == 0,
                  "outcome from a new connection after a killed commit: %s", o);
    free(o);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "again");
    txscope_close(c);
    txscope_close(c2);
    PQfinish(pg);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* An autocommit statement is a commit too: asked from elsewhere while it runs, outcome
 * waits for it. */
START_TEST(outcome_waits_for_running_autocommit)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o10");
    txscope_conn_t *a = th_connect(&d);
    int64_t id = th_send(a, "{\"op\":\"query\",\"ctx\":\"ac\",\"sql\":\"%s\",\"autocommit\":true}",
                         slow_insert("t_o10", 1, "1"));
    th_sleep_ms(100);
    txscope_conn_t *b = th_connect(&d);
    long long t0 = th_now_ms();
    char *o = outcome_of(b, "ac");
    long long took = th_now_ms() - t0;
    ck_assert_str_eq(o, "committed");
    free(o);
    ck_assert_msg(took >= 500, "outcome answered after %lld ms, before the statement ended", took);
    cJSON *r = txscope_wait(a, id, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    th_expect_ok(r, "slow autocommit");
    ck_assert_int_eq(th_side_count_rows(side, "t_o10"), 1);
    txscope_close(a);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A batch that is its own transaction is left to finish and commit when its client goes
 * while it runs; asked meanwhile, outcome waits for it. */
START_TEST(disconnect_during_own_tx_batch)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o11");
    txscope_conn_t *a = th_connect(&d);
    th_send(a,
            "{\"op\":\"batch\",\"ctx\":\"bk\",\"statements\":[{\"sql\":\"insert into t_o11 "
            "values (1)\"},{\"sql\":\"insert into t_o11 values (2)\"},{\"sql\":\"%s\"}]}",
            th_sleep_sql("1"));
    th_sleep_ms(200);
    txscope_close(a);
    txscope_conn_t *b = th_connect(&d);
    expect_outcome(b, "bk", "committed");
    ck_assert_int_eq(th_side_count_rows(side, "t_o11"), 2);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A commit still queued behind a running statement when the client goes never runs: the
 * statement is cancelled and the transaction rolled back. */
START_TEST(disconnect_with_commit_queued)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o12");
    txscope_conn_t *a = th_connect(&d);
    insert(a, "q", "t_o12", 1);
    th_send(a, "{\"op\":\"query\",\"ctx\":\"q\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    th_send(a, "{\"op\":\"commit\",\"ctx\":\"q\"}");
    th_sleep_ms(200);
    txscope_close(a);
    txscope_conn_t *b = th_connect(&d);
    char *o = outcome_when_known(b, "q", 5000);
    ck_assert_str_eq(o, "rolled_back");
    free(o);
    ck_assert(th_side_wait_no_backends(side, &d, TH_BUSY, 5000) >= 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_o12"), 0);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Send req for ctx k on c, whose pool has one connection; kill that connection once
 * `running` shows as running (after 500 ms when NULL): 08007, idle, and the outcome is
 * unknown or the truth (rolled back), never committed; t holds no row. */
static void expect_killed_commit(txscope_conn_t *c, th_side_t *side, const char *req,
                                 const char *running, const char *t)
{
    long id = th_backend_id(c, "pid", true); /* the pool's only connection */
    int64_t rid = th_send(c, "%s", req);
    if (running)
        wait_running(side, id, running);
    else
        th_sleep_ms(500);
    th_side_terminate(side, id);
    cJSON *r = txscope_wait(c, rid, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(txscope_reply_tx_state(r) && strcmp(txscope_reply_tx_state(r), "idle") == 0,
                  "%s: %s", req, txscope_last_line(c));
    th_expect_code(r, "08007", req);
    char *o = outcome_of(c, "k");
    ck_assert_msg(strcmp(o, "unknown") == 0 || strcmp(o, "rolled_back") == 0, "%s: outcome %s", req,
                  o);
    free(o);
    ck_assert_int_eq(th_side_count_rows(side, t), 0);
}

/* The connection dies while an autocommit statement's or a batch's COMMIT runs.
 * PostgreSQL only: a slow COMMIT needs a deferred constraint trigger. */
START_TEST(killed_during_autocommit_and_batch_commit)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_o13", 3);
    PQfinish(pg);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    expect_killed_commit(c, side,
                         "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_o13 values (1)\","
                         "\"autocommit\":true}",
                         NULL, "t_o13");
    expect_killed_commit(c, side,
                         "{\"op\":\"batch\",\"ctx\":\"k\",\"statements\":[{\"sql\":\"insert into "
                         "t_o13 values (2)\"},{\"sql\":\"insert into t_o13 values (1)\"}]}",
                         NULL, "t_o13");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The same while an autocommit statement runs, or an own-transaction batch (its COMMIT
 * is part of it): on either backend. */
START_TEST(killed_during_running_autocommit_and_own_batch)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o15");
    txscope_conn_t *c = th_connect(&d);
    char running[200], req[400];
    snprintf(running, sizeof running, "%s", slow_insert("t_o15", 1, "3"));
    snprintf(req, sizeof req, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"%s\",\"autocommit\":true}",
             running);
    expect_killed_commit(c, side, req, running, "t_o15");
    snprintf(running, sizeof running, "%s", th_sleep_sql("3"));
    snprintf(req, sizeof req,
             "{\"op\":\"batch\",\"ctx\":\"k\",\"statements\":[{\"sql\":\"insert into t_o15 "
             "values (2)\"},{\"sql\":\"%s\"}]}",
             running);
    expect_killed_commit(c, side, req, running, "t_o15");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* SIGTERM while a connection waits for another's commit: the commit finishes, the daemon
 * exits cleanly. PostgreSQL only: a slow COMMIT needs a deferred constraint trigger. */
START_TEST(sigterm_while_outcome_waits)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_o14", 1);
    txscope_conn_t *a = th_connect(&d);
    insert(a, "k", "t_o14", 1);
    th_send(a, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    txscope_conn_t *b = th_connect(&d);
    th_send(b, "{\"op\":\"outcome\",\"ctx\":\"k\"}");
    th_sleep_ms(200);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    ck_assert_int_eq(th_count_rows(pg, "t_o14"), 1);
    txscope_close(a);
    txscope_close(b);
    PQfinish(pg);
}
END_TEST

/* pool_size = 1 and the only backend dies under an idle transaction: the slot is free for
 * another client at once, before the victim says anything; the victim then hears 08006
 * once, 25P02 after, and rolls back without a backend. */
START_TEST(backend_lost_between_statements_frees_the_slot)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=2s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o7");
    txscope_conn_t *a = th_connect(&d);
    txscope_conn_t *b = th_connect(&d);
    insert(a, "a", "t_o7", 1);
    long pid = th_backend_id(a, "a", false);
    th_side_terminate(side, pid);
    long long t0 = th_now_ms();
    cJSON *r =
        th_call(b, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 7\",\"autocommit\":true}");
    long long took = th_now_ms() - t0;
    th_expect_ok(r, "another client's query on the freed slot");
    ck_assert_msg(took < 1500, "the dead backend's slot was freed only after %lld ms", took);
    ck_assert_int_eq(th_side_long(side,
                                  TH_PICK("select count(*) from pg_stat_activity where pid = %ld",
                                          "select count(*) from information_schema.processlist "
                                          "where id = %ld"),
                                  pid),
                     0);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 1);

    expect_tx(th_call(a, "{\"op\":\"status\",\"ctx\":\"a\"}"), "failed", 1, "status after loss");
    expect_outcome_tx(a, "a", "rolled_back", "failed", 1); /* right after the loss */
    r = th_call(a, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "08006", "first request after the loss");
    expect_tx(th_call(a, "{\"op\":\"status\",\"ctx\":\"a\"}"), "failed", 1, "status after 08006");
    th_expect_code(th_call(a, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "25P02", "commit after loss");
    r = th_call(a, "{\"op\":\"rollback\",\"ctx\":\"a\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "rollback after loss");
    expect_outcome(a, "a", "rolled_back");
    expect_outcome(b, "a", "rolled_back");
    ck_assert_int_eq(th_side_count_rows(side, "t_o7"), 0);
    th_expect_ok(th_call(a, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "again");
    th_expect_ok(th_call(a, "{\"op\":\"end\",\"ctx\":\"a\"}"), "end");
    txscope_close(a);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A request already waiting for the full pool gets the slot of a backend that dies under
 * an idle transaction at once, not after pool_timeout. */
START_TEST(backend_lost_between_statements_serves_pool_waiter)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *a = th_connect(&d);
    txscope_conn_t *b = th_connect(&d);
    long pid = th_backend_id(a, "a", false);
    int64_t id = th_send(b, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 8\"}");
    th_sleep_ms(300);
    long long t0 = th_now_ms();
    th_side_terminate(side, pid);
    cJSON *r = txscope_wait(b, id, T_TIMEOUT);
    long long took = th_now_ms() - t0;
    ck_assert_ptr_nonnull(r);
    th_expect_ok(r, "the waiter");
    ck_assert_msg(took < 1500, "the waiter was served %lld ms after the loss", took);
    th_expect_ok(th_call(b, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "commit b");
    th_expect_code(th_call(a, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "08006",
                   "the victim");
    expect_tx(th_call(a, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "idle", 0, "rollback");
    txscope_close(a);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Each request that would use the lost transaction hears 08006 first (query and commit
 * are in test_lifecycle.c): begin, batch, savepoint, rollback_to. */
START_TEST(backend_lost_first_request_of_each_kind)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    const char *reqs[] = {
        "{\"op\":\"begin\",\"ctx\":\"k\",\"nested\":true}",
        "{\"op\":\"batch\",\"ctx\":\"k\",\"statements\":[{\"sql\":\"select 1\"}]}",
        "{\"op\":\"savepoint\",\"ctx\":\"k\",\"name\":\"s1\"}",
    };
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        th_side_terminate(side, th_backend_id(c, "k", false));
        th_sleep_ms(100);
        cJSON *r = th_call(c, "%s", reqs[i]);
        ck_assert_msg(txscope_reply_tx_state(r) && strcmp(txscope_reply_tx_state(r), "failed") == 0,
                      "%s: %s", reqs[i], txscope_last_line(c));
        th_expect_code(r, "08006", reqs[i]);
        th_expect_code(th_call(c, "%s", reqs[i]), "25P02", reqs[i]);
        expect_tx(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}"), "idle", 0, "rollback");
        expect_outcome(c, "k", "rolled_back");
    }
    /* rollback_to a savepoint made before the loss: the transaction is gone all the same */
    th_expect_ok(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"k\",\"name\":\"s2\"}"), "savepoint");
    th_side_terminate(side, th_backend_id(c, "k", false));
    th_sleep_ms(100);
    const char *rb = "{\"op\":\"rollback_to\",\"ctx\":\"k\",\"name\":\"s2\"}";
    th_expect_code(th_call(c, "%s", rb), "08006", "rollback_to after the loss");
    th_expect_code(th_call(c, "%s", rb), "25P02", "rollback_to again");
    expect_tx(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}"), "idle", 0, "rollback");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Another session's transaction on another backend notices nothing. */
START_TEST(backend_lost_other_sessions_unaffected)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o8");
    txscope_conn_t *a = th_connect(&d);
    txscope_conn_t *b = th_connect(&d);
    insert(a, "a", "t_o8", 1);
    insert(b, "b", "t_o8", 100);
    long pa = th_backend_id(a, "a", false);
    long pb = th_backend_id(b, "b", false);
    ck_assert_int_ne(pa, pb);
    th_side_terminate(side, pa);
    th_sleep_ms(100);
    insert(b, "b", "t_o8", 101);
    expect_tx(th_call(b, "{\"op\":\"status\",\"ctx\":\"b\"}"), "open", 1, "b still open");
    th_expect_ok(th_call(b, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "commit b");
    expect_outcome(b, "b", "committed");
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_o8 where id >= 100"), 2);
    cJSON *r =
        th_call(a, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_o8 values (2)\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "08006", "a after its loss");
    expect_tx(th_call(a, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "idle", 0, "rollback a");
    expect_outcome(b, "a", "rolled_back");
    ck_assert_int_eq(th_side_count_rows(side, "t_o8"), 2);
    txscope_close(a);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Levels open when the backend dies: the loss fails the session at depth 3, and each
 * rollback unwinds one level, without a backend. */
START_TEST(backend_lost_with_levels_open)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o9");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"k\"}"), "begin");
    insert(c, "k", "t_o9", 1);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"k\",\"nested\":true}"), "nested");
    expect_tx(th_call(c, "{\"op\":\"begin\",\"ctx\":\"k\",\"join\":true}"), "open", 3, "join");
    th_side_terminate(side, th_backend_id(c, "k", false));
    th_sleep_ms(100);
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}");
    ck_assert_str_eq(txscope_reply_code(r) ? txscope_reply_code(r) : "ok", "08006");
    expect_tx(r, "failed", 3, "query after the loss");
    expect_tx(th_call(c, "{\"op\":\"status\",\"ctx\":\"k\"}"), "failed", 3, "status");
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}");
    ck_assert(txscope_reply_ok(r));
    expect_tx(r, "inactive", 2, "rollback 1");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "25P02",
                   "inactive");
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}");
    ck_assert(txscope_reply_ok(r));
    expect_tx(r, "inactive", 1, "rollback 2");
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}");
    ck_assert(txscope_reply_ok(r));
    expect_tx(r, "idle", 0, "rollback 3");
    expect_outcome(c, "k", "rolled_back");
    /* a new transaction on the ctx works */
    insert(c, "k", "t_o9", 2);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"k\"}"), "commit");
    expect_outcome(c, "k", "committed");
    ck_assert_int_eq(th_side_count_rows(side, "t_o9"), 1);
    ck_assert_int_eq(th_side_long(side, "select min(id) from t_o9"), 2);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* The backend is terminated while a statement runs in the transaction: 08006 at once,
 * failed; rollback clears it. */
START_TEST(backend_killed_during_statement)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"k\"}"), "begin");
    long pid = th_backend_id(c, "k", false);
    int64_t id = th_send(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    wait_running(side, pid, th_sleep_sql("5"));
    long long t0 = th_now_ms();
    th_side_terminate(side, pid);
    cJSON *r = txscope_wait(c, id, T_TIMEOUT);
    long long took = th_now_ms() - t0;
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(took < 2000, "reply %lld ms after the kill", took);
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "08006", "statement killed");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "25P02",
                   "failed");
    expect_tx(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}"), "idle", 0, "rollback");
    expect_outcome(c, "k", "rolled_back");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "again");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

static void commit_one(txscope_conn_t *c, const char *ctx)
{
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"select 1\"}", ctx),
                 "query");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"%s\"}", ctx), "commit");
}

/* outcome_journal_size = 2: the oldest ended transaction goes first; asking does not
 * make an entry younger. */
START_TEST(journal_size_limit)
{
    const char *env[] = {"TXSCOPE_OUTCOME_JOURNAL_SIZE=2", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    commit_one(c, "j1");
    commit_one(c, "j2");
    commit_one(c, "j3");
    expect_outcome(c, "j1", "not_found");
    expect_outcome(c, "j2", "committed");
    expect_outcome(c, "j3", "committed");
    commit_one(c, "j4");
    expect_outcome(c, "j2", "not_found");
    expect_outcome(c, "j3", "committed");
    expect_outcome(c, "j4", "committed");
    /* a ctx that ends again is the youngest again */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"j3\",\"sql\":\"select 1\"}"), "j3");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"j3\"}"), "j3 rollback");
    commit_one(c, "j5");
    expect_outcome(c, "j4", "not_found");
    expect_outcome(c, "j3", "rolled_back");
    expect_outcome(c, "j5", "committed");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(journal_ttl)
{
    const char *env[] = {"TXSCOPE_OUTCOME_JOURNAL_TTL=1s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    commit_one(c, "t");
    expect_outcome(c, "t", "committed");
    th_sleep_ms(1300);
    expect_outcome(c, "t", "not_found");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(journal_off)
{
    const char *env[] = {"TXSCOPE_OUTCOME_JOURNAL_SIZE=0", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    commit_one(c, "t");
    expect_outcome(c, "t", "not_found");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"u\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "autocommit");
    expect_outcome(c, "u", "not_found");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Asking creates no lasting session: ten contexts asked on a connection limited to two
 * sessions, and both sessions are still to be had afterwards. */
START_TEST(outcome_creates_no_session)
{
    const char *env[] = {"TXSCOPE_MAX_SESSIONS_PER_CLIENT=2", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    for (int i = 0; i < 10; i++) {
        char ctx[16];
        snprintf(ctx, sizeof ctx, "q%d", i);
        expect_outcome(c, ctx, "not_found");
    }
    for (int i = 0; i < 10; i++)
        th_send(c, "{\"op\":\"outcome\",\"ctx\":\"p%d\"}", i);
    for (int i = 0; i < 10; i++) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_ptr_nonnull(r);
        th_expect_ok(r, "pipelined outcome");
    }
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"x1\",\"sql\":\"select 1\"}"), "x1");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"x2\",\"sql\":\"select 1\"}"), "x2");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"x3\",\"sql\":\"select 1\"}"), "53300",
                   "the limit holds");
    /* At the limit, outcome of another ctx is still answered: a recovering client asks
     * it without ending its sessions first. */
    txscope_conn_t *other = th_connect(&d);
    th_expect_ok(th_call(other, "{\"op\":\"query\",\"ctx\":\"y\",\"sql\":\"select "
                                "1\",\"autocommit\":true}"),
                 "y");
    expect_outcome(c, "y", "committed");
    expect_outcome(c, "never", "not_found");
    /* Also when it must wait for a commit under way (a slow autocommit statement): the
     * wait takes no session slot. */
    th_side_t *side = th_side();
    th_side_make_table(side, "t_o20");
    int64_t slow =
        th_send(other, "{\"op\":\"query\",\"ctx\":\"slow\",\"sql\":\"%s\",\"autocommit\":true}",
                slow_insert("t_o20", 1, "1"));
    th_sleep_ms(200);
    expect_outcome(c, "slow", "committed");
    th_expect_ok(txscope_wait(other, slow, T_TIMEOUT), "slow autocommit");
    ck_assert_int_eq(th_side_count_rows(side, "t_o20"), 1);
    th_side_close(side);
    txscope_close(other);
    /* a session's own ctx can still be asked about */
    expect_outcome(c, "x1", "not_found");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"x1\"}"), "commit x1");
    expect_outcome(c, "x1", "committed");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_outcome(void)
{
    Suite *s = suite_create("outcome");
    TCase *tcs[2];
    th_tcases(s, tcs, 90);
    TH_ADD_TEST(tcs, outcome_values);
    /* Deferred constraints and a slow COMMIT (deferred trigger): PostgreSQL only. */
    tcase_add_test(tcs[TH_PG], outcome_commit_refused_by_deferred_constraint);
    TH_ADD_TEST(tcs, outcome_with_auth_token);
    TH_ADD_TEST(tcs, disconnect_right_after_commit);
    tcase_add_test(tcs[TH_PG], disconnect_during_slow_commit_outcome_waits);
    tcase_add_test(tcs[TH_PG], outcome_waiter_leaves_before_commit_ends);
    tcase_add_test(tcs[TH_PG], killed_during_commit_outcome_unknown);
    TH_ADD_TEST(tcs, outcome_waits_for_running_autocommit);
    TH_ADD_TEST(tcs, disconnect_during_own_tx_batch);
    TH_ADD_TEST(tcs, disconnect_with_commit_queued);
    tcase_add_test(tcs[TH_PG], killed_during_autocommit_and_batch_commit);
    TH_ADD_TEST(tcs, killed_during_running_autocommit_and_own_batch);
    tcase_add_test(tcs[TH_PG], sigterm_while_outcome_waits);
    TH_ADD_TEST(tcs, backend_lost_between_statements_frees_the_slot);
    TH_ADD_TEST(tcs, backend_lost_between_statements_serves_pool_waiter);
    TH_ADD_TEST(tcs, backend_lost_first_request_of_each_kind);
    TH_ADD_TEST(tcs, backend_lost_other_sessions_unaffected);
    TH_ADD_TEST(tcs, backend_lost_with_levels_open);
    TH_ADD_TEST(tcs, backend_killed_during_statement);
    TH_ADD_TEST(tcs, journal_size_limit);
    TH_ADD_TEST(tcs, journal_ttl);
    TH_ADD_TEST(tcs, journal_off);
    TH_ADD_TEST(tcs, outcome_creates_no_session);
    return s;
}
