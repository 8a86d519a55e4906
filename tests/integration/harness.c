/* harness.c - start/stop the real daemon, requests through libtxscope, and libpq
 * queries on the side. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

long long th_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void th_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const char *th_pg_dsn(void)
{
    static char dsn[256];
    const char *host = getenv("PGHOST"), *port = getenv("PGPORT");
    const char *user = getenv("PGUSER"), *db = getenv("PGDATABASE");
    ck_assert_msg(
        host && port,
        "PGHOST/PGPORT not set: run the integration tests through tests/scripts/check.sh");
    snprintf(dsn, sizeof dsn, "postgresql://%s@%s:%s/%s", user ? user : "postgres", host, port,
             db ? db : "postgres");
    return dsn;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

int th_raw_connect(const th_daemon_t *d)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)d->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void th_daemon_start(th_daemon_t *d, const char *const *env)
{
    const char *bin = getenv("TXS_DAEMON");
    if (!bin)
        bin = "build/asan/bin/txscoped";
    memset(d, 0, sizeof *d);
    d->port = free_port();
    snprintf(d->addr, sizeof d->addr, "127.0.0.1:%d", d->port);
    snprintf(d->log_path, sizeof d->log_path, "%s/txscoped-%d.log",
             getenv("TXS_TEST_LOGDIR") ? getenv("TXS_TEST_LOGDIR") : "/tmp", d->port);
    char listen[96], dsn[320];
    snprintf(listen, sizeof listen, "TXSCOPE_LISTEN=%s", d->addr);
    snprintf(dsn, sizeof dsn, "TXSCOPE_DB_MAIN_DSN=%s?application_name=txs_%d", th_pg_dsn(),
             d->port);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* Die with the test: a failed assertion must not leave a daemon behind. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        FILE *log = freopen(d->log_path, "w", stderr);
        (void)log;
        putenv(listen);
        putenv(dsn);
        if (!getenv("TXSCOPE_LOG_LEVEL"))
            putenv((char *)"TXSCOPE_LOG_LEVEL=debug");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        unsetenv("TXSCOPE_CONFIG");
        execl(bin, "txscoped", (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    d->pid = pid;
    long long deadline = th_now_ms() + T_TIMEOUT;
    for (;;) {
        int fd = th_raw_connect(d);
        if (fd >= 0) {
            /* Wait until the daemon has closed the probe too, so that it no longer
             * counts against max_clients when the test connects. */
            static const char ping[] = "{\"op\":\"ping\"}\n";
            ssize_t w = write(fd, ping, sizeof ping - 1);
            (void)w;
            shutdown(fd, SHUT_WR);
            char buf[256];
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            while (poll(&pfd, 1, T_TIMEOUT) == 1 && read(fd, buf, sizeof buf) > 0)
                ;
            close(fd);
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            d->pid = 0;
            ck_abort_msg("txscoped exited at start-up (status %d); log: %s", st, d->log_path);
        }
        ck_assert_msg(th_now_ms() < deadline, "txscoped did not listen within %d ms", T_TIMEOUT);
        th_sleep_ms(20);
    }
}

int th_daemon_stop(th_daemon_t *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int st = 0;
    long long deadline = th_now_ms() + T_TIMEOUT;
    while (waitpid(d->pid, &st, WNOHANG) == 0) {
        if (th_now_ms() > deadline) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, &st, 0);
            d->pid = 0;
            return -2;
        }
        th_sleep_ms(10);
    }
    d->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

txscope_conn_t *th_connect(const th_daemon_t *d)
{
    char err[256];
    txscope_conn_t *c = txscope_connect(d->addr, T_TIMEOUT, err, sizeof err);
    ck_assert_msg(c != NULL, "connect to txscoped: %s", err);
    return c;
}

static cJSON *parse_request(const char *fmt, va_list ap)
{
    char buf[16384];
    vsnprintf(buf, sizeof buf, fmt, ap);
    cJSON *req = cJSON_Parse(buf);
    ck_assert_msg(req != NULL, "test bug: request is not JSON: %s", buf);
    return req;
}

cJSON *th_call(txscope_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cJSON *req = parse_request(fmt, ap);
    va_end(ap);
    cJSON *r = txscope_call(c, req, T_TIMEOUT);
    ck_assert_msg(r != NULL, "no reply: %s", txscope_errmsg(c));
    cJSON_Delete(req);
    return r;
}

cJSON *th_call_raw(txscope_conn_t *c, const char *fmt, ...)
{
    char buf[16384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    ck_assert_int_lt(n, (int)sizeof buf - 1);
    buf[n++] = '\n';
    ck_assert_int_eq(txscope_send_raw(c, buf, (size_t)n), 0);
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_msg(r != NULL, "no reply: %s", txscope_errmsg(c));
    return r;
}

int64_t th_send(txscope_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cJSON *req = parse_request(fmt, ap);
    va_end(ap);
    int64_t id = -1;
    ck_assert_int_eq(txscope_send(c, req, &id), 0);
    cJSON_Delete(req);
    return id;
}

void th_expect_ok(cJSON *r, const char *what)
{
    char *s = cJSON_PrintUnformatted(r);
    ck_assert_msg(txscope_reply_ok(r), "%s: expected ok, got %s", what, s);
    free(s);
    cJSON_Delete(r);
}

void th_expect_code(cJSON *r, const char *code, const char *what)
{
    char *s = cJSON_PrintUnformatted(r);
    const char *got = txscope_reply_code(r);
    ck_assert_msg(!txscope_reply_ok(r) && got && strcmp(got, code) == 0,
                  "%s: expected error %s, got %s", what, code, s);
    free(s);
    cJSON_Delete(r);
}

char *th_first_value(const cJSON *r)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(r, "rows");
    const cJSON *row = cJSON_GetArrayItem(rows, 0);
    const cJSON *v = cJSON_GetArrayItem(row, 0);
    if (!v)
        return NULL;
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return cJSON_PrintUnformatted(v);
}

