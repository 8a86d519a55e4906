/* test_pool_lifecycle.c - the pool's sizing over time: max_overflow connections closed
 * when returned, min_idle opened at start and replaced, pool_idle_timeout shrinking the
 * pool, pool_recycle staggered, and pre_ping replacing a dead or silent connection
 * without the client noticing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_pool_lifecycle(void);

/* ---- helpers ---- */

/* How many times `what` appears in the daemon's log. */
static int log_count(const th_daemon_t *d, const char *what)
{
    FILE *f = fopen(d->log_path, "r");
    ck_assert_msg(f != NULL, "no log %s", d->log_path);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

/* The server ids of the daemon's connections, ascending, comma-separated (caller frees).
 * On MySQL the side connection sits in the daemon's database too: it is left out. */
static char *backend_ids(th_side_t *side, const th_daemon_t *d)
{
    if (th_backend == TH_PG)
        return th_side_text(side,
                            "select coalesce(string_agg(pid::text, ',' order by pid), '') "
                            "from pg_stat_activity where application_name = 'txs_%d'",
                            d->port);
    return th_side_text(side,
                        "select coalesce(group_concat(id order by id), '') from "
                        "information_schema.processlist where db = 'txs_%d' and id <> "
                        "connection_id()",
                        d->port);
}

static bool has_id(const char *ids, long id)
{
    const char *p = ids;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p)
            return false;
        if (v == id)
            return true;
        p = *end == ',' ? end + 1 : end;
    }
    return false;
}

/* Poll until the daemon has n connections: the ms it took, or -1 after ms. */
static long long wait_backends(th_side_t *side, const th_daemon_t *d, long n, int ms)
{
    long long t0 = th_now_ms();
    while (th_now_ms() - t0 < ms) {
        if (th_side_backends(side, d, TH_ALL) == n)
            return th_now_ms() - t0;
        th_sleep_ms(10);
    }
    return -1;
}

static void commit(txscope_conn_t *c, const char *ctx)
{
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"%s\"}", ctx), ctx);
}

/* ---- max_overflow ---- */

START_TEST(overflow_connection_closed_when_returned)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_MAX_OVERFLOW=1",
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=200ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    /* Two transactions at once: the second runs on an overflow connection. */
    long a = th_backend_id(c, "a", false);
    long b = th_backend_id(c, "b", false);
    ck_assert_int_ne(a, b);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 2);
    /* pool_size + max_overflow is the limit: a third waits out pool_timeout. */
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"select 1\"}"), "53300",
                   "third transaction");
    /* Both end: the first one back finds the pool holding pool_size connections (the
     * other, still in use) and is closed; the pool settles at pool_size. */
    commit(c, "a");
    commit(c, "b");
    ck_assert_msg(wait_backends(side, &d, 1, 3000) >= 0, "the overflow connection stayed open");
    ck_assert_int_eq(log_count(&d, "closing: overflow"), 1);
    long again = th_backend_id(c, "d", true);
    ck_assert_msg(again == a || again == b, "the pool_size connection was not kept");
    th_sleep_ms(100);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 1);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- min_idle ---- */

START_TEST(min_idle_opened_at_start_and_replaced)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", "TXSCOPE_DB_MAIN_MIN_IDLE=2", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    /* No request yet: min_idle connections are there. */
    ck_assert_msg(wait_backends(side, &d, 2, 3000) >= 0, "min_idle connections not opened");
    th_sleep_ms(100);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 2); /* and no more */
    char *ids = backend_ids(side, &d);
    long victim = atol(ids);
    ck_assert_int_gt(victim, 0);
    free(ids);
    /* One dies on the server's side: it is replaced. */
    th_side_terminate(side, victim);
    long long t0 = th_now_ms();
    for (;;) {
        ids = backend_ids(side, &d);
        bool replaced = !has_id(ids, victim) && th_side_backends(side, &d, TH_ALL) == 2;
        free(ids);
        if (replaced)
            break;
        ck_assert_msg(th_now_ms() - t0 < 3000, "the lost idle connection was not replaced");
        th_sleep_ms(10);
    }
    ck_assert_int_eq(log_count(&d, "closing: lost"), 1);
    /* They serve requests as any other. */
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "query on a warm connection");
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 2);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- pool_idle_timeout ---- */

