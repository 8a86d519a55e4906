/* test_log.c - log lines as written to stderr: the text and JSON formats, who a line is
 * about, escaping, masking and the level check. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/log.h"

Suite *suite_log(void);

/* ---- stderr captured in a temp file ---- */

static FILE *cap_file;
static int cap_saved = -1;
static char cap_buf[65536];

static void capture_start(void)
{
    fflush(stderr);
    cap_file = tmpfile();
    ck_assert_ptr_nonnull(cap_file);
    cap_saved = dup(2);
    ck_assert_int_ge(cap_saved, 0);
    ck_assert_int_eq(dup2(fileno(cap_file), 2), 2);
}

/* Everything written to stderr since capture_start. */
static const char *capture_end(void)
{
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    cap_saved = -1;
    rewind(cap_file);
    size_t n = fread(cap_buf, 1, sizeof cap_buf - 1, cap_file);
    cap_buf[n] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return cap_buf;
}

static void reset_log(void)
{
    txs_log_set_format(TXS_LOG_TEXT);
    txs_log_set_level(TXS_LOG_INFO);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* "2026-11-24T11:00:00.000Z " */
static void check_ts(const char *ts)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd')
            ck_assert_msg(ts[i] >= '0' && ts[i] <= '9', "timestamp %.24s", ts);
        else
            ck_assert_msg(ts[i] == shape[i], "timestamp %.24s", ts);
    }
}

static const txs_log_who_t full_who = {
    .client = 12, .peer = "127.0.0.1:40312", .db = "main", .ctx = "req-1", .backend = 3};

/* ---- text ---- */

START_TEST(text_line_names_who)
{
    capture_start();
    txs_log_at(TXS_LOG_INFO, &full_who, "closed: %s", "client closed the connection");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 1);
    check_ts(out);
    ck_assert_str_eq(out + 24, " INFO client=12 peer=127.0.0.1:40312 db=main ctx=req-1 "
                               "backend=3: closed: client closed the connection\n");
}
END_TEST

START_TEST(text_line_without_who)
{
    capture_start();
    txs_log_warn("listening on %s:%d", "127.0.0.1", 7432);
    txs_log_at(TXS_LOG_ERROR, NULL, "no who");
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){0}, "empty who");
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = "main", .backend = 7}, "connected");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 4);
    ck_assert_ptr_nonnull(strstr(out, "Z WARN listening on 127.0.0.1:7432\n"));
    ck_assert_ptr_nonnull(strstr(out, "Z ERROR no who\n"));
    ck_assert_ptr_nonnull(strstr(out, "Z INFO empty who\n"));
    ck_assert_ptr_nonnull(strstr(out, "Z INFO db=main backend=7: connected\n"));
}
END_TEST

/* A ctx is whatever the client chose: quoted when it is not one plain word, so the
 * key=value fields stay splittable. */
START_TEST(text_quotes_odd_values)
{
    capture_start();
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.client = 1, .ctx = "a \"b\" c"}, "x");
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.client = 2, .ctx = "k=v"}, "x");
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.client = 3, .ctx = "line\nbreak"}, "x");
    txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.client = 4, .ctx = ""}, "x");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 4);
    ck_assert_ptr_nonnull(strstr(out, " INFO client=1 ctx=\"a \\\"b\\\" c\": x\n"));
    ck_assert_ptr_nonnull(strstr(out, " INFO client=2 ctx=\"k=v\": x\n"));
    ck_assert_ptr_nonnull(strstr(out, " INFO client=3 ctx=\"line\\nbreak\": x\n"));
    ck_assert_ptr_nonnull(strstr(out, " INFO client=4 ctx=\"\": x\n"));
}
END_TEST

/* One event, one line: a message's line breaks and control bytes are escaped, and so are
 * bytes that are not UTF-8. */
START_TEST(text_message_stays_one_line)
{
    capture_start();
    txs_log_info("first\nsecond\r\tthird\x01 caf\xc3\xa9 bad\xff");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 1);
    ck_assert_ptr_nonnull(
        strstr(out, " INFO first\\nsecond\\r\\tthird\\x01 caf\xc3\xa9 bad\\xff\n"));
}
END_TEST

