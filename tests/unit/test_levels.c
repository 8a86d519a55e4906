/* test_levels.c - transaction levels and named savepoints kept in step with the server,
 * and the SQL text of transaction control. */
#include <check.h>
#include <string.h>

#include "daemon/levels.h"
#include "daemon/tx_sql.h"
#include "drivers/pg_tx.h"

Suite *suite_levels(void);

START_TEST(test_stack_grows_past_inline)
{
    txs_levels_t l = {0};
    txs_levels_push(&l, TXS_LEVEL_TX);
    for (int i = 1; i < 40; i++)
        txs_levels_push(&l, i % 2 ? TXS_LEVEL_SAVEPOINT : TXS_LEVEL_JOINED);
    ck_assert_int_eq(l.depth, 40);
    ck_assert_int_eq(txs_levels_top(&l), TXS_LEVEL_SAVEPOINT); /* level 40: i = 39 */
    for (int i = 39; i >= 1; i--) {
        ck_assert_int_eq(txs_levels_top(&l), i % 2 ? TXS_LEVEL_SAVEPOINT : TXS_LEVEL_JOINED);
        txs_levels_pop(&l);
    }
    ck_assert_int_eq(txs_levels_top(&l), TXS_LEVEL_TX);
    txs_levels_clear(&l);
    ck_assert_int_eq(l.depth, 0);
    ck_assert_ptr_null(l.heap_kinds);
}
END_TEST

START_TEST(test_savepoints_follow_the_levels)
{
    txs_levels_t l = {0};
    txs_levels_push(&l, TXS_LEVEL_TX);
    txs_levels_add_savepoint(&l, "a");
    txs_levels_add_savepoint(&l, "b");
    txs_levels_add_savepoint(&l, "a"); /* the newer a shadows the older */
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "a"), 2);
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "b"), 1);
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "c"), -1);

    /* An inner level sees only its own; closing a nested level drops them. */
    txs_levels_push(&l, TXS_LEVEL_SAVEPOINT);
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "a"), -1);
    ck_assert(txs_levels_has_savepoint(&l, "a"));
    txs_levels_add_savepoint(&l, "inner");
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "inner"), 3);
    txs_levels_pop(&l);
    ck_assert(!txs_levels_has_savepoint(&l, "inner"));
    ck_assert_int_eq(l.nsavepoints, 3);

    /* A joined level's commit hands its savepoints to the enclosing level. */
    txs_levels_push(&l, TXS_LEVEL_JOINED);
    txs_levels_add_savepoint(&l, "a");
    txs_levels_pop_joined(&l);
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "a"), 3);

    /* Release a (index 2 after the newest is dropped) and what came after it. */
    txs_levels_drop_savepoints(&l, 3);
    txs_levels_drop_savepoints(&l, txs_levels_find_savepoint(&l, "a"));
    ck_assert_int_eq(l.nsavepoints, 2);
    ck_assert_int_eq(txs_levels_find_savepoint(&l, "a"), 0);
    txs_levels_drop_savepoints(&l, 0);
    ck_assert_ptr_null(l.savepoints);
    txs_levels_clear(&l);
}
END_TEST

static void quote(txs_buf_t *out, const char *name, size_t len)
{
    txs_buf_putc(out, '[');
    txs_buf_append(out, name, len);
    txs_buf_putc(out, ']');
}

START_TEST(test_sql_text)
{
    char buf[128];
    txs_stmt_t st[TXS_DRV_BEGIN_MAX];
    ck_assert_int_eq(txs_pg_begin_sql(TXS_ISO_DEFAULT, TXS_UNSET, TXS_UNSET, buf, sizeof buf, st),
                     1);
    ck_assert_str_eq(st[0].sql, "BEGIN");
    ck_assert_uint_eq(st[0].sql_len, 5);
    txs_pg_begin_sql(TXS_ISO_SERIALIZABLE, TXS_TRUE, TXS_TRUE, buf, sizeof buf, st);
    ck_assert_str_eq(st[0].sql, "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE");
    txs_pg_begin_sql(TXS_ISO_DEFAULT, TXS_FALSE, TXS_FALSE, buf, sizeof buf, st);
    ck_assert_str_eq(st[0].sql, "BEGIN READ WRITE, NOT DEFERRABLE");
    txs_buf_t q = TXS_BUF_INIT;
    txs_pg_quote_ident(&q, "a\"b", 3);
    ck_assert_uint_eq(q.len, 6);
    ck_assert_int_eq(memcmp(q.data, "\"a\"\"b\"", 6), 0);
    txs_buf_free(&q);

    txs_buf_t out = TXS_BUF_INIT;
    size_t a = txs_tx_sql_savepoint(&out, quote, "SAVEPOINT", "sp1");
    size_t b = txs_tx_sql_level(&out, quote, "RELEASE SAVEPOINT", 3);
    ck_assert_str_eq(out.data + a, "SAVEPOINT [sp1]");
    ck_assert_str_eq(out.data + b, "RELEASE SAVEPOINT [txscope_level_3]");
    size_t c = txs_tx_sql_named(&out, quote, "ROLLBACK TO SAVEPOINT", 12);
    ck_assert_str_eq(out.data + c, "ROLLBACK TO SAVEPOINT [txscope_sp_12]");
    txs_buf_free(&out);
}
END_TEST

Suite *suite_levels(void)
{
    Suite *s = suite_create("levels");
    TCase *tc = tcase_create("levels");
    tcase_add_test(tc, test_stack_grows_past_inline);
    tcase_add_test(tc, test_savepoints_follow_the_levels);
    tcase_add_test(tc, test_sql_text);
    suite_add_tcase(s, tc);
    return s;
}
