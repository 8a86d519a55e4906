/* test_conf_diff.c - what a reload changes: two loaded configurations compared, the
 * changes that need a restart marked and undone, secrets never shown, db copies; and the
 * outcome journal's limits changed while it holds entries. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/diff.h"
#include "daemon/journal.h"
#include "tests/unit/conftest.h"

Suite *suite_conf_diff(void);

static char *no_env[] = {NULL};

/* Both files loaded, compared; the caller frees d and the two confs. */
static void diff_of(const char *a, const char *b, char **env, txs_conf_t **ca, txs_conf_t **cb,
                    txs_conf_diff_t *d)
{
    *ca = conftest_load_ok(conftest_write_ini(a), env);
    *cb = conftest_load_ok(conftest_write_ini(b), env);
    txs_conf_diff(*ca, *cb, d);
}

/* Every change described, joined with "; ". */
static const char *describe_all(const txs_conf_diff_t *d)
{
    static char all[4096];
    size_t used = 0;
    all[0] = '\0';
    for (int i = 0; i < d->n; i++) {
        char one[640];
        txs_conf_change_describe(&d->changes[i], one, sizeof one);
        used += (size_t)snprintf(all + used, sizeof all - used, "%s%s", i ? "; " : "", one);
    }
    return all;
}

static void free_all(txs_conf_t *a, txs_conf_t *b, txs_conf_diff_t *d)
{
    txs_conf_diff_free(d);
    txs_conf_free(a);
    txs_conf_free(b);
}

START_TEST(same_file_nothing_changes)
{
    const char *ini = "[txscope]\nmax_pipeline = 64\nlisten = 127.0.0.1:7000\n" DB_MAIN
                      "pool_size = 5\n[tokens]\nweb = s3cret\n";
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of(ini, ini, no_env, &a, &b, &d);
    ck_assert_int_eq(d.n, 0);
    ck_assert_int_eq(d.nrestart, 0);
    free_all(a, b, &d);
}
END_TEST

START_TEST(values_as_written)
{
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of("[txscope]\nmax_result_bytes = 64MB\nlog_level = info\n" DB_MAIN
            "pool_size = 5\nidle_in_transaction_timeout = 1m\npre_ping = on\n",
            "[txscope]\nmax_result_bytes = 1MB\nlog_level = debug\n" DB_MAIN
            "pool_size = 2\nidle_in_transaction_timeout = 200ms\npre_ping = off\n",
            no_env, &a, &b, &d);
    ck_assert_int_eq(d.n, 5);
    ck_assert_int_eq(d.nrestart, 0);
    const char *all = describe_all(&d);
    ck_assert_has(all, "max_result_bytes 64MB -> 1MB");
    ck_assert_has(all, "log_level info -> debug");
    ck_assert_has(all, "db main pool_size 5 -> 2");
    ck_assert_has(all, "db main idle_in_transaction_timeout 1m -> 200ms");
    ck_assert_has(all, "db main pre_ping on -> off");
    /* [txscope] first, then the dbs. */
    ck_assert_str_eq(d.changes[0].db, "");
    ck_assert_str_eq(d.changes[d.n - 1].db, "main");
    free_all(a, b, &d);
}
END_TEST

