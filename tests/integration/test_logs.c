/* test_logs.c - the daemon's log as an operator reads it: with log_format = json every line
 * is one JSON object naming the connection it is about; passwords and tokens never show;
 * each close says why. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_logs(void);

#define DB_PASSWORD "Lg-S3cret-9f"    /* the dsn's password (MySQL: of a user made here) */
#define QUERY_PASSWORD "Lg-Qry-7c2"   /* PostgreSQL: a password= in the URI's query too */
#define TOKEN "tok-Zq81-Hv4-secret"   /* the configured client token */
#define WRONG_TOKEN "tok-Wr0ng-guess" /* a hello's wrong guess: never logged either */

/* ---- the log ---- */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 4096)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* Every line of the log parsed (asserting each is a JSON object with ts, level and msg),
 * as a JSON array. */
static cJSON *json_log(const th_daemon_t *d)
{
    char *text = slurp(d->log_path);
    cJSON *all = cJSON_CreateArray();
    int lineno = 0;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "%s: the last line has no newline", d->log_path);
        *nl = '\0';
        lineno++;
        cJSON *j = cJSON_Parse(line);
        ck_assert_msg(cJSON_IsObject(j), "%s:%d: not a JSON object: %s", d->log_path, lineno, line);
        const char *need[] = {"ts", "level", "msg"};
        for (int i = 0; i < 3; i++)
            ck_assert_msg(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, need[i])),
                          "%s:%d: no %s: %s", d->log_path, lineno, need[i], line);
        cJSON_AddItemToArray(all, j);
    }
    free(text);
    ck_assert_int_gt(lineno, 0);
    return all;
}

static const char *jstr(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The first line whose fields match: peer, ctx, db (NULL: any) and whose msg starts with
 * msg_prefix (NULL: any). */
static const cJSON *find(const cJSON *all, const char *peer, const char *ctx, const char *db,
                         const char *msg_prefix)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, all)
    {
        const char *p = jstr(j, "peer"), *c = jstr(j, "ctx"), *b = jstr(j, "db");
        const char *m = jstr(j, "msg");
        if ((!peer || (p && strcmp(p, peer) == 0)) && (!ctx || (c && strcmp(c, ctx) == 0)) &&
            (!db || (b && strcmp(b, db) == 0)) &&
            (!msg_prefix || strncmp(m, msg_prefix, strlen(msg_prefix)) == 0))
            return j;
    }
    return NULL;
}

/* Poll the text log until a line holds both a and b: that line (caller frees), or NULL
 * after ms. */
static char *wait_line(const th_daemon_t *d, const char *a, const char *b, int ms)
{
    long long t0 = th_now_ms();
    do {
        char *text = slurp(d->log_path);
        for (char *line = text, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl)
                break;
            *nl = '\0';
            if (strstr(line, a) && strstr(line, b)) {
                char *found = strdup(line);
                free(text);
                return found;
            }
        }
        free(text);
        th_sleep_ms(10);
    } while (th_now_ms() - t0 < ms);
    return NULL;
}

/* ---- a raw client, whose address is the peer the daemon logs ---- */

/* "127.0.0.1:PORT" of the client end of fd. */
static void local_addr(int fd, char *buf, size_t len)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(buf, len, "127.0.0.1:%d", ntohs(a.sin_port));
}

/* Send one request line and read one reply line (returned, static). */
static const char *raw_call(int fd, const char *line)
{
    static char reply[8192];
    size_t n = strlen(line);
    ck_assert_int_eq(write(fd, line, n), (ssize_t)n);
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < sizeof reply - 1 && (got == 0 || reply[got - 1] != '\n')) {
        ck_assert_msg(poll(&p, 1, T_TIMEOUT) == 1, "no reply to %s", line);
        ssize_t r = read(fd, reply + got, 1);
        ck_assert_msg(r == 1, "connection closed before the reply to %s", line);
        got++;
    }
    reply[got] = '\0';
    return reply;
}

/* The daemon closes fd's connection (EOF) within T_TIMEOUT. */
static void expect_closed(int fd)
{
    char buf[512];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    for (;;) {
        ck_assert_msg(poll(&p, 1, T_TIMEOUT) == 1, "the daemon did not close the connection");
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0)
            return;
    }
}

/* ---- json, secrets, who ---- */

