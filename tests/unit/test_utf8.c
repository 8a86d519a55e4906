/* test_utf8.c - strict UTF-8 validation. */
#include <check.h>
#include <string.h>

#include "protocol/utf8.h"

Suite *suite_utf8(void);

static bool valid(const char *s)
{
    return txs_utf8_valid(s, strlen(s));
}

START_TEST(test_ascii_and_empty)
{
    ck_assert(txs_utf8_valid("", 0));
    ck_assert(valid("hello, world: {\"op\":\"ping\"}"));
    /* A NUL byte is valid UTF-8 (the JSON layer refuses it). */
    ck_assert(txs_utf8_valid("a\0b", 3));
    /* Long ASCII runs take the eight-bytes-at-a-time path; a bad byte at each offset. */
    char buf[40];
    for (size_t i = 0; i < sizeof buf; i++) {
        memset(buf, 'x', sizeof buf);
        ck_assert(txs_utf8_valid(buf, sizeof buf));
        buf[i] = (char)0xFF;
        ck_assert_msg(!txs_utf8_valid(buf, sizeof buf), "0xFF at %zu", i);
    }
}
END_TEST

START_TEST(test_valid_multibyte)
{
    ck_assert(valid("caf\xC3\xA9"));                /* U+00E9 */
    ck_assert(valid("\xC2\x80"));                   /* U+0080, smallest 2-byte */
    ck_assert(valid("\xDF\xBF"));                   /* U+07FF */
    ck_assert(valid("\xE0\xA0\x80"));               /* U+0800, smallest 3-byte */
    ck_assert(valid("\xE2\x82\xAC"));               /* euro sign */
    ck_assert(valid("\xED\x9F\xBF"));               /* U+D7FF, just below surrogates */
    ck_assert(valid("\xEE\x80\x80"));               /* U+E000, just above */
    ck_assert(valid("\xEF\xBF\xBF"));               /* U+FFFF */
    ck_assert(valid("\xF0\x90\x80\x80"));           /* U+10000 */
    ck_assert(valid("\xF0\x9F\x98\x80 smile"));     /* U+1F600 emoji */
    ck_assert(valid("\xF4\x8F\xBF\xBF"));           /* U+10FFFF, the last */
    ck_assert(valid("abcdefgh\xF0\x9F\x98\x80zz")); /* after a fast-path word */
}
END_TEST

START_TEST(test_overlong)
{
    ck_assert(!valid("\xC0\x80"));         /* NUL, overlong */
    ck_assert(!valid("\xC1\xBF"));         /* U+007F, overlong */
    ck_assert(!valid("\xE0\x80\x80"));     /* overlong 3-byte */
    ck_assert(!valid("\xE0\x9F\xBF"));     /* U+07FF as 3 bytes */
    ck_assert(!valid("\xF0\x80\x80\x80")); /* overlong 4-byte */
    ck_assert(!valid("\xF0\x8F\xBF\xBF")); /* U+FFFF as 4 bytes */
}
END_TEST

START_TEST(test_surrogates_and_range)
{
    ck_assert(!valid("\xED\xA0\x80"));     /* U+D800 */
    ck_assert(!valid("\xED\xBF\xBF"));     /* U+DFFF */
    ck_assert(!valid("\xF4\x90\x80\x80")); /* U+110000 */
    ck_assert(!valid("\xF5\x80\x80\x80"));
    ck_assert(!valid("\xF8\x88\x80\x80\x80")); /* old 5-byte form */
    ck_assert(!valid("\xFE"));
    ck_assert(!valid("\xFF"));
}
END_TEST

START_TEST(test_truncated_and_stray)
{
    ck_assert(!valid("\xC3"));         /* lead byte at the end */
    ck_assert(!valid("\xE2\x82"));     /* 3-byte cut short */
    ck_assert(!valid("\xF0\x9F\x98")); /* 4-byte cut short */
    ck_assert(!valid("\xE2\x82x"));    /* ASCII where a continuation belongs */
    ck_assert(!valid("\xF0\x9F\x98\xC3\xA9"));
    ck_assert(!valid("\x80")); /* continuation without a lead */
    ck_assert(!valid("a\xBF"));
    ck_assert(!valid("\xC3\xA9\xA9")); /* one continuation too many */
    /* The length is honoured: a sequence cut by len is invalid. */
    ck_assert(!txs_utf8_valid("\xC3\xA9", 1));
    ck_assert(txs_utf8_valid("\xC3\xA9", 2));
}
END_TEST

START_TEST(test_seq_len)
{
    ck_assert_uint_eq(txs_utf8_seq_len("a", 1), 1);
    ck_assert_uint_eq(txs_utf8_seq_len("\xC3\xA9", 2), 2);
    ck_assert_uint_eq(txs_utf8_seq_len("\xE2\x82\xAC", 3), 3);
    ck_assert_uint_eq(txs_utf8_seq_len("\xF0\x9F\x98\x80", 4), 4);
    ck_assert_uint_eq(txs_utf8_seq_len("\xF0\x9F\x98\x80", 3), 0);
    ck_assert_uint_eq(txs_utf8_seq_len("\xED\xA0\x80", 3), 0);
    ck_assert_uint_eq(txs_utf8_seq_len("\x80", 1), 0);
}
END_TEST

Suite *suite_utf8(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_ascii_and_empty);
    tcase_add_test(tc, test_valid_multibyte);
    tcase_add_test(tc, test_overlong);
    tcase_add_test(tc, test_surrogates_and_range);
    tcase_add_test(tc, test_truncated_and_stray);
    tcase_add_test(tc, test_seq_len);
    suite_add_tcase(s, tc);
    return s;
}