/* The SIGUSR1 stats line keeps its form: tests and operators split it on blanks and =. */
START_TEST(text_stats_line_unchanged)
{
    capture_start();
    txs_log_write(TXS_LOG_INFO, "%s", "db main stats: total=2 idle=1 closed_recycle=0");
    const char *out = capture_end();
    ck_assert_ptr_nonnull(strstr(out, " INFO db main stats: total=2 idle=1 closed_recycle=0\n"));
}
END_TEST

/* ---- JSON ---- */

static cJSON *parse_line(const char *line)
{
    cJSON *j = cJSON_Parse(line);
    ck_assert_msg(j != NULL, "not JSON: %s", line);
    ck_assert(cJSON_IsObject(j));
    return j;
}

static const char *str_field(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsString(v), "no string %s", k);
    return v->valuestring;
}

START_TEST(json_line_names_who)
{
    txs_log_set_format(TXS_LOG_JSON);
    capture_start();
    txs_log_at(TXS_LOG_WARN, &full_who, "backend lost %s", "during the commit");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 1);
    cJSON *j = parse_line(out);
    check_ts(str_field(j, "ts"));
    ck_assert_str_eq(str_field(j, "level"), "warn");
    ck_assert_str_eq(str_field(j, "msg"), "backend lost during the commit");
    ck_assert_str_eq(str_field(j, "peer"), "127.0.0.1:40312");
    ck_assert_str_eq(str_field(j, "db"), "main");
    ck_assert_str_eq(str_field(j, "ctx"), "req-1");
    const cJSON *client = cJSON_GetObjectItemCaseSensitive(j, "client");
    const cJSON *backend = cJSON_GetObjectItemCaseSensitive(j, "backend");
    ck_assert(cJSON_IsNumber(client) && client->valuedouble == 12);
    ck_assert(cJSON_IsNumber(backend) && backend->valuedouble == 3);
    cJSON_Delete(j);
}
END_TEST

/* Fields not known are left out, not written empty. */
START_TEST(json_line_without_who)
{
    txs_log_set_format(TXS_LOG_JSON);
    capture_start();
    txs_log_info("txscoped %s ready", "0.1.0");
    const char *out = capture_end();
    cJSON *j = parse_line(out);
    ck_assert_str_eq(str_field(j, "level"), "info");
    ck_assert_str_eq(str_field(j, "msg"), "txscoped 0.1.0 ready");
    const char *absent[] = {"client", "peer", "db", "ctx", "backend"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, absent[i]));
    ck_assert_int_eq(cJSON_GetArraySize(j), 3);
    cJSON_Delete(j);
}
END_TEST

START_TEST(json_escapes_everything)
{
    txs_log_set_format(TXS_LOG_JSON);
    capture_start();
    const char *ctx = "q\"uo\\te\nnl\ttab";
    txs_log_at(TXS_LOG_ERROR, &(txs_log_who_t){.client = 9, .ctx = ctx}, "say \"hi\"\\ \x01\n%s",
               "caf\xc3\xa9");
    txs_log_at(TXS_LOG_ERROR, &(txs_log_who_t){.client = 9, .ctx = "bad\xff"}, "bad\xc3");
    const char *out = capture_end();
    ck_assert_int_eq(count_lines(out), 2);
    const char *second = strchr(out, '\n') + 1;
    char first[4096];
    snprintf(first, sizeof first, "%.*s", (int)(second - out), out);
    cJSON *j = parse_line(first);
    ck_assert_str_eq(str_field(j, "ctx"), ctx);
    ck_assert_str_eq(str_field(j, "msg"), "say \"hi\"\\ \x01\ncaf\xc3\xa9");
    ck_assert_str_eq(str_field(j, "level"), "error");
    cJSON_Delete(j);
    /* Bytes that are not UTF-8 become U+FFFD: every line parses as JSON text. */
    j = parse_line(second);
    ck_assert_str_eq(str_field(j, "ctx"), "bad\xef\xbf\xbd");
    ck_assert_str_eq(str_field(j, "msg"), "bad\xef\xbf\xbd");
    cJSON_Delete(j);
}
END_TEST

