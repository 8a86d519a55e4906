/* harness.c - start/stop the real daemon against PostgreSQL or MariaDB, requests
 * through libtxscope, and libpq / libmariadb queries on the side. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <mysql.h>
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

th_backend_t th_backend = TH_PG;

/* The database th_side() connects to on MySQL: the last daemon's, or the default. */
static char side_db[64];

static void use_pg(void)
{
    th_backend = TH_PG;
}

static void use_mysql(void)
{
    th_backend = TH_MYSQL;
}

/* After a TCase: back to the default, for TCases made without th_tcases. */
static void use_default(void)
{
    th_backend = TH_PG;
}

/* Per test (checked: in the test's own process): no daemon started yet. */
static void fresh_test(void)
{
    side_db[0] = '\0';
}

void th_tcases(Suite *s, TCase *tcs[2], double timeout)
{
    static const char *const names[2] = {"pg", "mysql"};
    static void (*const setters[2])(void) = {use_pg, use_mysql};
    for (int b = TH_PG; b <= TH_MYSQL; b++) {
        tcs[b] = tcase_create(names[b]);
        tcase_set_timeout(tcs[b], timeout);
        tcase_add_unchecked_fixture(tcs[b], setters[b], use_default);
        tcase_add_checked_fixture(tcs[b], fresh_test, NULL);
        suite_add_tcase(s, tcs[b]);
    }
}

/* The next of 16 rotating buffers, with room for len bytes. */
static char *rotating(size_t len)
{
    static char *bufs[16];
    static size_t caps[16];
    static unsigned next;
    unsigned i = next++ % 16;
    if (caps[i] < len) {
        char *p = realloc(bufs[i], len);
        ck_assert_ptr_nonnull(p);
        bufs[i] = p;
        caps[i] = len;
    }
    return bufs[i];
}

const char *th_sql(const char *sql)
{
    /* "$N" is at most 5 bytes longer than "?" for any realistic N. */
    char *out = rotating(strlen(sql) * 6 + 1);
    size_t n = 0;
    int param = 0;
    char quote = 0; /* the quote we are inside of: ' " ` */
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"' || *p == '`') {
            quote = *p;
        } else if (*p == '?' && th_backend == TH_PG) {
            n += (size_t)sprintf(out + n, "$%d", ++param);
            continue;
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    return out;
}

