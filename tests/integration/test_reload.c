/* test_reload.c - SIGHUP: the config file is read again and applied without dropping a
 * client or a session: a pool shrunk under load, a bad file rejected, a restart-only key
 * kept, a db added and removed under an open transaction, timeouts and limits applied to
 * what is already running, and the log level. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_reload(void);

/* ---- the config file ---- */

/* A temp dir with the daemon's file in it; env is TXSCOPE_CONFIG=path for its env. */
typedef struct conf_file {
    char dir[128];
    char path[192];
    char env[224];
} conf_file_t;

static void conf_init(conf_file_t *f)
{
    const char *base = getenv("TXS_TEST_LOGDIR") ? getenv("TXS_TEST_LOGDIR") : "/tmp";
    snprintf(f->dir, sizeof f->dir, "%s/reload-XXXXXX", base);
    ck_assert_msg(mkdtemp(f->dir) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(f->path, sizeof f->path, "%s/txscope.ini", f->dir);
    snprintf(f->env, sizeof f->env, "TXSCOPE_CONFIG=%s", f->path);
}

__attribute__((format(printf, 2, 3))) static void conf_write(conf_file_t *f, const char *fmt, ...)
{
    FILE *out = fopen(f->path, "w");
    ck_assert_msg(out != NULL, "%s: %s", f->path, strerror(errno));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
    ck_assert_int_eq(fclose(out), 0);
}

static void conf_cleanup(conf_file_t *f)
{
    unlink(f->path);
    rmdir(f->dir);
}

/* ---- the log ---- */

static long log_size(const th_daemon_t *d)
{
    struct stat st;
    return stat(d->log_path, &st) == 0 ? (long)st.st_size : 0;
}

/* The first line at or after byte `from` of the log holding `what` (caller frees), or
 * NULL. */
static char *log_find(const th_daemon_t *d, long from, const char *what)
{
    FILE *f = fopen(d->log_path, "r");
    ck_assert_msg(f != NULL, "no log %s", d->log_path);
    fseek(f, from, SEEK_SET);
    char line[8192];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f))
        if (strstr(line, what))
            found = strdup(line);
    fclose(f);
    return found;
}

/* Poll the log from `from` until a line holds `what`; returns it (caller frees). */
static char *log_wait(const th_daemon_t *d, long from, const char *what, int ms)
{
    long long t0 = th_now_ms();
    char *line;
    while (!(line = log_find(d, from, what))) {
        ck_assert_msg(th_now_ms() - t0 < ms, "no \"%s\" in %s within %d ms", what, d->log_path, ms);
        th_sleep_ms(10);
    }
    return line;
}

/* SIGHUP, then wait for the line that ends the reload: its summary ("reload: nothing
 * changed", "reload: N settings changed: ...") or "reload failed: ...". Returned (caller
 * frees). */
static char *reload(const th_daemon_t *d)
{
    static const char *const ends[] = {"reload: nothing changed", " changed: ", "reload failed"};
    long from = log_size(d);
    ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
    long long t0 = th_now_ms();
    for (;;) {
        for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
            char *line = log_find(d, from, ends[i]);
            if (line)
                return line;
        }
        ck_assert_msg(th_now_ms() - t0 < 5000, "the reload logged no summary in %s", d->log_path);
        th_sleep_ms(10);
    }
}

#define ck_assert_has(hay, needle)                                                                 \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in: %s", (needle), (hay))

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

/* ---- load: sessions looping short transactions ---- */

enum { NCONN = 4, PER_CONN = 5, NWORK = NCONN * PER_CONN };

typedef struct worker {
    char ctx[16];
    int64_t id;      /* of the request outstanding; -1 none */
    bool committing; /* the outstanding request is the commit */
} worker_t;

typedef struct load {
    txscope_conn_t *conns[NCONN];
    worker_t w[NWORK];
    const char *table;
    long next_row;
    long acked;       /* commits answered ok */
    long errors;      /* replies not ok, or lost connections */
    char first[1024]; /* the first of them */
    bool stopping;    /* no new transaction: the ones open are committed */
} load_t;

