/* test_pg_cache.c - the PostgreSQL driver's statement cache: when a text is prepared,
 * under which name, what the LRU lets go of, and which statements it takes. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "drivers/pg_cache.h"

Suite *suite_pg_cache(void);

/* One use of sql; its name and id in *name and *id (left as "-" and 0 for PLAIN). */
static txs_pg_cache_use_t use(txs_pg_cache_t *c, const char *sql, char *name, uint32_t *id)
{
    snprintf(name, TXS_PG_CACHE_NAME_MAX, "-");
    *id = 0;
    return txs_pg_cache_use(c, sql, strlen(sql), name, id);
}

/* Uses sql once and expects `want`; returns the id. */
static uint32_t expect_use(txs_pg_cache_t *c, const char *sql, txs_pg_cache_use_t want)
{
    char name[TXS_PG_CACHE_NAME_MAX];
    uint32_t id;
    txs_pg_cache_use_t got = use(c, sql, name, &id);
    ck_assert_msg(got == want, "%s: use %d, want %d", sql, (int)got, (int)want);
    if (want == TXS_PG_SEND_PLAIN) {
        ck_assert_str_eq(name, "-"); /* nothing written for a plain use */
        return 0;
    }
    char want_name[TXS_PG_CACHE_NAME_MAX];
    snprintf(want_name, sizeof want_name, "txs_s%u", (unsigned)id);
    ck_assert_str_eq(name, want_name);
    ck_assert_uint_gt(id, 0);
    return id;
}

/* Uses sql twice (PLAIN then PREPARE): it is prepared; returns its id. */
static uint32_t prepare(txs_pg_cache_t *c, const char *sql)
{
    expect_use(c, sql, TXS_PG_SEND_PLAIN);
    return expect_use(c, sql, TXS_PG_SEND_PREPARE);
}

