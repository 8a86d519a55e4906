/* test_drain.c - SIGTERM drains (new connections refused, /readyz failing, connected
 * clients served up to drain_timeout, then 57P01 and rollback), SIGINT ends at once;
 * both exit 0 with no backend left. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/integration/http_get.h"

Suite *suite_drain(void);

/* Wait up to ms for the daemon to exit: its exit status (128 + signal when killed), or
 * -2 (then it is killed) when it did not. */
static int wait_exit(th_daemon_t *d, int ms)
{
    int st = 0;
    long long deadline = th_now_ms() + ms;
    pid_t got;
    while ((got = waitpid(d->pid, &st, WNOHANG)) != d->pid) {
        ck_assert_msg(got == 0, "waitpid: %s", strerror(errno));
        if (th_now_ms() > deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
            d->pid = 0;
            return -2;
        }
        th_sleep_ms(5);
    }
    d->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool still_running(const th_daemon_t *d)
{
    int st;
    return waitpid(d->pid, &st, WNOHANG) == 0;
}

static bool log_has(const th_daemon_t *d, const char *text)
{
    FILE *f = fopen(d->log_path, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* SIGTERM, then wait until the daemon logs that it drains (its listeners are closed by
 * then). Probing with connections instead would add a client to the drain. */
static void sigterm_and_wait_draining(th_daemon_t *d)
{
    ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
    long long deadline = th_now_ms() + T_TIMEOUT;
    while (!log_has(d, "draining: not accepting new clients")) {
        ck_assert_msg(th_now_ms() < deadline, "no drain %d ms after SIGTERM", T_TIMEOUT);
        th_sleep_ms(5);
    }
}

/* The last line of a client closed by the shutdown: 57P01 with id null; then EOF. */
static void expect_last_line_then_eof(txscope_conn_t *c, int timeout_ms, const char *what)
{
    cJSON *r = txscope_recv(c, timeout_ms);
    ck_assert_msg(r != NULL, "%s: no last line: %s", what, txscope_errmsg(c));
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
    ck_assert_msg(id && cJSON_IsNull(id), "%s: the last line's id is not null: %s", what,
                  txscope_last_line(c));
    ck_assert_msg(!cJSON_GetObjectItemCaseSensitive(r, "tx"), "%s: tx in the last line: %s", what,
                  txscope_last_line(c));
    th_expect_code(r, "57P01", what);
    ck_assert_ptr_null(txscope_recv(c, timeout_ms));
    ck_assert_msg(txscope_eof(c), "%s: no EOF after the last line: %s", what, txscope_errmsg(c));
}

/* The reply to request id: 57P01, tx idle (what was open is rolled back). */
static void expect_shutdown_reply(txscope_conn_t *c, int64_t id, int timeout_ms, const char *what)
{
    cJSON *r = txscope_wait(c, id, timeout_ms);
    ck_assert_msg(r != NULL, "%s: no reply: %s", what, txscope_errmsg(c));
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "57P01", what);
}

static void insert(txscope_conn_t *c, const char *ctx, const char *table, int id)
{
    th_expect_ok(th_call(c,
                         "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"insert into %s values (%d)\"}",
                         ctx, table, id),
                 "insert");
}

static long rows_with(th_side_t *side, const char *table, int id)
{
    return th_side_long(side, "select count(*) from %s where id = %d", table, id);
}

/* The acceptance test: drain_timeout = 2s, two open transactions at SIGTERM; the one
 * that commits within the window succeeds, the other is rolled back at the timeout and
 * its client hears 57P01; exit 0; no backend left. */
START_TEST(commit_within_drain_succeeds_the_rest_rolls_back)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=2s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_d1");
    txscope_conn_t *a = th_connect(&d);
    txscope_conn_t *b = th_connect(&d);
    insert(a, "a", "t_d1", 1);
    insert(b, "b", "t_d1", 2);

    long long t0 = th_now_ms();
    sigterm_and_wait_draining(&d);
    long long left = t0 + 500 - th_now_ms();
    if (left > 0)
        th_sleep_ms((int)left);
    th_expect_ok(th_call(a, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit during the drain");
    ck_assert_int_eq(rows_with(side, "t_d1", 1), 1);

    /* B stays silent: at drain_timeout it gets the last line, then EOF. */
    expect_last_line_then_eof(b, 5000, "B at drain_timeout");
    long long took = th_now_ms() - t0;
    ck_assert_msg(took >= 1900 && took < 4000, "B's last line came %lld ms after SIGTERM", took);
    expect_last_line_then_eof(a, 1000, "A at drain_timeout");
    txscope_close(a);
    txscope_close(b);
    ck_assert_int_eq(wait_exit(&d, 5000), 0);

    ck_assert_int_eq(rows_with(side, "t_d1", 2), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_d1"), 1);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    ck_assert(log_has(&d, "draining: not accepting new clients; 2 clients, 2 open transactions"));
    ck_assert(log_has(&d, "drain_timeout (2s) passed: rolling back 1 open transactions of 2 "
                          "clients"));
    th_side_close(side);
}
END_TEST

/* While draining: new connections are refused on TCP and on the unix socket, /readyz
 * says 503 (draining) while /healthz and /metrics still answer 200. */
START_TEST(drain_refuses_new_clients_and_fails_readyz)
{
    char path[128], env_sock[160];
    snprintf(path, sizeof path, "/tmp/txs_drain_%d.sock", (int)getpid());
    snprintf(env_sock, sizeof env_sock, "TXSCOPE_UNIX_SOCKET=%s", path);
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=10s", env_sock, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *a = th_connect(&d);
    th_expect_ok(th_call(a, "{\"op\":\"ping\"}"), "ping");
    ck_assert_int_eq(th_http_get(d.admin_port, "/readyz", NULL, 1000), 200);

    sigterm_and_wait_draining(&d);
    ck_assert_int_lt(th_raw_connect(&d), 0);
    char err[256];
    txscope_conn_t *u = txscope_connect(path, 300, err, sizeof err);
    ck_assert_msg(u == NULL, "the unix socket still accepts during the drain");

    char *body = NULL;
    int status = th_http_get(d.admin_port, "/readyz", &body, 1000);
    ck_assert_msg(status == 503 && body && strstr(body, "draining"),
                  "/readyz while draining: %d %s", status, body ? body : "(no body)");
    free(body);
    ck_assert_int_eq(th_http_get(d.admin_port, "/healthz", NULL, 1000), 200);
    ck_assert_int_eq(th_http_get(d.admin_port, "/metrics", NULL, 1000), 200);

    /* The connected client is still served. */
    th_expect_ok(
        th_call(a, "{\"op\":\"query\",\"ctx\":\"x\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "query during the drain");
    txscope_close(a);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
}
END_TEST

/* The drain ends as soon as the last client has gone, long before drain_timeout. */
START_TEST(drain_ends_when_every_client_has_gone)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=10s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_d3");
    txscope_conn_t *a = th_connect(&d);
    txscope_conn_t *b = th_connect(&d);
    insert(a, "a", "t_d3", 1);
    th_expect_ok(th_call(a, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit");
    th_expect_ok(th_call(b, "{\"op\":\"ping\"}"), "ping");

    sigterm_and_wait_draining(&d);
    txscope_close(a);
    th_sleep_ms(300);
    ck_assert_msg(still_running(&d), "exited with a client still connected");
    long long t0 = th_now_ms();
    txscope_close(b);
    ck_assert_int_eq(wait_exit(&d, 1000), 0);
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    ck_assert(log_has(&d, "drain: every client has gone"));
    ck_assert_int_eq(th_side_count_rows(side, "t_d3"), 1);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    th_side_close(side);
}
END_TEST

/* A statement running at drain_timeout: its request hears 57P01, it is cancelled on the
 * server, the client gets the last line, exit 0. */
START_TEST(statement_running_at_drain_timeout_is_cancelled)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=500ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    int64_t id = th_send(c, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"%s\"}", th_sleep_sql("5"));
    int64_t queued = th_send(c, "{\"op\":\"query\",\"ctx\":\"s\",\"sql\":\"select 2\"}");
    long long deadline = th_now_ms() + T_TIMEOUT;
    while (th_side_backends(side, &d, TH_RUNNING) == 0) {
        ck_assert_msg(th_now_ms() < deadline, "the sleep never ran");
        th_sleep_ms(10);
    }

    long long t0 = th_now_ms();
    sigterm_and_wait_draining(&d);
    expect_shutdown_reply(c, id, 3000, "the running sleep");
    long long took = th_now_ms() - t0;
    ck_assert_msg(took >= 400 && took < 2000, "57P01 came %lld ms after SIGTERM", took);
    expect_shutdown_reply(c, queued, 1000, "the request queued behind it");
    expect_last_line_then_eof(c, 3000, "the last line");
    txscope_close(c);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
    ck_assert_int_lt(th_now_ms() - t0, 4000); /* well before the sleep's 5 s */
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    th_side_close(side);
}
END_TEST

/* SIGINT: no drain. An open transaction is rolled back and its client gets the last line
 * at once; exit 0. */
START_TEST(sigint_rolls_back_at_once)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=10s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_d5");
    txscope_conn_t *c = th_connect(&d);
    insert(c, "a", "t_d5", 1);
    long long t0 = th_now_ms();
    ck_assert_int_eq(kill(d.pid, SIGINT), 0);
    expect_last_line_then_eof(c, 2000, "SIGINT");
    ck_assert_int_lt(th_now_ms() - t0, 700);
    txscope_close(c);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_d5"), 0);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    th_side_close(side);
}
END_TEST

/* SIGINT during a drain ends it at once. */
START_TEST(sigint_during_drain_ends_it)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=10s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_d7");
    txscope_conn_t *c = th_connect(&d);
    insert(c, "a", "t_d7", 1);
    sigterm_and_wait_draining(&d);
    long long t0 = th_now_ms();
    ck_assert_int_eq(kill(d.pid, SIGINT), 0);
    expect_last_line_then_eof(c, 2000, "SIGINT during the drain");
    ck_assert_int_lt(th_now_ms() - t0, 700);
    txscope_close(c);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_d7"), 0);
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    th_side_close(side);
}
END_TEST

/* During the drain a connected client still begins and commits new transactions, in new
 * contexts too; a second SIGTERM changes nothing. */
START_TEST(new_transactions_during_drain)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=10s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_d6");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"ping\"}"), "ping");

    sigterm_and_wait_draining(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"n1\"}"), "begin");
    insert(c, "n1", "t_d6", 1);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"n1\"}"), "commit");
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0); /* ignored: the drain goes on */
    th_sleep_ms(100);
    insert(c, "n2", "t_d6", 2);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"n2\"}"), "commit after a 2nd SIGTERM");
    ck_assert_int_eq(th_side_count_rows(side, "t_d6"), 2);
    ck_assert(still_running(&d));

    txscope_close(c);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
    ck_assert(log_has(&d, "SIGTERM again while draining: ignored"));
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 0);
    th_side_close(side);
}
END_TEST

