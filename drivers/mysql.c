/* mysql.c - the MySQL/MariaDB driver: Connector/C's non-blocking API on the caller's uv loop. */

/* What it does beyond driver.h:
 * - The dsn is mysql://user:password@host:port/database?socket=/path or a socket path
 *   (drivers/mysql_dsn.h). A host name that is not an address (nor localhost, MySQL's
 *   name for the default unix socket) is resolved with uv_getaddrinfo; the first address
 *   is used. The connection uses utf8mb4, CLIENT_FOUND_ROWS (UPDATE counts the rows it
 *   matched, as PostgreSQL does), no LOAD DATA LOCAL, no reconnect, no multi-statements.
 *   Right after connecting (and after every reset) one statement pins the session:
 *   session_track_state_change=ON, time_zone='+00:00' (TIMESTAMP values as UTC text).
 * - A statement without parameters goes as text (COM_QUERY: one round trip); one with
 *   parameters is prepared, executed and closed (? placeholders). Both give the same
 *   JSON (drivers/mysql_types.c). A CALL's first result set is its result (the others
 *   are dropped); without one, its final status. An empty statement (blanks and
 *   comments) is OK with command "" without going to the server, as on PostgreSQL.
 * - run_batch() runs its statements one after the other (MySQL has no pipeline).
 * - cancel() sends KILL QUERY from a side connection (drivers/mysql_cancel.c) and again,
 *   less and less often, while the statement runs; an op that reaches its next step
 *   (execute after prepare, the next statement of a batch) after cancel() stops there
 *   with 70100. Nothing else is sent until the KILL is done.
 * - The session is dirty once a user statement came back with
 *   SERVER_SESSION_STATE_CHANGED, or was one of the statements drivers/mysql_text.h
 *   lists; reset() then runs COM_RESET_CONNECTION and the set-up statement again (always
 *   when `full`), else only a rollback when a transaction is open.
 * - ping() sends COM_PING; the server's answer, an error too, means alive. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/log.h"
#include "drivers/mysql_conn.h"
#include "drivers/mysql_text.h"
#include "protocol/errors.h"

#define MY_MAX_PARAMS 65535 /* the protocol counts parameters in 16 bits */

static void on_io(txs_my_io_t *io, int events);
static void on_timer(uv_timer_t *t);
static int start_kill(txs_dconn_t *c);

/* ---- reporting ---- */

static void close_done(txs_dconn_t *c);

/* The connection is unusable (08001 while connecting, else 08006); the error is in
 * c->err. to_watch: the death was seen while idle, so watch's callback hears it. */
void txs_my_conn_lost(txs_dconn_t *c, bool to_watch)
{
    uv_timer_stop(&c->timer);
    txs_my_io_stop(&c->io);
    c->cancel_wanted = false;
    c->state = MY_DEAD;
    txs_drv_cb cb = to_watch ? c->watch_cb : c->op_cb;
    void *arg = to_watch ? c->watch_arg : c->op_arg;
    if (!cb)
        return; /* nobody watches: the next op reports it */
    if (c->in_api && !to_watch) {
        c->state = MY_REPORTING;
        c->deferred = TXS_DRV_LOST;
        uv_timer_start(&c->timer, on_timer, 0, 0);
        return;
    }
    c->lost_reported = true;
    cb(c, TXS_DRV_LOST, arg);
}

static void lost_with(txs_dconn_t *c, const char *code, const char *msg)
{
    txs_my_set_error(c, code, 0, msg, false);
    txs_my_conn_lost(c, false);
}

/* Go idle: the poll waits for readable so that a dying connection is noticed. */
static bool go_idle(txs_dconn_t *c)
{
    if (c->cancel_wanted) {
        c->cancel_wanted = false;
        uv_timer_stop(&c->timer); /* no more asking */
    }
    c->state = MY_IDLE;
    int r = txs_my_io_wait(&c->io, MYSQL_WAIT_READ);
    if (r) {
        txs_my_set_error(c, "08006", 0, uv_strerror(r), false);
        c->state = MY_DEAD;
        c->lost_reported = true;
        return false;
    }
    return true;
}

