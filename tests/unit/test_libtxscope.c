/* test_libtxscope.c - libtxscope's framing, ids, stash and errors, against a fake daemon
 * on a unix socket (the library's .c files are compiled in here). */
#include <check.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clients/c/libtxscope/calls.c"
#include "clients/c/libtxscope/conn.c"
#include "clients/c/libtxscope/json.c"

Suite *suite_libtxscope(void);

static char dir[64];
static char path[96];
static int listener = -1;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/txs-libtest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sock", dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(listener, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(listener, 8), 0);
}

static void teardown(void)
{
    close(listener);
    unlink(path);
    rmdir(dir);
}

/* Connects a client and returns it, with the daemon's end of the socket in *server. */
static txscope_conn_t *connect_pair(int *server)
{
    char err[256] = "";
    txscope_conn_t *c = txscope_connect(path, 1000, err, sizeof err);
    ck_assert_msg(c != NULL, "connect: %s", err);
    *server = accept(listener, NULL, NULL);
    ck_assert_int_ge(*server, 0);
    return c;
}

static void srv_write(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        ck_assert_int_gt(w, 0);
        s += w;
        n -= (size_t)w;
    }
}

/* One line from the client, without its '\n' (static buffer). */
static const char *srv_read_line(int fd)
{
    static char line[65536];
    size_t n = 0;
    for (;;) {
        char ch;
        ck_assert_int_eq(read(fd, &ch, 1), 1);
        if (ch == '\n')
            break;
        ck_assert_uint_lt(n, sizeof line - 1);
        line[n++] = ch;
    }
    line[n] = '\0';
    return line;
}

static int64_t reply_id(const cJSON *r)
{
    int64_t id = -99;
    ck_assert_ptr_nonnull(r);
    ck_assert(txscope_get_int64(cJSON_GetObjectItem(r, "id"), &id));
    return id;
}

START_TEST(test_send_adds_ids)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    int64_t id = 0;
    cJSON *req = cJSON_Parse("{\"op\":\"ping\"}");
    ck_assert_int_eq(txscope_send(c, req, &id), 0);
    ck_assert_int_eq(id, 1);
    ck_assert_str_eq(srv_read_line(srv), "{\"op\":\"ping\",\"id\":1}");
    cJSON_Delete(req);

    req = cJSON_Parse("{\"op\":\"ping\",\"id\":10}");
    ck_assert_int_eq(txscope_send(c, req, &id), 0);
    ck_assert_int_eq(id, 10);
    ck_assert_str_eq(srv_read_line(srv), "{\"op\":\"ping\",\"id\":10}");
    cJSON_Delete(req);

    /* The counter skips past ids the caller chose. */
    req = cJSON_Parse("{\"op\":\"ping\"}");
    ck_assert_int_eq(txscope_send(c, req, &id), 0);
    ck_assert_int_eq(id, 11);
    ck_assert_str_eq(srv_read_line(srv), "{\"op\":\"ping\",\"id\":11}");
    cJSON_Delete(req);

    req = cJSON_Parse("{\"op\":\"ping\",\"id\":\"abc\"}");
    ck_assert_int_eq(txscope_send(c, req, &id), 0);
    ck_assert_int_eq(id, -1);
    ck_assert_str_eq(srv_read_line(srv), "{\"op\":\"ping\",\"id\":\"abc\"}");
    cJSON_Delete(req);

    ck_assert_int_eq(txscope_send_raw(c, "{not json\n", 10), 0);
    ck_assert_str_eq(srv_read_line(srv), "{not json");

    req = cJSON_CreateArray();
    ck_assert_int_eq(txscope_send(c, req, &id), TXSCOPE_EINVAL);
    cJSON_Delete(req);
    txscope_close(c);
    close(srv);
}
END_TEST