START_TEST(restart_only_marked_and_kept)
{
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of("[txscope]\nlisten = 127.0.0.1:7000\nadmin_listen = 127.0.0.1:7001\n"
            "max_clients = 10\n" DB_MAIN "driver = postgresql\n",
            "[txscope]\nlisten = [::1]:7100\nadmin_listen = 127.0.0.1:7101\nunix_socket = "
            "/tmp/t.sock\nmax_clients = 20\n" DB_MAIN "driver = mysql\n",
            no_env, &a, &b, &d);
    ck_assert_int_eq(d.n, 5);
    ck_assert_int_eq(d.nrestart, 4);
    for (int i = 0; i < d.n; i++)
        ck_assert_int_eq(d.changes[i].restart, strcmp(d.changes[i].key, "max_clients") != 0);
    const char *all = describe_all(&d);
    ck_assert_has(all, "listen 127.0.0.1:7000 -> [::1]:7100");
    ck_assert_has(all, "unix_socket (none) -> /tmp/t.sock");
    ck_assert_has(all, "db main driver postgresql -> mysql");
    /* Put back: only max_clients differs afterwards. */
    txs_conf_keep_restart_only(b, a);
    ck_assert_str_eq(b->listen_host, "127.0.0.1");
    ck_assert_int_eq(b->listen_port, 7000);
    ck_assert_int_eq(b->admin_port, 7001);
    ck_assert_ptr_null(b->unix_socket);
    ck_assert_str_eq(b->dbs[0].driver, "postgresql");
    ck_assert_int_eq(b->max_clients, 20);
    txs_conf_diff_t after;
    txs_conf_diff(a, b, &after);
    ck_assert_int_eq(after.n, 1);
    ck_assert_str_eq(after.changes[0].key, "max_clients");
    txs_conf_diff_free(&after);
    free_all(a, b, &d);
}
END_TEST

START_TEST(a_changed_driver_keeps_the_whole_db)
{
    /* The new dsn (a mysql:// URI) was written for the new driver: the pool that keeps
     * postgresql must keep its old dsn and the rest of its settings too. */
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of("[db.main]\ndsn = postgresql://u@127.0.0.1/a\npool_size = 5\n",
            "[db.main]\ndriver = mysql\ndsn = mysql://u@127.0.0.1/b\npool_size = 7\n", no_env, &a,
            &b, &d);
    ck_assert_int_eq(d.n, 3);
    ck_assert_int_eq(d.nrestart, 1);
    txs_conf_keep_restart_only(b, a);
    ck_assert_str_eq(b->dbs[0].driver, "postgresql");
    ck_assert_str_eq(b->dbs[0].dsn, "postgresql://u@127.0.0.1/a");
    ck_assert_int_eq(b->dbs[0].pool_size, 5);
    txs_conf_diff_t after;
    txs_conf_diff(a, b, &after);
    ck_assert_int_eq(after.n, 0);
    txs_conf_diff_free(&after);
    free_all(a, b, &d);
}
END_TEST

START_TEST(dbs_added_removed_and_default)
{
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of(DB_MAIN "[db.old]\ndsn = " DSN "\n",
            "[db.second]\ndsn = " DSN "\n" DB_MAIN "pool_size = 3\n", no_env, &a, &b, &d);
    const char *all = describe_all(&d);
    ck_assert_has(all, "default db main -> second");
    ck_assert_has(all, "db second added");
    ck_assert_has(all, "db old removed");
    ck_assert_has(all, "db main pool_size 10 -> 3");
    ck_assert_int_eq(d.n, 4);
    ck_assert_int_eq(d.nrestart, 0);
    /* A new db's driver is its own: nothing to put back. */
    txs_conf_keep_restart_only(b, a);
    ck_assert_int_eq(b->dbs[1].pool_size, 3);
    free_all(a, b, &d);
}
END_TEST

