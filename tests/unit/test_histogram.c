/* test_histogram.c - the latency histogram: which bucket a value lands in (a value
 * exactly on a bound belongs to that bound's bucket), count and sum, and the `le` labels. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/histogram.h"

Suite *suite_histogram(void);

/* The only bucket that holds anything after one observation of us. */
static int bucket_of(uint64_t us)
{
    txs_histogram_t h;
    memset(&h, 0, sizeof h);
    txs_histogram_observe(&h, us);
    int found = -1;
    for (int i = 0; i <= TXS_HISTOGRAM_NBOUNDS; i++) {
        if (h.counts[i] != 0) {
            ck_assert_int_eq(found, -1);
            ck_assert_uint_eq(h.counts[i], 1);
            found = i;
        }
    }
    ck_assert_uint_eq(h.count, 1);
    ck_assert_uint_eq(h.sum_us, us);
    return found;
}

START_TEST(test_bounds_are_increasing_from_100us_to_10s)
{
    ck_assert_uint_eq(txs_histogram_bounds_us[0], 100);
    ck_assert_uint_eq(txs_histogram_bounds_us[TXS_HISTOGRAM_NBOUNDS - 1], 10000000);
    for (int i = 1; i < TXS_HISTOGRAM_NBOUNDS; i++)
        ck_assert_uint_lt(txs_histogram_bounds_us[i - 1], txs_histogram_bounds_us[i]);
}
END_TEST

START_TEST(test_value_on_a_bound_goes_in_that_bucket)
{
    ck_assert_int_eq(bucket_of(0), 0);
    ck_assert_int_eq(bucket_of(1), 0);
    for (int i = 0; i < TXS_HISTOGRAM_NBOUNDS; i++) {
        uint64_t b = txs_histogram_bounds_us[i];
        ck_assert_int_eq(bucket_of(b), i);         /* le is "less or equal" */
        ck_assert_int_eq(bucket_of(b + 1), i + 1); /* just above: the next one */
        if (i > 0)
            ck_assert_int_eq(bucket_of(txs_histogram_bounds_us[i - 1] + 1), i);
    }
    ck_assert_int_eq(bucket_of(10000001), TXS_HISTOGRAM_NBOUNDS); /* +Inf */
    ck_assert_int_eq(bucket_of(UINT64_MAX / 4), TXS_HISTOGRAM_NBOUNDS);
}
END_TEST

START_TEST(test_counts_and_sum_add_up)
{
    txs_histogram_t h;
    memset(&h, 0, sizeof h);
    const uint64_t v[] = {50, 100, 101, 250, 999, 1000, 20000000, 3};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        txs_histogram_observe(&h, v[i]);
        sum += v[i];
    }
    ck_assert_uint_eq(h.count, 8);
    ck_assert_uint_eq(h.sum_us, sum);
    ck_assert_uint_eq(h.counts[0], 3); /* 50, 100, 3 */
    ck_assert_uint_eq(h.counts[1], 2); /* 101, 250 */
    ck_assert_uint_eq(h.counts[2], 0);
    ck_assert_uint_eq(h.counts[3], 2); /* 999, 1000 */
    ck_assert_uint_eq(h.counts[TXS_HISTOGRAM_NBOUNDS], 1);
    uint64_t total = 0;
    for (int i = 0; i <= TXS_HISTOGRAM_NBOUNDS; i++)
        total += h.counts[i];
    ck_assert_uint_eq(total, h.count);
}
END_TEST

START_TEST(test_le_labels)
{
    ck_assert_str_eq(txs_histogram_le(0), "0.0001");
    ck_assert_str_eq(txs_histogram_le(1), "0.00025");
    ck_assert_str_eq(txs_histogram_le(12), "1");
    ck_assert_str_eq(txs_histogram_le(13), "2.5");
    ck_assert_str_eq(txs_histogram_le(TXS_HISTOGRAM_NBOUNDS - 1), "10");
    ck_assert_str_eq(txs_histogram_le(TXS_HISTOGRAM_NBOUNDS), "+Inf");
    ck_assert_str_eq(txs_histogram_le(-1), "+Inf");
    ck_assert_str_eq(txs_histogram_le(TXS_HISTOGRAM_NBOUNDS + 1), "+Inf");
    /* Every label is its bound in seconds, written as Prometheus parses it. */
    for (int i = 0; i < TXS_HISTOGRAM_NBOUNDS; i++) {
        const char *le = txs_histogram_le(i);
        char *end;
        double secs = strtod(le, &end);
        ck_assert_msg(*end == '\0', "le %s", le);
        ck_assert_msg((uint64_t)(secs * 1e6 + 0.5) == txs_histogram_bounds_us[i],
                      "le %s vs %llu us", le, (unsigned long long)txs_histogram_bounds_us[i]);
        /* The shortest form: no trailing zeros. */
        ck_assert_msg(strchr(le, '.') == NULL || le[strlen(le) - 1] != '0', "le %s", le);
    }
}
END_TEST

Suite *suite_histogram(void)
{
    Suite *s = suite_create("histogram");
    TCase *tc = tcase_create("histogram");
    tcase_add_test(tc, test_bounds_are_increasing_from_100us_to_10s);
    tcase_add_test(tc, test_value_on_a_bound_goes_in_that_bucket);
    tcase_add_test(tc, test_counts_and_sum_add_up);
    tcase_add_test(tc, test_le_labels);
    suite_add_tcase(s, tc);
    return s;
}
