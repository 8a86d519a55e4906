/* test_metrics.c - error replies counted by SQLSTATE: new codes in the order seen,
 * repeats, malformed codes as XX000, and codes past TXS_METRICS_MAX_CODES as "other". */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "daemon/metrics.h"

Suite *suite_metrics(void);

/* The count of code, or -1 when it has no entry. */
static long long count_of(const txs_metrics_t *m, const char *code)
{
    for (int i = 0; i < m->nerrors; i++)
        if (strcmp(m->errors[i].code, code) == 0)
            return (long long)m->errors[i].n;
    return -1;
}

static uint64_t sum(const txs_metrics_t *m)
{
    uint64_t n = m->errors_other;
    for (int i = 0; i < m->nerrors; i++)
        n += m->errors[i].n;
    return n;
}

START_TEST(test_new_codes_and_repeats)
{
    txs_metrics_t m;
    memset(&m, 0, sizeof m);
    txs_metrics_count_error(&m, "42601");
    txs_metrics_count_error(&m, "53300");
    txs_metrics_count_error(&m, "42601");
    txs_metrics_count_error(&m, "25P02");
    txs_metrics_count_error(&m, "42601");
    ck_assert_int_eq(m.nerrors, 3);
    ck_assert_str_eq(m.errors[0].code, "42601"); /* in the order first seen */
    ck_assert_str_eq(m.errors[1].code, "53300");
    ck_assert_str_eq(m.errors[2].code, "25P02");
    ck_assert_int_eq(count_of(&m, "42601"), 3);
    ck_assert_int_eq(count_of(&m, "53300"), 1);
    ck_assert_int_eq(count_of(&m, "25P02"), 1);
    ck_assert_uint_eq(m.errors_total, 5);
    ck_assert_uint_eq(m.errors_other, 0);
    ck_assert_uint_eq(sum(&m), m.errors_total);
}
END_TEST

START_TEST(test_malformed_code_counts_as_internal_error)
{
    txs_metrics_t m;
    memset(&m, 0, sizeof m);
    const char *bad[] = {NULL, "", "4260", "426011", "4260a", "42 01", "42601\n", "ab\"cd"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        txs_metrics_count_error(&m, bad[i]);
    ck_assert_int_eq(m.nerrors, 1);
    ck_assert_int_eq(count_of(&m, "XX000"), (long long)(sizeof bad / sizeof *bad));
    txs_metrics_count_error(&m, "XX000"); /* the real one joins them */
    ck_assert_int_eq(count_of(&m, "XX000"), (long long)(sizeof bad / sizeof *bad) + 1);
    ck_assert_uint_eq(m.errors_total, sizeof bad / sizeof *bad + 1);
}
END_TEST

START_TEST(test_codes_past_the_limit_count_as_other)
{
    txs_metrics_t m;
    memset(&m, 0, sizeof m);
    char code[6];
    for (int i = 0; i < TXS_METRICS_MAX_CODES; i++) {
        snprintf(code, sizeof code, "P%04u", (unsigned)i % 10000u);
        txs_metrics_count_error(&m, code);
    }
    ck_assert_int_eq(m.nerrors, TXS_METRICS_MAX_CODES);
    ck_assert_uint_eq(m.errors_other, 0);
    /* A new code now has no room; a known one still counts under its own name. */
    txs_metrics_count_error(&m, "Q0000");
    txs_metrics_count_error(&m, "Q0001");
    txs_metrics_count_error(&m, "Q0000");
    txs_metrics_count_error(&m, "P0007");
    ck_assert_int_eq(m.nerrors, TXS_METRICS_MAX_CODES);
    ck_assert_uint_eq(m.errors_other, 3);
    ck_assert_int_eq(count_of(&m, "Q0000"), -1);
    ck_assert_int_eq(count_of(&m, "P0007"), 2);
    ck_assert_uint_eq(m.errors_total, TXS_METRICS_MAX_CODES + 4);
    ck_assert_uint_eq(sum(&m), m.errors_total);
}
END_TEST

Suite *suite_metrics(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_new_codes_and_repeats);
    tcase_add_test(tc, test_malformed_code_counts_as_internal_error);
    tcase_add_test(tc, test_codes_past_the_limit_count_as_other);
    suite_add_tcase(s, tc);
    return s;
}
