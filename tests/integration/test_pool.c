/* test_pool.c - pool_size is a hard limit, waiters are served or get 53300, and
 * pool_recycle replaces old connections. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_pool(void);

START_TEST(many_contexts_share_a_small_pool)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=5", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_p1; create table t_p1(ctx varchar(16) primary key)");
    enum { CONNS = 4, CTXS = 200, PER_CTX = 3 };
    txscope_conn_t *c[CONNS];
    for (int i = 0; i < CONNS; i++)
        c[i] = th_connect(&d);
    for (int k = 0; k < CTXS; k++) {
        txscope_conn_t *cc = c[k % CONNS];
        th_send(cc, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\",\"params\":[\"c%d\"]}", k,
                th_sql("insert into t_p1 values (?)"), k);
        th_send(cc, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\"}", k, th_sleep_sql("0.005"));
        th_send(cc, "{\"op\":\"commit\",\"ctx\":\"c%d\"}", k);
    }
    int got = 0;
    long max_backends = 0;
    long long t0 = th_now_ms();
    while (got < CTXS * PER_CTX) {
        ck_assert_msg(th_now_ms() - t0 < 60000, "only %d replies", got);
        long n = th_side_backends(side, &d, TH_ALL);
        if (n > max_backends)
            max_backends = n;
        for (int i = 0; i < CONNS; i++) {
            cJSON *r;
            while ((r = txscope_recv(c[i], 5)) != NULL) {
                ck_assert_msg(txscope_reply_ok(r), "reply not ok: %s", txscope_last_line(c[i]));
                cJSON_Delete(r);
                got++;
            }
        }
    }
    ck_assert_int_le(max_backends, 5);
    ck_assert_int_ge(max_backends, 1);
    ck_assert_int_eq(th_side_count_rows(side, "t_p1"), CTXS);
    ck_assert_int_le(th_side_backends(side, &d, TH_ALL), 5);
    for (int i = 0; i < CONNS; i++)
        txscope_close(c[i]);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(waiter_gets_53300_after_pool_timeout)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=300ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"holder\",\"sql\":\"select 1\"}"),
                 "holder");
    long long t0 = th_now_ms();
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"waiter\",\"sql\":\"select 2\"}");
    long long took = th_now_ms() - t0;
    /* The request never reached the database: the session is as it was, idle. */
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "53300", "waiter");
    ck_assert_int_ge(took, 250);
    ck_assert_int_lt(took, 3000);
    /* FIFO: a waiter queued behind is served as soon as the holder lets go. */
    int64_t w = th_send(c, "{\"op\":\"query\",\"ctx\":\"waiter\",\"sql\":\"select 3\"}");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"holder\"}"), "commit holder");
    r = txscope_wait(c, w, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    th_expect_ok(r, "waiter after release");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* pool_timeout limits the wait for a busy pool, not for a connection being opened. */
START_TEST(pool_timeout_zero_still_opens_connections)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=0", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"first\",\"sql\":\"select 1\"}"),
                 "first request, on a connection opened for it");
    long long t0 = th_now_ms();
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"second\",\"sql\":\"select 2\"}"),
                   "53300", "pool busy: no wait");
    ck_assert_int_lt(th_now_ms() - t0, 500);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(pool_recycle_replaces_old_connections)
{
    const char *env[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=1", "TXSCOPE_DB_MAIN_POOL_RECYCLE=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long p1 = th_backend_id(c, "r", true);
    long p2 = th_backend_id(c, "r", true);
    ck_assert_int_eq(p1, p2); /* reused while young */
    th_sleep_ms(1200);
    long p3 = th_backend_id(c, "r", true);
    ck_assert_int_ne(p3, p1);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(backend_down_gives_08001)
{
    const char *env[] = {TH_PICK("TXSCOPE_DB_MAIN_DSN=postgresql://postgres@127.0.0.1:1/postgres",
                                 "TXSCOPE_DB_MAIN_DSN=mysql://txs:txs@127.0.0.1:1/txs"),
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=20s", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long long t0 = th_now_ms();
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"z\",\"sql\":\"select 1\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "08001", "no server");
    ck_assert_int_lt(th_now_ms() - t0, 5000); /* promptly, not after pool_timeout */
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A server that takes the connection and never answers: libpq waits for its reply until
 * connect_timeout. Returns the listening socket; *port is its port. */
static int silent_server(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 16), 0); /* the kernel completes the handshakes */
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Deadlines are not in FIFO order: the first waiter waits for its connect (up to
 * connect_timeout), the one behind it only pool_timeout, which holds even while the first
 * is still waiting. */
START_TEST(pool_timeout_holds_behind_a_waiter_for_a_connect)
{
    int port;
    int lfd = silent_server(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "TXSCOPE_DB_MAIN_DSN=postgresql://u@127.0.0.1:%d/x", port);
    const char *env[] = {dsn,
                         "TXSCOPE_DB_MAIN_POOL_SIZE=1",
                         "TXSCOPE_DB_MAIN_POOL_TIMEOUT=300ms",
                         "TXSCOPE_DB_MAIN_CONNECT_TIMEOUT=3s",
                         "TXSCOPE_DB_MAIN_PRE_PING=off",
                         NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    int64_t first = th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}");
    th_sleep_ms(50);
    long long t0 = th_now_ms();
    int64_t second = th_send(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\"}");
    cJSON *r = txscope_wait(c, second, 10000);
    long long took = th_now_ms() - t0;
    th_expect_code(r, "53300", "the waiter behind");
    ck_assert_msg(took >= 250 && took < 1500, "53300 after %lld ms", took);
    r = txscope_wait(c, first, 10000); /* the connect times out: 08001 */
    th_expect_code(r, "08001", "the waiter for the connect");
    txscope_close(c);
    close(lfd);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_pool(void)
{
    Suite *s = suite_create("pool");
    TCase *tc[2];
    th_tcases(s, tc, 90);
    TH_ADD_TEST(tc, many_contexts_share_a_small_pool);
    TH_ADD_TEST(tc, waiter_gets_53300_after_pool_timeout);
    TH_ADD_TEST(tc, pool_timeout_zero_still_opens_connections);
    TH_ADD_TEST(tc, pool_recycle_replaces_old_connections);
    TH_ADD_TEST(tc, backend_down_gives_08001);
    tcase_add_test(tc[TH_PG], pool_timeout_holds_behind_a_waiter_for_a_connect);
    return s;
}