static txscope_conn_t *conn_of(load_t *l, int i)
{
    return l->conns[i / PER_CONN];
}

static void send_next(load_t *l, int i)
{
    worker_t *w = &l->w[i];
    char req[256];
    if (w->committing)
        snprintf(req, sizeof req, "{\"op\":\"commit\",\"ctx\":\"%s\"}", w->ctx);
    else
        snprintf(req, sizeof req,
                 "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"insert into %s (id) "
                 "values (%ld)\"}",
                 w->ctx, l->table, ++l->next_row);
    cJSON *r = cJSON_Parse(req);
    ck_assert_int_eq(txscope_send(conn_of(l, i), r, &w->id), 0);
    cJSON_Delete(r);
}

static void load_error(load_t *l, const char *what)
{
    if (l->errors++ == 0)
        snprintf(l->first, sizeof l->first, "%s", what);
}

static void on_reply(load_t *l, int conn, cJSON *r)
{
    int64_t id = -1;
    txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id);
    int i = conn * PER_CONN;
    while (i < (conn + 1) * PER_CONN && l->w[i].id != id)
        i++;
    ck_assert_msg(i < (conn + 1) * PER_CONN, "a reply for no request: %s",
                  txscope_last_line(conn_of(l, conn)));
    worker_t *w = &l->w[i];
    w->id = -1;
    if (!txscope_reply_ok(r)) {
        load_error(l, txscope_last_line(l->conns[conn]));
        return; /* this worker stops */
    }
    if (w->committing) {
        l->acked++;
        w->committing = false;
        if (l->stopping)
            return;
    } else {
        w->committing = true;
    }
    send_next(l, i);
}

static void load_start(load_t *l, const th_daemon_t *d, const char *table)
{
    memset(l, 0, sizeof *l);
    l->table = table;
    for (int c = 0; c < NCONN; c++)
        l->conns[c] = th_connect(d);
    for (int i = 0; i < NWORK; i++) {
        snprintf(l->w[i].ctx, sizeof l->w[i].ctx, "w%d", i);
        send_next(l, i);
    }
}

static int load_outstanding(const load_t *l)
{
    int n = 0;
    for (int i = 0; i < NWORK; i++)
        n += l->w[i].id >= 0;
    return n;
}

/* Serve replies for `ms`. */
static void load_run(load_t *l, int ms)
{
    long long until = th_now_ms() + ms;
    while (th_now_ms() < until && load_outstanding(l) > 0) {
        struct pollfd pfd[NCONN];
        for (int c = 0; c < NCONN; c++)
            pfd[c] = (struct pollfd){.fd = txscope_fd(l->conns[c]), .events = POLLIN};
        poll(pfd, NCONN, 20);
        for (int c = 0; c < NCONN; c++) {
            cJSON *r;
            while ((r = txscope_recv(l->conns[c], 0)) != NULL) {
                on_reply(l, c, r);
                cJSON_Delete(r);
            }
            if (txscope_last_error(l->conns[c]) != TXSCOPE_ETIMEDOUT) {
                load_error(l, txscope_errmsg(l->conns[c]));
                ck_abort_msg("connection %d: %s", c, txscope_errmsg(l->conns[c]));
            }
        }
    }
}

/* No new transaction; the open ones commit; every reply is in. */
static void load_stop(load_t *l)
{
    l->stopping = true;
    load_run(l, T_TIMEOUT);
    ck_assert_int_eq(load_outstanding(l), 0);
    for (int c = 0; c < NCONN; c++)
        txscope_close(l->conns[c]);
}

/* ---- 1. pool_size 5 -> 2 under load ---- */

