/* test_framing.c - splitting the input stream into lines. */
#include <check.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/framing.h"

Suite *suite_framing(void);

START_TEST(test_one_line)
{
    size_t scanned = 0, line_len = 99;
    const char *in = "{\"op\":\"ping\"}\n";
    ck_assert_int_eq(txs_frame_next(in, strlen(in), 1024, &scanned, &line_len), 14);
    ck_assert_uint_eq(line_len, 13);
    ck_assert_uint_eq(scanned, 0);
}
END_TEST

START_TEST(test_crlf_and_empty_lines)
{
    size_t scanned = 0, line_len = 99;
    ck_assert_int_eq(txs_frame_next("abc\r\n", 5, 1024, &scanned, &line_len), 5);
    ck_assert_uint_eq(line_len, 3);
    ck_assert_int_eq(txs_frame_next("\n", 1, 1024, &scanned, &line_len), 1);
    ck_assert_uint_eq(line_len, 0);
    ck_assert_int_eq(txs_frame_next("\r\n", 2, 1024, &scanned, &line_len), 2);
    ck_assert_uint_eq(line_len, 0);
    /* Only the \r right before the \n is part of the ending. */
    ck_assert_int_eq(txs_frame_next("a\rb\n", 4, 1024, &scanned, &line_len), 4);
    ck_assert_uint_eq(line_len, 3);
}
END_TEST

START_TEST(test_several_lines_in_one_buffer)
{
    char buf[64];
    strcpy(buf, "one\ntwo\r\nthree\npart");
    size_t len = strlen(buf), scanned = 0, line_len;
    const char *expect[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        ssize_t n = txs_frame_next(buf, len, 1024, &scanned, &line_len);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_eq(line_len, strlen(expect[i]));
        ck_assert(memcmp(buf, expect[i], line_len) == 0);
        memmove(buf, buf + n, len - (size_t)n);
        len -= (size_t)n;
        scanned = 0;
    }
    ck_assert_int_eq(txs_frame_next(buf, len, 1024, &scanned, &line_len), 0);
    ck_assert_uint_eq(scanned, 4);
}
END_TEST

START_TEST(test_line_in_many_chunks)
{
    const char *msg = "{\"op\":\"query\",\"ctx\":\"r1\",\"sql\":\"SELECT 1\"}\r\n";
    size_t total = strlen(msg), scanned = 0, line_len = 0;
    char buf[128];
    /* Bytes arrive one at a time; only the last one completes the line. */
    for (size_t len = 1; len <= total; len++) {
        memcpy(buf, msg, len);
        ssize_t n = txs_frame_next(buf, len, 1024, &scanned, &line_len);
        if (len < total) {
            ck_assert_int_eq(n, 0);
            ck_assert_uint_eq(scanned, len);
        } else {
            ck_assert_int_eq(n, (ssize_t)total);
            ck_assert_uint_eq(line_len, total - 2);
        }
    }
}
END_TEST

START_TEST(test_scanned_skips_known_bytes)
{
    /* A '\n' before *scanned is not looked at again: the caller vouched for those bytes. */
    size_t scanned = 3, line_len;
    ck_assert_int_eq(txs_frame_next("a\nbc", 4, 1024, &scanned, &line_len), 0);
    ck_assert_uint_eq(scanned, 4);
    /* A stale scanned past the end is clamped rather than read past the buffer. */
    scanned = 100;
    ck_assert_int_eq(txs_frame_next("xy\n", 3, 1024, &scanned, &line_len), 0);
    ck_assert_uint_eq(scanned, 3);
}
END_TEST

START_TEST(test_max_line)
{
    enum { MAX = 16 };
    char buf[MAX + 8];
    size_t scanned = 0, line_len = 0;
    /* Exactly MAX bytes: accepted, with \n or \r\n. */
    memset(buf, 'a', MAX);
    buf[MAX] = '\n';
    ck_assert_int_eq(txs_frame_next(buf, MAX + 1, MAX, &scanned, &line_len), MAX + 1);
    ck_assert_uint_eq(line_len, MAX);
    buf[MAX] = '\r';
    buf[MAX + 1] = '\n';
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 2, MAX, &scanned, &line_len), MAX + 2);
    ck_assert_uint_eq(line_len, MAX);
    /* MAX bytes and a \r still waiting for its \n: not refused yet. */
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 1, MAX, &scanned, &line_len), 0);
    /* MAX bytes without a newline: wait. */
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX, MAX, &scanned, &line_len), 0);
    /* MAX + 1 bytes without a newline: refused at once, before any newline comes. */
    memset(buf, 'a', MAX + 1);
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 1, MAX, &scanned, &line_len), TXS_ETOOBIG);
    /* MAX + 1 bytes and then the newline arriving together: refused too. */
    buf[MAX + 1] = '\n';
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 2, MAX, &scanned, &line_len), TXS_ETOOBIG);
    /* MAX + 1 bytes where the last is \r followed by more: not an ending, refused. */
    buf[MAX] = '\r';
    buf[MAX + 1] = 'x';
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 2, MAX, &scanned, &line_len), TXS_ETOOBIG);
    /* A short line before a long tail is still delivered first. */
    memcpy(buf, "ok\n", 3);
    scanned = 0;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 2, MAX, &scanned, &line_len), 3);
    ck_assert_uint_eq(line_len, 2);
}
END_TEST

START_TEST(test_big_line_in_pieces)
{
    /* 1 MiB limit, a line of exactly 1 MiB arriving in 4 KiB pieces. */
    enum { MAX = 1 << 20, PIECE = 4096 };
    static char buf[MAX + 2];
    memset(buf, 'x', MAX);
    buf[MAX] = '\n';
    size_t scanned = 0, line_len = 0;
    for (size_t len = PIECE; len <= MAX; len += PIECE) {
        ck_assert_int_eq(txs_frame_next(buf, len, MAX, &scanned, &line_len), 0);
        ck_assert_uint_eq(scanned, len);
    }
    ck_assert_int_eq(txs_frame_next(buf, MAX + 1, MAX, &scanned, &line_len), MAX + 1);
    ck_assert_uint_eq(line_len, MAX);
    /* One byte more than the limit is refused as soon as it is there. */
    buf[MAX] = 'x';
    scanned = MAX;
    ck_assert_int_eq(txs_frame_next(buf, MAX + 1, MAX, &scanned, &line_len), TXS_ETOOBIG);
}
END_TEST

START_TEST(empty_buffer_may_be_null)
{
    size_t scanned = 0, line_len = 99;
    ck_assert_int_eq(txs_frame_next(NULL, 0, 16, &scanned, &line_len), 0);
    ck_assert_uint_eq(scanned, 0);
    ck_assert_uint_eq(line_len, 99); /* untouched: no line */
}
END_TEST

Suite *suite_framing(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("lines");
    tcase_add_test(tc, empty_buffer_may_be_null);
    tcase_add_test(tc, test_one_line);
    tcase_add_test(tc, test_crlf_and_empty_lines);
    tcase_add_test(tc, test_several_lines_in_one_buffer);
    tcase_add_test(tc, test_line_in_many_chunks);
    tcase_add_test(tc, test_scanned_skips_known_bytes);
    tcase_add_test(tc, test_max_line);
    tcase_add_test(tc, test_big_line_in_pieces);
    suite_add_tcase(s, tc);
    return s;
}
