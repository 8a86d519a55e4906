/* test_malformed.c - bad input gets the protocol's error, and nobody else notices. */
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

Suite *suite_malformed(void);

static cJSON *raw(txscope_conn_t *c, const char *bytes, size_t len)
{
    ck_assert_int_eq(txscope_send_raw(c, bytes, len), 0);
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_msg(r != NULL, "no reply to %.40s: %s", bytes, txscope_errmsg(c));
    return r;
}

static void expect_08P01(txscope_conn_t *c, const char *line, const char *mentions, long id)
{
    cJSON *r = raw(c, line, strlen(line));
    const char *msg = txscope_reply_message(r);
    ck_assert_msg(msg && (!mentions || strstr(msg, mentions)), "%s -> %s", line,
                  txscope_last_line(c));
    int64_t got;
    if (id >= 0) {
        ck_assert_msg(txscope_get_int64(cJSON_GetObjectItem(r, "id"), &got) && got == id,
                      "id not echoed: %s", txscope_last_line(c));
    }
    th_expect_code(r, "08P01", line);
}

START_TEST(malformed_requests_get_08P01_and_others_go_on)
{
    const char *env[] = {"TXSCOPE_MAX_REQUEST_BYTES=4kB", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_m");
    /* A bystander with an open transaction. */
    txscope_conn_t *other = th_connect(&d);
    th_expect_ok(
        th_call(other, "{\"op\":\"query\",\"ctx\":\"o\",\"sql\":\"insert into t_m values (1)\"}"),
        "bystander");

    txscope_conn_t *c = th_connect(&d);
    expect_08P01(c, "hello there\n", NULL, -1);
    expect_08P01(c, "[1,2,3]\n", "object", -1);
    expect_08P01(c, "{\"id\":5,\"ctx\":\"m\"}\n", "op", 5);
    expect_08P01(c, "{\"id\":6,\"op\":\"fly\",\"ctx\":\"m\"}\r\n", "fly", 6);
    expect_08P01(
        c, "{\"id\":7,\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select 1\",\"params\":\"nope\"}\n",
        "params", 7);
    expect_08P01(c, "{\"id\":8,\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select '\xff\xfe'\"}\n",
                 "UTF-8", -1);
    expect_08P01(c, "{\"id\":9,\"op\":\"query\",\"sql\":\"select 1\"}\n", "ctx", 9);
    expect_08P01(c, "{\"id\":10,\"op\":\"query\",\"ctx\":\"m\",\"sql\":7}\n", "sql", 10);
    expect_08P01(c, "\n", NULL, -1);
    /* Still usable after all that. */
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"select 1\"}"),
                 "after errors");

    /* A line over max_request_bytes: 54000, then the connection is closed. */
    size_t n = 8192;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    memcpy(big, "{\"op\":\"query\",\"ctx\":\"m\",\"sql\":\"", 31);
    big[n] = '\n';
    cJSON *r = raw(c, big, n + 1);
    th_expect_code(r, "54000", "too big");
    free(big);
    ck_assert_ptr_null(txscope_recv(c, T_TIMEOUT));
    ck_assert(txscope_eof(c));
    txscope_close(c);

    /* The bystander's transaction is intact and commits. */
    th_expect_ok(
        th_call(other, "{\"op\":\"query\",\"ctx\":\"o\",\"sql\":\"insert into t_m values (2)\"}"),
        "bystander 2");
    th_expect_ok(th_call(other, "{\"op\":\"commit\",\"ctx\":\"o\"}"), "bystander commit");
    ck_assert_int_eq(th_side_count_rows(side, "t_m"), 2);
    txscope_close(other);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(authentication_with_a_token)
{
    const char *env[] = {"TXSCOPE_AUTH_TOKEN=s3cret", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    th_expect_code(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\"}"), "28000",
                   "no hello");
    ck_assert_ptr_null(txscope_recv(c, T_TIMEOUT));
    txscope_close(c);

    c = th_connect(&d);
    th_expect_code(th_call(c, "{\"op\":\"hello\",\"token\":\"wrong\"}"), "28000", "bad token");
    txscope_close(c);

    c = th_connect(&d);
    cJSON *r = th_call(c, "{\"op\":\"hello\",\"token\":\"s3cret\",\"client\":\"test\"}");
    ck_assert_int_eq(cJSON_GetObjectItem(r, "protocol")->valueint, 1);
    th_expect_ok(r, "hello");
    th_expect_ok(
        th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select 1\",\"autocommit\":true}"),
        "after hello");
    txscope_close(c);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