START_TEST(pool_shrinks_under_load)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[db.main]\npool_size = 5\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_rl_load");

    load_t l;
    load_start(&l, &d, "t_rl_load");
    load_run(&l, 800);
    /* 20 sessions keep the pool at its size. */
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 5);
    conf_write(&f, "[db.main]\npool_size = 2\n");
    char *line = reload(&d);
    ck_assert_has(line, "reload: 1 setting changed: db main pool_size 5 -> 2");
    free(line);
    /* The pool comes down to 2 while the 20 sessions go on: connections are closed as
     * they are given back, none taken from a session. */
    long long t0 = th_now_ms();
    long n;
    while ((n = th_side_backends(side, &d, TH_ALL)) != 2) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "still %ld connections under load", n);
        load_run(&l, 20);
    }
    long acked_before = l.acked;
    load_run(&l, 800);
    ck_assert_msg(l.acked > acked_before, "no commit after the pool shrank");
    ck_assert_int_eq(th_side_backends(side, &d, TH_ALL), 2);
    load_stop(&l);

    ck_assert_msg(l.errors == 0, "%ld error(s) to clients, first: %s", l.errors, l.first);
    ck_assert_int_gt(l.acked, 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_rl_load"), l.acked);
    ck_assert_msg(wait_backends(side, &d, 2, 5000) >= 0, "the pool did not settle at 2: %ld",
                  th_side_backends(side, &d, TH_ALL));
    ck_assert_int_eq(th_daemon_stat(&d, "main", "total"), 2);
    /* Closed when returned, never taken from a session. */
    ck_assert_int_eq(th_daemon_stat(&d, "main", "closed_overflow"), 3);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "closed_lost"), 0);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 2. a bad file changes nothing ---- */

START_TEST(bad_config_rejected_old_one_stays)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[db.main]\npool_size = 1\npool_timeout = 200ms\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);

    /* Out of bounds: the loader's message, and nothing applied (pool_timeout neither). */
    conf_write(&f, "[db.main]\npool_size = 0\npool_timeout = 5s\n");
    char *line = reload(&d);
    ck_assert_has(line, "reload failed: ");
    ck_assert_has(line, "pool_size = \"0\"");
    ck_assert_has(line, "; the running configuration stays");
    free(line);
    /* Not even ini: the line is named. */
    conf_write(&f, "[db.main]\npool_size 3\n");
    line = reload(&d);
    ck_assert_has(line, "reload failed: ");
    ck_assert_has(line, ":2:");
    free(line);

    /* Still pool_size 1 and pool_timeout 200ms: a second transaction waits it out. */
    ck_assert_int_ge(th_backend_id(c, "a", false), 1);
    long long t0 = th_now_ms();
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\"}"), "53300",
                   "second transaction on a pool of 1");
    ck_assert_int_lt(th_now_ms() - t0, 3000);
    ck_assert_int_eq(th_daemon_stat(&d, "main", "total"), 1);

    /* A good file afterwards is applied. */
    conf_write(&f, "[db.main]\npool_size = 2\npool_timeout = 200ms\n");
    line = reload(&d);
    ck_assert_has(line, "reload: 1 setting changed: db main pool_size 1 -> 2");
    free(line);
    ck_assert_int_ge(th_backend_id(c, "b", false), 1);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit a");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "commit b");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 3. a restart-only key is reported and kept ---- */

