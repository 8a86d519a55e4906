/* test_mysql_driver.c - the MySQL/MariaDB driver on a real uv loop against the test server. */
#include <arpa/inet.h>
#include <check.h>
#include <mysql.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/utf8.h"
#include "tests/integration/pgtest.h"

Suite *suite_mysql_driver(void);

#define WAIT_MS 5000

static const txs_driver_t *drv = &txs_driver_mysql;

/* ---- the test server ---- */

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        ck_abort_msg("%s is not set: start the test server first with\n"
                     "  eval \"$(tests/scripts/mysql.sh start /tmp/mytest/db)\"",
                     name);
    return v;
}

/* mysql://user:password@host:port/database from the MYSQL_* variables of mysql.sh. */
static const char *my_dsn(void)
{
    static char dsn[512];
    snprintf(dsn, sizeof dsn, "mysql://%s:%s@%s:%s/%s", need_env("MYSQL_USER"),
             need_env("MYSQL_PWD"), need_env("MYSQL_HOST"), need_env("MYSQL_TCP_PORT"),
             need_env("MYSQL_DATABASE"));
    return dsn;
}

/* A plain blocking connection to the test server: the view from the side. */
static MYSQL *side_open(void)
{
    my_dsn();
    MYSQL *m = mysql_init(NULL);
    ck_assert_ptr_nonnull(m);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, need_env("MYSQL_HOST"), need_env("MYSQL_USER"),
                            need_env("MYSQL_PWD"), need_env("MYSQL_DATABASE"),
                            (unsigned)atoi(need_env("MYSQL_TCP_PORT")), NULL, 0))
        ck_abort_msg("cannot connect to the test server: %s", mysql_error(m));
    return m;
}

static void side_exec(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        ck_abort_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

/* The first value of sql's first row, as text ("NULL" for NULL). Caller frees. */
static char *side_value(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        ck_abort_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    ck_assert_ptr_nonnull(r);
    MYSQL_ROW row = mysql_fetch_row(r);
    char *v = strdup(!row ? "" : row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    return v;
}

static void side_once(const char *sql)
{
    MYSQL *m = side_open();
    side_exec(m, sql);
    mysql_close(m);
}

static void side_kill(int id, bool query_only)
{
    char sql[64];
    snprintf(sql, sizeof sql, "KILL %s%d", query_only ? "QUERY " : "", id);
    side_once(sql);
}

/* sql with "mdrv_" made "mdrv<pid>_": the names of tables, procedures and locks that other
 * connections see, so that two test runs on one server do not meet. Four at a time. */
static const char *P(const char *sql)
{
    static char bufs[4][512];
    static int next;
    char *out = bufs[next++ % 4], pre[32];
    snprintf(pre, sizeof pre, "mdrv%d_", (int)getpid());
    size_t n = 0;
    for (const char *s = sql; *s && n + strlen(pre) + 1 < sizeof bufs[0];) {
        if (strncmp(s, "mdrv_", 5) == 0) {
            n += (size_t)snprintf(out + n, sizeof bufs[0] - n, "%s", pre);
            s += 5;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}

/* ---- driving the driver ---- */

typedef struct t {
    uv_loop_t loop;
    txs_dconn_t *c;
    int done; /* op callbacks since the op started */
    txs_drv_status_t st;
    txs_drv_txstatus_t tx; /* tx_status inside the callback */
    char code[8], message[512];
    int vendor;
    bool from_db;
    bool has_index;
    int index;
    int batch_n;
    int oob_rc, neg_rc;
    size_t oob_len;
    txs_buf_t out;
    size_t max_len;
    int enc_rc;
    int64_t done_at;
    int closed;
    int watched;
    txs_drv_status_t watch_st;
    /* on_then: after saving, run this right away, from inside the callback */
    const char *then_sql;
    const txs_stmt_t *then_batch;
    int then_batch_n;
    bool then_cancel;
    txs_drv_txstatus_t tx_after_then;
    int first_done;
    txs_drv_status_t first_st;
    char first_code[8];
    int64_t first_at;
} t_t;

static void save_error(t_t *t)
{
    txs_error_info_t e;
    drv->last_error(t->c, &e);
    snprintf(t->code, sizeof t->code, "%s", e.code ? e.code : "");
    snprintf(t->message, sizeof t->message, "%s", e.message ? e.message : "");
    t->vendor = e.vendor_code;
    t->from_db = e.from_db;
    t->has_index = e.has_index;
    t->index = e.index;
}

static void try_out_of_range(t_t *t, int past)
{
    size_t len = t->out.len;
    t->oob_rc = drv->encode_result(t->c, past, &t->out, t->max_len);
    t->neg_rc = drv->encode_result(t->c, -1, &t->out, t->max_len);
    t->oob_len = t->out.len - len;
}

static void on_op(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = drv->tx_status(c);
    txs_buf_truncate(&t->out, 0);
    if (st == TXS_DRV_OK) {
        t->enc_rc = drv->encode_result(c, 0, &t->out, t->max_len);
        try_out_of_range(t, 1);
    } else {
        save_error(t);
    }
    t->done_at = txs_pgtest_now_ms();
    t->done++;
}

static void on_batch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = drv->tx_status(c);
    txs_buf_truncate(&t->out, 0);
    t->enc_rc = TXS_OK;
    if (st == TXS_DRV_OK) {
        for (int i = 0; i < t->batch_n && t->enc_rc == TXS_OK; i++) {
            if (i > 0)
                txs_buf_putc(&t->out, '\n');
            t->enc_rc = drv->encode_result(c, i, &t->out, t->max_len);
        }
        try_out_of_range(t, t->batch_n);
    } else {
        save_error(t);
    }
    t->done_at = txs_pgtest_now_ms();
    t->done++;
}

static void on_closed(void *arg)
{
    ((t_t *)arg)->closed++;
}

static void on_watch(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->watch_st = st;
    save_error(t);
    t->watched++;
}

static const char *out_str(t_t *t)
{
    *txs_buf_reserve(&t->out, 1) = '\0';
    return t->out.data;
}

static void t_init(t_t *t)
{
    memset(t, 0, sizeof *t);
    ck_assert_int_eq(uv_loop_init(&t->loop), 0);
    txs_buf_init(&t->out);
    t->max_len = 1 << 20;
}

static txs_drv_status_t t_connect(t_t *t, const char *dsn, uint64_t timeout_ms)
{
    t->done = 0;
    ck_assert_int_eq(drv->connect(&t->loop, dsn, timeout_ms, on_op, t, &t->c), TXS_OK);
    ck_assert_ptr_nonnull(t->c);
    ck_assert_int_eq(t->done, 0); /* never from inside connect() */
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->done, WAIT_MS + timeout_ms),
                  "connect never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

static void t_open(t_t *t)
{
    t_init(t);
    txs_drv_status_t st = t_connect(t, my_dsn(), 10000);
    ck_assert_msg(st == TXS_DRV_OK, "connect: %s %s", t->code, t->message);
}

static txs_stmt_t mkstmt(const char *sql, int n, const char *const *vals, int *lens)
{
    for (int i = 0; i < n; i++)
        lens[i] = vals[i] ? (int)strlen(vals[i]) : 0;
    txs_stmt_t s = {sql, strlen(sql), n, vals, lens, NULL};
    return s;
}

static void t_start_k(t_t *t, const char *sql, int n, const char *const *vals,
                      const unsigned char *kinds)
{
    int lens[16];
    ck_assert_int_le(n, 16);
    txs_stmt_t s = mkstmt(sql, n, vals, lens);
    s.kinds = kinds;
    t->done = 0;
    ck_assert_int_eq(drv->run(t->c, &s, on_op, t), TXS_OK);
    ck_assert_int_eq(t->done, 0); /* never from inside run() */
}

static void t_start(t_t *t, const char *sql, int n, const char *const *vals)
{
    t_start_k(t, sql, n, vals, NULL);
}

static txs_drv_status_t t_wait(t_t *t)
{
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->done, WAIT_MS), "run never called back");
    ck_assert_int_eq(t->done, 1);
    return t->st;
}

static txs_drv_status_t t_runp(t_t *t, const char *sql, int n, const char *const *vals)
{
    t_start(t, sql, n, vals);
    return t_wait(t);
}

static txs_drv_status_t t_runk(t_t *t, const char *sql, int n, const char *const *vals,
                               const unsigned char *kinds)
{
    t_start_k(t, sql, n, vals, kinds);
    return t_wait(t);
}

static txs_drv_status_t t_run(t_t *t, const char *sql)
{
    return t_runp(t, sql, 0, NULL);
}

static const char *t_ok(t_t *t, const char *sql)
{
    txs_drv_status_t st = t_run(t, sql);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %d %s %s", sql, st, t->code, t->message);
    ck_assert_int_eq(t->enc_rc, TXS_OK);
    return out_str(t);
}

static void t_close(t_t *t)
{
    drv->close(t->c, on_closed, t);
    ck_assert_int_eq(t->closed, 0); /* never from inside close() */
    ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->closed, WAIT_MS), "close never finished");
    ck_assert_int_eq(t->closed, 1);
    txs_pgtest_loop_finish(&t->loop);
    txs_buf_free(&t->out);
}

/* The value of a one-row, one-column result, from the encoded JSON. */
static void expect_single(t_t *t, const char *sql, const char *json_value)
{
    const char *out = t_ok(t, sql);
    char want[512];
    snprintf(want, sizeof want, "\"rows\":[[%s]]", json_value);
    ck_assert_msg(strstr(out, want), "%s: got %s, want %s", sql, out, want);
}