START_TEST(idle_timeout_shrinks_to_min_idle)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", "TXSCOPE_DB_MAIN_MIN_IDLE=1",
                         "TXSCOPE_DB_MAIN_POOL_IDLE_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    ck_assert(wait_backends(side, &d, 1, 3000) >= 0);
    txscope_conn_t *c = th_connect(&d);
    /* A burst of three transactions at once. */
    long t1 = th_backend_id(c, "t1", false);
    long t2 = th_backend_id(c, "t2", false);
    long t3 = th_backend_id(c, "t3", false);
    ck_assert(t1 != t2 && t2 != t3 && t1 != t3);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 3);
    commit(c, "t1");
    commit(c, "t2");
    commit(c, "t3");
    long long t0 = th_now_ms();
    long long took = wait_backends(side, &d, 1, 3000);
    ck_assert_msg(took >= 0, "idle connections above min_idle stayed open");
    ck_assert_int_ge(th_now_ms() - t0, 200); /* not before they were idle that long */
    ck_assert_int_eq(log_count(&d, "closing: idle_timeout"), 2);
    /* The oldest idle went first: the one kept is the last one returned. */
    ck_assert_int_eq(th_backend_id(c, "again", true), t3);
    th_sleep_ms(400); /* min_idle is kept, however long it idles */
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 1);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- pool_recycle ---- */

START_TEST(recycle_is_staggered)
{
    enum { N = 3 };
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=3", "TXSCOPE_DB_MAIN_MIN_IDLE=3",
                         "TXSCOPE_DB_MAIN_POOL_RECYCLE=1s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    ck_assert(wait_backends(side, &d, N, 3000) >= 0);
    char *ids = backend_ids(side, &d);
    long orig[N];
    long long gone_at[N];
    char *p = ids;
    for (int i = 0; i < N; i++) {
        orig[i] = strtol(p, &p, 10);
        p += *p == ',';
        gone_at[i] = -1;
    }
    free(ids);
    /* Opened together, they are recycled one by one, each replaced (min_idle). */
    long long t0 = th_now_ms();
    int gone = 0;
    while (gone < N) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "only %d of %d recycled", gone, N);
        ids = backend_ids(side, &d);
        long long now = th_now_ms();
        for (int i = 0; i < N; i++) {
            if (gone_at[i] < 0 && !has_id(ids, orig[i])) {
                gone_at[i] = now;
                gone++;
            }
        }
        free(ids);
        th_sleep_ms(2);
    }
    long long first = gone_at[0], last = gone_at[0];
    for (int i = 1; i < N; i++) {
        first = gone_at[i] < first ? gone_at[i] : first;
        last = gone_at[i] > last ? gone_at[i] : last;
    }
    /* Each connection's age is 1s less its own part of the last 10%: three opened in a
     * row are spread over at least 61 ms of that window. */
    ck_assert_msg(last - first >= 30, "recycled within %lld ms of each other", last - first);
    ck_assert(wait_backends(side, &d, N, 3000) >= 0);
    ck_assert_int_ge(log_count(&d, "closing: recycle"), N);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- pre_ping ---- */

START_TEST(pre_ping_replaces_terminated_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_PRE_PING=on",
                         "TXSCOPE_DB_MAIN_PRE_PING_AFTER=0", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    long first = th_backend_id(c, "a", true);
    ck_assert_int_eq(th_backend_id(c, "a", true), first); /* reused while alive */
    th_side_terminate(side, first);
    /* The next client never sees an error, and gets a live connection. */
    long next = th_backend_id(c, "b", true);
    ck_assert_int_ne(next, first);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 1);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A backend that is alive but silent (stopped): the idle watch cannot see it, pre_ping
 * does, within connect_timeout. PostgreSQL: one process per connection, which SIGSTOP
 * freezes alone. */