START_TEST(plain_then_prepare_then_named)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    char name[TXS_PG_CACHE_NAME_MAX];
    uint32_t id;
    const char *q = "select * from t where id = $1";
    ck_assert_int_eq(use(&c, q, name, &id), TXS_PG_SEND_PLAIN);
    ck_assert_int_eq(use(&c, q, name, &id), TXS_PG_SEND_PREPARE);
    ck_assert_str_eq(name, "txs_s1");
    ck_assert_uint_eq(id, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(use(&c, q, name, &id), TXS_PG_SEND_NAMED);
        ck_assert_str_eq(name, "txs_s1");
        ck_assert_uint_eq(id, 1);
    }
    ck_assert(!c.overflowed);
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(distinct_texts_get_distinct_names)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    const char *a = "select 1", *b = "select 2", *d = "select 3";
    /* interleaved: a's first use does not count as b's */
    expect_use(&c, a, TXS_PG_SEND_PLAIN);
    expect_use(&c, b, TXS_PG_SEND_PLAIN);
    ck_assert_uint_eq(expect_use(&c, b, TXS_PG_SEND_PREPARE), 1);
    ck_assert_uint_eq(expect_use(&c, a, TXS_PG_SEND_PREPARE), 2);
    ck_assert_uint_eq(prepare(&c, d), 3);
    ck_assert_uint_eq(expect_use(&c, a, TXS_PG_SEND_NAMED), 2);
    ck_assert_uint_eq(expect_use(&c, b, TXS_PG_SEND_NAMED), 1);
    ck_assert_uint_eq(expect_use(&c, d, TXS_PG_SEND_NAMED), 3);
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(names_are_never_reused)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    const char *a = "select 1", *b = "select 2";
    ck_assert_uint_eq(prepare(&c, a), 1);
    ck_assert_uint_eq(prepare(&c, b), 2);

    /* forgotten: a starts over as if never seen, under a new name */
    txs_pg_cache_forget(&c, 1);
    expect_use(&c, a, TXS_PG_SEND_PLAIN);
    ck_assert_uint_eq(expect_use(&c, a, TXS_PG_SEND_PREPARE), 3);
    ck_assert_uint_eq(expect_use(&c, b, TXS_PG_SEND_NAMED), 2);

    /* cleared: everything starts over, the ids keep counting */
    txs_pg_cache_clear(&c);
    expect_use(&c, b, TXS_PG_SEND_PLAIN);
    ck_assert_uint_eq(expect_use(&c, b, TXS_PG_SEND_PREPARE), 4);
    expect_use(&c, a, TXS_PG_SEND_PLAIN);
    ck_assert_uint_eq(expect_use(&c, a, TXS_PG_SEND_PREPARE), 5);
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(forget_removes_only_that_entry)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    uint32_t a = prepare(&c, "select 'a'");
    uint32_t b = prepare(&c, "select 'b'");
    uint32_t d = prepare(&c, "select 'd'");
    expect_use(&c, "select 'seen once'", TXS_PG_SEND_PLAIN);
    ck_assert_int_eq(c.n, 4);
    txs_pg_cache_forget(&c, b);
    ck_assert_int_eq(c.n, 3);
    ck_assert(!c.overflowed); /* the driver's business: a forget is not an eviction */
    ck_assert_uint_eq(expect_use(&c, "select 'a'", TXS_PG_SEND_NAMED), a);
    ck_assert_uint_eq(expect_use(&c, "select 'd'", TXS_PG_SEND_NAMED), d);
    expect_use(&c, "select 'seen once'", TXS_PG_SEND_PREPARE); /* its count kept */
    expect_use(&c, "select 'b'", TXS_PG_SEND_PLAIN);
    /* an id no entry has (forgotten already, or never given): nothing changes */
    int n = c.n;
    txs_pg_cache_forget(&c, b);
    txs_pg_cache_forget(&c, 9999);
    ck_assert_int_eq(c.n, n);
    expect_use(&c, "select 'b'", TXS_PG_SEND_PREPARE);
    ck_assert_uint_eq(expect_use(&c, "select 'a'", TXS_PG_SEND_NAMED), a);
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(clear_empties_and_resets_overflowed)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    char sql[32];
    for (int i = 0; i <= TXS_PG_CACHE_SIZE; i++) {
        snprintf(sql, sizeof sql, "select %d", i);
        prepare(&c, sql);
    }
    ck_assert(c.overflowed);
    ck_assert_int_eq(c.n, TXS_PG_CACHE_SIZE);
    txs_pg_cache_clear(&c);
    ck_assert(!c.overflowed);
    ck_assert_int_eq(c.n, 0);
    ck_assert_ptr_null(c.lru);
    ck_assert_ptr_null(c.mru);
    expect_use(&c, "select 5", TXS_PG_SEND_PLAIN);
    ck_assert_uint_eq(expect_use(&c, "select 5", TXS_PG_SEND_PREPARE), TXS_PG_CACHE_SIZE + 2);
    txs_pg_cache_clear(&c); /* twice, and on an empty cache, is harmless */
    txs_pg_cache_clear(&c);
    ck_assert_int_eq(c.n, 0);
    txs_pg_cache_free(&c);
}
END_TEST

/* Fills the cache with TXS_PG_CACHE_SIZE entries "select N", oldest first; prepared
 * ones (2 uses) when `prepared`, else seen once. */
static void fill(txs_pg_cache_t *c, bool prepared)
{
    char sql[32];
    for (int i = 0; i < TXS_PG_CACHE_SIZE; i++) {
        snprintf(sql, sizeof sql, "select %d", i);
        if (prepared)
            prepare(c, sql);
        else
            expect_use(c, sql, TXS_PG_SEND_PLAIN);
    }
    ck_assert_int_eq(c->n, TXS_PG_CACHE_SIZE);
    ck_assert(!c->overflowed);
}