const char *th_sleep_sql(const char *secs)
{
    char *out = rotating(strlen(secs) + 32);
    sprintf(out, "select %s(%s)", TH_PICK("pg_sleep", "sleep"), secs);
    return out;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

static void mysql_dsn_for(char *dsn, size_t len, const char *db)
{
    const char *host = getenv("MYSQL_HOST"), *port = getenv("MYSQL_TCP_PORT");
    ck_assert_msg(host && port, "MYSQL_HOST/MYSQL_TCP_PORT not set: run the integration tests "
                                "through tests/scripts/check.sh");
    snprintf(dsn, len, "mysql://%s:%s@%s:%s/%s", env_or("MYSQL_USER", "txs"),
             env_or("MYSQL_PWD", "txs"), host, port, db);
}

const char *th_mysql_dsn(void)
{
    static char dsn[256];
    mysql_dsn_for(dsn, sizeof dsn, env_or("MYSQL_DATABASE", "txs"));
    return dsn;
}

const char *th_dsn(void)
{
    return TH_PICK(th_pg_dsn(), th_mysql_dsn());
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

static MYSQL *mysql_open(const char *db);

/* The daemon's own database txs_PORT, which marks its connections; th_side() uses it. */
static void create_mysql_db(int port)
{
    snprintf(side_db, sizeof side_db, "txs_%d", port);
    MYSQL *m = mysql_open(env_or("MYSQL_DATABASE", "txs"));
    char sql[128];
    snprintf(sql, sizeof sql, "create database if not exists %s", side_db);
    ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s", sql, mysql_error(m));
    mysql_close(m);
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
    /* Its own admin port too: daemons of one test run side by side. */
    do
        d->admin_port = free_port();
    while (d->admin_port == d->port);
    char listen[96], admin[96], dsn[320], driver[64] = "";
    snprintf(listen, sizeof listen, "TXSCOPE_LISTEN=%s", d->addr);
    snprintf(admin, sizeof admin, "TXSCOPE_ADMIN_LISTEN=127.0.0.1:%d", d->admin_port);
    if (th_backend == TH_MYSQL) {
        create_mysql_db(d->port);
        snprintf(driver, sizeof driver, "TXSCOPE_DB_MAIN_DRIVER=mysql");
        memcpy(dsn, "TXSCOPE_DB_MAIN_DSN=", 20);
        mysql_dsn_for(dsn + 20, sizeof dsn - 20, side_db);
    } else {
        snprintf(dsn, sizeof dsn, "TXSCOPE_DB_MAIN_DSN=%s?application_name=txs_%d", th_pg_dsn(),
                 d->port);
    }
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
        unsetenv("TXSCOPE_CONFIG"); /* a test's own env may name a file */
        putenv(listen);
        putenv(admin);
        if (driver[0])
            putenv(driver);
        putenv(dsn);
        if (!getenv("TXSCOPE_LOG_LEVEL"))
            putenv((char *)"TXSCOPE_LOG_LEVEL=debug");
        /* th_daemon_stop's SIGTERM ends at once, even with clients still connected; a
         * test of the drain sets its own. */
        putenv((char *)"TXSCOPE_DRAIN_TIMEOUT=0");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
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
            ck_abort_msg("txscoped exited at start-up (%s %d); log: %s",
                         WIFEXITED(st) ? "status" : "signal",
                         WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), d->log_path);
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

long th_backend_id(txscope_conn_t *c, const char *ctx, bool autocommit)
{
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\",\"autocommit\":%s}", ctx,
                       TH_PICK("select pg_backend_pid()", "select connection_id()"),
                       autocommit ? "true" : "false");
    ck_assert_msg(txscope_reply_ok(r), "%s", txscope_last_line(c));
    char *v = th_first_value(r);
    ck_assert_ptr_nonnull(v);
    long id = atol(v);
    free(v);
    cJSON_Delete(r);
    return id;
}

long th_backend_pid(txscope_conn_t *c, const char *ctx, bool autocommit)
{
    return th_backend_id(c, ctx, autocommit);
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

/* ---- the side connection: the same questions in each backend's dialect ---- */

struct th_side {
    PGconn *pg;
    MYSQL *my;
};

/* Ids of this process's side connections, left out of th_side_backends on MySQL (they sit
 * in the daemon's database too). */
static unsigned long side_ids[32];

static MYSQL *mysql_open(const char *db)
{
    const char *host = getenv("MYSQL_HOST"), *port = getenv("MYSQL_TCP_PORT");
    ck_assert_msg(host && port, "MYSQL_HOST/MYSQL_TCP_PORT not set: run the integration tests "
                                "through tests/scripts/check.sh");
    MYSQL *m = mysql_init(NULL);
    ck_assert_ptr_nonnull(m);
    unsigned timeout = T_TIMEOUT / 1000;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    bool off = false;
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);
    ck_assert_msg(mysql_real_connect(m, host, env_or("MYSQL_USER", "txs"),
                                     env_or("MYSQL_PWD", "txs"), db, (unsigned)atoi(port), NULL,
                                     CLIENT_MULTI_STATEMENTS) != NULL,
                  "libmariadb: %s", mysql_error(m));
    return m;
}

th_side_t *th_side(void)
{
    th_side_t *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    if (th_backend == TH_MYSQL) {
        s->my = mysql_open(side_db[0] ? side_db : env_or("MYSQL_DATABASE", "txs"));
        unsigned long id = mysql_thread_id(s->my);
        size_t i = 0;
        while (i < sizeof side_ids / sizeof *side_ids && side_ids[i] != 0)
            i++;
        ck_assert_msg(i < sizeof side_ids / sizeof *side_ids, "test bug: too many th_side()");
        side_ids[i] = id;
    } else {
        s->pg = th_pg();
    }
    return s;
}

void th_side_close(th_side_t *s)
{
    if (!s)
        return;
    if (s->my) {
        unsigned long id = mysql_thread_id(s->my);
        for (size_t i = 0; i < sizeof side_ids / sizeof *side_ids; i++)
            if (side_ids[i] == id)
                side_ids[i] = 0;
        mysql_close(s->my);
    }
    if (s->pg)
        PQfinish(s->pg);
    free(s);
}

/* Run sql; on MySQL every result set is read, and the last one with rows is kept in
 * *res (NULL when none was asked for or none came). Fails the test on error. */
static void my_run(MYSQL *m, const char *sql, MYSQL_RES **res)
{
    if (res)
        *res = NULL;
    ck_assert_msg(mysql_query(m, sql) == 0, "%s: %s (%s)", sql, mysql_error(m), mysql_sqlstate(m));
    for (;;) {
        MYSQL_RES *r = mysql_store_result(m);
        ck_assert_msg(r || mysql_field_count(m) == 0, "%s: %s", sql, mysql_error(m));
        if (r && res) {
            if (*res)
                mysql_free_result(*res);
            *res = r;
        } else if (r) {
            mysql_free_result(r);
        }
        int more = mysql_next_result(m);
        ck_assert_msg(more <= 0, "%s: %s (%s)", sql, mysql_error(m), mysql_sqlstate(m));
        if (more != 0)
            break;
    }
}

static void vside_sql(char *buf, size_t len, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, len, fmt, ap);
    ck_assert_msg(n >= 0 && (size_t)n < len, "test bug: side SQL too long");
}