START_TEST(restart_only_change_kept)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[txscope]\nmax_pipeline = 128\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    /* The harness's TXSCOPE_LISTEN wins over the file's listen (the environment is read
     * again at reload too), so the restart-only key changed here is unix_socket; the unit
     * suite conf_diff covers listen and admin_listen. */
    char sock[256];
    snprintf(sock, sizeof sock, "%s/txscope.sock", f.dir);
    conf_write(&f, "[txscope]\nmax_pipeline = 64\nunix_socket = %s\n", sock);
    long from = log_size(&d);
    char *line = reload(&d);
    ck_assert_has(line, "reload: 1 setting changed: max_pipeline 128 -> 64 (1 kept until a "
                        "restart)");
    free(line);
    char want[512];
    snprintf(want, sizeof want,
             "reload: unix_socket changed from (none) to %s: needs a restart; keeping (none)",
             sock);
    line = log_find(&d, from, want);
    ck_assert_msg(line != NULL, "no \"%s\" in %s", want, d.log_path);
    ck_assert_has(line, " WARN ");
    free(line);
    struct stat st;
    ck_assert_msg(stat(sock, &st) != 0, "%s was created", sock);
    /* The daemon answers where it did, on the connection it had and on a new one. */
    ck_assert_int_eq(txscope_ping(c, T_TIMEOUT), 0);
    txscope_conn_t *c2 = th_connect(&d);
    ck_assert_int_eq(txscope_ping(c2, T_TIMEOUT), 0);
    /* Reloading the same file again: its restart-only difference is still reported. */
    line = reload(&d);
    ck_assert_has(line, "reload: nothing changed (1 kept until a restart)");
    free(line);
    txscope_close(c2);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    unlink(sock);
    conf_cleanup(&f);
}
END_TEST

/* ---- 4. a db added, then removed under an open transaction ---- */

/* The dsn of a second db whose connections can be told apart from main's: PostgreSQL's
 * application_name txs2_PORT, MySQL's database txs2_PORT (made here). */
static void second_dsn(th_side_t *side, const th_daemon_t *d, char *buf, size_t len)
{
    if (th_backend == TH_PG) {
        snprintf(buf, len, "%s?application_name=txs2_%d", th_pg_dsn(), d->port);
        return;
    }
    th_side_exec(side, "create database if not exists txs2_%d", d->port);
    snprintf(buf, len, "mysql://%s:%s@%s:%s/txs2_%d", getenv("MYSQL_USER"), getenv("MYSQL_PWD"),
             getenv("MYSQL_HOST"), getenv("MYSQL_TCP_PORT"), d->port);
}

static long second_backends(th_side_t *side, const th_daemon_t *d)
{
    if (th_backend == TH_PG)
        return th_side_long(side,
                            "select count(*) from pg_stat_activity where application_name = "
                            "'txs2_%d'",
                            d->port);
    return th_side_long(side,
                        "select count(*) from information_schema.processlist where db = "
                        "'txs2_%d'",
                        d->port);
}

START_TEST(db_added_then_removed_under_a_transaction)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[db.main]\npool_size = 2\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    char dsn[512], table[64];
    second_dsn(side, &d, dsn, sizeof dsn);
    if (th_backend == TH_PG) {
        snprintf(table, sizeof table, "t_rl_second");
        th_side_make_table(side, table);
    } else {
        snprintf(table, sizeof table, "txs2_%d.t_rl_second", d.port);
        th_side_exec(side, "create table %s (id int primary key) engine=innodb", table);
    }
    txscope_conn_t *c = th_connect(&d);
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"s0\",\"db\":\"second\","
                              "\"sql\":\"select 1\"}"),
                   "3D000", "before it is configured");

    conf_write(&f, "[db.main]\npool_size = 2\n[db.second]\ndriver = %s\ndsn = %s\npool_size = 2\n",
               TH_PICK("postgresql", "mysql"), dsn);
    char *line = reload(&d);
    ck_assert_has(line, "db second added");
    free(line);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"s1\",\"db\":\"second\","
                            "\"sql\":\"select 1\",\"autocommit\":true}"),
                 "a request for the new db");
    /* A transaction open on it when it goes. */
    th_expect_ok(th_call(c,
                         "{\"op\":\"query\",\"ctx\":\"s2\",\"db\":\"second\","
                         "\"sql\":\"insert into %s (id) values (7)\"}",
                         table),
                 "insert on second");
    ck_assert_int_ge(second_backends(side, &d), 1);

    conf_write(&f, "[db.main]\npool_size = 2\n");
    long from = log_size(&d);
    line = reload(&d);
    ck_assert_has(line, "db second removed");
    free(line);
    line = log_wait(&d, from, "db=second: removed: closing after its last session", 1000);
    free(line);
    /* Out of the lookup at once, for new sessions and for a request naming it. */
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"s3\",\"db\":\"second\","
                              "\"sql\":\"select 1\"}"),
                   "3D000", "a new session naming the removed db");
    th_expect_code(th_call(c, "{\"op\":\"status\",\"ctx\":\"s4\",\"db\":\"second\"}"), "3D000",
                   "status naming the removed db");
    /* The open transaction goes on and commits. */
    th_expect_ok(th_call(c,
                         "{\"op\":\"query\",\"ctx\":\"s2\",\"sql\":\"insert into %s (id) "
                         "values (8)\"}",
                         table),
                 "the open transaction goes on");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"s2\"}"), "its commit");
    ck_assert_int_eq(th_side_long(side, "select count(*) from %s", table), 2);
    /* main is untouched, and the default. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select 1\","
                            "\"autocommit\":true}"),
                 "main");
    /* Once its last sessions end, its connections close. */
    ck_assert_int_ge(second_backends(side, &d), 1);
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"s1\"}"), "end s1");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"s2\"}"), "end s2");
    long long t0 = th_now_ms();
    while (second_backends(side, &d) != 0) {
        ck_assert_msg(th_now_ms() - t0 < 5000, "the removed db's connections stayed open");
        th_sleep_ms(10);
    }
    line = log_wait(&d, from, "db=second: removed: every connection closed", 5000);
    free(line);
    ck_assert_int_ge(th_side_backends(side, &d, TH_ALL), 1); /* main's */
    txscope_close(c);
    if (th_backend == TH_MYSQL)
        th_side_exec(side, "drop database txs2_%d", d.port);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 5. timeouts apply to what runs ---- */