START_TEST(test_recv_lines_and_reply_helpers)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "{\"id\":1,\"ok\":true,\"tx\":{\"state\":\"open\",\"depth\":1}}\r\n"
                   "{\"id\":2,\"ok\":false,\"error\":{\"code\":\"25P02\",\"message\":\"roll back "
                   "first\"},\"tx\":{\"state\":\"failed\",\"depth\":2}}\n");
    cJSON *r = txscope_recv(c, 1000);
    ck_assert_int_eq(reply_id(r), 1);
    ck_assert(txscope_reply_ok(r));
    ck_assert_ptr_null(txscope_reply_code(r));
    ck_assert_str_eq(txscope_reply_tx_state(r), "open");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 1);
    ck_assert_str_eq(txscope_last_line(c),
                     "{\"id\":1,\"ok\":true,\"tx\":{\"state\":\"open\",\"depth\":1}}");
    cJSON_Delete(r);
    r = txscope_recv(c, 1000);
    ck_assert_int_eq(reply_id(r), 2);
    ck_assert(!txscope_reply_ok(r));
    ck_assert_str_eq(txscope_reply_code(r), "25P02");
    ck_assert_str_eq(txscope_reply_message(r), "roll back first");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 2);
    cJSON_Delete(r);
    /* Nothing more: a timeout, and the connection is still fine. */
    ck_assert_ptr_null(txscope_recv(c, 0));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_ETIMEDOUT);
    ck_assert(!txscope_eof(c));
    r = cJSON_Parse("{\"ok\":1}");
    ck_assert(!txscope_reply_ok(r));
    ck_assert_ptr_null(txscope_reply_tx_state(r));
    ck_assert_int_eq(txscope_reply_tx_depth(r), -1);
    cJSON_Delete(r);
    txscope_close(c);
    close(srv);
}
END_TEST

START_TEST(test_partial_line_waits_for_the_rest)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "{\"id\":7,");
    ck_assert_ptr_null(txscope_recv(c, 50));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_ETIMEDOUT);
    srv_write(srv, "\"ok\":true}\n");
    cJSON *r = txscope_recv(c, 1000);
    ck_assert_int_eq(reply_id(r), 7);
    cJSON_Delete(r);
    txscope_close(c);
    close(srv);
}
END_TEST

START_TEST(test_wait_stashes_other_replies)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "{\"id\":3,\"ok\":true}\n{\"ok\":false}\n{\"id\":2,\"ok\":true}\n"
                   "{\"id\":1,\"ok\":true}\n");
    cJSON *r = txscope_wait(c, 1, 1000);
    ck_assert_int_eq(reply_id(r), 1);
    cJSON_Delete(r);
    r = txscope_wait(c, 2, 0); /* already stashed: no waiting needed */
    ck_assert_int_eq(reply_id(r), 2);
    ck_assert_str_eq(txscope_last_line(c), "{\"id\":2,\"ok\":true}");
    cJSON_Delete(r);
    r = txscope_recv(c, 0); /* the rest, in the order they came */
    ck_assert_int_eq(reply_id(r), 3);
    cJSON_Delete(r);
    r = txscope_recv(c, 0);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(cJSON_GetObjectItem(r, "id"));
    cJSON_Delete(r);
    ck_assert_ptr_null(txscope_wait(c, 4, 30));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_ETIMEDOUT);
    /* A stashed reply is freed with the connection. */
    srv_write(srv, "{\"id\":5}\n{\"id\":6}\n");
    r = txscope_wait(c, 6, 1000);
    ck_assert_int_eq(reply_id(r), 6);
    cJSON_Delete(r);
    txscope_close(c);
    close(srv);
}
END_TEST

START_TEST(test_lines_that_are_not_objects)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "not json\n[1]\n{\"id\":1} trailing\n\n{\"id\":1}\n");
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_null(txscope_recv(c, 1000));
        ck_assert_int_eq(txscope_last_error(c), TXSCOPE_EPROTO);
    }
    cJSON *r = txscope_recv(c, 1000);
    ck_assert_int_eq(reply_id(r), 1);
    cJSON_Delete(r);
    txscope_close(c);
    close(srv);
}
END_TEST

