/* test_churn.c - 2,000 clients killed at random points of their transactions: afterwards
 * no transaction is left open on the server, the pool stays within pool_size +
 * max_overflow, and the daemon's own stats agree with what the server shows. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_churn(void);

enum { CLIENTS = 2000, AT_ONCE = 40, POOL = 5, OVERFLOW = 2 };

typedef struct slot {
    int fd;
    long long kill_at; /* when this client dies */
    int sent;          /* requests written so far */
    int plan;          /* how many it writes before it may die */
    int id;            /* the client's number: its ctx and its rows */
} slot_t;

/* One client's life, cut short: up to 4 requests of a transaction (insert, a short
 * sleep, another insert, commit), sent one by one as time passes, then a close (half of
 * them with a reset, as a killed process's socket) at a random moment, often mid-request. */
static const char *request(int k, int id)
{
    static char line[256];
    switch (k) {
    case 0:
        snprintf(line, sizeof line,
                 "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\",\"params\":[%d]}\n", id,
                 th_sql("insert into t_churn values (?)"), id);
        return line;
    case 1:
        snprintf(line, sizeof line, "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\"}\n", id,
                 th_sleep_sql("0.003"));
        return line;
    case 2:
        snprintf(line, sizeof line,
                 "{\"op\":\"query\",\"ctx\":\"c%d\",\"sql\":\"%s\",\"params\":[%d]}\n", id,
                 th_sql("insert into t_churn values (?)"), id + CLIENTS);
        return line;
    default:
        snprintf(line, sizeof line, "{\"op\":\"commit\",\"ctx\":\"c%d\"}\n", id);
        return line;
    }
}

static void kill_client(slot_t *sl)
{
    if (rand() % 2) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* RST, as a dead process */
        setsockopt(sl->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(sl->fd);
    sl->fd = -1;
}

START_TEST(churn_leaves_nothing_behind)
{
    char pool[64], overflow[64];
    snprintf(pool, sizeof pool, "TXSCOPE_DB_MAIN_POOL_SIZE=%d", POOL);
    snprintf(overflow, sizeof overflow, "TXSCOPE_DB_MAIN_MAX_OVERFLOW=%d", OVERFLOW);
    const char *env[] = {pool, overflow, "TXSCOPE_LOG_LEVEL=warn", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_exec(side, "drop table if exists t_churn; create table t_churn(id int primary key)%s",
                 TH_PICK("", " engine=innodb"));
    srand(42);
    slot_t slots[AT_ONCE];
    for (int i = 0; i < AT_ONCE; i++)
        slots[i].fd = -1;
    int started = 0, killed = 0;
    long max_backends = 0;
    long long t0 = th_now_ms();
    while (killed < CLIENTS) {
        ck_assert_msg(th_now_ms() - t0 < 120000, "churn took over 2 minutes (%d killed)", killed);
        long long now = th_now_ms();
        for (int i = 0; i < AT_ONCE; i++) {
            slot_t *sl = &slots[i];
            if (sl->fd < 0 && started < CLIENTS) {
                sl->fd = th_raw_connect(&d);
                sl->sent = 0;
                sl->plan = rand() % 5; /* 0..4 requests before it may die */
                sl->kill_at = now + rand() % 60;
                sl->id = started++;
            }
            if (sl->fd < 0)
                continue;
            if (sl->sent < sl->plan && (sl->sent == 0 || rand() % 2 == 0)) {
                const char *line = request(sl->sent, sl->id);
                ck_assert_int_eq(send(sl->fd, line, strlen(line), MSG_NOSIGNAL),
                                 (ssize_t)strlen(line));
                sl->sent++;
            }
            char buf[4096];
            while (recv(sl->fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
                ; /* replies are not the point: keep the daemon's writes flowing */
            if (now >= sl->kill_at) {
                kill_client(sl);
                killed++;
            }
        }
        if (killed % 200 == 0) {
            long n = th_side_backends(side, &d, TH_ALL);
            if (n > max_backends)
                max_backends = n;
        }
        poll(NULL, 0, 1);
    }
    long long churn_ms = th_now_ms() - t0;

    /* Settled: nothing in a transaction, nothing running, within the pool's bound. */
    ck_assert_msg(th_side_wait_no_backends(side, &d, TH_BUSY, 10000) >= 0,
                  "backends still busy after the churn");
    long backends = th_side_backends(side, &d, TH_ALL);
    ck_assert_int_le(backends, POOL + OVERFLOW);
    ck_assert_int_le(max_backends, POOL + OVERFLOW);

    /* The daemon agrees: every connection it has is idle and is one the server shows;
     * no client, session or transaction is left. */
    long long total = th_daemon_stat(&d, "main", "total");
    ck_assert_int_eq(total, backends);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "idle"), total);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "linked"), 0);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "waiters"), 0);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "opened") - th_daemon_stat(&d, "main", "closed"),
                     total);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "clients"), 0);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "sessions"), 0);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "transactions"), 0);
    /* Some transactions got as far as their commit, and only whole ones are there. */
    long rows = th_side_count_rows(side, "t_churn");
    ck_assert_int_gt(rows, 0);
    ck_assert_int_eq(rows % 2, 0);
    ck_assert_int_eq(th_side_long(side,
                                  "select count(*) from t_churn where id < %d and id + %d "
                                  "not in (select id from t_churn)",
                                  CLIENTS, CLIENTS),
                     0);
    /* The pool still works. */
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"after\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "a query after the churn");
    txscope_close(c);
    fprintf(stderr,
            "churn (%s): %d clients killed in %lld ms, %ld committed, at most %ld "
            "backends\n",
            TH_PICK("pg", "mysql"), CLIENTS, churn_ms, rows / 2, max_backends);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_churn(void)
{
    Suite *s = suite_create("churn");
    TCase *tc[2];
    th_tcases(s, tc, 180);
    TH_ADD_TEST(tc, churn_leaves_nothing_behind);
    return s;
}