static void t_batch_start(t_t *t, const txs_stmt_t *stmts, int n)
{
    txs_stmt_t *copy = malloc((size_t)(n > 0 ? n : 1) * sizeof *copy);
    if (n > 0)
        memcpy(copy, stmts, (size_t)n * sizeof *copy);
    t->batch_n = n;
    t->done = 0;
    ck_assert_int_eq(drv->run_batch(t->c, copy, n, on_batch, t), TXS_OK);
    free(copy);
    ck_assert_int_eq(t->done, 0); /* never from inside run_batch() */
}

static txs_drv_status_t t_batch(t_t *t, const char *const *sqls, int n)
{
    txs_stmt_t *s = calloc((size_t)(n > 0 ? n : 1), sizeof *s);
    for (int i = 0; i < n; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t_batch_start(t, s, n);
    free(s);
    return t_wait(t);
}

static void on_reset(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_ptr_eq(c, t->c);
    t->st = st;
    t->tx = drv->tx_status(c);
    if (st != TXS_DRV_OK)
        save_error(t);
    t->done++;
}

/* reset(): 1 when clean already, else TXS_OK and the callback's status. */
static int t_reset(t_t *t, txs_drv_status_t *st)
{
    t->done = 0;
    int rc = drv->reset(t->c, on_reset, t);
    ck_assert_int_eq(t->done, 0);
    if (rc == TXS_OK) {
        ck_assert_msg(txs_pgtest_run_until(&t->loop, &t->done, WAIT_MS), "reset never called back");
        *st = t->st;
    }
    return rc;
}

/* ---- a port nobody answers on ---- */

static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int closed_port(void)
{
    int port;
    int fd = silent_listener(&port);
    close(fd);
    return port;
}

/* ---- connect ---- */

START_TEST(connect_ok_sets_session)
{
    t_t t;
    t_open(&t);
    ck_assert_int_gt(drv->backend_pid(t.c), 0);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select @@session.time_zone", "\"+00:00\"");
    expect_single(&t, "select @@session.session_track_state_change", "1");
    expect_single(&t, "select @@character_set_client", "\"utf8mb4\"");
    expect_single(&t, "select @@character_set_results", "\"utf8mb4\"");
    expect_single(&t, "select database()", "\"txs\"");
    expect_single(&t, "select current_user()", "\"txs@%\"");
    char id[16];
    snprintf(id, sizeof id, "%d", drv->backend_pid(t.c));
    expect_single(&t, "select connection_id()", id);
    ck_assert_str_eq(drv->name, "mysql");
    ck_assert_uint_eq(drv->features, 0);
    t_close(&t);
}
END_TEST

START_TEST(connect_through_unix_sockets)
{
    const char *sock = need_env("MYSQL_UNIX_SOCKET");
    char enc[400], dsn[600];
    size_t n = 0;
    for (const char *p = sock; *p && n + 4 < sizeof enc; p++)
        n += (size_t)(*p == '/' ? snprintf(enc + n, 4, "%%2F") : snprintf(enc + n, 2, "%c", *p));
    const char *forms[] = {"mysql://txs:txs@%s/txs", "mysql://txs:txs@/txs?socket=%s",
                           "mysql://txs:txs@localhost/txs?socket=%s"};
    for (int i = 0; i < 3; i++) {
        t_t t;
        t_init(&t);
        snprintf(dsn, sizeof dsn, forms[i], i == 0 ? enc : sock);
        ck_assert_msg(t_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s: %s", dsn, t.message);
        expect_single(&t,
                      "select host from information_schema.processlist where id = "
                      "connection_id()",
                      "\"localhost\"");
        expect_single(&t, "select current_user()", "\"txs@%\"");
        t_close(&t);
    }
    /* a socket path alone: the OS user (root here, whose socket login needs no password),
     * no database; the password is not taken from MYSQL_PWD when none is set */
    char *pwd = strdup(need_env("MYSQL_PWD"));
    unsetenv("MYSQL_PWD");
    t_t t;
    t_init(&t);
    txs_drv_status_t st = t_connect(&t, sock, 10000);
    setenv("MYSQL_PWD", pwd, 1); /* for the tests after this one when not forked */
    free(pwd);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %s", sock, t.message);
    expect_single(&t, "select current_user()", "\"root@localhost\"");
    expect_single(&t, "select database()", "null");
    expect_single(&t, "select @@session.time_zone", "\"+00:00\"");
    t_close(&t);
}
END_TEST

START_TEST(connect_without_password_reads_mysql_pwd)
{
    t_t t;
    t_init(&t);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs@%s:%s/txs", need_env("MYSQL_HOST"),
             need_env("MYSQL_TCP_PORT"));
    need_env("MYSQL_PWD"); /* as the mysql client does */
    ck_assert_msg(t_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s", t.message);
    expect_single(&t, "select current_user()", "\"txs@%\"");
    t_close(&t);
}
END_TEST

START_TEST(connect_resolves_host_names)
{
    /* not "localhost" (the unix socket to MySQL clients): a name resolved off the loop */
    t_t t;
    t_init(&t);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@LocalHost:%s/txs", need_env("MYSQL_TCP_PORT"));
    ck_assert_msg(t_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s", t.message);
    const char *out = t_ok(&t, "select substring_index(host, ':', 1) from "
                               "information_schema.processlist where id = connection_id()");
    ck_assert_msg(strstr(out, "\"rows\":[[\"127.0.0.1\"]]"), "%s", out);
    t_close(&t);
}
END_TEST

START_TEST(connect_refused_is_lost_08001)
{
    t_t t;
    t_init(&t);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@127.0.0.1:%d/txs", closed_port());
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_int_lt(t.done_at - t0, 2000);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "Connection refused"), "message: %s", t.message);
    ck_assert(!t.from_db);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    ck_assert_int_eq(drv->backend_pid(t.c), 0);
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_ELOST);
    ck_assert_int_eq(drv->reset(t.c, on_op, &t), TXS_ELOST);
    t_close(&t);
    ck_assert_int_eq(t.done, 0);
}
END_TEST