START_TEST(timeouts_apply_to_what_runs)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[txscope]\nclient_idle_timeout = 0\n[db.main]\n"
                   "idle_in_transaction_timeout = 1m\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_rl_idle");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"insert into t_rl_idle "
                            "(id) values (1)\"}"),
                 "open a transaction");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 1);

    /* Its timer was armed for 1m: the new 200ms, counted from when it went idle, fires
     * now. */
    conf_write(&f, "[txscope]\nclient_idle_timeout = 0\n[db.main]\n"
                   "idle_in_transaction_timeout = 200ms\n");
    char *line = reload(&d);
    ck_assert_has(line, "db main idle_in_transaction_timeout 1m -> 200ms");
    free(line);
    long long t0 = th_now_ms();
    ck_assert_msg(th_side_wait_no_backends(side, &d, TH_IN_TX, 3000) >= 0,
                  "the idle transaction was not rolled back");
    ck_assert_int_lt(th_now_ms() - t0, 3000);
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "25P03",
                   "the next request of the timed-out session");
    ck_assert_int_eq(th_side_count_rows(side, "t_rl_idle"), 0);

    /* A client idle since before the reload, whose timer was dropped (no idle timeout),
     * is closed 200ms after its last activity. */
    txscope_conn_t *idle = th_connect(&d);
    ck_assert_int_eq(txscope_ping(idle, T_TIMEOUT), 0);
    conf_write(&f, "[txscope]\nclient_idle_timeout = 200ms\n[db.main]\n"
                   "idle_in_transaction_timeout = 200ms\n");
    line = reload(&d);
    ck_assert_has(line, "client_idle_timeout 0 -> 200ms");
    free(line);
    t0 = th_now_ms();
    cJSON *r = txscope_recv(idle, 3000);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(txscope_last_error(idle), TXSCOPE_EEOF);
    ck_assert_int_lt(th_now_ms() - t0, 3000);
    txscope_close(idle);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 6. log_level ---- */

/* Lines at debug in the log from byte `from`. */
static int debug_lines(const th_daemon_t *d, long from)
{
    FILE *f = fopen(d->log_path, "r");
    ck_assert_ptr_nonnull(f);
    fseek(f, from, SEEK_SET);
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, " DEBUG ") != NULL;
    fclose(f);
    return n;
}

