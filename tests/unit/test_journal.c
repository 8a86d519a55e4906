/* test_journal.c - the outcome journal: outcomes by ctx and principal, size and time
 * limits, and lookups that wait for a commit under way. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "daemon/journal.h"

Suite *suite_journal(void);

#define MIN (60 * 1000)

typedef struct answer {
    txs_journal_waiter_t w;
    int calls;
    txs_outcome_t outcome;
} answer_t;

static void on_answer(txs_journal_waiter_t *w, txs_outcome_t o)
{
    answer_t *a = (answer_t *)w;
    a->calls++;
    a->outcome = o;
}

static txs_outcome_t lookup(txs_journal_t *j, const char *ctx, uint64_t now)
{
    answer_t a = {.w.cb = on_answer};
    txs_outcome_t o = txs_journal_lookup(j, ctx, now, &a.w);
    ck_assert_int_ne(o, TXS_OUTCOME_PENDING); /* a waiter on the stack must not stay queued */
    return o;
}

START_TEST(test_names)
{
    ck_assert_str_eq(txs_outcome_name(TXS_OUTCOME_COMMITTED), "committed");
    ck_assert_str_eq(txs_outcome_name(TXS_OUTCOME_ROLLED_BACK), "rolled_back");
    ck_assert_str_eq(txs_outcome_name(TXS_OUTCOME_UNKNOWN), "unknown");
    ck_assert_str_eq(txs_outcome_name(TXS_OUTCOME_NOT_FOUND), "not_found");
}
END_TEST

START_TEST(test_record_and_lookup)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "default");
    ck_assert_int_eq(lookup(j, "a", 0), TXS_OUTCOME_NOT_FOUND);
    txs_journal_record(j, "a", TXS_OUTCOME_COMMITTED, false, 1);
    txs_journal_record(j, "b", TXS_OUTCOME_ROLLED_BACK, false, 2);
    txs_journal_record(j, "c", TXS_OUTCOME_UNKNOWN, false, 3);
    ck_assert_int_eq(lookup(j, "a", 4), TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "b", 4), TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(lookup(j, "c", 4), TXS_OUTCOME_UNKNOWN);
    /* The most recent transaction of a ctx wins. */
    txs_journal_record(j, "a", TXS_OUTCOME_ROLLED_BACK, false, 5);
    ck_assert_int_eq(lookup(j, "a", 6), TXS_OUTCOME_ROLLED_BACK);
    ck_assert_uint_eq(txs_journal_count(j), 3);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_principals_are_apart)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *web = txs_journals_get(js, "web");
    txs_journal_t *worker = txs_journals_get(js, "worker");
    ck_assert_ptr_ne(web, worker);
    ck_assert_ptr_eq(txs_journals_get(js, "web"), web);
    txs_journal_record(web, "req-1", TXS_OUTCOME_COMMITTED, false, 1);
    ck_assert_int_eq(lookup(worker, "req-1", 2), TXS_OUTCOME_NOT_FOUND);
    ck_assert_int_eq(lookup(web, "req-1", 2), TXS_OUTCOME_COMMITTED);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_size_limit_drops_oldest)
{
    txs_journals_t *js = txs_journals_create(3, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_record(j, "1", TXS_OUTCOME_COMMITTED, false, 1);
    txs_journal_record(j, "2", TXS_OUTCOME_COMMITTED, false, 2);
    txs_journal_record(j, "3", TXS_OUTCOME_COMMITTED, false, 3);
    /* Touching "1" again makes "2" the oldest. */
    txs_journal_record(j, "1", TXS_OUTCOME_ROLLED_BACK, false, 4);
    txs_journal_record(j, "4", TXS_OUTCOME_COMMITTED, false, 5);
    ck_assert_uint_eq(txs_journal_count(j), 3);
    ck_assert_int_eq(lookup(j, "2", 6), TXS_OUTCOME_NOT_FOUND);
    ck_assert_int_eq(lookup(j, "1", 6), TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(lookup(j, "3", 6), TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "4", 6), TXS_OUTCOME_COMMITTED);
    /* 10,000 more: still 3 held, the last three. */
    char ctx[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(ctx, sizeof ctx, "n%d", i);
        txs_journal_record(j, ctx, TXS_OUTCOME_COMMITTED, false, 10 + (uint64_t)i);
    }
    ck_assert_uint_eq(txs_journal_count(j), 3);
    ck_assert_int_eq(lookup(j, "n9997", 20000), TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "n9996", 20000), TXS_OUTCOME_NOT_FOUND);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_ttl)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_record(j, "old", TXS_OUTCOME_COMMITTED, false, 1000);
    txs_journal_record(j, "new", TXS_OUTCOME_COMMITTED, false, 1000 + 5 * MIN);
    ck_assert_int_eq(lookup(j, "old", 1000 + 10 * MIN - 1), TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "old", 1000 + 10 * MIN), TXS_OUTCOME_NOT_FOUND);
    ck_assert_int_eq(lookup(j, "new", 1000 + 10 * MIN), TXS_OUTCOME_COMMITTED);
    /* Expired entries are dropped, not only hidden. */
    ck_assert_uint_eq(txs_journal_count(j), 1);
    ck_assert_int_eq(lookup(j, "new", 1000 + 15 * MIN), TXS_OUTCOME_NOT_FOUND);
    ck_assert_uint_eq(txs_journal_count(j), 0);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_pending_commit_waits)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    /* An older transaction of the ctx rolled back; the next one is committing. The
     * lookup must not answer the old outcome: it waits for the commit. */
    txs_journal_record(j, "c", TXS_OUTCOME_ROLLED_BACK, false, 1);
    txs_journal_begin_commit(j, "c");
    answer_t a = {.w.cb = on_answer}, b = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "c", 2, &a.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 2, &b.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(a.calls, 0);
    txs_journal_record(j, "c", TXS_OUTCOME_COMMITTED, true, 3);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(a.outcome, TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "c", 4), TXS_OUTCOME_COMMITTED);
    txs_journals_free(js);
}
END_TEST