void th_side_exec(th_side_t *s, const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vside_sql(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (s->my)
        my_run(s->my, sql, NULL);
    else
        th_pg_exec(s->pg, sql);
}

/* The first value of the (last) result of sql: *isnull tells SQL NULL; caller frees. */
static char *side_value(th_side_t *s, const char *sql, bool *isnull)
{
    char *v = NULL;
    if (s->my) {
        MYSQL_RES *res;
        my_run(s->my, sql, &res);
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        ck_assert_msg(row != NULL && mysql_num_fields(res) >= 1, "%s: no row", sql);
        *isnull = row[0] == NULL;
        v = row[0] ? strdup(row[0]) : NULL;
        mysql_free_result(res);
    } else {
        PGresult *res = PQexec(s->pg, sql);
        ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) >= 1, "%s: %s", sql,
                      PQresultStatus(res) == PGRES_TUPLES_OK ? "no row" : PQerrorMessage(s->pg));
        *isnull = PQgetisnull(res, 0, 0);
        v = *isnull ? NULL : strdup(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return v;
}

/* side_value of the SQL fmt and ap make: NULL for SQL NULL; caller frees. */
static char *vside_text(th_side_t *s, const char *fmt, va_list ap)
{
    char sql[8192];
    vside_sql(sql, sizeof sql, fmt, ap);
    bool isnull;
    return side_value(s, sql, &isnull);
}

long th_side_long(th_side_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = vside_text(s, fmt, ap);
    va_end(ap);
    long n = v ? atol(v) : 0;
    free(v);
    return n;
}

char *th_side_text(th_side_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = vside_text(s, fmt, ap);
    va_end(ap);
    return v;
}

/* information_schema.innodb_trx is a cache that is refreshed only when nobody read it
 * for 100 ms: wait that out before each look, or a count could predate the step the
 * test just made. The first look in a process waits in full (the previous test may just
 * have looked). */
static void innodb_trx_fresh(void)
{
    static long long last = -1;
    long long now = th_now_ms();
    if (last < 0 || now - last < 110)
        th_sleep_ms(last < 0 ? 110 : (int)(110 - (now - last)));
    last = th_now_ms();
}

static void backends_query(char *sql, size_t len, const th_daemon_t *d, th_which_t which)
{
    if (th_backend == TH_PG) {
        static const char *const where[] = {
            [TH_ALL] = "",
            [TH_IN_TX] = " and state like 'idle in transaction%'",
            [TH_RUNNING] = " and state = 'active'",
            [TH_BUSY] = " and state <> 'idle'",
        };
        snprintf(sql, len,
                 "select count(*) from pg_stat_activity where application_name = 'txs_%d'%s",
                 d->port, where[which]);
        return;
    }
    /* "Not idle" on MySQL, as state <> 'idle' on PostgreSQL: a statement of any kind, or
     * a transaction open. */
    static const char *const where[] = {
        [TH_ALL] = "",
        [TH_IN_TX] = " and command = 'Sleep' and id in (select trx_mysql_thread_id from "
                     "information_schema.innodb_trx)",
        [TH_RUNNING] = " and command in ('Query', 'Execute')",
        [TH_BUSY] = " and (command <> 'Sleep' or id in (select trx_mysql_thread_id from "
                    "information_schema.innodb_trx))",
    };
    char ids[32 * 24] = "0";
    size_t n = 1;
    for (size_t i = 0; i < sizeof side_ids / sizeof *side_ids; i++)
        if (side_ids[i])
            n += (size_t)snprintf(ids + n, sizeof ids - n, ",%lu", side_ids[i]);
    snprintf(sql, len,
             "select count(*) from information_schema.processlist where db = 'txs_%d' and id "
             "<> connection_id() and id not in (%s)%s",
             d->port, ids, where[which]);
}

long th_side_backends(th_side_t *s, const th_daemon_t *d, th_which_t which)
{
    char sql[1536];
    backends_query(sql, sizeof sql, d, which);
    if (s->my && (which == TH_IN_TX || which == TH_BUSY))
        innodb_trx_fresh();
    return th_side_long(s, "%s", sql);
}

long long th_side_wait_no_backends(th_side_t *s, const th_daemon_t *d, th_which_t which, int ms)
{
    long long t0 = th_now_ms();
    while (th_now_ms() - t0 < ms) {
        if (th_side_backends(s, d, which) == 0)
            return th_now_ms() - t0;
        th_sleep_ms(10);
    }
    return -1;
}

long long th_side_wait_zero(th_side_t *s, const char *sql, int ms)
{
    bool trx = s->my && strstr(sql, "innodb_trx") != NULL;
    long long t0 = th_now_ms();
    while (th_now_ms() - t0 < ms) {
        if (trx)
            innodb_trx_fresh();
        if (th_side_long(s, "%s", sql) == 0)
            return th_now_ms() - t0;
        th_sleep_ms(10);
    }
    return -1;
}

void th_side_terminate(th_side_t *s, long id)
{
    if (s->my) {
        th_side_exec(s, "kill connection %ld", id);
        char sql[128];
        snprintf(sql, sizeof sql,
                 "select count(*) from information_schema.processlist where id = %ld", id);
        ck_assert_msg(th_side_wait_zero(s, sql, 5000) >= 0, "connection %ld still there", id);
    } else {
        th_pg_terminate(s->pg, id);
    }
}

void th_side_make_table(th_side_t *s, const char *t)
{
    th_side_exec(s, "drop table if exists %s; create table %s(id int primary key)%s", t, t,
                 s->my ? " engine = InnoDB" : "");
}

long th_side_count_rows(th_side_t *s, const char *t)
{
    return th_side_long(s, "select count(*) from %s", t);
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
