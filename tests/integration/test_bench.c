/* test_bench.c - txscope-bench against the real daemon on pgbench's tables, and
 * libtxscope's txscope_recv_line. PostgreSQL only: a database of its own, made by
 * pgbench -i, with an audit trigger that records every committed account update. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_bench(void);

#define PGBENCH "/usr/lib/postgresql/15/bin/pgbench"

static char bench_db[64];
static char saved_pgdatabase[128];
static bool had_pgdatabase;

static const char *bench_bin(void)
{
    const char *b = getenv("TXS_BENCH");
    return b && *b ? b : "build/asan/bin/txscope-bench";
}

/* Once per TCase: the database, pgbench's tables at scale 1, and the audit trigger. */
static void db_create(void)
{
    const char *pgdb = getenv("PGDATABASE");
    had_pgdatabase = pgdb != NULL;
    snprintf(saved_pgdatabase, sizeof saved_pgdatabase, "%s", pgdb ? pgdb : "");
    snprintf(bench_db, sizeof bench_db, "txs_bench_%d", (int)getpid());
    PGconn *pg = th_pg();
    char sql[160];
    snprintf(sql, sizeof sql, "drop database if exists %s with (force)", bench_db);
    th_pg_exec(pg, sql);
    snprintf(sql, sizeof sql, "create database %s", bench_db);
    th_pg_exec(pg, sql);
    PQfinish(pg);

    th_run_t r;
    const char *args[] = {"-i", "-s", "1", "-q", bench_db, NULL};
    th_run(&r, PGBENCH, args, NULL, NULL);
    ck_assert_msg(r.status == 0, "pgbench -i: %s", r.err);

    char dsn[512];
    snprintf(dsn, sizeof dsn, "%s", th_pg_dsn());
    char *slash = strrchr(dsn, '/');
    snprintf(slash + 1, sizeof dsn - (size_t)(slash + 1 - dsn), "%s", bench_db);
    pg = PQconnectdb(dsn);
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "libpq: %s", PQerrorMessage(pg));
    th_pg_exec(pg, "create table bench_audit(aid int, delta int);"
                   "create function bench_audit_f() returns trigger language plpgsql as "
                   "$$ begin insert into bench_audit values (new.aid, new.abalance - "
                   "old.abalance); return null; end $$;"
                   "create trigger bench_audit_t after update on pgbench_accounts "
                   "for each row execute function bench_audit_f()");
    PQfinish(pg);
}

static void db_drop(void)
{
    PGconn *pg = th_pg();
    char sql[160];
    snprintf(sql, sizeof sql, "drop database if exists %s with (force)", bench_db);
    th_pg_exec(pg, sql);
    PQfinish(pg);
}

/* Per test: th_pg_dsn() names the bench database, so the daemon the harness starts uses
 * it (still marked application_name=txs_PORT) and th_side() looks at it. */
static void use_bench_db(void)
{
    setenv("PGDATABASE", bench_db, 1);
}

static void restore_pgdatabase(void)
{
    if (had_pgdatabase)
        setenv("PGDATABASE", saved_pgdatabase, 1);
    else
        unsetenv("PGDATABASE");
}

/* The numbers of the `result` line. */
typedef struct result {
    char workload[32];
    int clients, contexts;
    double seconds, tps, avg, p50, p90, p99, p999;
    long transactions, errors;
} result_t;

static void run_bench(th_run_t *r, const char *const *args)
{
    th_run(r, bench_bin(), args, NULL, NULL);
}

static result_t parse_result(const th_run_t *r)
{
    result_t res;
    memset(&res, 0, sizeof res);
    const char *line = strstr(r->out, "\nresult ");
    ck_assert_msg(line != NULL, "no result line (exit %d): %s%s", r->status, r->out, r->err);
    int n = sscanf(line + 1,
                   "result workload=%31s clients=%d contexts=%d seconds=%lf transactions=%ld "
                   "errors=%ld tps=%lf avg_ms=%lf p50_ms=%lf p90_ms=%lf p99_ms=%lf p999_ms=%lf",
                   res.workload, &res.clients, &res.contexts, &res.seconds, &res.transactions,
                   &res.errors, &res.tps, &res.avg, &res.p50, &res.p90, &res.p99, &res.p999);
    ck_assert_msg(n == 12, "result line has %d of 12 fields: %s", n, line + 1);
    if (res.transactions > 0)
        ck_assert_msg(res.avg > 0 && res.p50 > 0 && res.p50 <= res.p90 && res.p90 <= res.p99 &&
                          res.p99 <= res.p999,
                      "latencies out of order: %s", line + 1);
    return res;
}