/* The dsn of the current backend with a password in it; the env for the daemon. */
static const char *secret_dsn(void)
{
    static char dsn[512];
    if (th_backend == TH_PG) {
        /* The test server trusts local connections: the passwords are sent nowhere. */
        snprintf(dsn, sizeof dsn,
                 "TXSCOPE_DB_MAIN_DSN=postgresql://%s:" DB_PASSWORD
                 "@%s:%s/%s?password=" QUERY_PASSWORD "&application_name=txs_logs",
                 getenv("PGUSER") ? getenv("PGUSER") : "postgres", getenv("PGHOST"),
                 getenv("PGPORT"), getenv("PGDATABASE") ? getenv("PGDATABASE") : "postgres");
        return dsn;
    }
    /* A user whose password is nowhere else, so that finding it in the log means a leak. */
    th_side_t *side = th_side();
    th_side_exec(side, "create user if not exists 'txs_logs'@'%%' identified by '" DB_PASSWORD
                       "'; grant all on *.* to 'txs_logs'@'%%'");
    th_side_close(side);
    snprintf(dsn, sizeof dsn, "TXSCOPE_DB_MAIN_DSN=mysql://txs_logs:" DB_PASSWORD "@%s:%s/%s",
             getenv("MYSQL_HOST"), getenv("MYSQL_TCP_PORT"),
             getenv("MYSQL_DATABASE") ? getenv("MYSQL_DATABASE") : "txs");
    return dsn;
}

START_TEST(json_lines_name_connections_and_hide_secrets)
{
    const char *env[] = {"TXSCOPE_LOG_FORMAT=json", "TXSCOPE_LOG_LEVEL=debug",
                         "TXSCOPE_AUTH_TOKEN=" TOKEN, secret_dsn(), NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);

    /* A wrong token: refused and closed. */
    int bad = th_raw_connect(&d);
    ck_assert_int_ge(bad, 0);
    char bad_peer[64];
    local_addr(bad, bad_peer, sizeof bad_peer);
    const char *r = raw_call(bad, "{\"op\":\"hello\",\"token\":\"" WRONG_TOKEN "\"}");
    ck_assert_msg(strstr(r, "\"28000\"") != NULL, "wrong token: %s", r);
    expect_closed(bad);
    close(bad);

    /* The good one: hello, a query on ctx req-1, then away. */
    int fd = th_raw_connect(&d);
    ck_assert_int_ge(fd, 0);
    char peer[64];
    local_addr(fd, peer, sizeof peer);
    r = raw_call(fd, "{\"op\":\"hello\",\"token\":\"" TOKEN "\",\"client\":\"test_logs\"}");
    ck_assert_msg(strstr(r, "\"ok\":true") != NULL, "hello: %s", r);
    r = raw_call(fd, "{\"op\":\"query\",\"ctx\":\"req-1\",\"sql\":\"select 1\"}");
    ck_assert_msg(strstr(r, "\"ok\":true") != NULL, "query: %s", r);
    close(fd);
    char *closed = wait_line(&d, peer, "closed: ", T_TIMEOUT);
    ck_assert_msg(closed != NULL, "no close line for %s in %s", peer, d.log_path);
    free(closed);
    ck_assert_int_eq(th_daemon_stop(&d), 0);

    /* No secret anywhere, not even in part of a line. */
    char *text = slurp(d.log_path);
    const char *secrets[] = {DB_PASSWORD, QUERY_PASSWORD, TOKEN, WRONG_TOKEN};
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "%s in the log %s", secrets[i], d.log_path);
    free(text);

    cJSON *all = json_log(&d);
    /* The start-up line names the db, its driver and its dsn, masked. */
    const cJSON *start = find(all, NULL, NULL, "main", "configured: ");
    ck_assert_msg(start != NULL, "no start-up line for db main in %s", d.log_path);
    const char *m = jstr(start, "msg");
    ck_assert_msg(strstr(m, TH_PICK("driver=postgresql", "driver=mysql")) != NULL, "%s", m);
    ck_assert_msg(strstr(m, TH_PICK(":***@", "mysql://txs_logs:***@")) != NULL, "%s", m);
    if (th_backend == TH_PG)
        ck_assert_msg(strstr(m, "?password=***&application_name=txs_logs") != NULL, "%s", m);

    /* The client's lines: one id and its peer on each, from accept to close. */
    const cJSON *session = find(all, peer, "req-1", "main", NULL);
    ck_assert_msg(session != NULL, "no line with ctx req-1 and db main for %s", peer);
    double id = jnum(session, "client");
    ck_assert_msg(id > 0, "no client id on %s", cJSON_PrintUnformatted(session));
    const cJSON *accepted = find(all, peer, NULL, NULL, "accepted");
    ck_assert_msg(accepted && jnum(accepted, "client") == id, "no accept line for %s", peer);
    ck_assert_str_eq(jstr(accepted, "level"), "debug");
    const cJSON *hello = find(all, peer, NULL, NULL, "hello from test_logs");
    ck_assert_msg(hello && jnum(hello, "client") == id, "no hello line for %s", peer);
    const cJSON *close_line = find(all, peer, NULL, NULL, "closed: ");
    ck_assert_msg(close_line != NULL, "no close line for %s", peer);
    ck_assert_int_eq(jnum(close_line, "client"), id);
    ck_assert_str_eq(jstr(close_line, "level"), "info");
    ck_assert_msg(strncmp(jstr(close_line, "msg"), "closed: client closed the connection (", 38) ==
                      0,
                  "%s", jstr(close_line, "msg"));
    ck_assert_msg(strstr(jstr(close_line, "msg"), "1 session(s) ended") != NULL, "%s",
                  jstr(close_line, "msg"));

    /* The refused client: its failure and its close, under its own id. */
    const cJSON *failed = find(all, bad_peer, NULL, NULL, "authentication failed: ");
    ck_assert_msg(failed != NULL, "no authentication failure for %s", bad_peer);
    ck_assert_str_eq(jstr(failed, "level"), "warn");
    ck_assert(jnum(failed, "client") > 0 && jnum(failed, "client") != id);
    const cJSON *bad_close = find(all, bad_peer, NULL, NULL, "closed: ");
    ck_assert_msg(bad_close && jnum(bad_close, "client") == jnum(failed, "client"),
                  "no close line for %s", bad_peer);

    /* A backend's lines name the db and the backend's id. */
    const cJSON *connected = find(all, NULL, NULL, "main", "connected (pid ");
    ck_assert_msg(connected && jnum(connected, "backend") > 0, "no backend connect line");
    const cJSON *backend_close = find(all, NULL, NULL, "main", "closing: shutdown");
    ck_assert_msg(backend_close && jnum(backend_close, "backend") > 0, "no backend close line");
    cJSON_Delete(all);
}
END_TEST