START_TEST(pre_ping_replaces_silent_connection)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_PRE_PING=on",
                         "TXSCOPE_DB_MAIN_PRE_PING_AFTER=0",
                         "TXSCOPE_DB_MAIN_CONNECT_TIMEOUT=500ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    long pid = th_backend_id(c, "a", true);
    ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
    /* Whatever happens to this test, the backend runs again in a few seconds. */
    pid_t guard = fork();
    ck_assert_int_ge(guard, 0);
    if (guard == 0) {
        sleep(5);
        kill((pid_t)pid, SIGCONT);
        _exit(0);
    }
    long long t0 = th_now_ms();
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select pg_backend_pid()\","
                          "\"autocommit\":true}");
    long long took = th_now_ms() - t0;
    char *v = th_first_value(r);
    th_expect_ok(r, "query after the pooled backend froze");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_ne(atol(v), pid);
    free(v);
    ck_assert_int_ge(took, 400);  /* the ping waited out connect_timeout ... */
    ck_assert_int_lt(took, 3000); /* ... and no longer */
    ck_assert_int_eq(log_count(&d, "closing: ping_failed"), 1);
    kill((pid_t)pid, SIGCONT);
    kill(guard, SIGKILL);
    waitpid(guard, NULL, 0);
    /* The daemon let go of it: running again, it finds its client gone and exits. */
    char sql[128];
    snprintf(sql, sizeof sql, "select count(*) from pg_stat_activity where pid = %ld", pid);
    ck_assert(th_side_wait_zero(side, sql, 5000) >= 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ---- stats ---- */

static long long pool_stat(const th_daemon_t *d, const char *key)
{
    return th_daemon_stat(d, "main", key);
}

START_TEST(stats_count_what_happened)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1",        "TXSCOPE_DB_MAIN_MAX_OVERFLOW=1",
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=200ms", "TXSCOPE_DB_MAIN_PRE_PING=on",
                         "TXSCOPE_DB_MAIN_PRE_PING_AFTER=0",   NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    /* The connection opened at start is idle before the first request. */
    long long t_start = th_now_ms();
    while (pool_stat(&d, "idle") != 1) {
        ck_assert_msg(th_now_ms() - t_start < 3000, "the start-up connection did not open");
        th_sleep_ms(10);
    }
    txscope_conn_t *c1 = th_connect(&d);
    th_backend_id(c1, "a", false); /* two transactions: one on an overflow connection */
    th_backend_id(c1, "b", false);
    ck_assert_int_eq(pool_stat(&d, "linked"), 2);
    th_expect_code(th_call(c1, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"select 1\"}"), "53300",
                   "third");
    commit(c1, "a");   /* closed: the other one keeps the pool at pool_size */
    txscope_close(c1); /* b's transaction is rolled back by the pool */
    long long t0 = th_now_ms();
    while (pool_stat(&d, "idle") != 1) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "the connection did not come back");
        th_sleep_ms(10);
    }
    /* Connections by state add up to the total. */
    ck_assert_int_eq(pool_stat(&d, "total"), 1);
    ck_assert_int_eq(pool_stat(&d, "linked") + pool_stat(&d, "connecting") +
                         pool_stat(&d, "resetting") + pool_stat(&d, "pinging") +
                         pool_stat(&d, "closing") + pool_stat(&d, "waiters"),
                     0);
    ck_assert_int_eq(pool_stat(&d, "down"), 0);
    ck_assert_int_eq(pool_stat(&d, "checkouts"), 2);
    ck_assert_int_eq(pool_stat(&d, "opened"), 2);
    ck_assert_int_eq(pool_stat(&d, "closed"), 1);
    ck_assert_int_eq(pool_stat(&d, "closed_overflow"), 1);
    ck_assert_int_eq(pool_stat(&d, "rollbacks"), 1);
    ck_assert_int_eq(pool_stat(&d, "resets"), 1);
    ck_assert_int_eq(pool_stat(&d, "timeouts_pool"), 1);
    /* The connection opened at start had waited idle, so pre_ping checked it; the
     * overflow one was handed over as it connected. */
    ck_assert_int_eq(pool_stat(&d, "pings"), 1);
    /* Idle for a while, then used: pre_ping checks it first. */
    th_sleep_ms(20);
    txscope_conn_t *c2 = th_connect(&d);
    th_backend_id(c2, "d", true);
    ck_assert_int_eq(pool_stat(&d, "pings"), 2);
    ck_assert_int_eq(pool_stat(&d, "ping_failures"), 0);
    ck_assert_int_eq(pool_stat(&d, "checkouts"), 3);
    ck_assert_int_eq(pool_stat(&d, "connect_failures"), 0);
    txscope_close(c2);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_pool_lifecycle(void)
{
    Suite *s = suite_create("pool_lifecycle");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, overflow_connection_closed_when_returned);
    TH_ADD_TEST(tc, min_idle_opened_at_start_and_replaced);
    TH_ADD_TEST(tc, idle_timeout_shrinks_to_min_idle);
    TH_ADD_TEST(tc, recycle_is_staggered);
    TH_ADD_TEST(tc, pre_ping_replaces_terminated_connection);
    tcase_add_test(tc[TH_PG], pre_ping_replaces_silent_connection);
    TH_ADD_TEST(tc, stats_count_what_happened);
    return s;
}
