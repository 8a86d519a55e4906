/* test_buf.c - the growable byte buffer. */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"

Suite *suite_buf(void);

START_TEST(test_append_and_putc)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_buf_append(&b, "abc", 3);
    txs_buf_putc(&b, '-');
    txs_buf_puts(&b, "def");
    txs_buf_append(&b, "ignored", 0);
    ck_assert_uint_eq(b.len, 7);
    ck_assert(memcmp(b.data, "abc-def", 7) == 0);
    ck_assert_uint_ge(b.cap, b.len);
    txs_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_growth_keeps_content)
{
    txs_buf_t b;
    txs_buf_init(&b);
    /* Far past the first allocation, one byte at a time and in blocks. */
    for (int i = 0; i < 10000; i++)
        txs_buf_putc(&b, (char)('a' + i % 26));
    char block[3000];
    memset(block, 'z', sizeof block);
    txs_buf_append(&b, block, sizeof block);
    ck_assert_uint_eq(b.len, 13000);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(b.data[i], 'a' + i % 26);
    ck_assert(memcmp(b.data + 10000, block, sizeof block) == 0);
    /* reserve returns the end and leaves len alone. */
    char *end = txs_buf_reserve(&b, 100000);
    ck_assert_ptr_eq(end, b.data + b.len);
    ck_assert_uint_ge(b.cap - b.len, 100000);
    ck_assert_uint_eq(b.len, 13000);
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_printf_growth)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_buf_printf(&b, "%d-%s", 42, "x");
    ck_assert_uint_eq(b.len, 4);
    ck_assert(memcmp(b.data, "42-x", 4) == 0);
    /* Output longer than the room left: the buffer grows and nothing is cut. */
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    txs_buf_printf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 4 + 2 + sizeof big - 1);
    ck_assert_int_eq(b.data[4], '[');
    ck_assert_int_eq(b.data[5], 'q');
    ck_assert_int_eq(b.data[b.len - 2], 'q');
    ck_assert_int_eq(b.data[b.len - 1], ']');
    /* An empty format adds nothing. */
    size_t len = b.len;
    txs_buf_printf(&b, "%s", "");
    ck_assert_uint_eq(b.len, len);
    /* Exactly filling the room left (printf needs one more byte for its NUL). */
    txs_buf_t c = TXS_BUF_INIT;
    txs_buf_reserve(&c, 1);
    size_t room = c.cap;
    char fill[1024];
    memset(fill, 'f', room);
    fill[room] = '\0';
    txs_buf_printf(&c, "%s", fill);
    ck_assert_uint_eq(c.len, room);
    ck_assert_int_eq(c.data[room - 1], 'f');
    txs_buf_free(&c);
    txs_buf_free(&b);
}
END_TEST

/* put_int writes what printf's %lld would, at the ends of the range too. */
START_TEST(test_put_int)
{
    const long long values[] = {0, 7, -7, 10, 1234567890, -1000000, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        txs_buf_t b = TXS_BUF_INIT;
        txs_buf_putc(&b, '[');
        txs_buf_put_int(&b, values[i]);
        txs_buf_putc(&b, ']');
        char want[32];
        snprintf(want, sizeof want, "[%lld]", values[i]);
        ck_assert_uint_eq(b.len, strlen(want));
        ck_assert(memcmp(b.data, want, b.len) == 0);
        txs_buf_free(&b);
    }
}
END_TEST

START_TEST(test_consume_and_truncate)
{
    txs_buf_t b = TXS_BUF_INIT;
    txs_buf_puts(&b, "line one\nline two\n");
    txs_buf_consume(&b, 9);
    ck_assert_uint_eq(b.len, 9);
    ck_assert(memcmp(b.data, "line two\n", 9) == 0);
    txs_buf_truncate(&b, 4);
    ck_assert_uint_eq(b.len, 4);
    ck_assert(memcmp(b.data, "line", 4) == 0);
    /* Truncating to a larger length changes nothing. */
    txs_buf_truncate(&b, 100);
    ck_assert_uint_eq(b.len, 4);
    txs_buf_puts(&b, "s");
    ck_assert(memcmp(b.data, "lines", 5) == 0);
    /* Consuming everything, or more, empties it. */
    txs_buf_consume(&b, 1000);
    ck_assert_uint_eq(b.len, 0);
    txs_buf_puts(&b, "again");
    ck_assert(memcmp(b.data, "again", 5) == 0);
    txs_buf_consume(&b, 0);
    ck_assert_uint_eq(b.len, 5);
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_shrink)
{
    txs_buf_t b = TXS_BUF_INIT;
    char block[10000] = {0};
    txs_buf_append(&b, block, sizeof block);
    /* Not while it holds data. */
    txs_buf_shrink(&b, 256);
    ck_assert_uint_ge(b.cap, sizeof block);
    ck_assert_uint_eq(b.len, sizeof block);
    txs_buf_consume(&b, b.len);
    txs_buf_shrink(&b, 256);
    ck_assert_uint_le(b.cap, 256);
    /* Still usable. */
    txs_buf_puts(&b, "x");
    ck_assert_uint_eq(b.len, 1);
    ck_assert_int_eq(b.data[0], 'x');
    /* Within the allowance: nothing released. */
    txs_buf_consume(&b, 1);
    size_t cap = b.cap;
    txs_buf_shrink(&b, cap);
    ck_assert_uint_eq(b.cap, cap);
    txs_buf_free(&b);
}
END_TEST

START_TEST(test_xalloc)
{
    char *s = txs_xstrdup("hello");
    ck_assert_str_eq(s, "hello");
    free(s);
    s = txs_xstrndup("hello world", 5);
    ck_assert_str_eq(s, "hello");
    free(s);
    int *z = txs_xcalloc(16, sizeof *z);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(z[i], 0);
    z = txs_xrealloc(z, 1000 * sizeof *z);
    ck_assert_int_eq(z[15], 0);
    free(z);
    free(txs_xmalloc(0));
}
END_TEST

START_TEST(test_text_helpers)
{
    ck_assert_int_eq(txs_hex_digit('0'), 0);
    ck_assert_int_eq(txs_hex_digit('9'), 9);
    ck_assert_int_eq(txs_hex_digit('a'), 10);
    ck_assert_int_eq(txs_hex_digit('F'), 15);
    ck_assert_int_eq(txs_hex_digit('g'), -1);
    ck_assert_int_eq(txs_hex_digit('/'), -1);
    txs_buf_t b = TXS_BUF_INIT;
    txs_buf_put_quoted(&b, "a`b``", 5, '`');
    txs_buf_put_quoted(&b, "", 0, '"');
    ck_assert_uint_eq(b.len, 12);
    ck_assert_int_eq(memcmp(b.data, "`a``b`````\"\"", 12), 0);
    txs_buf_free(&b);
}
END_TEST

Suite *suite_buf(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buffer");
    tcase_add_test(tc, test_append_and_putc);
    tcase_add_test(tc, test_growth_keeps_content);
    tcase_add_test(tc, test_printf_growth);
    tcase_add_test(tc, test_put_int);
    tcase_add_test(tc, test_consume_and_truncate);
    tcase_add_test(tc, test_shrink);
    tcase_add_test(tc, test_xalloc);
    tcase_add_test(tc, test_text_helpers);
    suite_add_tcase(s, tc);
    return s;
}
