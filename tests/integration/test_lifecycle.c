/* test_lifecycle.c - sessions, backends and clients in awkward moments, on PostgreSQL and
 * MySQL: pipelined end, backends dying between statements and during commit, a full pool
 * losing connections, SIGTERM with work in flight, max_pipeline = 1, a client that does
 * not read its replies. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_lifecycle(void);

static void terminate(th_side_t *side, long id)
{
    th_side_terminate(side, id);
    th_sleep_ms(100); /* let the daemon's idle poll see the FATAL and the EOF */
}

static bool in_tx_gone(th_side_t *side, const th_daemon_t *d)
{
    return th_side_wait_no_backends(side, d, TH_BUSY, 5000) >= 0;
}

/* The end of a test: the client and the side connection (either may be NULL) closed, then
 * the daemon stopped, exit 0. */
static void finish(th_daemon_t *d, txscope_conn_t *c, th_side_t *side)
{
    if (c)
        txscope_close(c);
    if (side)
        th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(d), 0);
}

/* A daemon with one connection in its pool, ctx "k" of *c holding it in a transaction, and
 * that backend terminated from *side: returns its id. */
static long start_then_kill_k(th_daemon_t *d, th_side_t **side, txscope_conn_t **c)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=2s", NULL};
    th_daemon_start(d, env);
    *side = th_side();
    *c = th_connect(d);
    long pid = th_backend_id(*c, "k", false);
    terminate(*side, pid);
    return pid;
}

/* The reply to request id: there, and ok. */
static void expect_ok_reply(txscope_conn_t *c, int64_t id, const char *what)
{
    cJSON *r = txscope_wait(c, id, T_TIMEOUT);
    ck_assert_msg(r != NULL, "%s: no reply", what);
    th_expect_ok(r, what);
}

/* The next n replies, whichever requests they answer: all ok. */
static void expect_ok_replies(txscope_conn_t *c, int n, const char *what)
{
    for (int i = 0; i < n; i++) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_msg(r != NULL, "reply %d missing", i);
        th_expect_ok(r, what);
    }
}

/* end queued behind a running statement, more requests for the ctx behind it, and the
 * client gone before any of it ran: nothing is committed, nothing stays open. */
START_TEST(end_pipelined_behind_running_statement_then_disconnect)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_r1");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_r1 values (1)\"}"),
        "insert");
    th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    th_send(c, "{\"op\":\"end\",\"ctx\":\"a\"}");
    th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_r1 values (2)\"}");
    th_send(c, "{\"op\":\"commit\",\"ctx\":\"a\"}");
    th_send(c, "{\"op\":\"end\",\"ctx\":\"a\"}");
    th_sleep_ms(300);
    long long t0 = th_now_ms();
    txscope_close(c);
    ck_assert(in_tx_gone(side, &d));
    ck_assert_int_lt(th_now_ms() - t0, 3000); /* cancelled, not waited out */
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_r1"), 0);
    finish(&d, NULL, side);
}
END_TEST

/* A daemon with a second db, "other", on the same server. On MySQL it connects to the
 * default test database, not to the daemon's own (whose name is known only once the
 * daemon starts): shared_table() names a table both dbs reach. */
static void start_two_dbs(th_daemon_t *d)
{
    static char other[400];
    if (th_backend == TH_MYSQL) {
        snprintf(other, sizeof other, "TXSCOPE_DB_OTHER_DSN=%s", th_mysql_dsn());
        const char *env[] = {"TXSCOPE_DB_OTHER_DRIVER=mysql", other, NULL};
        th_daemon_start(d, env);
        return;
    }
    snprintf(other, sizeof other, "TXSCOPE_DB_OTHER_DSN=%s?application_name=txs_other",
             th_pg_dsn());
    const char *env[] = {other, NULL};
    th_daemon_start(d, env);
}

/* Table t as both dbs of start_two_dbs see it (on MySQL: in the default test database). */
static const char *shared_table(const char *t)
{
    static char name[128];
    const char *db = getenv("MYSQL_DATABASE");
    if (th_backend == TH_MYSQL)
        snprintf(name, sizeof name, "%s.%s", db && *db ? db : "txs", t);
    else
        snprintf(name, sizeof name, "%s", t);
    return name;
}

/* Reads n replies for one ctx: ids in order, the codes ("ok" or a SQLSTATE) and tx states. */
static void expect_replies(txscope_conn_t *c, int n, const int64_t *ids, const char *const *want,
                           const char *const *state)
{
    for (int i = 0; i < n; i++) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_msg(r != NULL, "reply %d missing", i);
        int64_t id = -1;
        ck_assert(txscope_get_int64(cJSON_GetObjectItemCaseSensitive(r, "id"), &id));
        ck_assert_int_eq(id, ids[i]); /* one ctx: strictly in order */
        bool ok = strcmp(want[i], "ok") == 0;
        ck_assert_msg(txscope_reply_ok(r) == ok &&
                          (ok || strcmp(txscope_reply_code(r), want[i]) == 0) &&
                          strcmp(txscope_reply_tx_state(r), state[i]) == 0,
                      "reply %d: want %s/%s, got %s", i, want[i], state[i], txscope_last_line(c));
        cJSON_Delete(r);
    }
}