/* A COMMIT running at drain_timeout is left to finish: its reply is its real outcome,
 * then the last line. PostgreSQL only: a slow COMMIT is a deferred constraint trigger. */
START_TEST(commit_running_at_drain_timeout_finishes)
{
    const char *env[] = {"TXSCOPE_DRAIN_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    PGconn *pg = th_pg();
    th_slow_commit_table(pg, "t_d8", 1);
    txscope_conn_t *c = th_connect(&d);
    insert(c, "k", "t_d8", 1);
    int64_t id = th_send(c, "{\"op\":\"commit\",\"ctx\":\"k\"}");
    int64_t queued = th_send(c, "{\"op\":\"status\",\"ctx\":\"k\"}");
    th_sleep_ms(100);
    sigterm_and_wait_draining(&d);
    /* Requests of one ctx are answered in the order sent: the commit's own reply (its
     * real outcome) first, then the status queued behind it hears 57P01. */
    cJSON *r = txscope_recv(c, 3000);
    ck_assert_msg(r != NULL, "no reply to the commit: %s", txscope_errmsg(c));
    int64_t first = -1;
    ck_assert(txscope_get_int64(cJSON_GetObjectItem(r, "id"), &first));
    ck_assert_msg(first == id, "the reply to request %lld came before the commit's",
                  (long long)first);
    th_expect_ok(r, "the commit running at drain_timeout");
    expect_shutdown_reply(c, queued, 3000, "the status queued behind the commit");
    expect_last_line_then_eof(c, 3000, "after the commit");
    txscope_close(c);
    ck_assert_int_eq(wait_exit(&d, 3000), 0);
    ck_assert_int_eq(th_count_rows(pg, "t_d8"), 1);
    ck_assert_int_eq(th_daemon_backends(pg, &d, NULL), 0);
    PQfinish(pg);
}
END_TEST

Suite *suite_drain(void)
{
    Suite *s = suite_create("drain");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, commit_within_drain_succeeds_the_rest_rolls_back);
    TH_ADD_TEST(tc, drain_refuses_new_clients_and_fails_readyz);
    TH_ADD_TEST(tc, drain_ends_when_every_client_has_gone);
    TH_ADD_TEST(tc, statement_running_at_drain_timeout_is_cancelled);
    TH_ADD_TEST(tc, sigint_rolls_back_at_once);
    TH_ADD_TEST(tc, sigint_during_drain_ends_it);
    TH_ADD_TEST(tc, new_transactions_during_drain);
    tcase_add_test(tc[TH_PG], commit_running_at_drain_timeout_finishes);
    return s;
}