/* Report `st` to the op's callback on the next loop turn. */
static void defer(txs_dconn_t *c, txs_drv_status_t st)
{
    txs_my_io_stop(&c->io);
    c->state = MY_REPORTING;
    c->deferred = st;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

/* Forget the results once the callback that may encode them has returned. */
static void drop_results(txs_dconn_t *c)
{
    for (int i = 0; i < c->res_cap; i++)
        txs_my_result_clear(&c->results[i]);
    c->have_results = false;
}

/* The op is over: go idle and tell its callback (deferred inside an API call). */
void txs_my_conn_finish(txs_dconn_t *c, txs_drv_status_t st)
{
    if (st == TXS_DRV_LOST) {
        txs_my_conn_lost(c, false);
        return;
    }
    c->have_results = st == TXS_DRV_OK;
    txs_stmt_copy_clear(&c->held); /* no call reads them any more */
    if (c->in_api) {
        defer(c, st);
        return;
    }
    if (!go_idle(c))
        st = TXS_DRV_LOST;
    c->op_cb(c, st, c->op_arg);
    /* encode_result is only valid inside the callback. If the callback started another
     * op or closed c (still allocated until a later turn), that cleared them already. */
    if (c->state == MY_IDLE && c->have_results)
        drop_results(c);
}

static void on_timer(uv_timer_t *t)
{
    txs_dconn_t *c = t->data;
    char msg[96];
    switch (c->state) {
    case MY_RUNNING:
    case MY_QUEUED:
        if (c->op == OP_PING) {
            snprintf(msg, sizeof msg, "no answer to ping within %llu ms",
                     (unsigned long long)c->ping_ms);
            lost_with(c, "08006", msg);
            return;
        }
        if (c->state == MY_QUEUED)
            return;
        /* the statement outlived a delivered KILL: ask again */
        if (c->cancel_wanted && !c->kill && start_kill(c) != TXS_OK)
            txs_log_warn("mysql %lu: could not send a KILL QUERY", mysql_thread_id(c->my));
        return;
    case MY_RESOLVING:
    case MY_CONNECTING:
        snprintf(msg, sizeof msg, "could not connect to server within %llu ms",
                 (unsigned long long)c->timeout_ms);
        lost_with(c, "08001", msg);
        return;
    case MY_REPORTING: {
        txs_drv_status_t st = c->deferred;
        if (st == TXS_DRV_LOST) {
            c->state = MY_DEAD;
            c->lost_reported = true;
        } else if (!go_idle(c)) {
            st = TXS_DRV_LOST;
        }
        c->op_cb(c, st, c->op_arg);
        if (c->state == MY_IDLE && c->have_results)
            drop_results(c);
        return;
    }
    case MY_DEAD:
        /* watch() was set on a connection that had died unobserved */
        if (!c->lost_reported && c->watch_cb) {
            c->lost_reported = true;
            c->watch_cb(c, TXS_DRV_LOST, c->watch_arg);
        }
        return;
    default:
        return;
    }
}

/* ---- the socket ---- */

/* Readable while idle: the server hung up, after an error packet at most (a shutdown, a
 * KILL CONNECTION, wait_timeout). Say why when it said why. */
static void idle_readable(txs_dconn_t *c)
{
    unsigned char buf[512];
    int fd = (int)mysql_get_socket(c->my);
    ssize_t n = -1;
    if (fd >= 0) {
        n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
    }
    char msg[400];
    unsigned vendor = 0;
    if (fd < 0) {
        snprintf(msg, sizeof msg, "the connection has no socket");
    } else if (n >= 7 && buf[4] == 0xff) { /* an error packet: 0xff, errno, #sqlstate, text */
        size_t len = (size_t)buf[0] | (size_t)buf[1] << 8 | (size_t)buf[2] << 16;
        size_t end = 4 + len < (size_t)n ? 4 + len : (size_t)n, at = 7;
        vendor = (unsigned)buf[5] | (unsigned)buf[6] << 8;
        if (end > 7 && buf[7] == '#')
            at = 13;
        snprintf(msg, sizeof msg, "%.*s", end > at ? (int)(end - at) : 0, (const char *)buf + at);
    } else if (n == 0) {
        snprintf(msg, sizeof msg, "the server closed the connection");
    } else if (n < 0) {
        snprintf(msg, sizeof msg, "%s", strerror(errno));
    } else {
        snprintf(msg, sizeof msg, "unexpected data from the server while idle");
    }
    txs_my_set_error(c, "08006", vendor, msg, false);
    txs_my_conn_lost(c, c->state == MY_IDLE); /* a held op's callback hears it, else the watch */
}

static void on_io(txs_my_io_t *io, int events)
{
    txs_dconn_t *c = io->data;
    switch (c->state) {
    case MY_IDLE:
    case MY_QUEUED:
        idle_readable(c);
        return;
    case MY_CONNECTING:
    case MY_RUNNING:
        if (events < 0) {
            txs_my_set_error(c, c->state == MY_CONNECTING ? "08001" : "08006", 0,
                             uv_strerror(events), false);
            txs_my_conn_lost(c, false);
            return;
        }
        if (c->state == MY_CONNECTING)
            txs_my_io_stop(io); /* connecting may close the socket and open another */
        txs_my_run_drive(c, txs_my_run_cont(c, events));
        return;
    default:
        txs_my_io_stop(io); /* nothing to wait for */
        return;
    }
}

/* ---- connect ---- */

/* The OS user's name, the user of a dsn that names none (as the mysql client does). */
static void os_user(char *out, size_t len)
{
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, len, "%s", res->pw_name);
    else
        snprintf(out, len, "%s", getenv("USER") ? getenv("USER") : "");
}