START_TEST(too_many_clients)
{
    const char *env[] = {"TXSCOPE_MAX_CLIENTS=2", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *a = th_connect(&d), *b = th_connect(&d);
    th_expect_ok(th_call(a, "{\"op\":\"ping\"}"), "a");
    th_expect_ok(th_call(b, "{\"op\":\"ping\"}"), "b");
    txscope_conn_t *c = th_connect(&d);
    cJSON *r = txscope_recv(c, T_TIMEOUT);
    ck_assert_ptr_nonnull(r);
    th_expect_code(r, "53300", "third client");
    txscope_close(c);
    txscope_close(a);
    txscope_close(b);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Thousands of valid requests with a few bytes changed (a fixed seed, so a failure
 * can be replayed): every line gets a reply, the daemon survives without an ASan or
 * UBSan report, and a bystander's transaction is untouched. */
START_TEST(mutated_requests_do_not_disturb)
{
    /* Mutated contexts leave transactions open: waiters must not sit out 30 s. */
    const char *env[] = {"TXSCOPE_LOG_LEVEL=error", "TXSCOPE_DB_MAIN_POOL_TIMEOUT=100ms", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *other = th_connect(&d);
    th_expect_ok(th_call(other, "{\"op\":\"query\",\"ctx\":\"o\",\"sql\":\"select 1\"}"),
                 "bystander");
    const char *const templates[] = {
        TH_PICK(
            "{\"id\":1,\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select $1::int\",\"params\":[1]}",
            "{\"id\":1,\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"select cast(? as signed)\","
            "\"params\":[1]}"),
        "{\"id\":\"x\",\"op\":\"begin\",\"ctx\":\"b\",\"isolation\":\"serializable\"}",
        "{\"op\":\"commit\",\"ctx\":\"b\"}",
        "{\"op\":\"rollback\",\"ctx\":\"a\",\"db\":\"main\"}",
        "{\"op\":\"query\",\"ctx\":\"c\",\"sql\":\"select 'x'\",\"autocommit\":true}",
        "{\"op\":\"end\",\"ctx\":\"a\"}",
        "{\"op\":\"status\",\"ctx\":\"\\u00e9\"}",
        "{\"op\":\"hello\",\"token\":null,\"client\":\"fuzz\"}",
        TH_PICK(
            "{\"op\":\"query\",\"ctx\":\"d\",\"sql\":\"select $1\",\"params\":[{\"k\":[1.5e3,null,"
            "true]}]}",
            "{\"op\":\"query\",\"ctx\":\"d\",\"sql\":\"select ?\",\"params\":[{\"k\":[1.5e3,null,"
            "true]}]}"),
    };
    /* TXS_FUZZ_SEED / TXS_FUZZ_N replay or widen the run; the suite uses the defaults. */
    unsigned seed = getenv("TXS_FUZZ_SEED") ? (unsigned)atol(getenv("TXS_FUZZ_SEED")) : 20261124;
    int n = getenv("TXS_FUZZ_N") ? atoi(getenv("TXS_FUZZ_N")) : 3000;
    txscope_conn_t *c = th_connect(&d);
    size_t lines = 0;
    for (int i = 0; i < n; i++) {
        char req[512];
        const char *t = templates[rand_r(&seed) % (sizeof templates / sizeof *templates)];
        size_t len = strlen(t);
        memcpy(req, t, len);
        for (int k = 1 + rand_r(&seed) % 3; k > 0; k--) {
            unsigned char b = (unsigned char)(rand_r(&seed) % 256);
            req[rand_r(&seed) % len] = b == '\n' ? ' ' : (char)b;
        }
        req[len] = '\n';
        ck_assert_int_eq(txscope_send_raw(c, req, len + 1), 0);
        lines++;
        /* Read as we go, so that neither side's buffers fill up. */
        cJSON *r;
        while ((r = txscope_recv(c, 0)) != NULL) {
            cJSON_Delete(r);
            lines--;
        }
    }
    /* One reply per line (ping is not a marker: it is answered ahead of statements). */
    while (lines > 0) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_msg(r != NULL, "%zu replies missing: %s", lines, txscope_errmsg(c));
        cJSON_Delete(r);
        lines--;
    }
    ck_assert_ptr_null(txscope_recv(c, 200)); /* and not one more */
    th_expect_ok(th_call(c, "{\"op\":\"ping\"}"), "still answering");
    txscope_close(c);
    cJSON *r = th_call(other, "{\"op\":\"status\",\"ctx\":\"o\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "open");
    th_expect_ok(r, "bystander status");
    th_expect_ok(th_call(other, "{\"op\":\"commit\",\"ctx\":\"o\"}"), "bystander commit");
    txscope_close(other);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* After a fatal error the daemon sends FIN and keeps reading until the client closes:
 * the client's further bytes are not answered with a reset, and its slot is free as
 * soon as it closes (not after the 2 s linger). */
START_TEST(fatal_error_closes_when_the_client_does)
{
    const char *env[] = {"TXSCOPE_MAX_REQUEST_BYTES=1kB", "TXSCOPE_MAX_CLIENTS=1", NULL};
    th_daemon_t d;
    th_daemon_start(&d, env);
    txscope_conn_t *c = th_connect(&d);
    char line[2048];
    memset(line, 'z', sizeof line);
    line[sizeof line - 1] = '\n';
    cJSON *r = raw(c, line, sizeof line);
    th_expect_code(r, "54000", "too long");
    ck_assert_ptr_null(txscope_recv(c, T_TIMEOUT)); /* FIN after the reply */
    ck_assert(txscope_eof(c));
    for (int i = 0; i < 5; i++) { /* still read, not reset */
        ck_assert_int_eq(txscope_send_raw(c, line, sizeof line), 0);
        th_sleep_ms(20);
    }
    txscope_close(c);
    long long t0 = th_now_ms();
    for (;;) {
        txscope_conn_t *next = th_connect(&d);
        th_send(next, "{\"op\":\"ping\"}");
        cJSON *p = txscope_recv(next, T_TIMEOUT); /* a ping reply, or 53300 while taken */
        bool ok = p && txscope_reply_ok(p);
        cJSON_Delete(p);
        txscope_close(next);
        if (ok)
            break;
        ck_assert_msg(th_now_ms() - t0 < 1000, "the slot was not freed when the client closed");
        th_sleep_ms(50);
    }
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_malformed(void)
{
    Suite *s = suite_create("malformed");
    TCase *tc[2];
    th_tcases(s, tc, 60);
    TH_ADD_TEST(tc, malformed_requests_get_08P01_and_others_go_on);
    TH_ADD_TEST(tc, authentication_with_a_token);
    TH_ADD_TEST(tc, too_many_clients);
    TH_ADD_TEST(tc, mutated_requests_do_not_disturb);
    TH_ADD_TEST(tc, fatal_error_closes_when_the_client_does);
    return s;
}