long th_backend_pid(txscope_conn_t *c, const char *ctx, bool autocommit)
{
    cJSON *r = th_call(
        c,
        "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"select pg_backend_pid()\",\"autocommit\":%s}",
        ctx, autocommit ? "true" : "false");
    ck_assert_msg(txscope_reply_ok(r), "%s", txscope_last_line(c));
    char *v = th_first_value(r);
    long pid = atol(v);
    free(v);
    cJSON_Delete(r);
    return pid;
}

static void ignore_notice(void *arg, const char *message)
{
}

PGconn *th_pg(void)
{
    PGconn *pg = PQconnectdb(th_pg_dsn());
    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "libpq: %s", PQerrorMessage(pg));
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    return pg;
}

long th_pg_long(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1, "%s: %s", sql,
                  PQerrorMessage(pg));
    long v = PQgetisnull(res, 0, 0) ? 0 : atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

void th_pg_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(pg));
    PQclear(res);
}

static void backends_sql(char *sql, size_t len, const th_daemon_t *d, const char *extra_where)
{
    snprintf(sql, len,
             "select count(*) from pg_stat_activity where application_name = 'txs_%d'%s%s", d->port,
             extra_where ? " and " : "", extra_where ? extra_where : "");
}

long th_daemon_backends(PGconn *pg, const th_daemon_t *d, const char *extra_where)
{
    char sql[512];
    backends_sql(sql, sizeof sql, d, extra_where);
    return th_pg_long(pg, sql);
}

long long th_wait_zero(PGconn *pg, const char *sql, int ms)
{
    long long t0 = th_now_ms();
    while (th_now_ms() - t0 < ms) {
        if (th_pg_long(pg, sql) == 0)
            return th_now_ms() - t0;
        th_sleep_ms(10);
    }
    return -1;
}

long long th_wait_no_backends(PGconn *pg, const th_daemon_t *d, const char *extra_where, int ms)
{
    char sql[512];
    backends_sql(sql, sizeof sql, d, extra_where);
    return th_wait_zero(pg, sql, ms);
}

void th_pg_terminate(PGconn *pg, long pid)
{
    char sql[160];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%ld)::int", pid);
    ck_assert_int_eq(th_pg_long(pg, sql), 1);
    snprintf(sql, sizeof sql, "select count(*) from pg_stat_activity where pid = %ld", pid);
    ck_assert(th_wait_zero(pg, sql, 5000) >= 0);
}

void th_make_table(PGconn *pg, const char *t)
{
    char sql[200];
    snprintf(sql, sizeof sql, "drop table if exists %s; create table %s(id int primary key)", t, t);
    th_pg_exec(pg, sql);
}

long th_count_rows(PGconn *pg, const char *t)
{
    char sql[120];
    snprintf(sql, sizeof sql, "select count(*) from %s", t);
    return th_pg_long(pg, sql);
}

void th_slow_commit_table(PGconn *pg, const char *t, int secs)
{
    char sql[900];
    snprintf(sql, sizeof sql,
             "drop table if exists %s; create table %s(id int);"
             "create or replace function %s_slow() returns trigger language plpgsql as "
             "$$ begin if new.id = 1 then perform pg_sleep(%d); end if; return null; end $$;"
             "create constraint trigger %s_trg after insert on %s deferrable initially deferred "
             "for each row execute function %s_slow()",
             t, t, t, secs, t, t, t);
    th_pg_exec(pg, sql);
}

static void slurp(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    lseek(fd, 0, SEEK_SET);
    while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
}

void th_run(th_run_t *res, const char *bin, const char *const *args, const char *const *env,
            const char *in)
{
    char outp[] = "/tmp/txs_run_out_XXXXXX", errp[] = "/tmp/txs_run_err_XXXXXX";
    int ofd = mkstemp(outp), efd = mkstemp(errp);
    ck_assert(ofd >= 0 && efd >= 0);
    int inpipe[2];
    ck_assert_int_eq(pipe(inpipe), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(inpipe[0], 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        close(inpipe[1]);
        const char *argv[32] = {bin};
        int n = 1;
        for (int i = 0; args && args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(inpipe[0]);
    if (in) {
        ssize_t w = write(inpipe[1], in, strlen(in));
        (void)w;
    }
    close(inpipe[1]);
    int st;
    waitpid(pid, &st, 0);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(ofd, res->out, sizeof res->out);
    slurp(efd, res->err, sizeof res->err);
    close(ofd);
    close(efd);
    unlink(outp);
    unlink(errp);
}