START_TEST(test_split_address)
{
    char host[64], port[8];
    ck_assert(txscope_split_address("10.0.0.5:7433", "7432", host, sizeof host, port, sizeof port));
    ck_assert_str_eq(host, "10.0.0.5");
    ck_assert_str_eq(port, "7433");
    ck_assert(txscope_split_address("[::1]", "7433", host, sizeof host, port, sizeof port));
    ck_assert_str_eq(host, "::1");
    ck_assert_str_eq(port, "7433"); /* the caller's default */
    ck_assert(txscope_split_address("db.local", "7432", host, sizeof host, port, sizeof port));
    ck_assert_str_eq(host, "db.local");
    ck_assert_str_eq(port, "7432");
    ck_assert(!txscope_split_address("h:0", "7432", host, sizeof host, port, sizeof port));
    ck_assert(!txscope_split_address("h:70000", "7432", host, sizeof host, port, sizeof port));
    ck_assert(!txscope_split_address("[::1", "7432", host, sizeof host, port, sizeof port));
    ck_assert(!txscope_split_address(":7432", "7432", host, sizeof host, port, sizeof port));
}
END_TEST

START_TEST(test_eof)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "{\"id\":1}\n{\"id\":");
    close(srv);
    cJSON *r = txscope_recv(c, 1000);
    ck_assert_int_eq(reply_id(r), 1);
    cJSON_Delete(r);
    ck_assert_ptr_null(txscope_recv(c, 1000));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_EEOF);
    ck_assert(txscope_eof(c));
    ck_assert_ptr_nonnull(strstr(txscope_errmsg(c), "middle of a line"));
    ck_assert_ptr_null(txscope_recv(c, 1000));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_EEOF);
    /* Writing to a closed daemon fails without SIGPIPE. */
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++)
        rc = txscope_send_raw(c, "{\"op\":\"ping\"}\n", 14);
    ck_assert_int_eq(rc, TXSCOPE_EEOF);
    txscope_close(c);
}
END_TEST

START_TEST(test_exact_numbers)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    srv_write(srv, "{\"id\":9007199254740993,\"rows\":[[9223372036854775807,"
                   "-9223372036854775808,1.5,\"9\",1e2,9223372036854775808]]}\n");
    cJSON *r = txscope_wait(c, 9007199254740993LL, 1000);
    ck_assert_ptr_nonnull(r);
    cJSON *row = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "rows"), 0);
    int64_t v;
    ck_assert(txscope_get_int64(cJSON_GetArrayItem(row, 0), &v));
    ck_assert(v == INT64_MAX);
    ck_assert(txscope_get_int64(cJSON_GetArrayItem(row, 1), &v));
    ck_assert(v == INT64_MIN);
    ck_assert(!txscope_get_int64(cJSON_GetArrayItem(row, 2), &v));
    ck_assert(!txscope_get_int64(cJSON_GetArrayItem(row, 3), &v));
    ck_assert(txscope_get_int64(cJSON_GetArrayItem(row, 4), &v));
    ck_assert(v == 100);
    ck_assert(!txscope_get_int64(cJSON_GetArrayItem(row, 5), &v));
    ck_assert_str_eq(cJSON_GetArrayItem(row, 0)->valuestring, "9223372036854775807");
    cJSON_Delete(r);

    /* Parameters keep their digits on the way out, too. */
    srv_write(srv, "{\"id\":1,\"ok\":true}\n");
    r = txscope_query(c, "a", "select $1, $2", "[9007199254740993, 1e2, \"x\"]", 1000);
    ck_assert_ptr_nonnull(r);
    cJSON_Delete(r);
    ck_assert_str_eq(srv_read_line(srv), "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select $1, "
                                         "$2\",\"params\":[9007199254740993,1e2,\"x\"],"
                                         "\"id\":1}");
    ck_assert_ptr_null(txscope_query(c, "a", "select 1", "{\"not\":\"an array\"}", 1000));
    ck_assert_int_eq(txscope_last_error(c), TXSCOPE_EINVAL);
    txscope_close(c);
    close(srv);
}
END_TEST