static void start_connect(txs_dconn_t *c)
{
    c->state = MY_CONNECTING;
    c->call = CALL_CONNECT;
    const char *user = c->dsn.user ? c->dsn.user : c->os_user;
    txs_my_run_drive(c, mysql_real_connect_start(&c->ret_my, c->my, c->addr[0] ? c->addr : NULL,
                                                 user, c->dsn.password, c->dsn.db, c->dsn.port,
                                                 c->dsn.socket, CLIENT_FOUND_ROWS));
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    txs_dconn_t *c = req->data;
    c->gai_busy = false;
    if (c->state == MY_CLOSING) {
        uv_freeaddrinfo(res);
        close_done(c);
        return;
    }
    if (c->state != MY_RESOLVING) { /* timed out meanwhile */
        uv_freeaddrinfo(res);
        return;
    }
    int r = status;
    if (r == 0 && res->ai_family == AF_INET6)
        r = uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, c->addr, sizeof c->addr);
    else if (r == 0)
        r = uv_ip4_name((const struct sockaddr_in *)res->ai_addr, c->addr, sizeof c->addr);
    uv_freeaddrinfo(res);
    if (r) {
        char msg[300];
        snprintf(msg, sizeof msg, "could not resolve host \"%s\": %s", c->dsn.host, uv_strerror(r));
        lost_with(c, "08001", msg);
        return;
    }
    start_connect(c);
}

static bool is_address(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return uv_inet_pton(AF_INET, host, buf) == 0 || uv_inet_pton(AF_INET6, host, buf) == 0;
}

static int my_connect(uv_loop_t *loop, const char *dsn, uint64_t timeout_ms, txs_drv_cb cb,
                      void *arg, txs_dconn_t **out)
{
    txs_my_library_init();
    txs_dconn_t *c = txs_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->state = MY_CONNECTING;
    c->op = OP_CONNECT;
    c->timeout_ms = timeout_ms;
    c->op_cb = cb;
    c->op_arg = arg;
    uv_timer_init(loop, &c->timer); /* cannot fail on unix */
    c->timer.data = c;
    c->my = mysql_init(NULL);
    if (!c->my) {
        fprintf(stderr, "txscope: out of memory starting a MySQL connection\n");
        abort();
    }
    txs_my_io_init(&c->io, loop, c->my, on_io, c);
    *out = c;
    c->in_api = true;

    char err[256];
    if (txs_mysql_dsn_parse(dsn, &c->dsn, err, sizeof err) < 0) {
        txs_my_set_error(c, "08001", 0, err, false);
        defer(c, TXS_DRV_LOST);
        c->in_api = false;
        return TXS_OK;
    }
    my_bool off = 0;
    unsigned int no = 0;
    mysql_options(c->my, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->my, MYSQL_OPT_RECONNECT, &off);   /* a silent reconnect loses state */
    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &no); /* no reading the daemon's files */
    if (!c->dsn.user)
        os_user(c->os_user, sizeof c->os_user);
    if (timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, timeout_ms, 0);

    const char *host = c->dsn.host;
    if (host)
        snprintf(c->addr, sizeof c->addr, "%s", host);
    if (!host || c->dsn.socket || strcmp(host, "localhost") == 0 || is_address(host)) {
        if (host && strlen(host) >= sizeof c->addr) {
            txs_my_set_error(c, "08001", 0, "host name too long", false);
            defer(c, TXS_DRV_LOST);
        } else {
            start_connect(c);
        }
    } else {
        /* the library would resolve it, blocking the loop */
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        c->state = MY_RESOLVING;
        c->gai.data = c;
        c->addr[0] = '\0';
        int r = uv_getaddrinfo(loop, &c->gai, on_resolved, host, NULL, &hints);
        if (r) {
            txs_my_set_error(c, "08001", 0, uv_strerror(r), false);
            defer(c, TXS_DRV_LOST);
        } else {
            c->gai_busy = true;
        }
    }
    c->in_api = false;
    return TXS_OK;
}