/* ---- text: a client killed mid-transaction ---- */

START_TEST(text_close_line_of_a_killed_client)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        /* Opens a transaction, says where it connects from, and waits to be killed. */
        close(pipefd[0]);
        int fd = th_raw_connect(&d);
        if (fd < 0)
            _exit(2);
        static const char req[] = "{\"op\":\"begin\",\"ctx\":\"t1\"}\n"
                                  "{\"op\":\"query\",\"ctx\":\"t1\",\"sql\":\"select 1\"}\n";
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
            _exit(3);
        int lines = 0;
        char ch;
        while (lines < 2 && read(fd, &ch, 1) == 1)
            lines += ch == '\n';
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        getsockname(fd, (struct sockaddr *)&a, &alen);
        int port = lines == 2 ? ntohs(a.sin_port) : 0;
        if (write(pipefd[1], &port, sizeof port) != sizeof port)
            _exit(4);
        pause();
        _exit(0);
    }
    close(pipefd[1]);
    int port = 0;
    ck_assert_int_eq(read(pipefd[0], &port, sizeof port), (ssize_t)sizeof port);
    close(pipefd[0]);
    ck_assert_msg(port > 0, "the child's transaction did not open");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);

    char who[64];
    snprintf(who, sizeof who, " peer=127.0.0.1:%d: closed: ", port);
    char *line = wait_line(&d, who, "client closed the connection", T_TIMEOUT);
    ck_assert_msg(line != NULL, "no close line with%s in %s", who, d.log_path);
    /* 2026-11-24T11:00:00.000Z INFO client=N peer=127.0.0.1:PORT: closed: ... */
    ck_assert_msg(strstr(line, "Z INFO client=") == line + 23, "%s", line);
    ck_assert_msg(strstr(line, "1 session(s) ended, 1 open transaction(s) rolled back)") != NULL,
                  "%s", line);
    free(line);
    /* The session's own line names its ctx and db, and what became of its transaction. */
    snprintf(who, sizeof who, " peer=127.0.0.1:%d db=main ctx=t1", port);
    line = wait_line(&d, who, "session ended: wound down, its transaction rolled back", T_TIMEOUT);
    ck_assert_msg(line != NULL, "no session end line with%s in %s", who, d.log_path);
    free(line);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_logs(void)
{
    Suite *s = suite_create("logs");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, json_lines_name_connections_and_hide_secrets);
    TH_ADD_TEST(tc, text_close_line_of_a_killed_client);
    return s;
}