START_TEST(connect_timeout_is_lost_08001)
{
    t_t t;
    t_init(&t);
    int port;
    int fd = silent_listener(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@127.0.0.1:%d/txs", port);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_connect(&t, dsn, 300), TXS_DRV_LOST);
    int64_t took = t.done_at - t0;
    ck_assert_msg(took >= 290 && took < 1000, "timed out after %lld ms", (long long)took);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_str_eq(t.message, "could not connect to server within 300 ms");
    t_close(&t);
    close(fd);
}
END_TEST

START_TEST(connect_bad_dsn_is_lost_08001)
{
    t_t t;
    t_init(&t);
    ck_assert_int_eq(t_connect(&t, "mysql://txs:txs@127.0.0.1/txs?sslmode=require", 10000),
                     TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_str_eq(t.message, "unknown option \"sslmode\" in the dsn (known: socket)");
    t_close(&t);
    t_init(&t);
    ck_assert_int_eq(t_connect(&t, "host=127.0.0.1 user=txs", 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "mysql://user:password@host:port/database"), "%s", t.message);
    t_close(&t);
}
END_TEST

START_TEST(connect_bad_password_is_lost_08001)
{
    t_t t;
    t_init(&t);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs:wrong@%s:%s/txs", need_env("MYSQL_HOST"),
             need_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_int_eq(t.vendor, 1045);
    ck_assert_msg(strstr(t.message, "Access denied for user 'txs'"), "%s", t.message);
    t_close(&t);
    /* an unknown database */
    t_init(&t);
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@%s:%s/nosuchdb", need_env("MYSQL_HOST"),
             need_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(t_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_int_eq(t.vendor, 1049);
    ck_assert_str_eq(t.message, "Unknown database 'nosuchdb'");
    t_close(&t);
}
END_TEST

/* ---- values and types ---- */

/* Run sql through the text protocol, then through a prepared statement (a parameter
 * that changes nothing is added as "?" in place of `marker`), and check both give want. */
static void both_paths(t_t *t, const char *sql, const char *marker, const char *want)
{
    const char *out = t_ok(t, sql);
    ck_assert_msg(strcmp(out, want) == 0, "text protocol:\n got %s\nwant %s", out, want);
    char prepared[4096];
    const char *m = strstr(sql, marker);
    ck_assert_ptr_nonnull(m);
    snprintf(prepared, sizeof prepared, "%.*s?%s", (int)(m - sql), sql, m + strlen(marker));
    const char *one[] = {"1"};
    const unsigned char kinds[] = {TXS_PARAM_NUMBER};
    txs_drv_status_t st = t_runk(t, prepared, 1, one, kinds);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %s %s", prepared, t->code, t->message);
    out = out_str(t);
    ck_assert_msg(strcmp(out, want) == 0, "binary protocol:\n got %s\nwant %s", out, want);
}

START_TEST(column_types_encode_the_same_through_both_protocols)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_ty (id int primary key, ti tinyint, tu tinyint unsigned,"
             " si smallint, mi mediumint, i int, iz int(5) zerofill, bi bigint,"
             " bu bigint unsigned, yr year, fl float, fl2 float, db double, db2 double,"
             " fd float(7,4), dd double(10,3), de decimal(10,3), dl decimal(30,10), bt bit(10),"
             " b64 bit(64), js json, bn binary(3), vb varbinary(10), bl blob, vc varchar(20),"
             " ch char(5), tx text, en enum('a','b'), st set('x','y'), d date, tm time(2),"
             " t0 time, dt datetime(3), ts timestamp(6) null, dz datetime(2), g geometry,"
             " i6 inet6, uu uuid, lt longtext, tb tinyblob) default charset utf8mb4");
    t_ok(&t, "insert into mdrv_ty values (1, -128, 255, -32768, 8388607, -2147483648, 42,"
             " -9223372036854775808, 18446744073709551615, 2024, 1.2345678, 16777217,"
             " 0.1e0 + 0.2e0, 1e300, 1.2, 2.5, 1.5, -12345678901234567890.0123456789,"
             " b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111111',"
             " '{\"a\": [1, 2],\n \"b\": \"x y\"}', x'00ff10', x'0102', 'hello',"
             " 'say \"hi\"\\n\xc3\xa9\xf0\x9f\x98\x80', 'ab', 'long text', 'b', 'y,x',"
             " '2024-01-02', '-12:34:56.78', '100:00:00', '2024-01-02 03:04:05.12',"
             " '2024-01-02 03:04:05.123456', '0000-00-00 00:00:00', ST_GeomFromText('POINT(1 2)'),"
             " '::1', '123e4567-e89b-12d3-a456-426655440000', 'x', '')");
    t_ok(&t, "insert into mdrv_ty (id) values (2)");
    const char *fields =
        "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"ti\",\"type\":\"tinyint\"},"
        "{\"name\":\"tu\",\"type\":\"tinyint unsigned\"},{\"name\":\"si\",\"type\":\"smallint\"},"
        "{\"name\":\"mi\",\"type\":\"mediumint\"},{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"iz\",\"type\":\"int unsigned\"},{\"name\":\"bi\",\"type\":\"bigint\"},"
        "{\"name\":\"bu\",\"type\":\"bigint unsigned\"},{\"name\":\"yr\",\"type\":\"year\"},"
        "{\"name\":\"fl\",\"type\":\"float\"},{\"name\":\"fl2\",\"type\":\"float\"},"
        "{\"name\":\"db\",\"type\":\"double\"},{\"name\":\"db2\",\"type\":\"double\"},"
        "{\"name\":\"fd\",\"type\":\"float\"},{\"name\":\"dd\",\"type\":\"double\"},"
        "{\"name\":\"de\",\"type\":\"decimal\"},{\"name\":\"dl\",\"type\":\"decimal\"},"
        "{\"name\":\"bt\",\"type\":\"bit\"},{\"name\":\"b64\",\"type\":\"bit\"},"
        "{\"name\":\"js\",\"type\":\"json\"},{\"name\":\"bn\",\"type\":\"binary\"},"
        "{\"name\":\"vb\",\"type\":\"varbinary\"},{\"name\":\"bl\",\"type\":\"blob\"},"
        "{\"name\":\"vc\",\"type\":\"varchar\"},{\"name\":\"ch\",\"type\":\"char\"},"
        "{\"name\":\"tx\",\"type\":\"text\"},{\"name\":\"en\",\"type\":\"enum\"},"
        "{\"name\":\"st\",\"type\":\"set\"},{\"name\":\"d\",\"type\":\"date\"},"
        "{\"name\":\"tm\",\"type\":\"time\"},{\"name\":\"t0\",\"type\":\"time\"},"
        "{\"name\":\"dt\",\"type\":\"datetime\"},{\"name\":\"ts\",\"type\":\"timestamp\"},"
        "{\"name\":\"dz\",\"type\":\"datetime\"},{\"name\":\"g\",\"type\":\"geometry\"},"
        "{\"name\":\"i6\",\"type\":\"inet6\"},{\"name\":\"uu\",\"type\":\"uuid\"},"
        "{\"name\":\"lt\",\"type\":\"text\"},{\"name\":\"tb\",\"type\":\"blob\"}]";
    char want[4096];
    snprintf(want, sizeof want,
             "\"command\":\"SELECT\",\"rowCount\":2,%s,\"rows\":["
             "[1,-128,255,-32768,8388607,-2147483648,42,-9223372036854775808,"
             "18446744073709551615,2024,1.23457,16777200,0.30000000000000004,1e+300,1.2,2.5,"
             "\"1.500\",\"-12345678901234567890.0123456789\",513,18446744073709551615,"
             "{\"a\":[1,2],\"b\":\"x y\"},\"AP8Q\",\"AQI=\",\"aGVsbG8=\","
             "\"say \\\"hi\\\"\\n\xc3\xa9\xf0\x9f\x98\x80\",\"ab\",\"long text\",\"b\",\"x,y\","
             "\"2024-01-02\",\"-12:34:56.78\",\"100:00:00\",\"2024-01-02 03:04:05.120\","
             "\"2024-01-02 03:04:05.123456\",\"0000-00-00 00:00:00.00\","
             "\"AQEAAAAAAAAAAADwPwAAAAAAAABA\",\"::1\",\"123e4567-e89b-12d3-a456-426655440000\","
             "\"x\",\"\"],"
             "[2,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
             "null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
             "null,null,null,null,null,null,null,null]]",
             fields);
    both_paths(&t, "select * from mdrv_ty where 1 = 1 order by id", "1 = 1", want);
    t_close(&t);
}
END_TEST

START_TEST(expression_types_encode_the_same_through_both_protocols)
{
    t_t t;
    t_open(&t);
    both_paths(
        &t,
        "select 1 as one, 12345678901 as big, -1.50 as dcm, 1.5e0 as dbl, 1/3e0 as third,"
        " -0e0 as negzero, 'x' as s, _binary'x' as bx, null as n, json_object('a', 1, 'b',"
        " json_array(true, null)) as j, json_extract('[1.5]', '$[0]') as je, 'not json' as nj,"
        " cast('2024-01-02' as date) as d, cast('2024-01-02 03:04:05.5' as datetime(1)) as dt,"
        " time'-838:59:59' as tmin, b'101' as bits, true as tr, year('2024-05-06') as y,"
        " cast(1.5 as float) as f, round(2.345e0, 2) as r, cast(18446744073709551615 as"
        " unsigned) as umax, uuid_short() > 0 as pos, cast('::ffff:1.2.3.4' as inet6) as ip"
        " from dual where 7 = 7",
        "7 = 7",
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"one\",\"type\":\"int\"},"
        "{\"name\":\"big\",\"type\":\"bigint\"},{\"name\":\"dcm\",\"type\":\"decimal\"},"
        "{\"name\":\"dbl\",\"type\":\"double\"},{\"name\":\"third\",\"type\":\"double\"},"
        "{\"name\":\"negzero\",\"type\":\"double\"},{\"name\":\"s\",\"type\":\"varchar\"},"
        "{\"name\":\"bx\",\"type\":\"varbinary\"},{\"name\":\"n\",\"type\":\"null\"},"
        "{\"name\":\"j\",\"type\":\"json\"},{\"name\":\"je\",\"type\":\"json\"},"
        "{\"name\":\"nj\",\"type\":\"varchar\"},{\"name\":\"d\",\"type\":\"date\"},"
        "{\"name\":\"dt\",\"type\":\"datetime\"},{\"name\":\"tmin\",\"type\":\"time\"},"
        "{\"name\":\"bits\",\"type\":\"varbinary\"},{\"name\":\"tr\",\"type\":\"int\"},"
        "{\"name\":\"y\",\"type\":\"int\"},{\"name\":\"f\",\"type\":\"float\"},"
        "{\"name\":\"r\",\"type\":\"double\"},{\"name\":\"umax\",\"type\":\"bigint unsigned\"},"
        "{\"name\":\"pos\",\"type\":\"int\"},{\"name\":\"ip\",\"type\":\"inet6\"}],"
        "\"rows\":[[1,12345678901,\"-1.50\",1.5,0.3333333333333333,0,\"x\",\"eA==\",null,"
        "{\"a\":1,\"b\":[true,null]},1.5,\"not json\",\"2024-01-02\",\"2024-01-02 03:04:05.5\","
        "\"-838:59:59\",\"BQ==\",1,2024,1.5,2.35,18446744073709551615,1,\"::ffff:1.2.3.4\"]]");
    t_close(&t);
}
END_TEST

START_TEST(parameters_bind_by_their_json_kind)
{
    t_t t;
    t_open(&t);
    const char *v[] = {"42",
                       "42",
                       "true",
                       "false",
                       "1.50",
                       "18446744073709551615",
                       "123456789012345678901234567890",
                       "-9223372036854775808",
                       "1.5e3",
                       NULL,
                       "[1, {\"a\": null}]"};
    const unsigned char k[] = {TXS_PARAM_NUMBER, TXS_PARAM_TEXT,   TXS_PARAM_BOOL,
                               TXS_PARAM_BOOL,   TXS_PARAM_NUMBER, TXS_PARAM_NUMBER,
                               TXS_PARAM_NUMBER, TXS_PARAM_NUMBER, TXS_PARAM_NUMBER,
                               TXS_PARAM_TEXT,   TXS_PARAM_JSON};
    txs_drv_status_t st =
        t_runk(&t,
               "select ? as n, ? as s, ? as t, ? as f, ? as d, ? as u, ? as big, ? as imin,"
               " ? + 0 as e, ? as nul, json_length(?) as jl",
               11, v, k);
    ck_assert_msg(st == TXS_DRV_OK, "%s %s", t.code, t.message);
    ck_assert_str_eq(
        out_str(&t),
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"n\",\"type\":\"bigint\"},"
        "{\"name\":\"s\",\"type\":\"char\"},{\"name\":\"t\",\"type\":\"bigint\"},"
        "{\"name\":\"f\",\"type\":\"bigint\"},{\"name\":\"d\",\"type\":\"decimal\"},"
        "{\"name\":\"u\",\"type\":\"bigint unsigned\"},{\"name\":\"big\",\"type\":\"decimal\"},"
        "{\"name\":\"imin\",\"type\":\"bigint\"},{\"name\":\"e\",\"type\":\"decimal\"},"
        "{\"name\":\"nul\",\"type\":\"null\"},{\"name\":\"jl\",\"type\":\"int\"}],"
        "\"rows\":[[42,\"42\",1,0,\"1.50\",18446744073709551615,"
        "\"123456789012345678901234567890\",-9223372036854775808,\"1500\",null,2]]");
    /* LIMIT takes an integer, and a kind-less statement binds text */
    t_ok(&t, "create temporary table mdrv_p (x int, j json)");
    t_ok(&t, "insert into mdrv_p (x) values (1), (2), (3)");
    const char *two[] = {"2"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    ck_assert_int_eq(t_runk(&t, "select x from mdrv_p order by x limit ?", 1, two, num),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[1],[2]]"), "%s", out_str(&t));
    ck_assert_int_eq(t_runp(&t, "select x from mdrv_p where x = ?", 1, two), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[2]]"), "%s", out_str(&t));
    /* JSON goes in as its text */
    const char *js[] = {"{\"k\":[true,null,1.5]}", "3"};
    const unsigned char jk[] = {TXS_PARAM_JSON, TXS_PARAM_NUMBER};
    ck_assert_int_eq(t_runk(&t, "update mdrv_p set j = ? where x = ?", 2, js, jk), TXS_DRV_OK);
    expect_single(&t, "select j from mdrv_p where x = 3", "{\"k\":[true,null,1.5]}");
    expect_single(&t, "select json_extract(j, '$.k[2]') from mdrv_p where x = 3", "1.5");
    /* the text of a string is sent as it is: no quoting games */
    const char *evil[] = {"x'); drop table mdrv_p; --"};
    ck_assert_int_eq(t_runp(&t, "select ? as v", 1, evil), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[\"x'); drop table mdrv_p; --\"]]"), "%s",
                  out_str(&t));
    t_close(&t);
}
END_TEST

START_TEST(wrong_parameter_counts_are_refused)
{
    t_t t;
    t_open(&t);
    const char *v[] = {"1", "2"};
    ck_assert_int_eq(t_runp(&t, "select ? + ?", 1, v), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_str_eq(t.message, "the statement has 2 parameter markers but 1 parameter was given");
    ck_assert(!t.from_db);
    ck_assert_int_eq(t_runp(&t, "select 1", 2, v), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_str_eq(t.message,
                     "the statement has 0 parameter markers but 2 parameters were given");
    /* without parameters, a marker is the server's syntax error */
    ck_assert_int_eq(t_run(&t, "select ?"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42000");
    ck_assert_int_eq(t.vendor, 1064);
    expect_single(&t, "select 'usable'", "\"usable\"");
    t_close(&t);
}
END_TEST

START_TEST(large_statement_and_result)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    size_t n = 4 << 20; /* more than the socket takes at once: sent in steps */
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    ck_assert_int_eq(t_runp(&t, "select length(?) as n", 1, vals), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[4194304]]"), "%.200s", out_str(&t));
    /* the same text as a statement of its own */
    memcpy(big, "select length('", 15);
    memcpy(big + n - 8, "') as n ", 8);
    ck_assert_int_eq(t_run(&t, big), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[4194281]]"), "%.200s", out_str(&t));
    free(big);
    t.max_len = 64 << 20;
    const char *many = "select repeat('b', 1000) as r, seq from seq_1_to_5000";
    t_ok(&t, many);
    ck_assert_msg(strstr(out_str(&t), "\"rowCount\":5000,"), "%.200s", out_str(&t));
    ck_assert_uint_gt(t.out.len, 5000 * 1004);
    const char *one[] = {"1"};
    char many_p[256];
    snprintf(many_p, sizeof many_p, "%s where ? = 1", many);
    ck_assert_int_eq(t_runp(&t, many_p, 1, one), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rowCount\":5000,"), "%.200s", out_str(&t));
    ck_assert_uint_gt(t.out.len, 5000 * 1004);
    ck_assert_int_eq(t.watched, 0);
    t_close(&t);
}
END_TEST

START_TEST(command_row_count_and_last_insert_id)
{
    t_t t;
    t_open(&t);
    ck_assert_str_eq(
        t_ok(&t, "create temporary table mdrv_t (id int auto_increment primary key, v text)"),
        "\"command\":\"CREATE\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "insert into mdrv_t (v) values ('a'), ('b')"),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"lastInsertId\":1,\"fields\":[],"
                     "\"rows\":[]");
    const char *vals[] = {"c"};
    ck_assert_int_eq(t_runp(&t, "  /* x */ INSERT into mdrv_t (v) values (?)", 1, vals),
                     TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t), "\"command\":\"INSERT\",\"rowCount\":1,\"lastInsertId\":3,"
                                  "\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "insert into mdrv_t values (10, 'x')"),
                     "\"command\":\"INSERT\",\"rowCount\":1,\"lastInsertId\":10,\"fields\":[],"
                     "\"rows\":[]");
    /* UPDATE counts the rows it matched, changed or not (as PostgreSQL does) */
    ck_assert_str_eq(t_ok(&t, "update mdrv_t set v = 'z' where id <= 2"),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "update mdrv_t set v = 'z' where id <= 3"),
                     "\"command\":\"UPDATE\",\"rowCount\":3,\"fields\":[],\"rows\":[]");
    const char *three[] = {"3"};
    ck_assert_int_eq(t_runp(&t, "update mdrv_t set v = 'y' where id >= ?", 1, three), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    /* no lastInsertId on a SELECT, even after an INSERT */
    ck_assert_str_eq(
        t_ok(&t, "select id, v from mdrv_t where id > 2 order by id"),
        "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
        "\"int\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[3,\"y\"],[10,\"y\"]]");
    ck_assert_str_eq(t_ok(&t, "select id from mdrv_t where false"),
                     "\"command\":\"SELECT\",\"rowCount\":0,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int\"}],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "replace into mdrv_t values (10, 'r')"),
                     "\"command\":\"REPLACE\",\"rowCount\":2,\"lastInsertId\":10,\"fields\":[],"
                     "\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "delete from mdrv_t where id = 1"),
                     "\"command\":\"DELETE\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "# comment\nset @x = 1"),
                     "\"command\":\"SET\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, "delete from mdrv_t returning id"),
                     "\"command\":\"SELECT\",\"rowCount\":3,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int\"}],\"rows\":[[2],[3],[10]]");
    /* an empty statement: OK and command "", as on PostgreSQL */
    ck_assert_str_eq(t_ok(&t, ""), "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(t_ok(&t, " -- nothing\n /* at all */ "),
                     "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    t_close(&t);
}
END_TEST

START_TEST(calls_give_their_first_result_set)
{
    t_t t;
    t_open(&t);
    t_ok(&t, P("drop procedure if exists mdrv_proc"));
    t_ok(&t, P("drop procedure if exists mdrv_quiet"));
    t_ok(&t, P("create procedure mdrv_proc(in a int) begin select a as x, 'one' as y; select 2 as "
               "z; end"));
    t_ok(&t, P("create procedure mdrv_quiet() begin declare v int; set v = 1; end"));
    const char *want = "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"x\","
                       "\"type\":\"int\"},{\"name\":\"y\",\"type\":\"varchar\"}],"
                       "\"rows\":[[7,\"one\"]]";
    ck_assert_str_eq(t_ok(&t, P("call mdrv_proc(7)")), want);
    const char *seven[] = {"7"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    ck_assert_int_eq(t_runk(&t, P("call mdrv_proc(?)"), 1, seven, num), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t), want);
    ck_assert_str_eq(t_ok(&t, P("call mdrv_quiet()")),
                     "\"command\":\"CALL\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    expect_single(&t, "select 'after'", "\"after\"");
    t_ok(&t, P("drop procedure mdrv_proc"));
    t_ok(&t, P("drop procedure mdrv_quiet"));
    t_close(&t);
}
END_TEST

/* ---- errors ---- */

START_TEST(db_errors_carry_their_fields)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_e (id int primary key)");
    t_ok(&t, "insert into mdrv_e values (1)");
    for (int prepared = 0; prepared < 2; prepared++) {
        const char *one[] = {"1"};
        ck_assert_int_eq(prepared ? t_runp(&t, "insert into mdrv_e values (?)", 1, one)
                                  : t_run(&t, "insert into mdrv_e values (1)"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "23000");
        ck_assert_int_eq(t.vendor, 1062);
        ck_assert_str_eq(t.message, "Duplicate entry '1' for key 'PRIMARY'");
        ck_assert(t.from_db);
        ck_assert(!t.has_index);
        ck_assert_int_eq(prepared ? t_runp(&t, "select 1 frm mdrv_e where ?", 1, one)
                                  : t_run(&t, "select 1 frm mdrv_e"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42000");
        ck_assert_int_eq(t.vendor, 1064);
        ck_assert_msg(strstr(t.message, "You have an error in your SQL syntax"), "%s", t.message);
        ck_assert_int_eq(prepared ? t_runp(&t, "select nosuch from mdrv_e where ?", 1, one)
                                  : t_run(&t, "select nosuch from mdrv_e"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42S22");
        ck_assert_int_eq(t.vendor, 1054);
        ck_assert_msg(strncmp(t.message, "Unknown column 'nosuch' in ", 27) == 0, "%s", t.message);
    }
    /* an error while the rows come (not at execute) */
    ck_assert_int_eq(t_run(&t, "select json_extract('[1', '$') as x, 1 / 0"), TXS_DRV_OK);
    expect_single(&t, "select 41 + 1", "42");
    t_close(&t);
}
END_TEST

START_TEST(multi_statement_is_refused)
{
    t_t t;
    t_open(&t);
    ck_assert_int_eq(t_run(&t, "select 1; select 2"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42000");
    ck_assert_int_eq(t.vendor, 1064);
    ck_assert_int_eq(t_run(&t, "create temporary table mdrv_m (x int); drop table mdrv_m"),
                     TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t_run(&t, "select count(*) from information_schema.tables where table_name"
                               " = 'mdrv_m'"),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[0]]"), "%s", out_str(&t));
    t_close(&t);
}
END_TEST

START_TEST(nul_bytes_are_refused_before_sending)
{
    t_t t;
    t_open(&t);
    const char *vals[] = {"a\0b"};
    int lens[] = {3};
    txs_stmt_t s = {"select ?", 8, 1, vals, lens, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_OK);
    ck_assert_int_eq(t.done, 0);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert(!t.from_db);
    static const char sql2[] = "select 1\0; drop table x";
    txs_stmt_t s2 = {sql2, sizeof sql2 - 1, 0, NULL, NULL, NULL};
    t.done = 0;
    ck_assert_int_eq(drv->run(t.c, &s2, on_op, &t), TXS_OK);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    expect_single(&t, "select 'ok'", "\"ok\"");
    t_close(&t);
}
END_TEST

START_TEST(tx_status_follows_the_backend)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_x (id int primary key) engine=innodb");
    t_ok(&t, "start transaction");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    t_ok(&t, "insert into mdrv_x values (1)");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INTRANS);
    /* MySQL keeps the transaction going after a failed statement: no INERROR */
    ck_assert_int_eq(t_run(&t, "insert into mdrv_x values (1)"), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    t_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from mdrv_x", "0");
    t_ok(&t, "begin");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    t_ok(&t, "commit");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    t_start(&t, "select 1", 0, NULL);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    t_wait(&t);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    t_close(&t);
}
END_TEST

static void on_encode_limits(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    ck_assert_int_eq(st, TXS_DRV_OK);
    txs_buf_truncate(&t->out, 0);
    txs_buf_puts(&t->out, "PREFIX");
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 1 << 20), TXS_OK);
    size_t full = t->out.len;
    txs_buf_truncate(&t->out, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, full), TXS_OK); /* exactly fits */
    ck_assert_uint_eq(t->out.len, full);
    txs_buf_truncate(&t->out, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, full - 1), TXS_ETOOBIG);
    ck_assert_uint_eq(t->out.len, 6);
    ck_assert_int_eq(memcmp(t->out.data, "PREFIX", 6), 0);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 20), TXS_ETOOBIG); /* in the header */
    ck_assert_uint_eq(t->out.len, 6);
    ck_assert_int_eq(drv->encode_result(c, 0, &t->out, 200), TXS_ETOOBIG); /* in the rows */
    ck_assert_uint_eq(t->out.len, 6);
    t->done++;
}

START_TEST(too_big_result_is_refused_and_cut_back)
{
    t_t t;
    t_open(&t);
    const char *sqls[] = {"select repeat('x', 1000) as r, x'0102' as b, json_object('a', 1) as j"
                          " from (select 1 union all select 2 union all select 3) s",
                          "select repeat('x', 1000) as r, x'0102' as b, json_object('a', 1) as j"
                          " from (select 1 union all select 2 union all select 3) s where ? = 1"};
    for (int i = 0; i < 2; i++) {
        const char *one[] = {"1"};
        int lens[1];
        txs_stmt_t s = mkstmt(sqls[i], i, one, lens);
        t.done = 0;
        ck_assert_int_eq(drv->run(t.c, &s, on_encode_limits, &t), TXS_OK);
        ck_assert(txs_pgtest_run_until(&t.loop, &t.done, WAIT_MS));
    }
    expect_single(&t, "select 1", "1"); /* still usable */
    t_close(&t);
}
END_TEST

/* ---- cancel ---- */

static void on_then(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    t_t *t = arg;
    t->first_st = st;
    t->first_at = txs_pgtest_now_ms();
    txs_error_info_t e;
    drv->last_error(c, &e);
    snprintf(t->first_code, sizeof t->first_code, "%s", st != TXS_DRV_OK ? e.code : "");
    t->first_done++;
    if (t->then_sql) {
        int lens[1];
        txs_stmt_t s = mkstmt(t->then_sql, 0, NULL, lens);
        t->done = 0;
        ck_assert_int_eq(drv->run(c, &s, on_op, t), TXS_OK);
    } else if (t->then_batch) {
        t->done = 0;
        t->batch_n = t->then_batch_n;
        ck_assert_int_eq(drv->run_batch(c, t->then_batch, t->then_batch_n, on_batch, t), TXS_OK);
    }
    if (t->then_sql || t->then_batch) {
        t->tx_after_then = drv->tx_status(c);
        if (t->then_cancel)
            ck_assert_int_eq(drv->cancel(c), TXS_OK);
    }
}

static void cancel_now(uv_timer_t *timer)
{
    t_t *t = timer->data;
    ck_assert_int_eq(drv->cancel(t->c), TXS_OK);
    ck_assert_int_eq(drv->cancel(t->c), TXS_OK); /* twice is harmless */
}

static void free_timer(uv_handle_t *h)
{
    free(h);
}

/* cb(timer) in ms, once; the timer closes itself after. */
static void after_ms(t_t *t, uint64_t ms, uv_timer_cb cb)
{
    uv_timer_t *timer = malloc(sizeof *timer);
    ck_assert_ptr_nonnull(timer);
    uv_timer_init(&t->loop, timer);
    timer->data = t;
    uv_timer_start(timer, cb, ms, 0);
}

static void cancel_then_close(uv_timer_t *timer)
{
    cancel_now(timer);
    uv_close((uv_handle_t *)timer, free_timer);
}

static void cancel_after(t_t *t, uint64_t ms)
{
    after_ms(t, ms, cancel_then_close);
}

START_TEST(cancel_stops_a_running_statement)
{
    t_t t;
    t_open(&t);
    int id = drv->backend_pid(t.c);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* nothing runs: no-op */
    ck_assert_int_eq(t_run(&t, "select sleep(0.3)"), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[0]]"), "%s", out_str(&t));

    const char *ten[] = {"10"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    for (int prepared = 0; prepared < 2; prepared++) {
        int lens[1];
        txs_stmt_t s =
            mkstmt(prepared ? "select sleep(?)" : "select sleep(10)", prepared, ten, lens);
        s.kinds = num;
        t.then_sql = "select 2"; /* sent right away from the callback */
        t.first_done = 0;
        ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
        cancel_after(&t, 200);
        int64_t t0 = txs_pgtest_now_ms();
        ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
        ck_assert_int_eq(t.first_st, TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.first_code, "70100");
        ck_assert_int_lt(t.first_at - t0, 200 + 800);
        ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
        ck_assert_int_eq(t_wait(&t), TXS_DRV_OK); /* the next statement is not killed */
        ck_assert_msg(strstr(out_str(&t), "\"rows\":[[2]]"), "%s", out_str(&t));
        ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    }
    /* the server's error, and the connection lives on */
    t.then_sql = NULL;
    t_start(&t, "select sleep(10)", 0, NULL);
    cancel_after(&t, 100);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert_str_eq(t.message, "Query execution was interrupted");
    ck_assert(t.from_db);
    ck_assert_int_eq(drv->backend_pid(t.c), id);
    expect_single(&t, "select 3", "3");
    t_close(&t);
}
END_TEST

/* A KILL that the running step swallows (DO SLEEP ends OK when killed) still stops the op
 * before its next step. */
START_TEST(cancel_stops_an_op_between_its_steps)
{
    t_t t;
    t_open(&t);
    const char *dos[] = {"do sleep(0.5)", "select 2", "select 3"};
    txs_stmt_t d[3];
    for (int i = 0; i < 3; i++)
        d[i] = (txs_stmt_t){dos[i], strlen(dos[i]), 0, NULL, NULL, NULL};
    t_batch_start(&t, d, 3);
    cancel_after(&t, 100);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 100 + 800);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert_str_eq(t.message, "Query execution was interrupted");
    ck_assert(!t.from_db); /* stopped by the driver, not the server */
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);

    /* cancel() while a prepared statement is being prepared: it never runs to its end (it
     * stops before execute; or, when the prepare was answered at once, inside it) */
    const char *five[] = {"5"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    t0 = txs_pgtest_now_ms();
    t_start_k(&t, "select sleep(?)", 1, five, num);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 1000);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert(!t.has_index);

    const char *sqls[] = {"select 1", "select sleep(5)", "select 3"};
    txs_stmt_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t0 = txs_pgtest_now_ms();
    t_batch_start(&t, s, 3); /* "select 1" runs now */
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_int_lt(t.done_at - t0, 1000);
    ck_assert_str_eq(t.code, "70100");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);
    expect_single(&t, "select 4", "4");
    t_close(&t);
}
END_TEST

START_TEST(cancel_stops_a_running_batch)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_k (x int)");
    const char *sqls[] = {"insert into mdrv_k values (1)", "select sleep(30)",
                          "insert into mdrv_k values (2)"};
    txs_stmt_t s[3];
    for (int i = 0; i < 3; i++)
        s[i] = (txs_stmt_t){sqls[i], strlen(sqls[i]), 0, NULL, NULL, NULL};
    t_batch_start(&t, s, 3);
    cancel_after(&t, 200);
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_eq(t.vendor, 1317);
    ck_assert(t.from_db);
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 1);
    ck_assert_int_lt(t.done_at - t0, 200 + 800);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    /* no implicit transaction on MySQL: the statement before it stays */
    expect_single(&t, "select count(*) from mdrv_k", "1");
    t_close(&t);
}
END_TEST