START_TEST(lru_evicts_the_least_recently_used)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    fill(&c, true);
    ck_assert_uint_eq(expect_use(&c, "select 0", TXS_PG_SEND_NAMED), 1); /* touched */
    expect_use(&c, "select 'new'", TXS_PG_SEND_PLAIN);
    ck_assert_int_eq(c.n, TXS_PG_CACHE_SIZE);
    ck_assert(c.overflowed); /* "select 1" was prepared: its statement stays on the server */
    /* the touched oldest survived; the 2nd-oldest went, and starts over */
    ck_assert_uint_eq(expect_use(&c, "select 0", TXS_PG_SEND_NAMED), 1);
    expect_use(&c, "select 1", TXS_PG_SEND_PLAIN); /* this evicts "select 2" */
    ck_assert_uint_eq(expect_use(&c, "select 1", TXS_PG_SEND_PREPARE), TXS_PG_CACHE_SIZE + 1);
    expect_use(&c, "select 2", TXS_PG_SEND_PLAIN);
    /* the newest are still there, under their names */
    ck_assert_uint_eq(expect_use(&c, "select 127", TXS_PG_SEND_NAMED), 128);
    expect_use(&c, "select 'new'", TXS_PG_SEND_PREPARE);
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(evicting_an_unprepared_entry_is_no_overflow)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    fill(&c, false);
    expect_use(&c, "select 0", TXS_PG_SEND_PREPARE); /* touched, and prepared */
    /* "select 1".."select 127" go first: none of them was on the server */
    char sql[32];
    for (int i = 0; i < TXS_PG_CACHE_SIZE - 1; i++) {
        snprintf(sql, sizeof sql, "select 'new %d'", i);
        expect_use(&c, sql, TXS_PG_SEND_PLAIN);
        ck_assert_msg(!c.overflowed, "overflowed at %d", i);
    }
    ck_assert_int_eq(c.n, TXS_PG_CACHE_SIZE);
    expect_use(&c, "select 'the one'", TXS_PG_SEND_PLAIN); /* pushes out "select 0" */
    ck_assert(c.overflowed);
    expect_use(&c, "select 0", TXS_PG_SEND_PLAIN);
    expect_use(&c, "select 1", TXS_PG_SEND_PLAIN); /* its one use forgotten with it */
    txs_pg_cache_free(&c);
}
END_TEST

START_TEST(keyed_by_the_exact_text)
{
    txs_pg_cache_t c;
    txs_pg_cache_init(&c);
    uint32_t a = prepare(&c, "select 1");
    expect_use(&c, "select 1 ", TXS_PG_SEND_PLAIN);
    expect_use(&c, "SELECT 1", TXS_PG_SEND_PLAIN);
    expect_use(&c, " select 1", TXS_PG_SEND_PLAIN);
    expect_use(&c, "select  1", TXS_PG_SEND_PLAIN);
    ck_assert_uint_ne(expect_use(&c, "select 1 ", TXS_PG_SEND_PREPARE), a);
    ck_assert_uint_eq(expect_use(&c, "select 1", TXS_PG_SEND_NAMED), a);

    /* len, not the NUL: a prefix of a longer buffer is its own statement */
    char name[TXS_PG_CACHE_NAME_MAX];
    uint32_t id;
    const char *buf = "select 1; garbage";
    ck_assert_int_eq(txs_pg_cache_use(&c, buf, 8, name, &id), TXS_PG_SEND_NAMED);
    ck_assert_uint_eq(id, a);
    ck_assert_int_eq(txs_pg_cache_use(&c, buf, 9, name, &id), TXS_PG_SEND_PLAIN);
    ck_assert_int_eq(txs_pg_cache_use(&c, buf, strlen(buf), name, &id), TXS_PG_SEND_PLAIN);
    ck_assert_int_eq(txs_pg_cache_use(&c, buf, 9, name, &id), TXS_PG_SEND_PREPARE);
    txs_pg_cache_free(&c);
}
END_TEST

/* ---- which statements ---- */

static bool cacheable(const char *sql)
{
    return txs_pg_cacheable(sql, strlen(sql));
}

static bool drops(const char *sql)
{
    return txs_pg_drops_prepared(sql, strlen(sql));
}

START_TEST(queries_and_dml_are_cacheable)
{
    ck_assert(cacheable("select 1"));
    ck_assert(cacheable("SELECT * FROM t WHERE id = $1"));
    ck_assert(cacheable("Select 1"));
    ck_assert(cacheable("insert into t values ($1)"));
    ck_assert(cacheable("UPDATE t SET a = $1"));
    ck_assert(cacheable("delete from t"));
    ck_assert(cacheable("merge into t using s on t.id = s.id when matched then delete"));
    ck_assert(cacheable("with x as (select 1) select * from x"));
    ck_assert(cacheable("values (1), (2)"));
    ck_assert(cacheable("table t"));
    ck_assert(cacheable("select(1)"));
    ck_assert(cacheable("select*from t"));
    ck_assert(cacheable("select"));
    /* past whitespace and comments */
    ck_assert(cacheable("  \t\r\n\f\vselect 1"));
    ck_assert(cacheable("-- a comment\nselect 1"));
    ck_assert(cacheable("-- one\n  -- two\n\tinsert into t values (1)"));
    ck_assert(cacheable("/* c */select 1"));
    ck_assert(cacheable("/* a /* nested */ comment */ select 1"));
    ck_assert(cacheable(" /* x */ -- y\n /* z /* w */ */\nupdate t set a = 1"));
}
END_TEST

