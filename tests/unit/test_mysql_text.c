/* test_mysql_text.c - the MySQL driver's pure text work: keywords, session changes, BEGIN,
 * identifiers, numbers. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/mysql_text.h"

Suite *suite_mysql_text(void);

static const char *kw(const char *sql)
{
    static char out[32];
    txs_mysql_sql_keyword(sql, strlen(sql), out, sizeof out);
    return out;
}

START_TEST(keyword_skips_space_and_comments)
{
    ck_assert_str_eq(kw("select 1"), "SELECT");
    ck_assert_str_eq(kw("  \n\tInsert into t values (1)"), "INSERT");
    ck_assert_str_eq(kw("-- note\nupdate t set x = 1"), "UPDATE");
    ck_assert_str_eq(kw("# note\r\n  Delete from t"), "DELETE");
    ck_assert_str_eq(kw("/* a */ /* b * / c */replace into t values (1)"), "REPLACE");
    ck_assert_str_eq(kw("/*!40101 SET NAMES utf8 */"), "SET");
    ck_assert_str_eq(kw("/*M!100000 create table t (x int) */"), "CREATE");
    ck_assert_str_eq(kw("call p()"), "CALL");
    ck_assert_str_eq(kw("start_x"), "START_X");
    ck_assert_str_eq(kw("(select 1)"), "");
    ck_assert_str_eq(kw("--1"), ""); /* not a comment: minus minus one */
    ck_assert_str_eq(kw(""), "");
    ck_assert_str_eq(kw("   -- only a comment"), "");
    ck_assert_str_eq(kw("/* unterminated select"), "");
    /* the keyword is cut to the room given */
    char small[4];
    ck_assert_uint_eq(txs_mysql_sql_keyword("savepoint a", 11, small, sizeof small), 3);
    ck_assert_str_eq(small, "SAV");
    /* len, not strlen */
    ck_assert_str_eq((txs_mysql_sql_keyword("commit", 3, small, sizeof small), small), "COM");
}
END_TEST