/* -c 3 -m 2 -t 20 -P 0 -w w: exit 0, 120 transactions, no error. */
static void run_120(const th_daemon_t *d, const char *w)
{
    const char *args[] = {"-a", d->addr, "-c", "3",  "-m", "2", "-t",
                          "20", "-P",    "0",  "-w", w,    NULL};
    th_run_t r;
    run_bench(&r, args);
    ck_assert_msg(r.status == 0, "%s: exit %d: %s%s", w, r.status, r.out, r.err);
    result_t res = parse_result(&r);
    ck_assert_str_eq(res.workload, w);
    ck_assert_int_eq(res.clients, 3);
    ck_assert_int_eq(res.contexts, 2);
    ck_assert_msg(res.transactions == 120 && res.errors == 0 && res.tps > 0, "%s: %s", w, r.out);
    ck_assert_msg(strstr(r.out, "clients: 3 x 2 contexts\n") && strstr(r.out, "errors: 0\n") &&
                      !strstr(r.out, "errors by sqlstate"),
                  "%s: %s", w, r.out);
}

typedef struct sums {
    long history, history_delta, audit, audit_delta, abalance, tbalance, bbalance;
} sums_t;

static sums_t sums(th_side_t *s)
{
    sums_t v;
    v.history = th_side_long(s, "select count(*) from pgbench_history");
    v.history_delta = th_side_long(s, "select coalesce(sum(delta), 0) from pgbench_history");
    v.audit = th_side_long(s, "select count(*) from bench_audit");
    v.audit_delta = th_side_long(s, "select coalesce(sum(delta), 0) from bench_audit");
    v.abalance = th_side_long(s, "select sum(abalance) from pgbench_accounts");
    v.tbalance = th_side_long(s, "select sum(tbalance) from pgbench_tellers");
    v.bbalance = th_side_long(s, "select sum(bbalance) from pgbench_branches");
    return v;
}

/* Every workload runs its 120 transactions; their effects are exactly those of 120
 * committed transactions, and the TPC-B invariant holds. */
