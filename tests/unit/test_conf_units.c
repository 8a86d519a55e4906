/* test_conf_units.c - durations and sizes as config values: parse, refuse, print. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "conf/config.h"
#include "protocol/errors.h"

Suite *suite_conf_units(void);

static const struct {
    const char *text;
    uint64_t ms;
} good_durations[] = {
    {"0", 0},
    {"500ms", 500},
    {"30s", 30000},
    {"5m", 300000},
    {"1h", 3600000},
    {"2d", 172800000},
    {"30", 30000}, /* a bare number is seconds */
    {"1.5", 1500}, /* with decimals */
    {"0.5s", 500},
    {"1.25m", 75000},
    {"0.001", 1},
    {"1.000000000000s", 1000}, /* trailing zeros are not precision */
    {"10 s", 10000},           /* spaces between number and unit */
    {"007ms", 7},
    {"18446744073709551615ms", UINT64_MAX},
    {"213503982334d", 213503982334ULL * 86400000ULL}, /* the largest */
};

START_TEST(duration_good)
{
    uint64_t ms = 12345;
    int rc = txs_conf_parse_duration_ms(good_durations[_i].text, &ms);
    ck_assert_msg(rc == 0, "\"%s\" refused", good_durations[_i].text);
    ck_assert_uint_eq(ms, good_durations[_i].ms);
}
END_TEST

static const char *const bad_durations[] = {
    "",
    "-1",
    "-1s",
    "+1s",
    " 1s",
    "1.",
    ".5",
    "1..5",
    "abc",
    "s",
    "1x",
    "1sec",
    "1S",
    "1 h x",
    "1ms5",
    "1.0001s",                /* finer than a millisecond */
    "0.5ms",                  /* likewise */
    "1.0000000001",           /* likewise, past nine digits */
    "18446744073709551616ms", /* overflow in the digits */
    "18446744073709552s",     /* overflow in the multiplication */
    "213503982335d",          /* just over */
    "18446744073709551615.5s",
};

START_TEST(duration_bad)
{
    uint64_t ms = 12345;
    ck_assert_int_eq(txs_conf_parse_duration_ms(bad_durations[_i], &ms), TXS_EINVAL);
    ck_assert_uint_eq(ms, 12345); /* untouched */
}
END_TEST

static const struct {
    const char *text;
    uint64_t bytes;
} good_sizes[] = {
    {"0", 0},
    {"1024", 1024},
    {"1B", 1},
    {"64kB", 65536},
    {"64KB", 65536},
    {"64KiB", 65536},
    {"1MB", 1048576},
    {"1MiB", 1048576},
    {"2GB", 2147483648},
    {"1GiB", 1073741824},
    {"1TB", 1ULL << 40},
    {"16 MB", 16777216},
    {"18446744073709551615", UINT64_MAX},
};

START_TEST(size_good)
{
    size_t n = 12345;
    int rc = txs_conf_parse_size(good_sizes[_i].text, &n);
    ck_assert_msg(rc == 0, "\"%s\" refused", good_sizes[_i].text);
    ck_assert_uint_eq(n, good_sizes[_i].bytes);
}
END_TEST

static const char *const bad_sizes[] = {
    "",
    "-1",
    "+1",
    "MB",
    "1mb",
    "1kb",
    "1Mb",
    "1.5MB",
    "1 XB",
    "1 MB x",
    " 1MB",
    "1e6",
    "0x10",
    "1,000",
    "16777216TB",
    "18446744073709551616", /* overflow in the digits */
    "17179869184GB",        /* overflow in the multiplication */
};

START_TEST(size_bad)
{
    size_t n = 12345;
    ck_assert_int_eq(txs_conf_parse_size(bad_sizes[_i], &n), TXS_EINVAL);
    ck_assert_uint_eq(n, 12345);
}
END_TEST

START_TEST(format_reads_back)
{
    char buf[32];
    txs_conf_format_duration(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0");
    txs_conf_format_duration(1500, buf, sizeof buf);
    ck_assert_str_eq(buf, "1500ms");
    txs_conf_format_duration(90000, buf, sizeof buf);
    ck_assert_str_eq(buf, "90s");
    txs_conf_format_duration(600000, buf, sizeof buf);
    ck_assert_str_eq(buf, "10m");
    txs_conf_format_duration(30ULL * 86400000, buf, sizeof buf);
    ck_assert_str_eq(buf, "30d");
    txs_conf_format_size(0, buf, sizeof buf);
    ck_assert_str_eq(buf, "0B");
    txs_conf_format_size(1000, buf, sizeof buf);
    ck_assert_str_eq(buf, "1000B");
    txs_conf_format_size(1536, buf, sizeof buf);
    ck_assert_str_eq(buf, "1536B"); /* not a whole number of kB */
    txs_conf_format_size(4ULL << 30, buf, sizeof buf);
    ck_assert_str_eq(buf, "4GB");
    txs_conf_format_size(3ULL << 20, buf, sizeof buf);
    ck_assert_str_eq(buf, "3MB");

    /* Whatever is printed parses back to the same value. */
    static const uint64_t values[] = {1, 999, 1000, 61000, 3600000, 86400001, 5ULL << 40};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        uint64_t ms;
        size_t n;
        txs_conf_format_duration(values[i], buf, sizeof buf);
        ck_assert_int_eq(txs_conf_parse_duration_ms(buf, &ms), 0);
        ck_assert_uint_eq(ms, values[i]);
        txs_conf_format_size(values[i], buf, sizeof buf);
        ck_assert_int_eq(txs_conf_parse_size(buf, &n), 0);
        ck_assert_uint_eq(n, values[i]);
    }
}
END_TEST

Suite *suite_conf_units(void)
{
    Suite *s = suite_create("conf_units");
    TCase *tc = tcase_create("units");
    tcase_add_loop_test(tc, duration_good, 0, sizeof good_durations / sizeof *good_durations);
    tcase_add_loop_test(tc, duration_bad, 0, sizeof bad_durations / sizeof *bad_durations);
    tcase_add_loop_test(tc, size_good, 0, sizeof good_sizes / sizeof *good_sizes);
    tcase_add_loop_test(tc, size_bad, 0, sizeof bad_sizes / sizeof *bad_sizes);
    tcase_add_test(tc, format_reads_back);
    suite_add_tcase(s, tc);
    return s;
}