START_TEST(empty_statements)
{
    const char *empty[] = {"", " \n ", "-- x", "# x\n", "/* x */", "-- a\n/* b */ # c"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
        ck_assert_uint_eq(txs_mysql_sql_start(empty[i], strlen(empty[i])), strlen(empty[i]));
    ck_assert_uint_eq(txs_mysql_sql_start(" (select 1)", 11), 1);
    ck_assert_uint_eq(txs_mysql_sql_start("/*! */", 6), 6);
    ck_assert_uint_eq(txs_mysql_sql_start("/*!50000 */ x", 13), 12);
}
END_TEST

static bool changes(const char *sql)
{
    return txs_mysql_sql_changes_session(sql, strlen(sql));
}

START_TEST(statements_that_change_the_session)
{
    ck_assert(changes("call p(1)"));
    ck_assert(changes(" /* x */ CALL p"));
    ck_assert(changes("lock tables t read"));
    ck_assert(changes("FLUSH TABLES WITH READ LOCK"));
    ck_assert(changes("handler t open"));
    ck_assert(changes("load data infile 'x' into table t (@a) set c = @a"));
    ck_assert(changes("select get_lock('x', 0)"));
    ck_assert(changes("SELECT IF(1, GET_LOCK('x', 0), 0)"));
    ck_assert(changes("select @a := 1"));
    ck_assert(changes("update t set x = (@v:=x)"));
    ck_assert(changes("select 1 into @a"));
    ck_assert(changes("select 1, 2 INTO\n @a, @b"));
    ck_assert(!changes("select 1"));
    ck_assert(!changes("select @a"));
    ck_assert(!changes("insert into t values (1)"));
    ck_assert(!changes("select x from t where y = 'a@b'"));
    ck_assert(!changes("select release_lock('x')"));
    ck_assert(!changes("select 1 from t for update"));
    ck_assert(!changes("callx()"));
    ck_assert(!changes("select 1 from t where a = 1")); /* no := */
    ck_assert(!changes("select x from intox where y = '@'"));
}
END_TEST

START_TEST(begin_statements)
{
    char buf[160];
    txs_stmt_t s[TXS_DRV_BEGIN_MAX];
    ck_assert_int_eq(txs_mysql_begin_sql(TXS_ISO_DEFAULT, TXS_UNSET, TXS_UNSET, buf, sizeof buf, s),
                     1);
    ck_assert_str_eq(s[0].sql, "START TRANSACTION");
    ck_assert_uint_eq(s[0].sql_len, 17);
    ck_assert_int_eq(s[0].nparams, 0);
    ck_assert_int_eq(txs_mysql_begin_sql(TXS_ISO_DEFAULT, TXS_TRUE, TXS_TRUE, buf, sizeof buf, s),
                     1);
    ck_assert_str_eq(s[0].sql, "START TRANSACTION READ ONLY");
    ck_assert_int_eq(
        txs_mysql_begin_sql(TXS_ISO_READ_UNCOMMITTED, TXS_FALSE, TXS_FALSE, buf, sizeof buf, s), 2);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED");
    ck_assert_uint_eq(s[0].sql_len, strlen(s[0].sql));
    ck_assert_str_eq(s[1].sql, "START TRANSACTION READ WRITE");
    ck_assert_uint_eq(s[1].sql_len, strlen(s[1].sql));
    ck_assert_int_eq(
        txs_mysql_begin_sql(TXS_ISO_SERIALIZABLE, TXS_UNSET, TXS_UNSET, buf, sizeof buf, s), 2);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE");
    ck_assert_str_eq(s[1].sql, "START TRANSACTION");
    txs_mysql_begin_sql(TXS_ISO_REPEATABLE_READ, TXS_TRUE, TXS_UNSET, buf, sizeof buf, s);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
    ck_assert_str_eq(s[1].sql, "START TRANSACTION READ ONLY");
    txs_mysql_begin_sql(TXS_ISO_READ_COMMITTED, TXS_UNSET, TXS_UNSET, buf, sizeof buf, s);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
}
END_TEST

static const char *quoted(txs_buf_t *b, const char *name, size_t len)
{
    txs_buf_truncate(b, 0);
    txs_mysql_quote_ident(b, name, len);
    *txs_buf_reserve(b, 1) = '\0';
    return b->data;
}

START_TEST(quote_ident_doubles_backticks)
{
    txs_buf_t b;
    txs_buf_init(&b);
    ck_assert_str_eq(quoted(&b, "a`b", 3), "`a``b`");
    ck_assert_str_eq(quoted(&b, "", 0), "``");
    ck_assert_str_eq(quoted(&b, "``", 2), "``````");
    ck_assert_str_eq(quoted(&b, "Mixed Case;drop \"x\"", 19), "`Mixed Case;drop \"x\"`");
    ck_assert_str_eq(quoted(&b, "xyz", 2), "`xy`");
    txs_buf_free(&b);
}
END_TEST

static txs_mysql_num_t numk(const char *s, int64_t *i, uint64_t *u)
{
    *i = 12345;
    *u = 12345;
    return txs_mysql_number_kind(s, strlen(s), i, u);
}

START_TEST(number_parameters)
{
    int64_t i;
    uint64_t u;
    ck_assert_int_eq(numk("0", &i, &u), TXS_MYSQL_NUM_INT);
    ck_assert_int_eq(i, 0);
    ck_assert_int_eq(numk("-0", &i, &u), TXS_MYSQL_NUM_INT);
    ck_assert_int_eq(i, 0);
    ck_assert_int_eq(numk("42", &i, &u), TXS_MYSQL_NUM_INT);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(numk("9223372036854775807", &i, &u), TXS_MYSQL_NUM_INT);
    ck_assert_int_eq(i, INT64_MAX);
    ck_assert_int_eq(numk("-9223372036854775808", &i, &u), TXS_MYSQL_NUM_INT);
    ck_assert_int_eq(i, INT64_MIN);
    ck_assert_int_eq(numk("-9223372036854775809", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("9223372036854775808", &i, &u), TXS_MYSQL_NUM_UINT);
    ck_assert_uint_eq(u, 9223372036854775808u);
    ck_assert_int_eq(numk("18446744073709551615", &i, &u), TXS_MYSQL_NUM_UINT);
    ck_assert_uint_eq(u, UINT64_MAX);
    ck_assert_int_eq(numk("18446744073709551616", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("99999999999999999999999", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("1.5", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("1e3", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("-2.50E-3", &i, &u), TXS_MYSQL_NUM_DECIMAL);
    ck_assert_int_eq(numk("-", &i, &u), TXS_MYSQL_NUM_DECIMAL);
}
END_TEST

static const char *fmt(double v)
{
    static char out[32];
    size_t n = txs_mysql_format_double(v, out);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

START_TEST(doubles_print_shortest)
{
    ck_assert_str_eq(fmt(0), "0");
    ck_assert_str_eq(fmt(-0.0), "0");
    ck_assert_str_eq(fmt(1), "1");
    ck_assert_str_eq(fmt(-1.5), "-1.5");
    ck_assert_str_eq(fmt(0.1), "0.1");
    ck_assert_str_eq(fmt(0.1 + 0.2), "0.30000000000000004");
    ck_assert_str_eq(fmt(1.0 / 3), "0.3333333333333333");
    ck_assert_str_eq(fmt(16777200), "16777200");
    ck_assert_str_eq(fmt(123456789012345678.0), "123456789012345680");
    ck_assert_str_eq(fmt(1e21), "1e+21");
    ck_assert_str_eq(fmt(1e20), "100000000000000000000");
    ck_assert_str_eq(fmt(1.5e300), "1.5e+300");
    ck_assert_str_eq(fmt(2.5e-5), "0.000025");
    ck_assert_str_eq(fmt(1e-6), "0.000001");
    ck_assert_str_eq(fmt(1e-7), "1e-7");
    ck_assert_str_eq(fmt(-1.25e-10), "-1.25e-10");
    ck_assert_str_eq(fmt(5e-324), "5e-324");
    ck_assert_str_eq(fmt(DBL_MAX), "1.7976931348623157e+308");
    ck_assert_str_eq(fmt(2.2250738585072014e-308), "2.2250738585072014e-308");
    ck_assert_str_eq(fmt(1000000000000000.2), "1000000000000000.2");
    /* every value reads back exactly */
    srand(7);
    for (int k = 0; k < 20000; k++) {
        double v = ldexp((double)rand() / RAND_MAX - 0.5, rand() % 2000 - 1000);
        ck_assert(strtod(fmt(v), NULL) == v);
    }
}
END_TEST

static const char *itext(const char *s)
{
    static char out[64];
    size_t n = txs_mysql_integer_text(s, strlen(s), out);
    out[n] = '\0';
    return out;
}

START_TEST(integers_lose_leading_zeros)
{
    ck_assert_str_eq(itext("42"), "42");
    ck_assert_str_eq(itext("00042"), "42");
    ck_assert_str_eq(itext("0000"), "0");
    ck_assert_str_eq(itext("0"), "0");
    ck_assert_str_eq(itext("-0"), "0");
    ck_assert_str_eq(itext("-007"), "-7");
    ck_assert_str_eq(itext("+5"), "5");
    ck_assert_str_eq(itext("18446744073709551615"), "18446744073709551615");
    ck_assert_str_eq(itext("-9223372036854775808"), "-9223372036854775808");
    ck_assert_str_eq(itext(""), "");
    ck_assert_str_eq(itext("-"), "");
    ck_assert_str_eq(itext("1.5"), "");
    ck_assert_str_eq(itext("12a"), "");
}
END_TEST

Suite *suite_mysql_text(void)
{
    Suite *s = suite_create("mysql_text");
    TCase *tc = tcase_create("mysql_text");
    tcase_add_test(tc, keyword_skips_space_and_comments);
    tcase_add_test(tc, empty_statements);
    tcase_add_test(tc, statements_that_change_the_session);
    tcase_add_test(tc, begin_statements);
    tcase_add_test(tc, quote_ident_doubles_backticks);
    tcase_add_test(tc, number_parameters);
    tcase_add_test(tc, doubles_print_shortest);
    tcase_add_test(tc, integers_lose_leading_zeros);
    suite_add_tcase(s, tc);
    return s;
}
