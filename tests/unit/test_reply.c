/* test_reply.c - reply framing and JSON value encoding. */
#include <check.h>
#include <string.h>

#include "protocol/reply.h"

Suite *suite_reply(void);

/* The buffer's content as a C string (the buffer keeps its own copy). */
static const char *str(txs_buf_t *b)
{
    txs_buf_putc(b, '\0');
    b->len--;
    return b->data;
}

static const char *put_string(txs_buf_t *b, const char *s, size_t len)
{
    b->len = 0;
    txs_json_put_string(b, s, len);
    return str(b);
}

START_TEST(test_string_escapes)
{
    txs_buf_t b = TXS_BUF_INIT;
    ck_assert_str_eq(put_string(&b, "", 0), "\"\"");
    ck_assert_str_eq(put_string(&b, "plain text", 10), "\"plain text\"");
    ck_assert_str_eq(put_string(&b, "a\"b\\c/d", 7), "\"a\\\"b\\\\c/d\"");
    ck_assert_str_eq(put_string(&b, "\n\r\t\b\f", 5), "\"\\n\\r\\t\\b\\f\"");
    ck_assert_str_eq(put_string(&b, "\x01\x1f", 2), "\"\\u0001\\u001f\"");
    ck_assert_str_eq(put_string(&b, "a\0b", 3), "\"a\\u0000b\"");
    /* DEL and non-ASCII UTF-8 are copied as they are. */
    ck_assert_str_eq(put_string(&b, "\x7f", 1), "\"\x7f\"");
    ck_assert_str_eq(put_string(&b, "caf\xC3\xA9 \xF0\x9F\x98\x80", 10),
                     "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
    /* Bytes that are not UTF-8 become U+FFFD, so the reply stays valid UTF-8. */
    ck_assert_str_eq(put_string(&b,
                                "a\xFF"
                                "b",
                                3),
                     "\"a\xEF\xBF\xBD"
                     "b\"");
    ck_assert_str_eq(put_string(&b, "\xC3", 1), "\"\xEF\xBF\xBD\"");
    ck_assert_str_eq(put_string(&b, "\xED\xA0\x80", 3), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    /* Appends after what is already there. */
    b.len = 0;
    txs_buf_puts(&b, "x=");
    txs_json_put_string(&b, "y", 1);
    ck_assert_str_eq(str(&b), "x=\"y\"");
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_string_long)
{
    /* Longer than one escaping slice, with multi-byte characters across the slice edges
     * and characters that grow when escaped. */
    enum { N = 20000 };
    static char in[N];
    size_t n = 2, units = 0;
    memcpy(in, "xy", 2); /* so that a slice edge (4096) falls inside a euro sign */
    while (n + 4 <= N) {
        memcpy(in + n, "\xE2\x82\xAC\n", 4); /* euro sign, newline */
        n += 4;
        units++;
    }
    txs_buf_t b = TXS_BUF_INIT;
    txs_json_put_string(&b, in, n);
    ck_assert_uint_eq(b.len, 2 + 2 + units * 5);
    ck_assert(memcmp(b.data, "\"xy", 3) == 0);
    for (size_t i = 0; i < units; i++)
        ck_assert_msg(memcmp(b.data + 3 + 5 * i, "\xE2\x82\xAC\\n", 5) == 0, "at %zu", i);
    ck_assert_int_eq(b.data[b.len - 1], '"');
    /* The same with txs_json_escape. */
    static char out[6 * N + 2];
    size_t on = txs_json_escape(out, in, n);
    ck_assert_uint_eq(on, b.len);
    ck_assert(memcmp(out, b.data, on) == 0);
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_base64)
{
    /* RFC 4648 section 10 test vectors. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"\"\"",         "\"Zg==\"",     "\"Zm8=\"",    "\"Zm9v\"",
                         "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\""};
    txs_buf_t b = TXS_BUF_INIT;
    for (int i = 0; i < 7; i++) {
        b.len = 0;
        txs_json_put_base64(&b, (const unsigned char *)in[i], strlen(in[i]));
        ck_assert_str_eq(str(&b), out[i]);
    }
    const unsigned char bin[] = {0x00, 0xFF, 0xFE, 0x3E, 0x3F};
    b.len = 0;
    txs_json_put_base64(&b, bin, sizeof bin);
    ck_assert_str_eq(str(&b), "\"AP/+Pj8=\"");
    txs_buf_free(&b);
}
END_TEST

static const char *compact(txs_buf_t *b, const char *json)
{
    b->len = 0;
    txs_json_put_compact(b, json, strlen(json));
    return str(b);
}

START_TEST(test_compact)
{
    txs_buf_t b = TXS_BUF_INIT;
    ck_assert_str_eq(compact(&b, "{\"a\": 1, \"b\": [1, 2,\n 3]}"), "{\"a\":1,\"b\":[1,2,3]}");
    ck_assert_str_eq(compact(&b, "{\n\t\"k\" :\r\n \"v w\"\n}"), "{\"k\":\"v w\"}");
    /* Whitespace and quotes inside strings stay, escaped quotes do not end a string. */
    ck_assert_str_eq(compact(&b, "[\"a \\\" b\", \"c\\\\\", \" d \"]"),
                     "[\"a \\\" b\",\"c\\\\\",\" d \"]");
    /* Numbers exactly as written. */
    ck_assert_str_eq(compact(&b, "[1.10, -0.000, 1e400, 4611686018427387905]"),
                     "[1.10,-0.000,1e400,4611686018427387905]");
    ck_assert_str_eq(compact(&b, "  42  "), "42");
    ck_assert_str_eq(compact(&b, "\"\\n\""), "\"\\n\"");
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_reply_frame)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_reply_open(&b, "7", 1, true);
    txs_buf_puts(&b, ",\"command\":\"SELECT\"");
    txs_reply_close(&b, true, TXS_TX_OPEN, 1);
    ck_assert_str_eq(str(&b),
                     "{\"id\":7,\"ok\":true,\"command\":\"SELECT\",\"tx\":{\"state\":\"open\","
                     "\"depth\":1}}\n");
    b.len = 0;
    txs_reply_open(&b, NULL, 0, true);
    txs_reply_close(&b, false, TXS_TX_IDLE, 0);
    ck_assert_str_eq(str(&b), "{\"ok\":true}\n");
    b.len = 0;
    txs_reply_open(&b, "\"req-1\"", 7, false);
    txs_reply_close(&b, true, TXS_TX_IDLE, 0);
    ck_assert_str_eq(str(&b),
                     "{\"id\":\"req-1\",\"ok\":false,\"tx\":{\"state\":\"idle\",\"depth\":0}}\n");
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_state_names)
{
    ck_assert_str_eq(txs_tx_state_name(TXS_TX_IDLE), "idle");
    ck_assert_str_eq(txs_tx_state_name(TXS_TX_OPEN), "open");
    ck_assert_str_eq(txs_tx_state_name(TXS_TX_FAILED), "failed");
    ck_assert_str_eq(txs_tx_state_name(TXS_TX_INACTIVE), "inactive");
}
END_TEST

START_TEST(test_error_full)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_error_info_t e = {
        .code = "23505",
        .message = "duplicate key value violates unique constraint \"t_pkey\"",
        .detail = "Key (id)=(1) already exists.",
        .hint = "try\nanother",
        .constraint = "t_pkey",
        .position = 15,
        .vendor_code = 1062,
        .from_db = true,
    };
    txs_reply_open(&b, "7", 1, false);
    txs_reply_put_error(&b, &e);
    txs_reply_close(&b, true, TXS_TX_FAILED, 1);
    ck_assert_str_eq(
        str(&b), "{\"id\":7,\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"duplicate key "
                 "value violates unique constraint \\\"t_pkey\\\"\",\"detail\":\"Key (id)=(1) "
                 "already exists.\",\"hint\":\"try\\nanother\",\"position\":15,\"constraint\":"
                 "\"t_pkey\",\"vendorCode\":1062,\"source\":\"db\"},\"tx\":{\"state\":\"failed\","
                 "\"depth\":1}}\n");
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_error_minimal)
{
    txs_buf_t b = TXS_BUF_INIT;
    /* Absent optional parts are left out; source is proxy. */
    txs_error_info_t e = {.code = "25P02", .message = "roll back first"};
    txs_buf_puts(&b, "{");
    txs_reply_put_error(&b, &e);
    ck_assert_str_eq(str(&b),
                     "{,\"error\":{\"code\":\"25P02\",\"message\":\"roll back first\",\"source\":"
                     "\"proxy\"}");
    /* No code or message at all still gives a well-formed error. */
    b.len = 0;
    txs_error_info_t none = {0};
    txs_reply_put_error(&b, &none);
    ck_assert_str_eq(str(&b),
                     ",\"error\":{\"code\":\"XX000\",\"message\":\"\",\"source\":\"proxy\"}");
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_error_batch_index)
{
    /* A batch's failing statement is named by its 0-based index; index 0 is printed. */
    txs_buf_t b = TXS_BUF_INIT;
    txs_error_info_t e = {
        .code = "23505", .message = "dup", .has_index = true, .index = 0, .from_db = true};
    txs_reply_put_error(&b, &e);
    ck_assert_str_eq(str(&b), ",\"error\":{\"code\":\"23505\",\"message\":\"dup\",\"index\":0,"
                              "\"source\":\"db\"}");
    b.len = 0;
    e.index = 29;
    txs_reply_put_error(&b, &e);
    ck_assert_ptr_nonnull(strstr(str(&b), ",\"index\":29,"));
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_proxy_error)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_reply_proxy_error(&b, "\"a\"", 3, "08P01", "field \"op\" must be a string", false,
                          TXS_TX_IDLE, 0);
    ck_assert_str_eq(str(&b),
                     "{\"id\":\"a\",\"ok\":false,\"error\":{\"code\":\"08P01\",\"message\":"
                     "\"field \\\"op\\\" must be a string\",\"source\":\"proxy\"}}\n");
    b.len = 0;
    txs_reply_proxy_error(&b, NULL, 0, "25P02", "failed", true, TXS_TX_INACTIVE, 2);
    ck_assert_str_eq(str(&b),
                     "{\"ok\":false,\"error\":{\"code\":\"25P02\",\"message\":\"failed\","
                     "\"source\":\"proxy\"},\"tx\":{\"state\":\"inactive\",\"depth\":2}}\n");
    /* Every reply ends with exactly one newline and holds no other. */
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    ck_assert_ptr_eq(memchr(b.data, '\n', b.len), b.data + b.len - 1);
    txs_buf_free(&b);
}
END_TEST

Suite *suite_reply(void)
{
    Suite *s = suite_create("reply");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, test_string_escapes);
    tcase_add_test(tc, test_string_long);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_compact);
    suite_add_tcase(s, tc);
    tc = tcase_create("frame");
    tcase_add_test(tc, test_reply_frame);
    tcase_add_test(tc, test_state_names);
    tcase_add_test(tc, test_error_full);
    tcase_add_test(tc, test_error_minimal);
    tcase_add_test(tc, test_error_batch_index);
    tcase_add_test(tc, test_proxy_error);
    suite_add_tcase(s, tc);
    return s;
}