START_TEST(log_level_follows)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[txscope]\nlog_level = info\n");
    /* The harness sets TXSCOPE_LOG_LEVEL=debug, which would win over the file: glibc's
     * putenv of a bare name removes the variable. */
    const char *env[] = {f.env, "TXSCOPE_LOG_LEVEL", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    ck_assert_int_eq(txscope_hello(c, NULL, T_TIMEOUT), 0);
    ck_assert_int_eq(debug_lines(&d, 0), 0);

    conf_write(&f, "[txscope]\nlog_level = debug\n");
    char *line = reload(&d);
    ck_assert_has(line, "log_level info -> debug");
    free(line);
    long from = log_size(&d);
    ck_assert_int_eq(txscope_hello(c, NULL, T_TIMEOUT), 0);
    ck_assert_int_ge(debug_lines(&d, from), 1);

    conf_write(&f, "[txscope]\nlog_level = info\n");
    line = reload(&d);
    ck_assert_has(line, "log_level debug -> info");
    free(line);
    from = log_size(&d);
    ck_assert_int_eq(txscope_hello(c, NULL, T_TIMEOUT), 0);
    ck_assert_int_eq(txscope_ping(c, T_TIMEOUT), 0);
    ck_assert_int_eq(debug_lines(&d, from), 0);
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 7. max_pipeline raised for a client held back ---- */

START_TEST(pipeline_raised_resumes_reading)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[txscope]\nmax_pipeline = 1\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    /* One slow request fills the pipeline: the next one (another session) is not read. */
    int64_t slow = th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"%s\",\"autocommit\":true}",
                           th_sleep_sql("1.5"));
    int64_t quick =
        th_send(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\",\"autocommit\":true}");
    th_sleep_ms(100);
    conf_write(&f, "[txscope]\nmax_pipeline = 128\n");
    long long t0 = th_now_ms();
    char *line = reload(&d);
    ck_assert_has(line, "max_pipeline 1 -> 128");
    free(line);
    /* The held-back request is read and answered while the slow one still runs. */
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    int64_t id = -1;
    txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id);
    ck_assert_int_eq(id, quick);
    th_expect_ok(r, "the request held back");
    ck_assert_int_lt(th_now_ms() - t0, 1000);
    th_expect_ok(txscope_wait(c, slow, T_TIMEOUT), "the slow one");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 8. a pool grown: its waiters are served at once ---- */

