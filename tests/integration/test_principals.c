/* test_principals.c - named tokens: hello picks the principal, each principal has its own
 * outcome journal, wrong or switched tokens close the connection, secrets stay out of logs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_principals(void);

#define WEB "web-s3cret"
#define WORKER "worker-s3cret"

/* A new connection that said hello with token (asserted ok). */
static txscope_conn_t *hello(const th_daemon_t *d, const char *token)
{
    txscope_conn_t *c = th_connect(d);
    int rc = txscope_hello(c, token, T_TIMEOUT);
    ck_assert_msg(rc == 0, "hello: %s", txscope_errmsg(c));
    return c;
}

static void expect_outcome(txscope_conn_t *c, const char *ctx, const char *want)
{
    cJSON *r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"%s\"}", ctx);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, "outcome");
    ck_assert_msg(txscope_reply_ok(r) && cJSON_IsString(o) && strcmp(o->valuestring, want) == 0,
                  "outcome of %s: want %s, got %s", ctx, want, txscope_last_line(c));
    cJSON_Delete(r);
}

/* Inserts into t_principals in ctx and commits it. */
static void commit_one(txscope_conn_t *c, const char *ctx, int id)
{
    th_expect_ok(th_call(c,
                         "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"insert into t_principals "
                         "values (%d)\"}",
                         ctx, id),
                 "insert");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"%s\"}", ctx), "commit");
}

/* The reply is 28000 and then the daemon closes the connection. */
static void expect_refused(txscope_conn_t *c, cJSON *r, const char *what)
{
    th_expect_code(r, "28000", what);
    ck_assert_msg(txscope_recv(c, T_TIMEOUT) == NULL, "%s: still open", what);
    txscope_close(c);
}

static void make_table(th_side_t *side)
{
    th_side_exec(side, "drop table if exists t_principals; create table t_principals(id int)");
}

START_TEST(each_principal_has_its_own_journal)
{
    const char *env[] = {"TXSCOPE_TOKEN_WEB=" WEB, "TXSCOPE_TOKEN_WORKER=" WORKER, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    make_table(side);

    txscope_conn_t *web1 = hello(&d, WEB);
    commit_one(web1, "req-1", 1);
    /* Another connection of the same principal hears the outcome... */
    txscope_conn_t *web2 = hello(&d, WEB);
    expect_outcome(web2, "req-1", "committed");
    /* ...another principal does not: the same ctx is a different key in its journal. */
    txscope_conn_t *worker = hello(&d, WORKER);
    expect_outcome(worker, "req-1", "not_found");
    /* Its own req-1 ends differently, and neither journal sees the other's. */
    th_expect_ok(th_call(worker, "{\"op\":\"query\",\"ctx\":\"req-1\",\"sql\":\"insert into "
                                 "t_principals values (2)\"}"),
                 "worker insert");
    th_expect_ok(th_call(worker, "{\"op\":\"rollback\",\"ctx\":\"req-1\"}"), "worker rollback");
    expect_outcome(worker, "req-1", "rolled_back");
    expect_outcome(web2, "req-1", "committed");
    txscope_conn_t *worker2 = hello(&d, WORKER);
    expect_outcome(worker2, "req-1", "rolled_back");
    ck_assert_int_eq(th_side_count_rows(side, "t_principals"), 1);

    txscope_close(web1);
    txscope_close(web2);
    txscope_close(worker);
    txscope_close(worker2);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(wrong_or_missing_token_is_refused)
{
    const char *env[] = {"TXSCOPE_TOKEN_WEB=" WEB, "TXSCOPE_TOKEN_WORKER=" WORKER, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"nope\"}"), "wrong token");
    c = th_connect(&d);
    /* A prefix of a token, and a token with a byte more, are wrong too. */
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"web-s3cre\"}"), "prefix");
    c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"" WEB "x\"}"), "longer");
    c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"hello\"}"), "no token");
    c = th_connect(&d);
    /* The principal's name is not its token. */
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"web\"}"), "a name");
    c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"outcome\",\"ctx\":\"req-1\"}"), "no hello");
    /* The daemon is fine for the right token after all that. */
    c = hello(&d, WORKER);
    th_expect_ok(th_call(c, "{\"op\":\"ping\"}"), "ping");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A connection authenticates once: hello again with the same principal's token is ok,
 * with another principal's (or a wrong one) it is refused and closed. */