/* ---- ops ---- */

/* Why the statement cannot be sent as it is, or NULL (as drivers/pg.c answers). */
static const char *check_stmt(const txs_stmt_t *s, const char **code)
{
    *code = "22021";
    if (memchr(s->sql, '\0', s->sql_len))
        return "invalid byte sequence for encoding \"UTF8\": 0x00";
    if (s->nparams < 0 || s->nparams > MY_MAX_PARAMS) {
        *code = "54023";
        return "too many parameters: at most 65535";
    }
    for (int i = 0; s->lengths && i < s->nparams; i++)
        if (s->values[i] && memchr(s->values[i], '\0', (size_t)s->lengths[i]))
            return "invalid byte sequence for encoding \"UTF8\": 0x00";
    return NULL;
}

/* The start of every op: false when it ends here, with *rc to return (and cb due on the
 * next turn if *rc is TXS_OK). */
static bool begin_op(txs_dconn_t *c, my_op_t op, txs_drv_cb cb, void *arg, int *rc)
{
    *rc = TXS_OK;
    if (c->state == MY_DEAD) {
        if (c->lost_reported) {
            *rc = TXS_ELOST;
            return false;
        }
        c->op_cb = cb; /* it died while idle and unwatched: say so now, through cb */
        c->op_arg = arg;
        defer(c, TXS_DRV_LOST);
        return false;
    }
    if (c->state != MY_IDLE) {
        *rc = TXS_ESTATE;
        return false;
    }
    drop_results(c);
    memset(&c->err, 0, sizeof c->err);
    c->op = op;
    c->op_cb = cb;
    c->op_arg = arg;
    c->cur = 0;
    c->n = 0;
    c->failed = false;
    return true;
}

/* Start the op set up by begin_op, or hold it while a KILL is under way: a late KILL
 * must not hit it. */
static void start_op(txs_dconn_t *c)
{
    if (c->kill) {
        c->state = MY_QUEUED;
        return;
    }
    c->state = MY_RUNNING;
    txs_my_run_drive(c, txs_my_run_start(c));
}

static int start_stmts(txs_dconn_t *c, my_op_t op, const txs_stmt_t *stmts, int n, txs_drv_cb cb,
                       void *arg)
{
    int rc;
    if (!begin_op(c, op, cb, arg, &rc))
        return rc;
    c->in_api = true;
    for (int k = 0; k < n; k++) {
        const char *code, *why = check_stmt(&stmts[k], &code);
        if (why) {
            txs_my_set_error(c, code, 0, why, false);
            if (op == OP_BATCH) {
                c->err.has_index = true;
                c->err.index = k;
            }
            defer(c, TXS_DRV_DB_ERROR);
            c->in_api = false;
            return TXS_OK;
        }
    }
    if (n > c->res_cap) {
        c->results = txs_xrealloc(c->results, (size_t)n * sizeof *c->results);
        memset(c->results + c->res_cap, 0, (size_t)(n - c->res_cap) * sizeof *c->results);
        c->res_cap = n;
    }
    c->n = n;
    if (n == 0) {
        c->have_results = true;
        defer(c, TXS_DRV_OK); /* nothing to run; encode_result has no index */
    } else {
        txs_stmt_copy_keep(&c->held, stmts, n);
        start_op(c);
    }
    c->in_api = false;
    return TXS_OK;
}

static int my_run(txs_dconn_t *c, const txs_stmt_t *stmt, txs_drv_cb cb, void *arg)
{
    return start_stmts(c, OP_RUN, stmt, 1, cb, arg);
}