/* end in the middle of a pipeline: the requests behind it get a fresh session, which
 * may bind another db; replies come in order. */
START_TEST(end_in_the_middle_of_a_pipeline)
{
    th_daemon_t d;
    start_two_dbs(&d);
    th_side_t *side = th_side();
    const char *t = shared_table("t_r2");
    th_side_make_table(side, t);
    txscope_conn_t *c = th_connect(&d);
    int64_t ids[8];
    int n = 0;
    ids[n++] =
        th_send(c, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"insert into %s values (1)\"}", t);
    ids[n++] = th_send(c, "{\"op\":\"end\",\"ctx\":\"m\"}");
    ids[n++] = th_send(c,
                       "{\"op\":\"query\",\"ctx\":\"m\",\"db\":\"other\",\"sql\":\"insert into "
                       "%s values (2)\"}",
                       t);
    ids[n++] = th_send(c, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select 1\"}");
    ids[n++] = th_send(c, "{\"op\":\"query\",\"ctx\":\"m\",\"db\":\"main\",\"sql\":\"select 1\"}");
    ids[n++] = th_send(c, "{\"op\":\"commit\",\"ctx\":\"m\"}");
    ids[n++] = th_send(c, "{\"op\":\"end\",\"ctx\":\"m\"}");
    ids[n++] = th_send(c, "{\"op\":\"status\",\"ctx\":\"m\"}");
    const char *want[] = {"ok", "ok", "ok", "ok", "25001", "ok", "ok", "ok"};
    const char *state[] = {"open", "idle", "open", "open", "open", "idle", "idle", "idle"};
    expect_replies(c, n, ids, want, state);
    ck_assert_int_eq(th_side_long(side, "select count(*) from %s", t), 1);
    ck_assert_int_eq(th_side_long(side, "select min(id) from %s", t), 2);
    finish(&d, c, side);
}
END_TEST

/* status (or commit/rollback) binds no db, whether the ctx has no session yet or its
 * session was just ended: a later request may still name any db. */
START_TEST(status_after_end_does_not_bind_the_db)
{
    th_daemon_t d;
    start_two_dbs(&d);
    txscope_conn_t *c = th_connect(&d);
    /* A fresh ctx: status, then a db of the request's choosing. */
    int64_t ids[5];
    ids[0] = th_send(c, "{\"op\":\"status\",\"ctx\":\"f\"}");
    ids[1] = th_send(c, "{\"op\":\"query\",\"ctx\":\"f\",\"db\":\"other\",\"sql\":\"select 1\"}");
    const char *want1[] = {"ok", "ok"};
    const char *state1[] = {"idle", "open"};
    expect_replies(c, 2, ids, want1, state1);
    /* The same after end: the requests behind it get a fresh session. */
    ids[0] = th_send(c, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select 1\"}");
    ids[1] = th_send(c, "{\"op\":\"end\",\"ctx\":\"m\"}");
    ids[2] = th_send(c, "{\"op\":\"status\",\"ctx\":\"m\"}");
    ids[3] = th_send(c, "{\"op\":\"query\",\"ctx\":\"m\",\"db\":\"other\",\"sql\":\"select 1\"}");
    ids[4] = th_send(c, "{\"op\":\"end\",\"ctx\":\"m\"}");
    const char *want2[] = {"ok", "ok", "ok", "ok", "ok"};
    const char *state2[] = {"open", "idle", "idle", "open", "idle"};
    expect_replies(c, 5, ids, want2, state2);
    finish(&d, c, NULL);
}
END_TEST

/* The session's backend is terminated while the transaction is idle: the next query
 * says 08006 and fails the session; rollback clears it; the session goes on. */
START_TEST(backend_dies_between_statements_query)
{
    th_daemon_t d;
    th_side_t *side;
    txscope_conn_t *c;
    long pid = start_then_kill_k(&d, &side, &c);
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "08006", "query on a dead backend");
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "25P02",
                   "failed session");
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "rollback");
    /* The slot of the dead connection is free again (pool_size = 1). */
    ck_assert_int_ne(th_backend_id(c, "other", false), pid);
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"other\"}"), "end other");
    finish(&d, c, side);
}
END_TEST

/* Same, then commit: COMMIT never reached the server (the daemon had seen the connection
 * die), so the transaction is known to be gone: 08006, not "outcome unknown" (08007). */