/* While a KILL is under way, the next op is held back, so that the late KILL cannot hit
 * it: a statement that finished before its KILL landed is followed by one that is not
 * killed. */
START_TEST(next_statement_waits_for_the_kill)
{
    t_t t;
    t_open(&t);
    for (int i = 0; i < 10; i++) {
        int lens[1];
        txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
        t.then_sql = "select sleep(0.2)";
        t.then_cancel = false;
        t.first_done = 0;
        ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
        ck_assert_int_eq(drv->cancel(t.c), TXS_OK); /* its KILL lands after "select 1" */
        ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
        ck_assert_int_eq(t.first_st, TXS_DRV_OK);
        ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
        ck_assert_msg(t_wait(&t) == TXS_DRV_OK, "round %d: %s %s", i, t.code, t.message);
        ck_assert_msg(strstr(out_str(&t), "\"rows\":[[0]]"), "%s", out_str(&t));
    }
    /* the held statement is cancelled in turn when asked to */
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    t.then_sql = "select sleep(5)";
    t.then_cancel = true;
    t.first_done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "70100");
    ck_assert_int_lt(t.done_at - t0, 2500);
    expect_single(&t, "select 4", "4");
    /* and a held batch, with its parameters copied */
    int l0[1], l1[2];
    const char *v0[] = {"x"}, *v1[] = {"2", "3"};
    txs_stmt_t b[2] = {mkstmt("select ?", 1, v0, l0), mkstmt("select ? + ?", 2, v1, l1)};
    t.then_sql = NULL;
    t.then_batch = b;
    t.then_batch_n = 2;
    t.then_cancel = false;
    t.first_done = 0;
    ck_assert_int_eq(drv->run(t.c, &s, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[\"x\"]]\n"), "%s", out_str(&t));
    ck_assert_msg(strstr(out_str(&t), "\"rows\":[[5]]"), "%s", out_str(&t));
    t_close(&t);
}
END_TEST