static int my_run_batch(txs_dconn_t *c, const txs_stmt_t *stmts, int n, txs_drv_cb cb, void *arg)
{
    if (n < 0 || (n > 0 && !stmts))
        return TXS_EINVAL;
    return start_stmts(c, OP_BATCH, stmts, n, cb, arg);
}

/* Whether the session's default database is still the dsn's: mysql_reset_connection
 * keeps whatever a USE chose (Connector/C follows it through session tracking). */
static bool db_is_the_dsns(const txs_dconn_t *c)
{
    const char *now = c->my->db, *want = c->dsn.db;
    if (!now || !*now)
        return !want || !*want;
    return want && strcmp(now, want) == 0;
}

static int my_reset(txs_dconn_t *c, bool full, txs_drv_cb cb, void *arg)
{
    if (c->state == MY_IDLE && !db_is_the_dsns(c))
        return TXS_ESTATE; /* another database: close it rather than switch back */
    if (c->state == MY_IDLE && !full && !c->dirty && !c->tx_pending &&
        !(c->my->server_status & SERVER_STATUS_IN_TRANS))
        return 1;
    int rc;
    if (!begin_op(c, OP_RESET, cb, arg, &rc))
        return rc;
    c->reset_full = full;
    c->in_api = true;
    start_op(c);
    c->in_api = false;
    return TXS_OK;
}

/* COM_PING. The deadline runs from here, a KILL under way included (the ping waits for
 * it, as every op does). */
static int my_ping(txs_dconn_t *c, uint64_t timeout_ms, txs_drv_cb cb, void *arg)
{
    int rc;
    if (!begin_op(c, OP_PING, cb, arg, &rc))
        return rc;
    c->ping_ms = timeout_ms;
    c->in_api = true;
    if (timeout_ms > 0)
        uv_timer_start(&c->timer, on_timer, timeout_ms, 0); /* before: a report replaces it */
    start_op(c);
    c->in_api = false;
    return TXS_OK;
}

/* ---- cancel ---- */

static void on_kill_done(void *arg, bool ok, const char *message)
{
    txs_dconn_t *c = arg;
    c->kill = NULL;
    if (!ok)
        txs_log_debug("mysql %lu: KILL QUERY failed: %s", mysql_thread_id(c->my), message);
    if (c->state == MY_RUNNING && c->cancel_wanted) {
        /* Still running: a statement still being read when the KILL came may have missed
         * it. Ask again unless it ends first; nothing else is sent meanwhile. */
        uv_timer_start(&c->timer, on_timer, c->kill_retry_ms, 0);
        if (c->kill_retry_ms < 2000)
            c->kill_retry_ms *= 2;
        return;
    }
    if (c->state != MY_QUEUED)
        return;
    if (!ok) {
        /* The KILL may still reach the server (its deadline can pass after it was sent)
         * and would hit what runs next: this connection is not used again. */
        lost_with(c, "08006", "could not confirm the KILL QUERY of the statement before");
        return;
    }
    bool again = c->cancel_again;
    c->cancel_again = false;
    start_op(c);
    if (again && c->state == MY_RUNNING && (c->op == OP_RUN || c->op == OP_BATCH)) {
        c->cancel_wanted = true;
        c->kill_retry_ms = 250;
        if (start_kill(c) != TXS_OK)
            txs_log_warn("mysql %lu: could not send a KILL QUERY", mysql_thread_id(c->my));
    }
}

static int start_kill(txs_dconn_t *c)
{
    txs_my_target_t to = {
        .host = c->addr[0] ? c->addr : NULL,
        .socket = c->dsn.socket,
        .port = c->dsn.port,
        .user = c->dsn.user ? c->dsn.user : c->os_user,
        .password = c->dsn.password,
    };
    c->kill =
        txs_my_kill_start(c->loop, &to, mysql_thread_id(c->my), c->timeout_ms, on_kill_done, c);
    return TXS_OK;
}

static int my_cancel(txs_dconn_t *c)
{
    if (c->state == MY_QUEUED) {
        if (c->op == OP_RUN || c->op == OP_BATCH)
            c->cancel_again = true; /* cancel it once it is sent */
        return TXS_OK;
    }
    if (c->state != MY_RUNNING || (c->op != OP_RUN && c->op != OP_BATCH) || c->cancel_wanted)
        return TXS_OK; /* nothing runs, or it is being cancelled already */
    c->cancel_wanted = true;
    c->kill_retry_ms = 250;
    if (c->kill)
        return TXS_OK; /* asked again when the KILL under way is done */
    return start_kill(c);
}