/* A fake daemon in a child process: echoes each request's id, refuses hello unless the
 * token is "secret" and refuses ops named "bad". */
static void fake_daemon(int srv)
{
    FILE *in = fdopen(srv, "r");
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        cJSON *req = cJSON_Parse(line);
        const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
        const char *token = cJSON_GetStringValue(cJSON_GetObjectItem(req, "token"));
        bool ok = op != NULL && strcmp(op, "bad") != 0 &&
                  (strcmp(op, "hello") != 0 || (token != NULL && strcmp(token, "secret") == 0));
        cJSON *reply = cJSON_CreateObject();
        cJSON *id = cJSON_GetObjectItem(req, "id");
        if (id != NULL)
            cJSON_AddItemToObject(reply, "id", cJSON_Duplicate(id, 1));
        cJSON_AddBoolToObject(reply, "ok", ok);
        if (!ok) {
            cJSON *e = cJSON_AddObjectToObject(reply, "error");
            cJSON_AddStringToObject(e, "code", "28000");
            cJSON_AddStringToObject(e, "message", "no entry");
        }
        if (cJSON_GetObjectItem(req, "ctx") != NULL)
            cJSON_AddItemToObject(reply, "op", cJSON_CreateString(op));
        char *text = cJSON_PrintUnformatted(reply);
        dprintf(srv, "%s\n", text);
        free(text);
        cJSON_Delete(reply);
        cJSON_Delete(req);
    }
    _exit(0);
}