START_TEST(second_hello)
{
    const char *env[] = {"TXSCOPE_TOKEN_WEB=" WEB, "TXSCOPE_TOKEN_WORKER=" WORKER, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    make_table(side);
    txscope_conn_t *c = hello(&d, WEB);
    commit_one(c, "a", 1);
    ck_assert_int_eq(txscope_hello(c, WEB, T_TIMEOUT), 0);
    expect_outcome(c, "a", "committed"); /* still web */

    /* Switching to worker: refused, and web's open transaction is rolled back. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"insert into t_principals "
                            "values (2)\"}"),
                 "open a transaction");
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"" WORKER "\"}"), "switch");
    txscope_conn_t *w = hello(&d, WEB);
    expect_outcome(w, "b", "rolled_back");
    ck_assert_int_eq(th_side_count_rows(side, "t_principals"), 1);
    expect_refused(w, th_call(w, "{\"op\":\"hello\",\"token\":\"nope\"}"), "wrong again");

    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* auth_token keeps working next to named tokens, as the principal "default". */
START_TEST(auth_token_with_a_named_token)
{
    const char *env[] = {"TXSCOPE_AUTH_TOKEN=legacy", "TXSCOPE_TOKEN_WEB=" WEB, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    make_table(side);
    txscope_conn_t *legacy = hello(&d, "legacy");
    commit_one(legacy, "x", 1);
    txscope_conn_t *web = hello(&d, WEB);
    commit_one(web, "y", 2);
    expect_outcome(web, "x", "not_found");
    expect_outcome(web, "y", "committed");
    txscope_conn_t *legacy2 = hello(&d, "legacy");
    expect_outcome(legacy2, "x", "committed");
    expect_outcome(legacy2, "y", "not_found");
    txscope_conn_t *c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"hello\"}"), "no token");
    txscope_close(legacy);
    txscope_close(legacy2);
    txscope_close(web);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* No token configured: hello is optional, any token does, and everyone is "default". */
START_TEST(no_tokens_one_principal)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    make_table(side);
    txscope_conn_t *a = th_connect(&d);
    commit_one(a, "z", 1);
    txscope_conn_t *b = hello(&d, "whatever");
    expect_outcome(b, "z", "committed");
    ck_assert_int_eq(txscope_hello(b, "something else", T_TIMEOUT), 0);
    expect_outcome(b, "z", "committed");
    txscope_close(a);
    txscope_close(b);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

static char *slurp(const char *file)
{
    FILE *f = fopen(file, "r");
    ck_assert_msg(f != NULL, "cannot open %s", file);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* At debug level the log names the principal of each hello, and never a secret, not
 * even of a refused hello. */
START_TEST(log_names_principals_not_secrets)
{
    const char *env[] = {"TXSCOPE_LOG_LEVEL=debug", "TXSCOPE_AUTH_TOKEN=legacy-s3cret",
                         "TXSCOPE_TOKEN_WEB=" WEB, "TXSCOPE_TOKEN_WORKER=" WORKER, NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = hello(&d, WEB);
    txscope_conn_t *l = hello(&d, "legacy-s3cret");
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"" WORKER "\"}"), "switch");
    c = th_connect(&d);
    expect_refused(c, th_call(c, "{\"op\":\"hello\",\"token\":\"guess-s3cret\"}"), "wrong");
    txscope_close(l);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
    const char *log = slurp(d.log_path);
    ck_assert_msg(strstr(log, "as principal web") != NULL, "no web hello in the log");
    ck_assert_msg(strstr(log, "as principal default") != NULL, "no default hello in the log");
    ck_assert_msg(strstr(log, "authentication failed") != NULL, "no failure in the log");
    ck_assert_msg(strstr(log, "s3cret") == NULL, "a secret in the log: %s", d.log_path);
}
END_TEST

Suite *suite_principals(void)
{
    Suite *s = suite_create("principals");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, each_principal_has_its_own_journal);
    TH_ADD_TEST(tc, wrong_or_missing_token_is_refused);
    TH_ADD_TEST(tc, second_hello);
    TH_ADD_TEST(tc, auth_token_with_a_named_token);
    TH_ADD_TEST(tc, no_tokens_one_principal);
    TH_ADD_TEST(tc, log_names_principals_not_secrets);
    return s;
}