START_TEST(others_are_not_cacheable)
{
    /* utility statements: not planned */
    ck_assert(!cacheable("set search_path = x"));
    ck_assert(!cacheable("create table t (a int)"));
    ck_assert(!cacheable("begin"));
    ck_assert(!cacheable("commit"));
    ck_assert(!cacheable("rollback"));
    ck_assert(!cacheable("analyze t"));
    ck_assert(!cacheable("explain select 1"));
    ck_assert(!cacheable("EXPLAIN ANALYZE select 1"));
    ck_assert(!cacheable("show search_path"));
    ck_assert(!cacheable("copy t to stdout"));
    ck_assert(!cacheable("prepare q as select 1"));
    ck_assert(!cacheable("execute q"));
    ck_assert(!cacheable("deallocate all"));
    ck_assert(!cacheable("discard all"));
    ck_assert(!cacheable("lock table t"));
    ck_assert(!cacheable("vacuum t"));
    ck_assert(!cacheable("do $$ begin perform 1; end $$"));
    ck_assert(!cacheable("call p()"));
    /* words that only start like one */
    ck_assert(!cacheable("selection"));
    ck_assert(!cacheable("select1"));
    ck_assert(!cacheable("selects 1"));
    ck_assert(!cacheable("tables"));
    ck_assert(!cacheable("withdraw"));
    ck_assert(!cacheable("sel"));
    /* nothing, or only comments */
    ck_assert(!cacheable(""));
    ck_assert(!cacheable("   "));
    ck_assert(!cacheable("-- select 1"));
    ck_assert(!cacheable("/* select 1 */"));
    ck_assert(!cacheable("/* unterminated select 1"));
    ck_assert(!cacheable("/* a /* nested */ select 1 */"));
    ck_assert(!cacheable("-- select\nset x = 1"));
    /* len, not the NUL */
    ck_assert(!txs_pg_cacheable("select 1", 3));
    ck_assert(!txs_pg_cacheable("select 1", 0));
    ck_assert(txs_pg_cacheable("select 1", 6));
}
END_TEST

START_TEST(deallocate_and_discard_drop_prepared)
{
    ck_assert(drops("deallocate all"));
    ck_assert(drops("DEALLOCATE txs_s1"));
    ck_assert(drops("deallocate prepare q"));
    ck_assert(drops("Discard All"));
    ck_assert(drops("discard plans"));
    ck_assert(drops("deallocate"));
    ck_assert(drops("  \n\tdeallocate all"));
    ck_assert(drops("-- why\ndeallocate all"));
    ck_assert(drops("/* a /* nested */ comment */discard all"));
    ck_assert(!drops("deallocated"));
    ck_assert(!drops("discards"));
    ck_assert(!drops("deallocate_all")); /* one word, not DEALLOCATE */
    ck_assert(!drops("select 'deallocate all'"));
    ck_assert(!drops("select 1 -- discard all"));
    ck_assert(!drops("-- deallocate all"));
    ck_assert(!drops("/* discard all */ select 1"));
    ck_assert(!drops("prepare q as select 1"));
    ck_assert(!drops("reset all"));
    ck_assert(!drops(""));
    ck_assert(!txs_pg_drops_prepared("discard all", 4));
    ck_assert(txs_pg_drops_prepared("discard all", 7));
}
END_TEST

Suite *suite_pg_cache(void)
{
    Suite *s = suite_create("pg_cache");
    TCase *tc = tcase_create("pg_cache");
    tcase_add_test(tc, plain_then_prepare_then_named);
    tcase_add_test(tc, distinct_texts_get_distinct_names);
    tcase_add_test(tc, names_are_never_reused);
    tcase_add_test(tc, forget_removes_only_that_entry);
    tcase_add_test(tc, clear_empties_and_resets_overflowed);
    tcase_add_test(tc, lru_evicts_the_least_recently_used);
    tcase_add_test(tc, evicting_an_unprepared_entry_is_no_overflow);
    tcase_add_test(tc, keyed_by_the_exact_text);
    tcase_add_test(tc, queries_and_dml_are_cacheable);
    tcase_add_test(tc, others_are_not_cacheable);
    tcase_add_test(tc, deallocate_and_discard_drop_prepared);
    suite_add_tcase(s, tc);
    return s;
}