/* ---- both ---- */

START_TEST(secrets_are_masked)
{
    for (int f = TXS_LOG_TEXT; f <= TXS_LOG_JSON; f++) {
        txs_log_set_format((txs_log_format_t)f);
        capture_start();
        txs_log_at(TXS_LOG_INFO, &(txs_log_who_t){.db = "main"},
                   "dsn postgresql://app:Sup3rS3cret@10.0.0.1/app, replica host=r password='x y'");
        txs_log_error("config: TXSCOPE_AUTH_TOKEN = \"tok-Sup3rS3cret\": expected text");
        const char *out = capture_end();
        ck_assert_int_eq(count_lines(out), 2);
        ck_assert_msg(strstr(out, "Sup3rS3cret") == NULL, "a secret in: %s", out);
        ck_assert_msg(strstr(out, "x y") == NULL, "a secret in: %s", out);
        ck_assert_ptr_nonnull(strstr(out, "postgresql://app:***@10.0.0.1/app"));
        ck_assert_ptr_nonnull(strstr(out, "password=***"));
        ck_assert_ptr_nonnull(strstr(out, "TXSCOPE_AUTH_TOKEN = ***"));
    }
}
END_TEST

/* A message is capped; the cut is made after masking, so no secret's tail survives. */
START_TEST(long_message_is_cut)
{
    char *big = malloc(10001);
    memset(big, 'a', 10000);
    big[10000] = '\0';
    for (int f = TXS_LOG_TEXT; f <= TXS_LOG_JSON; f++) {
        txs_log_set_format((txs_log_format_t)f);
        capture_start();
        txs_log_info("%s postgresql://u:TailSecret@h/db", big);
        const char *out = capture_end();
        ck_assert_int_eq(count_lines(out), 1);
        ck_assert_uint_lt(strlen(out), 4600);
        ck_assert_ptr_nonnull(strstr(out, "aaa..."));
        ck_assert_ptr_null(strstr(out, "TailSecret"));
        if (f == TXS_LOG_JSON) {
            cJSON *j = parse_line(out);
            cJSON_Delete(j);
        }
    }
    free(big);
}
END_TEST

static int side_effects;

static const char *counted(const char *s)
{
    side_effects++;
    return s;
}

static txs_log_who_t counted_who(void)
{
    side_effects++;
    return (txs_log_who_t){.client = 5};
}

/* Below the level nothing is written, and the arguments are not even evaluated. */
START_TEST(level_checked_first)
{
    side_effects = 0;
    capture_start();
    txs_log_debug("hidden %s", counted("x"));
    txs_log_for(TXS_LOG_DEBUG, counted_who(), "hidden");
    txs_log_for(TXS_LOG_INFO, counted_who(), "shown");
    txs_log_set_level(TXS_LOG_ERROR);
    txs_log_warn("hidden too");
    txs_log_error("shown too");
    const char *out = capture_end();
    ck_assert_int_eq(side_effects, 1);
    ck_assert_int_eq(count_lines(out), 2);
    ck_assert_ptr_nonnull(strstr(out, " INFO client=5: shown\n"));
    ck_assert_ptr_nonnull(strstr(out, " ERROR shown too\n"));
    ck_assert_ptr_null(strstr(out, "hidden"));
}
END_TEST

Suite *suite_log(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_checked_fixture(tc, reset_log, reset_log);
    tcase_add_test(tc, text_line_names_who);
    tcase_add_test(tc, text_line_without_who);
    tcase_add_test(tc, text_quotes_odd_values);
    tcase_add_test(tc, text_message_stays_one_line);
    tcase_add_test(tc, text_stats_line_unchanged);
    tcase_add_test(tc, json_line_names_who);
    tcase_add_test(tc, json_line_without_who);
    tcase_add_test(tc, json_escapes_everything);
    tcase_add_test(tc, secrets_are_masked);
    tcase_add_test(tc, long_message_is_cut);
    tcase_add_test(tc, level_checked_first);
    suite_add_tcase(s, tc);
    return s;
}