START_TEST(workloads_commit_what_they_count)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();

    sums_t s0 = sums(side);
    run_120(&d, "select");
    sums_t s1 = sums(side);
    ck_assert_int_eq(s1.audit, s0.audit); /* read only */
    ck_assert_int_eq(s1.abalance, s0.abalance);

    run_120(&d, "tx3");
    sums_t s2 = sums(side);
    ck_assert_int_eq(s2.audit - s1.audit, 120); /* one account update each */
    ck_assert_int_eq(s2.abalance - s1.abalance, s2.audit_delta - s1.audit_delta);
    ck_assert_int_eq(s2.history, s1.history);
    ck_assert_int_eq(s2.tbalance, s1.tbalance);

    run_120(&d, "tpcb");
    sums_t s3 = sums(side);
    ck_assert_int_eq(s3.history - s2.history, 120);
    ck_assert_int_eq(s3.audit - s2.audit, 120);

    run_120(&d, "batch");
    sums_t s4 = sums(side);
    ck_assert_int_eq(s4.history - s3.history, 120);
    ck_assert_int_eq(s4.audit - s3.audit, 120);

    /* TPC-B: what history recorded is what every balance moved by. */
    long moved = s4.history_delta - s2.history_delta;
    ck_assert_int_eq(s4.abalance - s2.abalance, moved);
    ck_assert_int_eq(s4.tbalance - s2.tbalance, moved);
    ck_assert_int_eq(s4.bbalance - s2.bbalance, moved);
    ck_assert_int_eq(s4.audit_delta - s2.audit_delta, moved);

    ck_assert(th_side_wait_no_backends(side, &d, TH_IN_TX, 2000) >= 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Half of the history inserts fail a check constraint: each failure is counted under
 * its SQLSTATE and its transaction rolled back (no 25P02 follows in that context), so
 * only the counted transactions leave a trace. */
START_TEST(errors_are_counted_and_rolled_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_exec(side, "alter table pgbench_history add constraint bench_pos check (delta >= 0) "
                       "not valid");
    const char *workloads[] = {"tpcb", "batch"};
    for (int i = 0; i < 2; i++) {
        sums_t s0 = sums(side);
        const char *args[] = {"-a", d.addr, "-c", "3",  "-m",         "2", "-t",
                              "20", "-P",   "0",  "-w", workloads[i], NULL};
        th_run_t r;
        run_bench(&r, args);
        ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
        result_t res = parse_result(&r);
        ck_assert_msg(res.errors > 0 && res.transactions > 0 &&
                          res.transactions + res.errors == 120,
                      "%s: %s", workloads[i], r.out);
        char want[64];
        snprintf(want, sizeof want, "\nerrors by sqlstate: 23514=%ld\n", res.errors);
        ck_assert_msg(strstr(r.out, want), "%s: want \"%s\" in %s", workloads[i], want + 1, r.out);
        sums_t s1 = sums(side);
        ck_assert_int_eq(s1.history - s0.history, res.transactions);
        ck_assert_int_eq(s1.audit - s0.audit, res.transactions);
        ck_assert_int_eq(s1.abalance - s0.abalance, s1.history_delta - s0.history_delta);
        ck_assert_int_eq(s1.bbalance - s0.bbalance, s1.history_delta - s0.history_delta);
    }
    th_side_exec(side, "alter table pgbench_history drop constraint bench_pos");
    ck_assert(th_side_wait_no_backends(side, &d, TH_IN_TX, 2000) >= 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* -T: the run lasts that long, with a progress line per period. */
START_TEST(duration_mode_runs_for_its_time)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    const char *args[] = {"-a", d.addr, "-c", "2", "-T", "1", "-P", "0.4", "-w", "tpcb", NULL};
    th_run_t r;
    long long t0 = th_now_ms();
    run_bench(&r, args);
    long long took = th_now_ms() - t0;
    ck_assert_msg(r.status == 0, "exit %d: %s%s", r.status, r.out, r.err);
    result_t res = parse_result(&r);
    ck_assert_msg(took >= 1000 && took <= 3000, "took %lld ms", took);
    ck_assert_msg(res.seconds >= 0.99 && res.seconds <= 1.5, "seconds=%.2f", res.seconds);
    ck_assert_msg(res.transactions > 0 && res.errors == 0 && res.tps > 0, "%s", r.out);
    /* A line per 0.4 s period, and one for the last part when the time is up. */
    int lines = 0;
    double last = 0;
    for (const char *p = strstr(r.err, "progress: "); p; p = strstr(p + 1, "\nprogress: ")) {
        if (*p == '\n')
            p++;
        double at, tps, p99;
        long errors;
        ck_assert_msg(sscanf(p, "progress: %lf s, %lf tps, lat p99 %lf ms, %ld errors", &at, &tps,
                             &p99, &errors) == 4,
                      "progress line: %s", p);
        ck_assert_msg(at > last && tps > 0 && p99 > 0 && errors == 0, "progress line: %s", p);
        last = at;
        lines++;
    }
    ck_assert_msg(lines == 3 && last >= 0.99 && last <= 1.5, "stderr: %s", r.err);
    th_side_t *side = th_side();
    ck_assert(th_side_wait_no_backends(side, &d, TH_IN_TX, 2000) >= 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* txscope-bench --idle started with its stdout on a pipe: its pid and the pipe. */
static pid_t start_idle(const char *const *args, FILE **out)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[32] = {bench_bin()};
        int n = 1;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    *out = fdopen(fds[0], "r");
    ck_assert_ptr_nonnull(*out);
    return pid;
}

static int wait_status(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Polls the daemon's stats until clients and sessions are back to these. */
static void wait_stats(const th_daemon_t *d, long long clients, long long sessions)
{
    long long t0 = th_now_ms();
    while (th_daemon_stat(d, NULL, "clients") != clients ||
           th_daemon_stat(d, NULL, "sessions") != sessions) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "clients/sessions not back to %lld/%lld", clients,
                      sessions);
        th_sleep_ms(20);
    }
}

/* --idle holds N clients with M sessions each, ready when it says so, until -T passes or
 * a signal comes; then it exits 0. */
START_TEST(idle_holds_clients_and_sessions)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    long long clients0 = th_daemon_stat(&d, NULL, "clients");
    long long sessions0 = th_daemon_stat(&d, NULL, "sessions");

    const char *args[] = {"-a", d.addr, "--idle", "-c", "5", "-m", "3", "-T", "1", NULL};
    FILE *out;
    pid_t pid = start_idle(args, &out);
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof line, out));
    long long ready = th_now_ms();
    ck_assert_str_eq(line, "idle: 5 clients, 3 contexts each, ready\n");
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "clients"), clients0 + 5);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "sessions"), sessions0 + 15);
    ck_assert_int_eq(wait_status(pid), 0);
    ck_assert_msg(th_now_ms() - ready >= 900, "held only %lld ms", th_now_ms() - ready);
    fclose(out);
    wait_stats(&d, clients0, sessions0);

    /* Without -T, until SIGTERM; -m 0 makes no session. */
    const char *args2[] = {"-a", d.addr, "--idle", "-c", "2", "-m", "0", NULL};
    pid = start_idle(args2, &out);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, out));
    ck_assert_str_eq(line, "idle: 2 clients, 0 contexts each, ready\n");
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "clients"), clients0 + 2);
    ck_assert_int_eq(th_daemon_stat(&d, NULL, "sessions"), sessions0);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(wait_status(pid), 0);
    fclose(out);
    wait_stats(&d, clients0, sessions0);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Bad usage exits 2; a daemon nobody runs exits 1, saying why. */