START_TEST(backend_dies_between_statements_commit)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_r3");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_r3 values (1)\"}"),
        "insert");
    long pid = th_backend_id(c, "k", false);
    terminate(side, pid);
    cJSON *r = th_call(c, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    char *txt = cJSON_PrintUnformatted(r);
    ck_assert_msg(!txscope_reply_ok(r), "commit on a dead backend: %s", txt);
    ck_assert_msg(strcmp(txscope_reply_code(r), "08006") == 0,
                  "COMMIT was never sent, the transaction is known to be gone; got %s", txt);
    free(txt);
    cJSON_Delete(r);
    finish(&d, c, side);
}
END_TEST

/* Same, then rollback / end: both succeed, idle. */
START_TEST(backend_dies_between_statements_end)
{
    th_daemon_t d;
    th_side_t *side;
    txscope_conn_t *c;
    long pid = start_then_kill_k(&d, &side, &c);
    cJSON *r = th_call(c, "{\"op\":\"end\",\"ctx\":\"k\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "end on a dead backend");
    long pid2 = th_backend_id(c, "k", false);
    ck_assert_int_ne(pid2, pid);
    terminate(side, pid2);
    r = th_call(c, "{\"op\":\"rollback\",\"ctx\":\"k\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "rollback on a dead backend");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "again");
    finish(&d, c, side);
}
END_TEST

/* The backend is killed while COMMIT runs: 08007, idle, the session goes on, and the
 * pool is healthy afterwards. PostgreSQL only: the slow COMMIT is a deferred constraint
 * trigger, which MySQL lacks. */
START_TEST(backend_killed_during_commit)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_r4", 3);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_r4 values (1)\"}"),
        "insert");
    long pid = th_backend_pid(c, "k", false);
    int64_t id = th_send(c, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    int64_t w = th_send(
        c, "{\"op\":\"query\",\"ctx\":\"waiter\",\"sql\":\"select 1\",\"autocommit\":true}");
    th_sleep_ms(500);
    char kill[120];
    snprintf(kill, sizeof kill, "select pg_terminate_backend(%ld)::int", pid);
    ck_assert_int_eq(th_pg_long(pg, kill), 1);
    cJSON *r = txscope_wait(c, id, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "08007", "commit killed");
    expect_ok_reply(c, w, "waiter served after the dead connection was closed");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"select 1\"}"), "again");
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_r4"), 0);
    PQfinish(pg);
    finish(&d, c, NULL);
}
END_TEST

/* A full pool, waiters queued, and the busy connection dies mid-statement: its slot
 * goes to the waiters at once. */
START_TEST(full_pool_backend_dies_waiters_served)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=20s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    txscope_conn_t *c2 = th_connect(&d);
    long pid = th_backend_id(c, "h", true);
    int64_t h = th_send(c, "{\"op\":\"query\",\"ctx\":\"h\",\"sql\":\"%s\"}", th_sleep_sql("30"));
    th_sleep_ms(200);
    int64_t w1 = th_send(c2, "{\"op\":\"query\",\"ctx\":\"w1\",\"sql\":\"select 1\"}");
    int64_t w2 =
        th_send(c2, "{\"op\":\"query\",\"ctx\":\"w2\",\"sql\":\"select 2\",\"autocommit\":true}");
    int64_t w3 =
        th_send(c, "{\"op\":\"query\",\"ctx\":\"w3\",\"sql\":\"select 3\",\"autocommit\":true}");
    th_sleep_ms(200);
    long long t0 = th_now_ms();
    th_side_terminate(side, pid);
    cJSON *r = txscope_wait(c, h, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "08006", "holder");
    expect_ok_reply(c2, w1, "w1");
    th_expect_ok(th_call(c2, "{\"op\":\"commit\",\"ctx\":\"w1\"}"), "commit w1");
    expect_ok_reply(c2, w2, "w2");
    expect_ok_reply(c, w3, "w3");
    ck_assert_int_lt(th_now_ms() - t0, 5000);
    txscope_close(c);
    txscope_close(c2);
    ck_assert(in_tx_gone(side, &d));
    finish(&d, NULL, side);
}
END_TEST

/* SIGTERM with a statement running, a session waiting for the pool and another one
 * queued behind a running statement: exit 0 quickly, nothing of the waiters ran. */