/* ---- the connection dies ---- */

START_TEST(watch_reports_a_killed_connection)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    expect_single(&t, "select 1", "1"); /* a statement in between leaves the watch on */
    ck_assert_int_eq(t.watched, 0);
    side_kill(drv->backend_pid(t.c), false);
    ck_assert_msg(txs_pgtest_run_until(&t.loop, &t.watched, WAIT_MS), "watch never fired");
    ck_assert_int_eq(t.watched, 1);
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    ck_assert_str_eq(t.message, "the server closed the connection");
    ck_assert(!t.from_db);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
    int lens[1];
    txs_stmt_t s = mkstmt("select 1", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, on_op, &t), TXS_ELOST);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(t.watched, 1);
    t_close(&t);
}
END_TEST

START_TEST(watch_reports_an_idle_timeout)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    t_ok(&t, "set session wait_timeout = 1");
    int64_t t0 = txs_pgtest_now_ms();
    ck_assert_msg(txs_pgtest_run_until(&t.loop, &t.watched, WAIT_MS), "watch never fired");
    ck_assert_int_ge(txs_pgtest_now_ms() - t0, 900);
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    t_close(&t);
}
END_TEST

START_TEST(unwatched_death_is_told_to_the_next_run)
{
    t_t t;
    t_open(&t);
    side_kill(drv->backend_pid(t.c), false);
    txs_pgtest_run_for(&t.loop, 300); /* notices the EOF, tells nobody */
    ck_assert_int_eq(t_run(&t, "select 1"), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08006");
    t_close(&t);

    t_open(&t);
    side_kill(drv->backend_pid(t.c), false);
    txs_pgtest_run_for(&t.loop, 300);
    drv->watch(t.c, on_watch, &t);
    ck_assert_int_eq(t.watched, 0);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.watched, WAIT_MS));
    ck_assert_int_eq(t.watch_st, TXS_DRV_LOST);
    t_close(&t);
}
END_TEST