START_TEST(usage_and_connect_errors_have_their_exit_status)
{
    th_run_t r;
    const char *bad[] = {"-w", "nope", NULL};
    run_bench(&r, bad);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "--workload"), "%s", r.err);
    const char *help[] = {"-h", NULL};
    run_bench(&r, help);
    ck_assert_int_eq(r.status, 0);
    ck_assert_msg(strstr(r.out, "--transactions"), "%s", r.out);

    th_daemon_t d;
    th_daemon_start(&d, NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "%s", d.addr);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    const char *gone[] = {"-a", addr, "-t", "1", "-P", "0", NULL};
    run_bench(&r, gone);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "could not connect"), "%s", r.err);
}
END_TEST

/* txscope_recv_line: stashed replies first (their saved lines), then the socket's lines;
 * with timeout 0 it returns at once when no line is there; EOF at the end. */
START_TEST(recv_line_gives_stashed_then_socket_lines)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    txscope_conn_t *c = th_connect(&d);
    static const char three[] = "{\"id\":1,\"op\":\"ping\"}\n{\"id\":2,\"op\":\"ping\"}\n"
                                "{\"id\":3,\"op\":\"ping\"}\n";
    ck_assert_int_eq(txscope_send_raw(c, three, sizeof three - 1), 0);
    th_expect_ok(txscope_wait(c, 3, T_TIMEOUT), "ping 3"); /* stashes 1 and 2 */
    const char *line;
    size_t len;
    ck_assert_int_eq(txscope_recv_line(c, 0, &line, &len), 0);
    ck_assert_str_eq(line, "{\"id\":1,\"ok\":true}");
    ck_assert_uint_eq(len, strlen(line));
    ck_assert_int_eq(txscope_recv_line(c, 0, &line, &len), 0);
    ck_assert_str_eq(line, "{\"id\":2,\"ok\":true}");
    long long t0 = th_now_ms();
    ck_assert_int_eq(txscope_recv_line(c, 0, &line, &len), TXSCOPE_ETIMEDOUT);
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_ETIMEDOUT);
    ck_assert_int_eq(txscope_recv_line(c, 200, &line, &len), TXSCOPE_ETIMEDOUT);
    ck_assert_int_lt(th_now_ms() - t0, 2000);

    /* Two replies in the socket: both, in order, then nothing. */
    static const char two[] = "{\"id\":\"a\",\"op\":\"ping\"}\n{\"id\":\"b\",\"op\":\"ping\"}\n";
    ck_assert_int_eq(txscope_send_raw(c, two, sizeof two - 1), 0);
    ck_assert_int_eq(txscope_recv_line(c, T_TIMEOUT, &line, &len), 0);
    ck_assert_str_eq(line, "{\"id\":\"a\",\"ok\":true}");
    t0 = th_now_ms();
    int rc;
    while ((rc = txscope_recv_line(c, 0, &line, &len)) == TXSCOPE_ETIMEDOUT &&
           th_now_ms() - t0 < T_TIMEOUT)
        th_sleep_ms(5);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(line, "{\"id\":\"b\",\"ok\":true}");
    ck_assert_int_eq(txscope_recv_line(c, 0, &line, &len), TXSCOPE_ETIMEDOUT);

    ck_assert_int_eq(th_daemon_stop(&d), 0);
    /* The shutdown's last line (57P01, id null), then the end of the connection. */
    ck_assert_int_eq(txscope_recv_line(c, T_TIMEOUT, &line, &len), 0);
    ck_assert_ptr_nonnull(strstr(line, "\"id\":null,\"ok\":false,\"error\":{\"code\":\"57P01\""));
    ck_assert_int_eq(txscope_recv_line(c, T_TIMEOUT, &line, &len), TXSCOPE_EEOF);
    ck_assert_int_eq(txscope_recv_line(c, 0, &line, &len), TXSCOPE_EEOF);
    txscope_close(c);
}
END_TEST

Suite *suite_bench(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("pg");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, db_create, db_drop);
    tcase_add_checked_fixture(tc, use_bench_db, restore_pgdatabase);
    tcase_add_test(tc, workloads_commit_what_they_count);
    tcase_add_test(tc, errors_are_counted_and_rolled_back);
    tcase_add_test(tc, duration_mode_runs_for_its_time);
    tcase_add_test(tc, idle_holds_clients_and_sessions);
    tcase_add_test(tc, usage_and_connect_errors_have_their_exit_status);
    tcase_add_test(tc, recv_line_gives_stashed_then_socket_lines);
    suite_add_tcase(s, tc);
    return s;
}