START_TEST(sigterm_with_running_and_waiting_sessions)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=20s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_r6");
    txscope_conn_t *c = th_connect(&d);
    txscope_conn_t *c2 = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_r6 values (1)\"}"),
        "insert");
    th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\"}", th_sleep_sql("30"));
    th_send(c, "{\"op\":\"commit\",\"ctx\":\"a\"}");
    th_send(c2, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"insert into t_r6 values (2)\","
                "\"autocommit\":true}");
    th_send(c, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"insert into t_r6 values (3)\","
               "\"autocommit\":true}");
    th_sleep_ms(300);
    long long t0 = th_now_ms();
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    ck_assert_int_lt(th_now_ms() - t0, 5000);
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_r6"), 0);
    ck_assert(th_side_wait_no_backends(side, &d, TH_ALL, 5000) >= 0);
    txscope_close(c);
    txscope_close(c2);
    th_side_close(side);
}
END_TEST

/* SIGTERM while a COMMIT runs: the commit is left to finish (committed), exit 0.
 * PostgreSQL only: the slow COMMIT is a deferred constraint trigger, which MySQL lacks. */
START_TEST(sigterm_during_commit)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_r7", 3);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"k\",\"sql\":\"insert into t_r7 values (1)\"}"),
        "insert");
    th_send(c, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    th_sleep_ms(300);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    ck_assert_int_eq(th_pg_long(pg, "select count(*) from t_r7"), 1);
    txscope_close(c);
    PQfinish(pg);
}
END_TEST

/* max_pipeline = 1 with several contexts: every request is answered, each ctx in order. */
START_TEST(max_pipeline_one_several_contexts)
{
    const char *env[] = {"TXSCOPE_MAX_PIPELINE=1", "TXSCOPE_DB_MAIN_POOL_SIZE=5", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    enum { CTXS = 5, PER = 6 };
    for (int i = 0; i < PER; i++)
        for (int k = 0; k < CTXS; k++) {
            if (i == PER - 1)
                th_send(c, "{\"op\":\"end\",\"ctx\":\"p%d\"}", k);
            else if (i == 3)
                th_send(c, "{\"op\":\"commit\",\"ctx\":\"p%d\"}", k);
            else
                th_send(c, "{\"op\":\"query\",\"ctx\":\"p%d\",\"sql\":\"select %d\"}", k, i);
        }
    expect_ok_replies(c, CTXS * PER, "pipelined");
    th_expect_ok(th_call(c, "{\"op\":\"status\",\"ctx\":\"p0\"}"), "status");
    finish(&d, c, NULL);
}
END_TEST

/* A client that does not read: its replies pile up past the high water mark while its
 * sessions finish; then it closes. Nothing stays checked out or open. */
START_TEST(unread_replies_then_close)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    int fd = th_raw_connect(&d);
    ck_assert_int_ge(fd, 0);
    char line[256];
    for (int i = 0; i < 60; i++) {
        int n = snprintf(line, sizeof line,
                         "{\"op\":\"query\",\"ctx\":\"u%d\",\"sql\":\"select repeat('x', "
                         "300000)\",\"autocommit\":true}\n",
                         i % 7);
        ck_assert_int_eq(write(fd, line, (size_t)n), n);
    }
    th_sleep_ms(1500);
    close(fd);
    ck_assert(in_tx_gone(side, &d));
    finish(&d, NULL, side);
}
END_TEST

/* The same, but the client reads in the end: every reply arrives. */
START_TEST(unread_replies_then_read)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    enum { N = 60 };
    for (int i = 0; i < N; i++)
        th_send(c,
                "{\"op\":\"query\",\"ctx\":\"u%d\",\"sql\":\"select repeat('x', "
                "300000)\",\"autocommit\":true}",
                i % 7);
    th_sleep_ms(1500);
    expect_ok_replies(c, N, "big");
    finish(&d, c, NULL);
}
END_TEST

Suite *suite_lifecycle(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tcs[2];
    th_tcases(s, tcs, 90);
    TH_ADD_TEST(tcs, end_pipelined_behind_running_statement_then_disconnect);
    TH_ADD_TEST(tcs, end_in_the_middle_of_a_pipeline);
    TH_ADD_TEST(tcs, status_after_end_does_not_bind_the_db);
    TH_ADD_TEST(tcs, backend_dies_between_statements_query);
    TH_ADD_TEST(tcs, backend_dies_between_statements_commit);
    TH_ADD_TEST(tcs, backend_dies_between_statements_end);
    tcase_add_test(tcs[TH_PG], backend_killed_during_commit); /* slow COMMIT: PostgreSQL only */
    TH_ADD_TEST(tcs, full_pool_backend_dies_waiters_served);
    TH_ADD_TEST(tcs, sigterm_with_running_and_waiting_sessions);
    tcase_add_test(tcs[TH_PG], sigterm_during_commit); /* slow COMMIT: PostgreSQL only */
    TH_ADD_TEST(tcs, max_pipeline_one_several_contexts);
    TH_ADD_TEST(tcs, unread_replies_then_close);
    TH_ADD_TEST(tcs, unread_replies_then_read);
    return s;
}