static void kill_now(uv_timer_t *timer)
{
    t_t *t = timer->data;
    side_kill(drv->backend_pid(t->c), false);
    uv_close((uv_handle_t *)timer, free_timer);
}

START_TEST(death_during_a_statement_is_lost)
{
    for (int prepared = 0; prepared < 2; prepared++) {
        t_t t;
        t_open(&t);
        drv->watch(t.c, on_watch, &t);
        const char *ten[] = {"10"};
        t_start(&t, prepared ? "select sleep(?)" : "select sleep(10)", prepared, ten);
        after_ms(&t, 200, kill_now);
        ck_assert_int_eq(t_wait(&t), TXS_DRV_LOST);
        ck_assert_str_eq(t.code, "08006");
        ck_assert_msg(strstr(t.message, "Connection was killed") ||
                          strstr(t.message, "Lost connection"),
                      "%s", t.message);
        ck_assert(!t.from_db);
        ck_assert_int_eq(t.watched, 0); /* the run's callback tells it, not the watch */
        ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_UNKNOWN);
        t_close(&t);
    }
}
END_TEST

/* ---- close in every state ---- */

static void never(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)c;
    (void)st;
    (void)arg;
    ck_abort_msg("a callback ran after close()");
}

START_TEST(close_while_connecting)
{
    t_t t;
    t_init(&t);
    ck_assert_int_eq(drv->connect(&t.loop, my_dsn(), 10000, never, &t, &t.c), TXS_OK);
    t_close(&t);

    /* mid-handshake with a server that never answers */
    t_init(&t);
    int port;
    int fd = silent_listener(&port);
    char dsn[128];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@127.0.0.1:%d/txs", port);
    ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, never, &t, &t.c), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    t_close(&t);
    close(fd);

    /* while the host name is being resolved */
    t_init(&t);
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@LocalHost:%s/txs", need_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, never, &t, &t.c), TXS_OK);
    t_close(&t);

    /* with the failure report pending */
    t_init(&t);
    ck_assert_int_eq(drv->connect(&t.loop, "nonsense", 10000, never, &t, &t.c), TXS_OK);
    t_close(&t);
}
END_TEST