START_TEST(test_calls_against_a_fake_daemon)
{
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(txscope_fd(c)); /* or the daemon's end never sees the client go */
        fake_daemon(srv);
    }
    close(srv);
    ck_assert_int_eq(txscope_ping(c, 2000), 0);
    ck_assert_int_eq(txscope_hello(c, "wrong", 2000), TXSCOPE_EREPLY);
    ck_assert_str_eq(txscope_errmsg(c), "28000 no entry");
    ck_assert_int_eq(txscope_hello(c, "secret", 2000), 0);
    ck_assert_str_eq(txscope_errmsg(c), "");
    cJSON *r = txscope_op(c, "ctx-1", "commit", 2000);
    ck_assert(txscope_reply_ok(r));
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "op")), "commit");
    cJSON_Delete(r);
    r = txscope_op(c, "ctx-1", "bad", 2000);
    ck_assert(!txscope_reply_ok(r));
    cJSON_Delete(r);
    /* A string id is matched as a string. */
    cJSON *req = cJSON_Parse("{\"op\":\"status\",\"ctx\":\"x\",\"id\":\"req-1\"}");
    r = txscope_call(c, req, 2000);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(r, "id")), "req-1");
    cJSON_Delete(r);
    cJSON_Delete(req);
    /* Pipelined: replies are matched by id whatever order they are waited for. */
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        req = cJSON_Parse("{\"op\":\"status\",\"ctx\":\"p\"}");
        ck_assert_int_eq(txscope_send(c, req, &ids[i]), 0);
        cJSON_Delete(req);
    }
    for (int i = 2; i >= 0; i--) {
        r = txscope_wait(c, ids[i], 2000);
        ck_assert_int_eq(reply_id(r), ids[i]);
        cJSON_Delete(r);
    }
    txscope_close(c);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_deep_pipeline_does_not_deadlock)
{
    /* The daemon writes a flood of replies before it reads anything, while the client
     * writes a flood of requests: the client must read while it writes. */
    enum { N = 30000 };
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(txscope_fd(c));
        char reply[64];
        for (int i = 1; i <= N; i++) {
            int n = snprintf(reply, sizeof reply, "{\"id\":%d,\"ok\":true}\n", i);
            for (int off = 0; off < n;) {
                ssize_t w = write(srv, reply + off, (size_t)(n - off));
                if (w <= 0)
                    _exit(1);
                off += (int)w;
            }
        }
        char buf[65536];
        while (read(srv, buf, sizeof buf) > 0)
            ;
        _exit(0);
    }
    close(srv);
    char sql[200];
    memset(sql, 'x', sizeof sql - 1);
    sql[sizeof sql - 1] = '\0';
    for (int i = 1; i <= N; i++) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "op", "query");
        cJSON_AddStringToObject(req, "ctx", "p");
        cJSON_AddStringToObject(req, "sql", sql);
        ck_assert_int_eq(txscope_send(c, req, NULL), 0);
        cJSON_Delete(req);
    }
    for (int i = 1; i <= N; i++) {
        cJSON *r = txscope_recv(c, 2000);
        ck_assert_int_eq(reply_id(r), i);
        cJSON_Delete(r);
    }
    txscope_close(c);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_long_line)
{
    enum { LEN = 3 * 1024 * 1024 };
    int srv;
    txscope_conn_t *c = connect_pair(&srv);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char *big = malloc(LEN + 64);
        int n = sprintf(big, "{\"id\":1,\"v\":\"");
        memset(big + n, 'y', LEN);
        strcpy(big + n + LEN, "\"}\n");
        size_t len = strlen(big);
        for (size_t off = 0; off < len;) {
            ssize_t w = write(srv, big + off, len - off);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(srv);
    cJSON *r = txscope_recv(c, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(r, "v"))), LEN);
    cJSON_Delete(r);
    txscope_close(c);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_connect_errors)
{
    char err[256];
    const char *bad[] = {"localhost:notaport", "[::1", "[::1]x", "127.0.0.1:0",
                         "127.0.0.1:70000",    ":7432"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_ptr_null(txscope_connect(bad[i], 100, err, sizeof err));
        ck_assert_msg(strstr(err, "bad address") != NULL, "%s: %s", bad[i], err);
    }
    char missing[200];
    snprintf(missing, sizeof missing, "%s/nobody-here", dir);
    ck_assert_ptr_null(txscope_connect(missing, 100, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "nobody-here"));
    ck_assert_ptr_null(txscope_connect(missing, 100, NULL, 0)); /* err is optional */
}
END_TEST

START_TEST(test_tcp_connect_sets_nodelay)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    char addr[64], err[256] = "";
    snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    txscope_conn_t *c = txscope_connect(addr, 1000, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    int one = 0;
    len = sizeof one;
    ck_assert_int_eq(getsockopt(txscope_fd(c), IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
    ck_assert_int_eq(one, 1);
    txscope_close(c);
    close(l);
    /* Nobody listens there any more. */
    ck_assert_ptr_null(txscope_connect(addr, 1000, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "could not connect"));
}
END_TEST

Suite *suite_libtxscope(void)
{
    Suite *s = suite_create("libtxscope");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_send_adds_ids);
    tcase_add_test(tc, test_recv_lines_and_reply_helpers);
    tcase_add_test(tc, test_partial_line_waits_for_the_rest);
    tcase_add_test(tc, test_wait_stashes_other_replies);
    tcase_add_test(tc, test_lines_that_are_not_objects);
    tcase_add_test(tc, test_eof);
    tcase_add_test(tc, test_split_address);
    tcase_add_test(tc, test_exact_numbers);
    tcase_add_test(tc, test_calls_against_a_fake_daemon);
    tcase_add_test(tc, test_deep_pipeline_does_not_deadlock);
    tcase_add_test(tc, test_long_line);
    tcase_add_test(tc, test_connect_errors);
    tcase_add_test(tc, test_tcp_connect_sets_nodelay);
    suite_add_tcase(s, tc);
    return s;
}
