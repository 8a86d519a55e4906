/* test_stmt_copy.c - statements held back by a driver: a faithful, independent copy. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/stmt_copy.h"

Suite *suite_stmt_copy(void);

START_TEST(test_copy_outlives_the_original)
{
    txs_stmt_copy_t c = {0};
    char *sql1 = strdup("insert into t values ($1, $2, $3)");
    char *v1 = strdup("a\0b"), *v3 = strdup("long value");
    const char *vals1[] = {v1, NULL, v3};
    const int lens1[] = {1, 0, 10}; /* lengths win over NUL-termination */
    const char *vals2[] = {"x"};
    const unsigned char kinds1[] = {TXS_PARAM_NUMBER, TXS_PARAM_TEXT, TXS_PARAM_JSON};
    txs_stmt_t in[2] = {{sql1, strlen(sql1), 3, vals1, lens1, kinds1},
                        {"select $1", 9, 1, vals2, NULL, NULL}};
    txs_stmt_copy_keep(&c, in, 2);
    memset(sql1, '?', strlen(sql1)); /* the caller's memory changes or goes */
    free(sql1);
    free(v1);
    free(v3);

    const txs_stmt_t *out = txs_stmt_copy_get(&c);
    ck_assert_int_eq(c.n, 2);
    ck_assert_str_eq(out[0].sql, "insert into t values ($1, $2, $3)");
    ck_assert_uint_eq(out[0].sql_len, 33);
    ck_assert_int_eq(out[0].nparams, 3);
    ck_assert_str_eq(out[0].values[0], "a");
    ck_assert_ptr_null(out[0].values[1]);
    ck_assert_str_eq(out[0].values[2], "long value");
    ck_assert_ptr_null(out[0].lengths);
    ck_assert_int_eq(out[0].kinds[0], TXS_PARAM_NUMBER);
    ck_assert_int_eq(out[0].kinds[1], TXS_PARAM_TEXT);
    ck_assert_int_eq(out[0].kinds[2], TXS_PARAM_JSON);
    ck_assert_str_eq(out[1].sql, "select $1");
    ck_assert_str_eq(out[1].values[0], "x");
    ck_assert_int_eq(out[1].kinds[0], TXS_PARAM_TEXT); /* no kinds given: text */

    /* Reused for a smaller set, then a larger one. */
    txs_stmt_copy_keep(&c, &in[1], 1);
    out = txs_stmt_copy_get(&c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(out[0].values[0], "x");
    txs_stmt_copy_clear(&c);
    ck_assert_int_eq(c.n, 0);
    ck_assert_uint_eq(c.text.len, 0);
    txs_stmt_copy_free(&c);
    ck_assert_ptr_null(c.stmts);
}
END_TEST

Suite *suite_stmt_copy(void)
{
    Suite *s = suite_create("stmt_copy");
    TCase *tc = tcase_create("stmt_copy");
    tcase_add_test(tc, test_copy_outlives_the_original);
    suite_add_tcase(s, tc);
    return s;
}