START_TEST(secrets_never_shown)
{
    txs_conf_t *a, *b;
    txs_conf_diff_t d;
    diff_of("[txscope]\nauth_token = first-secret\n[db.main]\n"
            "dsn = postgresql://app:hunter2@127.0.0.1:5432/app\n[tokens]\nweb = web-secret\n"
            "cron = cron-secret\n",
            "[txscope]\nauth_token = second-secret\n[db.main]\n"
            "dsn = postgresql://app:swordfish@127.0.0.2:5432/app\n[tokens]\nweb = web-secret-2\n"
            "batch = batch-secret\n",
            no_env, &a, &b, &d);
    const char *all = describe_all(&d);
    ck_assert_has(all, "auth_token changed");
    ck_assert_has(all, "[tokens] web changed");
    ck_assert_has(all, "[tokens] cron removed");
    ck_assert_has(all, "[tokens] batch added");
    ck_assert_has(all, "db main dsn postgresql://app:***@127.0.0.1:5432/app -> "
                       "postgresql://app:***@127.0.0.2:5432/app");
    ck_assert_int_eq(d.n, 5);
    static const char *const secrets[] = {"first-secret", "second-secret", "hunter2",
                                          "swordfish",    "web-secret",    "cron-secret",
                                          "batch-secret"};
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++) {
        ck_assert_msg(strstr(all, secrets[i]) == NULL, "%s shown: %s", secrets[i], all);
        for (int j = 0; j < d.n; j++) {
            ck_assert(strstr(d.changes[j].from, secrets[i]) == NULL);
            ck_assert(strstr(d.changes[j].to, secrets[i]) == NULL);
        }
    }
    free_all(a, b, &d);
}
END_TEST