START_TEST(close_while_running)
{
    t_t t;
    t_open(&t);
    int lens[1];
    txs_stmt_t s = mkstmt("select sleep(10)", 0, NULL, lens);
    ck_assert_int_eq(drv->run(t.c, &s, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    t_close(&t);

    /* a prepared statement */
    t_open(&t);
    const char *ten[] = {"10"};
    txs_stmt_t p = mkstmt("select sleep(?)", 1, ten, lens);
    ck_assert_int_eq(drv->run(t.c, &p, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    t_close(&t);

    /* with a KILL under way */
    t_open(&t);
    ck_assert_int_eq(drv->run(t.c, &s, never, &t), TXS_OK);
    txs_pgtest_run_for(&t.loop, 100);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    t_close(&t);

    /* with a statement held back behind a KILL */
    t_open(&t);
    txs_stmt_t one = mkstmt("select 1", 0, NULL, lens);
    t.then_sql = "select 2";
    ck_assert_int_eq(drv->run(t.c, &one, on_then, &t), TXS_OK);
    ck_assert_int_eq(drv->cancel(t.c), TXS_OK);
    ck_assert(txs_pgtest_run_until(&t.loop, &t.first_done, WAIT_MS));
    ck_assert_int_eq(t.tx_after_then, TXS_DRV_TX_ACTIVE);
    t.done = 0;
    t_close(&t);
    ck_assert_int_eq(t.done, 0); /* "select 2" never reported */

    /* while a large statement is being sent */
    t_open(&t);
    size_t n = 8 << 20;
    char *big = malloc(n + 1);
    memset(big, 'a', n);
    big[n] = '\0';
    const char *vals[] = {big};
    txs_stmt_t b = mkstmt("select length(?)", 1, vals, lens);
    ck_assert_int_eq(drv->run(t.c, &b, never, &t), TXS_OK);
    free(big);
    t_close(&t);

    /* with the report pending */
    t_open(&t);
    ck_assert_int_eq(drv->run_batch(t.c, &s, 0, never, &t), TXS_OK);
    t_close(&t);
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_runs_in_order_and_encodes_each_result)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_b (id int primary key, v text)");
    int l0[2], l1[1];
    const char *v0[] = {"1", "a"}, *v1[] = {"b"};
    txs_stmt_t s[3] = {mkstmt("insert into mdrv_b values (?, ?)", 2, v0, l0),
                       mkstmt("insert into mdrv_b values (2, ?)", 1, v1, l1),
                       mkstmt("select id, v from mdrv_b order by id", 0, NULL, NULL)};
    t_batch_start(&t, s, 3);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    ck_assert_int_eq(drv->run_batch(t.c, s, 3, on_batch, &t), TXS_ESTATE); /* one at a time */
    ck_assert_int_eq(drv->run(t.c, &s[2], on_op, &t), TXS_ESTATE);
    ck_assert_int_eq(drv->reset(t.c, on_op, &t), TXS_ESTATE);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_OK);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[1,\"a\"],[2,\"b\"]]");
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.neg_rc, TXS_ESTATE);
    ck_assert_uint_eq(t.oob_len, 0);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    /* results are not kept past the callback, and a run() after a batch has index 0 only */
    expect_single(&t, "select count(*) from mdrv_b", "2");
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(drv->encode_result(t.c, 0, &t.out, t.max_len), TXS_ESTATE);

    /* an explicit transaction written into the batch */
    const char *tx[] = {"start transaction", "insert into mdrv_b values (3, 'c')", "commit"};
    ck_assert_int_eq(t_batch(&t, tx, 3), TXS_DRV_OK);
    ck_assert_str_eq(out_str(&t),
                     "\"command\":\"START\",\"rowCount\":0,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"INSERT\",\"rowCount\":1,\"fields\":[],\"rows\":[]\n"
                     "\"command\":\"COMMIT\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from mdrv_b", "3");
    t_close(&t);
}
END_TEST

/* 50 inserts where the 30th repeats a key: the batch stops there. */
static int dup_batch(t_t *t, bool explicit_tx)
{
    enum { N = 50 };
    char sql[N + 2][64];
    const char *sqls[N + 2];
    int n = 0;
    if (explicit_tx)
        snprintf(sql[n++], 64, "start transaction");
    for (int i = 0; i < N; i++)
        snprintf(sql[n++], 64, "insert into mdrv_d values (%d)", i == 29 ? 3 : i);
    if (explicit_tx)
        snprintf(sql[n++], 64, "commit");
    for (int i = 0; i < n; i++)
        sqls[i] = sql[i];
    ck_assert_int_eq(t_batch(t, sqls, n), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t->code, "23000");
    ck_assert_int_eq(t->vendor, 1062);
    ck_assert_str_eq(t->message, "Duplicate entry '3' for key 'PRIMARY'");
    ck_assert(t->from_db);
    ck_assert(t->has_index);
    return t->index;
}

START_TEST(batch_stops_at_the_failing_statement)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_d (id int primary key) engine=innodb");
    /* no implicit transaction on MySQL: the 29 before it stay, the 20 after never ran */
    ck_assert_int_eq(dup_batch(&t, false), 29);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from mdrv_d", "29");
    t_ok(&t, "delete from mdrv_d");

    ck_assert_int_eq(dup_batch(&t, true), 30);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS); /* the caller's to roll back */
    t_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select count(*) from mdrv_d", "0");

    ck_assert_int_eq(t_run(&t, "select nosuch"), TXS_DRV_DB_ERROR);
    ck_assert(!t.has_index); /* run() has no index */
    const char *last[] = {"select 1", "select nosuch"};
    ck_assert_int_eq(t_batch(&t, last, 2), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42S22");
    ck_assert_int_eq(t.index, 1);
    const char *bad[] = {"select 1", "select 1 frm x", "insert into mdrv_d values (100)"};
    ck_assert_int_eq(t_batch(&t, bad, 3), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42000");
    ck_assert_int_eq(t.index, 1);
    expect_single(&t, "select count(*) from mdrv_d", "0");
    /* a prepared statement fails in a batch */
    const char *one[] = {"1"};
    int l1[1];
    txs_stmt_t ps[2] = {mkstmt("select ?", 1, one, l1), mkstmt("select ? + ?", 1, one, l1)};
    t_batch_start(&t, ps, 2);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_int_eq(t.index, 1);
    expect_single(&t, "select 'usable'", "\"usable\"");
    t_close(&t);
}
END_TEST

START_TEST(batch_with_a_nul_byte_sends_nothing)
{
    t_t t;
    t_open(&t);
    t_ok(&t, "create temporary table mdrv_n (x text)");
    const char *vals[] = {"a\0b"}, *ok[] = {"fine"};
    int lens[] = {3}, oklens[] = {4};
    txs_stmt_t s[3] = {{"insert into mdrv_n values (?)", 29, 1, vals, lens, NULL},
                       {"insert into mdrv_n values (?)", 29, 1, ok, oklens, NULL},
                       {"insert into mdrv_n values ('x')", 31, 0, NULL, NULL, NULL}};
    t_batch_start(&t, s, 3);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert(t.has_index);
    ck_assert_int_eq(t.index, 0);
    ck_assert(!t.from_db);
    txs_stmt_t s2[3] = {s[1], s[2], s[0]};
    t_batch_start(&t, s2, 3);
    ck_assert_int_eq(t_wait(&t), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22021");
    ck_assert_int_eq(t.index, 2);
    expect_single(&t, "select count(*) from mdrv_n", "0");
    t_close(&t);
}
END_TEST

START_TEST(empty_batch_is_ok)
{
    t_t t;
    t_open(&t);
    ck_assert_int_eq(t_batch(&t, NULL, 0), TXS_DRV_OK);
    ck_assert_uint_eq(t.out.len, 0);
    ck_assert_int_eq(t.oob_rc, TXS_ESTATE);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drv->run_batch(t.c, NULL, -1, on_batch, &t), TXS_EINVAL);
    expect_single(&t, "select 6", "6");
    t_close(&t);
}
END_TEST

/* ---- identifiers and BEGIN ---- */

START_TEST(quote_ident_round_trips)
{
    t_t t;
    t_open(&t);
    txs_buf_t sql;
    txs_buf_init(&sql);
    txs_buf_puts(&sql, "select 1 as ");
    drv->quote_ident(&sql, "a`b c\"", 6);
    *txs_buf_reserve(&sql, 1) = '\0';
    ck_assert_msg(
        strstr(t_ok(&t, sql.data), "\"fields\":[{\"name\":\"a`b c\\\"\",\"type\":\"int\"}]"), "%s",
        out_str(&t));
    txs_buf_free(&sql);
    t_close(&t);
}
END_TEST

/* Run begin_sql's statements for these options. */
static void t_begin(t_t *t, txs_isolation_t iso, txs_tristate_t ro)
{
    char buf[160];
    txs_stmt_t s[TXS_DRV_BEGIN_MAX];
    int n = drv->begin_sql(iso, ro, TXS_TRUE, buf, sizeof buf, s);
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strlen(buf) < sizeof buf && s[i].sql[s[i].sql_len] == '\0', "%d", i);
    for (int i = 0; i < n; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "%.*s", (int)s[i].sql_len, s[i].sql);
        t_ok(t, sql);
    }
    ck_assert_int_eq(t->tx, TXS_DRV_TX_INTRANS);
}

/* Prove the transaction's isolation level by what it sees of a side connection's work. */
static void expect_level(t_t *t, MYSQL *side, txs_isolation_t iso)
{
    side_exec(side, P("delete from mdrv_i"));
    switch (iso) {
    case TXS_ISO_READ_UNCOMMITTED: /* sees what is not committed */
        side_exec(side, "start transaction");
        side_exec(side, P("insert into mdrv_i values (1)"));
        expect_single(t, P("select count(*) from mdrv_i"), "1");
        side_exec(side, "rollback");
        return;
    case TXS_ISO_READ_COMMITTED:  /* each read sees what is committed by then */
    case TXS_ISO_REPEATABLE_READ: /* the first read's snapshot holds */
        expect_single(t, P("select count(*) from mdrv_i"), "0");
        side_exec(side, P("insert into mdrv_i values (2)"));
        expect_single(t, P("select count(*) from mdrv_i"),
                      iso == TXS_ISO_READ_COMMITTED ? "1" : "0");
        return;
    case TXS_ISO_SERIALIZABLE: { /* a plain read locks what it read */
        expect_single(t, P("select count(*) from mdrv_i"), "0");
        side_exec(side, "set session innodb_lock_wait_timeout = 1");
        ck_assert_int_ne(mysql_query(side, P("insert into mdrv_i values (3)")), 0);
        ck_assert_int_eq(mysql_errno(side), 1205); /* lock wait timeout */
        return;
    }
    default:
        ck_abort_msg("no such level");
    }
}