/* A waiter whose callback records a later transaction of the same ctx (its session goes
 * on to the next request at once): the other waiters still hear the outcome they waited
 * for, not the later one. */
typedef struct chained {
    answer_t a;
    txs_journal_t *j;
} chained_t;

static void on_answer_then_commit(txs_journal_waiter_t *w, txs_outcome_t o)
{
    chained_t *c = (chained_t *)w;
    on_answer(w, o);
    txs_journal_begin_commit(c->j, "c");
    txs_journal_record(c->j, "c", TXS_OUTCOME_COMMITTED, true, 5);
}

START_TEST(test_waiters_hear_the_outcome_they_waited_for)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "c");
    chained_t first = {.a.w.cb = on_answer_then_commit, .j = j};
    answer_t second = {.w.cb = on_answer}, third = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &third.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &second.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &first.a.w), TXS_OUTCOME_PENDING);
    txs_journal_record(j, "c", TXS_OUTCOME_ROLLED_BACK, true, 2);
    ck_assert_int_eq(first.a.outcome, TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(second.calls, 1);
    ck_assert_int_eq(second.outcome, TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(third.calls, 1);
    ck_assert_int_eq(third.outcome, TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(lookup(j, "c", 6), TXS_OUTCOME_COMMITTED); /* the later one */
    txs_journals_free(js);
}
END_TEST

START_TEST(test_pending_without_history_and_cancel)
{
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "c");
    answer_t a = {.w.cb = on_answer}, b = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &a.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &b.w), TXS_OUTCOME_PENDING);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, NULL), TXS_OUTCOME_PENDING); /* a peek */
    txs_journal_cancel_wait(&a.w); /* its asker went away */
    txs_journal_cancel_wait(&a.w); /* twice is harmless */
    txs_journal_record(j, "c", TXS_OUTCOME_UNKNOWN, true, 2);
    ck_assert_int_eq(a.calls, 0);
    ck_assert_int_eq(b.calls, 1);
    ck_assert_int_eq(b.outcome, TXS_OUTCOME_UNKNOWN);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_pending_survives_limits)
{
    /* A commit under way is neither dropped for room nor for age. */
    txs_journals_t *js = txs_journals_create(2, 1000);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "slow");
    char ctx[16];
    for (int i = 0; i < 10; i++) {
        snprintf(ctx, sizeof ctx, "q%d", i);
        txs_journal_record(j, ctx, TXS_OUTCOME_COMMITTED, false, 100000 + (uint64_t)i);
    }
    answer_t a = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "slow", 200000, &a.w), TXS_OUTCOME_PENDING);
    txs_journal_record(j, "slow", TXS_OUTCOME_COMMITTED, true, 200001);
    ck_assert_int_eq(a.outcome, TXS_OUTCOME_COMMITTED);
    ck_assert_int_eq(lookup(j, "slow", 200002), TXS_OUTCOME_COMMITTED);
    ck_assert_uint_le(txs_journal_count(j), 2);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_two_commits_of_one_ctx)
{
    /* Two connections of one principal commit under the same ctx: waiters hear once
     * both ended, and the later outcome. */
    txs_journals_t *js = txs_journals_create(100, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "c");
    txs_journal_begin_commit(j, "c");
    answer_t a = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &a.w), TXS_OUTCOME_PENDING);
    txs_journal_record(j, "c", TXS_OUTCOME_COMMITTED, true, 2);
    ck_assert_int_eq(a.calls, 0);
    txs_journal_record(j, "c", TXS_OUTCOME_ROLLED_BACK, true, 3);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.outcome, TXS_OUTCOME_ROLLED_BACK);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_off)
{
    txs_journals_t *js = txs_journals_create(0, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "c");
    txs_journal_record(j, "c", TXS_OUTCOME_COMMITTED, true, 1);
    ck_assert_int_eq(lookup(j, "c", 2), TXS_OUTCOME_NOT_FOUND);
    ck_assert_uint_eq(txs_journal_count(j), 0);
    txs_journals_free(js);
}
END_TEST

START_TEST(test_free_with_waiters)
{
    /* Freeing at shutdown with a lookup still waiting leaves the waiter detached. */
    txs_journals_t *js = txs_journals_create(10, 10 * MIN);
    txs_journal_t *j = txs_journals_get(js, "p");
    txs_journal_begin_commit(j, "c");
    answer_t a = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "c", 1, &a.w), TXS_OUTCOME_PENDING);
    txs_journals_free(js);
    ck_assert_ptr_null(a.w.entry);
    txs_journal_cancel_wait(&a.w);
    ck_assert_int_eq(a.calls, 0);
}
END_TEST

Suite *suite_journal(void)
{
    Suite *s = suite_create("journal");
    TCase *tc = tcase_create("journal");
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_record_and_lookup);
    tcase_add_test(tc, test_principals_are_apart);
    tcase_add_test(tc, test_size_limit_drops_oldest);
    tcase_add_test(tc, test_ttl);
    tcase_add_test(tc, test_pending_commit_waits);
    tcase_add_test(tc, test_waiters_hear_the_outcome_they_waited_for);
    tcase_add_test(tc, test_pending_without_history_and_cancel);
    tcase_add_test(tc, test_pending_survives_limits);
    tcase_add_test(tc, test_two_commits_of_one_ctx);
    tcase_add_test(tc, test_off);
    tcase_add_test(tc, test_free_with_waiters);
    suite_add_tcase(s, tc);
    return s;
}