START_TEST(environment_counts)
{
    /* The environment is part of what a reload reads: a variable that changes wins over
     * the file, as at start. */
    char *env1[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=4", NULL};
    char *env2[] = {"TXSCOPE_DB_MAIN_POOL_SIZE=6", NULL};
    const char *ini = DB_MAIN "pool_size = 2\n";
    txs_conf_t *a = conftest_load_ok(conftest_write_ini(ini), env1);
    txs_conf_t *b = conftest_load_ok(conftest_write_ini(ini), env2);
    txs_conf_diff_t d;
    txs_conf_diff(a, b, &d);
    ck_assert_int_eq(d.n, 1);
    ck_assert_str_eq(describe_all(&d), "db main pool_size 4 -> 6");
    free_all(a, b, &d);
}
END_TEST

START_TEST(db_copy_is_deep)
{
    txs_conf_t *a = conftest_load_ok(conftest_write_ini(DB_MAIN "pool_size = 7\n"
                                                                "query_timeout = 5s\n"
                                                                "reset_always = on\n"),
                                     no_env);
    txs_db_conf_t copy;
    memset(&copy, 0, sizeof copy);
    txs_conf_db_copy(&copy, &a->dbs[0]);
    ck_assert_str_eq(copy.name, "main");
    ck_assert_str_eq(copy.dsn, DSN);
    ck_assert_ptr_ne(copy.dsn, a->dbs[0].dsn);
    ck_assert_ptr_ne(copy.driver, a->dbs[0].driver);
    ck_assert_int_eq(copy.pool_size, 7);
    ck_assert_uint_eq(copy.query_timeout_ms, 5000);
    ck_assert(copy.reset_always);
    /* The copy outlives the configuration it came from, and takes another in place. */
    txs_conf_free(a);
    ck_assert_str_eq(copy.dsn, DSN);
    txs_conf_t *b = conftest_load_ok(
        conftest_write_ini("[db.main]\ndsn = postgresql://other@127.0.0.1/x\npool_size = 2\n"),
        no_env);
    txs_conf_db_copy(&copy, &b->dbs[0]);
    txs_conf_free(b);
    ck_assert_str_eq(copy.dsn, "postgresql://other@127.0.0.1/x");
    ck_assert_int_eq(copy.pool_size, 2);
    ck_assert_uint_eq(copy.query_timeout_ms, 0);
    ck_assert(!copy.reset_always);
    txs_conf_db_clear(&copy);
    ck_assert_ptr_null(copy.dsn);
}
END_TEST

/* ---- the journal's limits ---- */

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

START_TEST(journal_limits_shrink_at_once)
{
    txs_journals_t *js = txs_journals_create(10, 600000);
    txs_journal_t *j = txs_journals_get(js, "default");
    for (int i = 0; i < 5; i++) {
        char ctx[16];
        snprintf(ctx, sizeof ctx, "c%d", i);
        txs_journal_record(j, ctx, TXS_OUTCOME_COMMITTED, false, (uint64_t)i);
    }
    ck_assert_uint_eq(txs_journal_count(j), 5);
    /* Two kept: the two most recent. */
    txs_journals_set_limits(js, 2, 600000, 10);
    ck_assert_uint_eq(txs_journal_count(j), 2);
    ck_assert_int_eq(txs_journal_lookup(j, "c0", 10, NULL), TXS_OUTCOME_NOT_FOUND);
    ck_assert_int_eq(txs_journal_lookup(j, "c4", 10, NULL), TXS_OUTCOME_COMMITTED);
    /* A shorter ttl drops what is older at once; a journal made later gets it too. */
    txs_journals_set_limits(js, 2, 1000, 1004);
    ck_assert_uint_eq(txs_journal_count(j), 0);
    txs_journal_t *k = txs_journals_get(js, "web");
    txs_journal_record(k, "x", TXS_OUTCOME_ROLLED_BACK, false, 2000);
    ck_assert_int_eq(txs_journal_lookup(k, "x", 2999, NULL), TXS_OUTCOME_ROLLED_BACK);
    ck_assert_int_eq(txs_journal_lookup(k, "x", 3000, NULL), TXS_OUTCOME_NOT_FOUND);
    txs_journals_free(js);
}
END_TEST

START_TEST(journal_off_still_answers_pending_waiter)
{
    txs_journals_t *js = txs_journals_create(10, 600000);
    txs_journal_t *j = txs_journals_get(js, "default");
    txs_journal_begin_commit(j, "a");
    answer_t ans = {.w.cb = on_answer};
    ck_assert_int_eq(txs_journal_lookup(j, "a", 1, &ans.w), TXS_OUTCOME_PENDING);
    /* Turned off while the commit runs: its waiter still hears how it ended. */
    txs_journals_set_limits(js, 0, 600000, 2);
    ck_assert_int_eq(ans.calls, 0);
    txs_journal_record(j, "a", TXS_OUTCOME_COMMITTED, true, 3);
    ck_assert_int_eq(ans.calls, 1);
    ck_assert_int_eq(ans.outcome, TXS_OUTCOME_COMMITTED);
    /* Off from then on: nothing kept. */
    ck_assert_uint_eq(txs_journal_count(j), 0);
    txs_journal_record(j, "b", TXS_OUTCOME_COMMITTED, false, 4);
    ck_assert_int_eq(txs_journal_lookup(j, "b", 5, NULL), TXS_OUTCOME_NOT_FOUND);
    /* On again. */
    txs_journals_set_limits(js, 10, 600000, 6);
    txs_journal_record(j, "c", TXS_OUTCOME_ROLLED_BACK, false, 7);
    ck_assert_int_eq(txs_journal_lookup(j, "c", 8, NULL), TXS_OUTCOME_ROLLED_BACK);
    txs_journals_free(js);
}
END_TEST

Suite *suite_conf_diff(void)
{
    Suite *s = suite_create("conf_diff");
    TCase *tc = tcase_create("diff");
    tcase_add_checked_fixture(tc, conftest_setup, conftest_teardown);
    tcase_add_test(tc, same_file_nothing_changes);
    tcase_add_test(tc, values_as_written);
    tcase_add_test(tc, restart_only_marked_and_kept);
    tcase_add_test(tc, a_changed_driver_keeps_the_whole_db);
    tcase_add_test(tc, dbs_added_removed_and_default);
    tcase_add_test(tc, secrets_never_shown);
    tcase_add_test(tc, environment_counts);
    tcase_add_test(tc, db_copy_is_deep);
    suite_add_tcase(s, tc);
    TCase *tj = tcase_create("journal");
    tcase_add_test(tj, journal_limits_shrink_at_once);
    tcase_add_test(tj, journal_off_still_answers_pending_waiter);
    suite_add_tcase(s, tj);
    return s;
}