START_TEST(pool_grows_serves_waiters)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[db.main]\npool_size = 1\npool_timeout = 20s\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    long a = th_backend_id(c, "a", false);
    /* b waits for a's connection. */
    int64_t b = th_send(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"%s\"}",
                        TH_PICK("select pg_backend_pid()", "select connection_id()"));
    th_sleep_ms(100);
    ck_assert_ptr_null(txscope_recv(c, 0));
    conf_write(&f, "[db.main]\npool_size = 2\npool_timeout = 20s\n");
    long long t0 = th_now_ms();
    char *line = reload(&d);
    ck_assert_has(line, "db main pool_size 1 -> 2");
    free(line);
    cJSON *r = txscope_wait(c, b, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    char *pid = th_first_value(r);
    th_expect_ok(r, "the waiter, on a new connection");
    ck_assert_int_ne(atol(pid), a);
    free(pid);
    ck_assert_int_lt(th_now_ms() - t0, 3000);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit a");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "commit b");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 9. another dsn: new connections use it, old ones go when not in use ---- */

static long with_app_name(th_side_t *side, const char *name)
{
    return th_side_long(side, "select count(*) from pg_stat_activity where application_name = '%s'",
                        name);
}

START_TEST(dsn_change_replaces_connections)
{
    conf_file_t f;
    conf_init(&f);
    th_daemon_t d;
    /* The harness's TXSCOPE_DB_MAIN_DSN wins over the file's: a second db is changed. */
    conf_write(&f, "[db.main]\n[db.other]\ndsn = %s?application_name=txs_a_%d\n", th_pg_dsn(),
               getpid());
    const char *env[] = {f.env, NULL};
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    char old_name[64], new_name[64];
    snprintf(old_name, sizeof old_name, "txs_a_%d", getpid());
    snprintf(new_name, sizeof new_name, "txs_b_%d", getpid());
    txscope_conn_t *c = th_connect(&d);
    /* Two connections on the old dsn: one busy in a transaction, one idle. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"busy\",\"db\":\"other\","
                            "\"sql\":\"select 1\"}"),
                 "busy");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"idle\",\"db\":\"other\","
                            "\"sql\":\"select 1\"}"),
                 "second");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"idle\"}"), "idle");
    ck_assert_int_eq(with_app_name(side, old_name), 2);

    conf_write(&f, "[db.main]\n[db.other]\ndsn = %s?application_name=txs_b_%d\n", th_pg_dsn(),
               getpid());
    char *line = reload(&d);
    ck_assert_has(line, "db other dsn ");
    free(line);
    /* The idle one goes at once; the busy one stays with its transaction. */
    long long t0 = th_now_ms();
    while (with_app_name(side, old_name) != 1) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "the idle connection of the old dsn stayed");
        th_sleep_ms(10);
    }
    /* New connections use the new dsn. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"new\",\"db\":\"other\","
                            "\"sql\":\"select 1\",\"autocommit\":true}"),
                 "new");
    ck_assert_int_eq(with_app_name(side, new_name), 1);
    /* The busy one's transaction is not disturbed; given back, it is closed. */
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"busy\"}"), "commit busy");
    t0 = th_now_ms();
    while (with_app_name(side, old_name) != 0) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "the busy connection of the old dsn stayed");
        th_sleep_ms(10);
    }
    ck_assert_int_eq(with_app_name(side, new_name), 1);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

/* ---- 11. a removed db comes back before its pool closed; exit with one still bound ---- */

START_TEST(removed_db_back_and_exit_with_one_bound)
{
    conf_file_t f;
    conf_init(&f);
    /* drain_timeout 0: SIGTERM rolls back at once what is open. */
    const char *with_second =
        "[txscope]\ndrain_timeout = 0\n[db.main]\n[db.second]\ndsn = %s?application_name=txs2_%d\n";
    const char *main_only = "[txscope]\ndrain_timeout = 0\n[db.main]\n";
    th_daemon_t d;
    /* The port is known only once started: the file starts with main alone. */
    conf_write(&f, "%s", main_only);
    const char *env[] = {f.env, NULL};
    th_daemon_start(&d, env);
    conf_write(&f, with_second, th_pg_dsn(), d.port);
    free(reload(&d));
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"t\",\"db\":\"second\","
                            "\"sql\":\"select 1\"}"),
                 "open on second");

    /* Removed, then back: the pool still serving t is the db's pool again. */
    conf_write(&f, "%s", main_only);
    long from = log_size(&d);
    free(reload(&d));
    conf_write(&f, with_second, th_pg_dsn(), d.port);
    free(reload(&d));
    free(log_wait(&d, from, "db=second: added back", 1000));
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"t\"}"), "commit on second");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"t\",\"db\":\"second\","
                            "\"sql\":\"select 1\"}"),
                 "naming it again, in the same session");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"t\"}"), "commit again");

    /* Removed again with t bound to it; the daemon stops meanwhile: a clean exit. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select 1\"}"),
                 "a transaction open on second");
    conf_write(&f, "%s", main_only);
    from = log_size(&d);
    free(reload(&d));
    free(log_wait(&d, from, "db=second: removed: closing after its last session", 1000));
    /* SIGTERM with t still there, bound to it (its client is told 57P01 and then closed
     * here, which the daemon waits for). */
    ck_assert_int_eq(kill(d.pid, SIGTERM), 0);
    free(log_wait(&d, from, "db=second: removed: every connection closed", 5000));
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    ck_assert_int_eq(th_side_long(side,
                                  "select count(*) from pg_stat_activity where "
                                  "application_name = 'txs2_%d'",
                                  d.port),
                     0);
    th_side_close(side);
    conf_cleanup(&f);
}
END_TEST