/* ---- the rest of the vtable ---- */

static int my_encode_result(txs_dconn_t *c, int index, txs_buf_t *out, size_t max_len)
{
    if (c->state != MY_IDLE || !c->have_results || index < 0 || index >= c->n)
        return TXS_ESTATE;
    return txs_my_result_encode(&c->results[index], &c->scratch, out, max_len);
}

static void my_last_error(txs_dconn_t *c, txs_error_info_t *out)
{
    *out = c->err;
}

static txs_drv_txstatus_t my_tx_status(txs_dconn_t *c)
{
    switch (c->state) {
    case MY_IDLE:
        return c->my->server_status & SERVER_STATUS_IN_TRANS ? TXS_DRV_TX_INTRANS : TXS_DRV_TX_IDLE;
    case MY_RUNNING:
    case MY_QUEUED:
    case MY_REPORTING:
        return TXS_DRV_TX_ACTIVE;
    default:
        return TXS_DRV_TX_UNKNOWN;
    }
}

static void my_watch(txs_dconn_t *c, txs_drv_cb cb, void *arg)
{
    c->watch_cb = cb;
    c->watch_arg = arg;
    if (cb && c->state == MY_DEAD && !c->lost_reported)
        uv_timer_start(&c->timer, on_timer, 0, 0); /* it died before anyone watched */
}

static void close_done(txs_dconn_t *c)
{
    if (--c->pending > 0)
        return;
    txs_drv_closed_cb cb = c->closed_cb;
    void *arg = c->closed_arg;
    free(c);
    if (cb)
        cb(arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    close_done(h->data);
}

static void on_io_closed(txs_my_io_t *io)
{
    close_done(io->data);
}

static void my_close(txs_dconn_t *c, txs_drv_closed_cb closed_cb, void *arg)
{
    if (c->state == MY_CLOSING)
        return;
    c->state = MY_CLOSING;
    c->closed_cb = closed_cb;
    c->closed_arg = arg;
    c->op_cb = NULL;
    c->watch_cb = NULL;

    c->pending = 2;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    txs_my_io_close(&c->io, on_io_closed); /* the poll stops before the socket closes */
    if (c->gai_busy) {
        c->pending++; /* on_resolved finishes it */
        uv_cancel((uv_req_t *)&c->gai);
    }
    if (c->kill)
        txs_my_kill_abort(c->kill);
    c->kill = NULL;

    /* Hang up without waiting: end a suspended call, then COM_QUIT if the socket takes
     * it at once. */
    txs_my_run_abort(c);
    if (c->stmt)
        mysql_stmt_close(c->stmt); /* the connection is gone: no I/O */
    c->stmt = NULL;
    drop_results(c);
    int st = mysql_close_start(c->my);
    for (int i = 0; st != 0 && i < 100; i++)
        st = mysql_close_cont(c->my, MYSQL_WAIT_TIMEOUT);
    c->my = NULL;

    for (int i = 0; i < c->res_cap; i++)
        txs_my_result_free(&c->results[i]);
    free(c->results);
    c->results = NULL;
    c->res_cap = 0;
    free(c->params);
    free(c->nums);
    free(c->plens);
    txs_buf_free(&c->scratch);
    txs_stmt_copy_free(&c->held);
    txs_mysql_dsn_free(&c->dsn);
    txs_my_result_free(&c->own);
}

static int my_backend_pid(txs_dconn_t *c)
{
    return c->my ? (int)mysql_thread_id(c->my) : 0; /* 0 until the server said it */
}

const txs_driver_t txs_driver_mysql = {
    .name = "mysql",
    .features = 0,
    .connect = my_connect,
    .run = my_run,
    .run_batch = my_run_batch,
    .encode_result = my_encode_result,
    .quote_ident = txs_mysql_quote_ident,
    .begin_sql = txs_mysql_begin_sql,
    .reset = my_reset,
    .ping = my_ping,
    .last_error = my_last_error,
    .cancel = my_cancel,
    .tx_status = my_tx_status,
    .watch = my_watch,
    .close = my_close,
    .backend_pid = my_backend_pid,
};