START_TEST(begin_sql_opens_the_transaction_asked_for)
{
    char buf[160];
    txs_stmt_t s[TXS_DRV_BEGIN_MAX];
    ck_assert_int_eq(drv->begin_sql(TXS_ISO_DEFAULT, TXS_UNSET, TXS_UNSET, buf, sizeof buf, s), 1);
    ck_assert_str_eq(s[0].sql, "START TRANSACTION");
    ck_assert_int_eq(drv->begin_sql(TXS_ISO_READ_COMMITTED, TXS_TRUE, TXS_TRUE, buf, sizeof buf, s),
                     2);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
    ck_assert_str_eq(s[1].sql, "START TRANSACTION READ ONLY"); /* deferrable left out */

    MYSQL *side = side_open();
    side_exec(side, P("drop table if exists mdrv_i"));
    side_exec(side, P("create table mdrv_i (x int) engine=innodb"));
    t_t t;
    t_open(&t);
    t_begin(&t, TXS_ISO_SERIALIZABLE, TXS_UNSET);
    expect_level(&t, side, TXS_ISO_SERIALIZABLE);
    t_ok(&t, "commit");
    t_begin(&t, TXS_ISO_DEFAULT, TXS_UNSET); /* the level was for that transaction only */
    expect_level(&t, side, TXS_ISO_REPEATABLE_READ);
    t_ok(&t, "rollback");
    t_begin(&t, TXS_ISO_READ_UNCOMMITTED, TXS_FALSE);
    expect_level(&t, side, TXS_ISO_READ_UNCOMMITTED);
    t_ok(&t, P("insert into mdrv_i values (1)")); /* READ WRITE */
    t_ok(&t, "rollback");
    t_begin(&t, TXS_ISO_READ_COMMITTED, TXS_TRUE);
    expect_level(&t, side, TXS_ISO_READ_COMMITTED);
    ck_assert_int_eq(t_run(&t, P("insert into mdrv_i values (1)")), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "25006");
    ck_assert_int_eq(t.vendor, 1792);
    t_ok(&t, "rollback");
    t_begin(&t, TXS_ISO_REPEATABLE_READ, TXS_TRUE);
    expect_level(&t, side, TXS_ISO_REPEATABLE_READ);
    t_ok(&t, "rollback");
    t_close(&t);
    side_exec(side, P("drop table mdrv_i"));
    mysql_close(side);
}
END_TEST

/* ---- reset ---- */

START_TEST(reset_rolls_back_or_clears_the_session)
{
    MYSQL *side = side_open();
    side_exec(side, P("drop table if exists mdrv_r"));
    side_exec(side, P("create table mdrv_r (x int) engine=innodb"));
    t_t t;
    t_open(&t);
    txs_drv_status_t st;
    ck_assert_int_eq(t_reset(&t, &st), 1); /* fresh: clean */
    t_ok(&t, "select 1");
    t_ok(&t, "select @never_set");
    ck_assert_int_eq(t_reset(&t, &st), 1); /* still clean */

    /* clean but in a transaction: a rollback, and nothing else */
    t_ok(&t, "select last_insert_id(42)"); /* session state the server does not flag */
    t_ok(&t, "start transaction");
    t_ok(&t, P("insert into mdrv_r values (1)"));
    ck_assert_int_eq(t_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, P("select count(*) from mdrv_r"), "0");
    expect_single(&t, "select last_insert_id()", "42"); /* rolled back, not reset */
    ck_assert_int_eq(t_reset(&t, &st), 1);

    /* a user variable, a temporary table, a session variable, a user lock */
    t_ok(&t, "set @v = 5");
    t_ok(&t, "create temporary table mdrv_tt (x int)");
    t_ok(&t, "set session sql_mode = 'ANSI_QUOTES'");
    t_ok(&t, "set time_zone = '+05:00'");
    t_ok(&t, "set autocommit = 0");
    expect_single(&t, P("select get_lock('mdrv_lock', 0)"), "1");
    char *free_lock = side_value(side, P("select is_free_lock('mdrv_lock')"));
    ck_assert_str_eq(free_lock, "0");
    free(free_lock);
    ck_assert_int_eq(t_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    expect_single(&t, "select @v", "null");
    ck_assert_int_eq(t_run(&t, "select * from mdrv_tt"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42S02");
    expect_single(&t, "select @@session.sql_mode = @@global.sql_mode", "1");
    expect_single(&t, "select @@autocommit", "1");
    expect_single(&t, "select last_insert_id()", "0");
    free_lock = side_value(side, P("select is_free_lock('mdrv_lock')"));
    ck_assert_str_eq(free_lock, "1");
    free(free_lock);
    /* the set-up holds again, and does not count as a change */
    expect_single(&t, "select @@session.time_zone", "\"+00:00\"");
    expect_single(&t, "select @@session.session_track_state_change", "1");
    expect_single(&t, "select @@character_set_client", "\"utf8mb4\"");
    ck_assert_int_eq(t_reset(&t, &st), 1);

    /* changes the server does not flag */
    char unflagged[4][128] = {"select @a := 1", "select 2 into @a"};
    snprintf(unflagged[2], sizeof unflagged[2], "%s", P("call mdrv_noop()"));
    snprintf(unflagged[3], sizeof unflagged[3], "%s", P("lock tables mdrv_r read"));
    t_ok(&t, P("drop procedure if exists mdrv_noop"));
    t_ok(&t, P("create procedure mdrv_noop() begin end"));
    ck_assert_int_eq(t_reset(&t, &st), 1);
    for (int i = 0; i < 4; i++) {
        t_ok(&t, unflagged[i]);
        ck_assert_msg(t_reset(&t, &st) == TXS_OK, "%s", unflagged[i]);
        ck_assert_int_eq(st, TXS_DRV_OK);
        expect_single(&t, "select @a", "null");
        ck_assert_int_eq(t_reset(&t, &st), 1);
    }
    side_exec(side, P("insert into mdrv_r values (7)")); /* the table lock is gone */

    /* dirty and in a transaction: both undone */
    t_ok(&t, "set @w = 1");
    t_ok(&t, "begin");
    t_ok(&t, P("insert into mdrv_r values (2)"));
    ck_assert_int_eq(t_reset(&t, &st), TXS_OK);
    ck_assert_int_eq(st, TXS_DRV_OK);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    expect_single(&t, "select @w", "null");
    expect_single(&t, P("select count(*) from mdrv_r where x = 2"), "0");
    /* a failed statement that flags nothing leaves it clean */
    ck_assert_int_eq(t_run(&t, "select nosuch"), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t_reset(&t, &st), 1);

    /* while something runs: refused */
    t_start(&t, "select sleep(0.2)", 0, NULL);
    ck_assert_int_eq(drv->reset(t.c, on_reset, &t), TXS_ESTATE);
    t_wait(&t);
    t_ok(&t, P("drop procedure mdrv_noop"));
    t_close(&t);
    side_exec(side, P("drop table mdrv_r"));
    mysql_close(side);
}
END_TEST

/* ---- no busy waiting ---- */

static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
           ru.ru_stime.tv_usec / 1e3;
}

START_TEST(waiting_uses_no_cpu)
{
    t_t t;
    t_open(&t);
    drv->watch(t.c, on_watch, &t);
    double c0 = cpu_ms();
    ck_assert_int_eq(t_run(&t, "select sleep(0.5)"), TXS_DRV_OK);
    txs_pgtest_run_for(&t.loop, 500); /* idle, watched */
    double used = cpu_ms() - c0;
    ck_assert_msg(used < 250, "%.0f ms of CPU over 1 s of waiting", used);
    ck_assert_int_eq(t.watched, 0);
    t_close(&t);
}
END_TEST

Suite *suite_mysql_driver(void)
{
    Suite *s = suite_create("mysql_driver");
    TCase *tc = tcase_create("mysql_driver");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connect_ok_sets_session);
    tcase_add_test(tc, connect_through_unix_sockets);
    tcase_add_test(tc, connect_without_password_reads_mysql_pwd);
    tcase_add_test(tc, connect_resolves_host_names);
    tcase_add_test(tc, connect_refused_is_lost_08001);
    tcase_add_test(tc, connect_timeout_is_lost_08001);
    tcase_add_test(tc, connect_bad_dsn_is_lost_08001);
    tcase_add_test(tc, connect_bad_password_is_lost_08001);
    tcase_add_test(tc, column_types_encode_the_same_through_both_protocols);
    tcase_add_test(tc, expression_types_encode_the_same_through_both_protocols);
    tcase_add_test(tc, parameters_bind_by_their_json_kind);
    tcase_add_test(tc, wrong_parameter_counts_are_refused);
    tcase_add_test(tc, large_statement_and_result);
    tcase_add_test(tc, command_row_count_and_last_insert_id);
    tcase_add_test(tc, calls_give_their_first_result_set);
    tcase_add_test(tc, db_errors_carry_their_fields);
    tcase_add_test(tc, multi_statement_is_refused);
    tcase_add_test(tc, nul_bytes_are_refused_before_sending);
    tcase_add_test(tc, tx_status_follows_the_backend);
    tcase_add_test(tc, too_big_result_is_refused_and_cut_back);
    tcase_add_test(tc, cancel_stops_a_running_statement);
    tcase_add_test(tc, cancel_stops_an_op_between_its_steps);
    tcase_add_test(tc, cancel_stops_a_running_batch);
    tcase_add_test(tc, next_statement_waits_for_the_kill);
    tcase_add_test(tc, watch_reports_a_killed_connection);
    tcase_add_test(tc, watch_reports_an_idle_timeout);
    tcase_add_test(tc, unwatched_death_is_told_to_the_next_run);
    tcase_add_test(tc, death_during_a_statement_is_lost);
    tcase_add_test(tc, close_while_connecting);
    tcase_add_test(tc, close_while_running);
    tcase_add_test(tc, batch_runs_in_order_and_encodes_each_result);
    tcase_add_test(tc, batch_stops_at_the_failing_statement);
    tcase_add_test(tc, batch_with_a_nul_byte_sends_nothing);
    tcase_add_test(tc, empty_batch_is_ok);
    tcase_add_test(tc, quote_ident_round_trips);
    tcase_add_test(tc, begin_sql_opens_the_transaction_asked_for);
    tcase_add_test(tc, reset_rolls_back_or_clears_the_session);
    tcase_add_test(tc, waiting_uses_no_cpu);
    suite_add_tcase(s, tc);
    return s;
}