/* Poll the daemon's count of connected clients until it is n (accepted: a request
 * before hello would be refused). */
static void wait_clients(const th_daemon_t *d, long n)
{
    long long t0 = th_now_ms();
    while (th_daemon_stat(d, NULL, "clients") != n) {
        ck_assert_msg(th_now_ms() - t0 < 3000, "not %ld clients", n);
        th_sleep_ms(10);
    }
}

/* ---- 10. tokens: new logins meet the new set, connected clients stay who they are ---- */

START_TEST(tokens_apply_to_new_logins)
{
    conf_file_t f;
    conf_init(&f);
    conf_write(&f, "[tokens]\nweb = first-secret\n");
    const char *env[] = {f.env, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *in = th_connect(&d);
    ck_assert_int_eq(txscope_hello(in, "first-secret", T_TIMEOUT), 0);
    txscope_conn_t *waiting = th_connect(&d); /* connected, no hello yet */
    wait_clients(&d, 2);

    conf_write(&f, "[tokens]\nweb = second-secret\n");
    char *line = reload(&d);
    ck_assert_has(line, "[tokens] web changed");
    ck_assert_ptr_null(strstr(line, "first-secret"));
    ck_assert_ptr_null(strstr(line, "second-secret"));
    free(line);
    /* The connected client keeps its principal and goes on. */
    th_expect_ok(th_call(in, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\","
                             "\"autocommit\":true}"),
                 "a client logged in before the reload");
    /* The one still to log in meets the new set. */
    ck_assert_int_eq(txscope_hello(waiting, "first-secret", T_TIMEOUT), TXSCOPE_EREPLY);
    ck_assert_int_eq(strncmp(txscope_errmsg(waiting), "28000", 5), 0);
    txscope_conn_t *fresh = th_connect(&d);
    ck_assert_int_eq(txscope_hello(fresh, "second-secret", T_TIMEOUT), 0);
    th_expect_ok(th_call(fresh, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"select 1\","
                                "\"autocommit\":true}"),
                 "a client logged in with the new token");

    /* No tokens left: a client that had not logged in yet is in, as "default". */
    txscope_conn_t *late = th_connect(&d); /* 'waiting' was closed for its bad token */
    wait_clients(&d, 3);
    conf_write(&f, "[txscope]\n");
    line = reload(&d);
    ck_assert_has(line, "[tokens] web removed");
    free(line);
    th_expect_ok(th_call(late, "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"select 1\","
                               "\"autocommit\":true}"),
                 "no authentication any more");
    txscope_close(late);
    txscope_close(fresh);
    txscope_close(waiting);
    txscope_close(in);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    conf_cleanup(&f);
}
END_TEST

Suite *suite_reload(void)
{
    Suite *s = suite_create("reload");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, pool_shrinks_under_load);
    TH_ADD_TEST(tc, db_added_then_removed_under_a_transaction);
    TH_ADD_TEST(tc, timeouts_apply_to_what_runs);
    /* The daemon alone: once is enough. */
    tcase_add_test(tc[TH_PG], bad_config_rejected_old_one_stays);
    tcase_add_test(tc[TH_PG], restart_only_change_kept);
    tcase_add_test(tc[TH_PG], log_level_follows);
    tcase_add_test(tc[TH_PG], pipeline_raised_resumes_reading);
    tcase_add_test(tc[TH_PG], pool_grows_serves_waiters);
    tcase_add_test(tc[TH_PG], dsn_change_replaces_connections);
    tcase_add_test(tc[TH_PG], tokens_apply_to_new_logins);
    tcase_add_test(tc[TH_PG], removed_db_back_and_exit_with_one_bound);
    return s;
}
