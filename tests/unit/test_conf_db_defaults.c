/* test_conf_db_defaults.c - the pool and timeout keys, booleans, [txscope] defaults for
 * every db, and min_idle against pool_size. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "protocol/errors.h"
#include "tests/unit/conftest.h"

Suite *suite_conf_db_defaults(void);

#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static char *no_env[] = {NULL};

static void assert_built_in_defaults(const txs_conf_t *c, const txs_db_conf_t *db)
{
    ck_assert_uint_eq(c->client_idle_timeout_ms, 0);
    ck_assert_uint_eq(c->client_login_timeout_ms, MIN);
    ck_assert_int_eq(db->max_overflow, 0);
    ck_assert_int_eq(db->min_idle, 0);
    ck_assert_uint_eq(db->pool_idle_timeout_ms, 10 * MIN);
    ck_assert(db->pre_ping);
    ck_assert_uint_eq(db->pre_ping_after_ms, 30 * SEC);
    ck_assert(!db->reset_always);
    ck_assert_uint_eq(db->query_timeout_ms, 0);
    ck_assert_uint_eq(db->idle_in_transaction_timeout_ms, MIN);
    ck_assert_uint_eq(db->transaction_timeout_ms, 0);
    ck_assert_uint_eq(db->session_idle_timeout_ms, MIN);
}

START_TEST(new_keys_have_their_defaults)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=" DSN, NULL};
    txs_conf_t *c = conftest_load_ok(NULL, env);
    assert_built_in_defaults(c, &c->dbs[0]);
    txs_conf_free(c);
    /* From a file, and for a second db too. */
    c = conftest_load_ok(conftest_write_ini(DB_MAIN "[db.other]\ndsn = x\n"), no_env);
    assert_built_in_defaults(c, &c->dbs[0]);
    assert_built_in_defaults(c, &c->dbs[1]);
    txs_conf_free(c);
}
END_TEST

START_TEST(new_keys_set_from_file_and_env)
{
    const char *f = conftest_write_ini("[txscope]\n"
                                       "client_idle_timeout = 5m\n"
                                       "client_login_timeout = 0\n"
                                       "[db.main]\n"
                                       "dsn = x\n"
                                       "pool_size = 4\n"
                                       "max_overflow = 6\n"
                                       "min_idle = 4\n"
                                       "pool_idle_timeout = 0\n"
                                       "pre_ping = off\n"
                                       "pre_ping_after = 0\n"
                                       "reset_always = on\n"
                                       "query_timeout = 200ms\n"
                                       "idle_in_transaction_timeout = 0\n"
                                       "transaction_timeout = 2h\n"
                                       "session_idle_timeout = 0\n");
    txs_conf_t *c = conftest_load_ok(f, no_env);
    ck_assert_uint_eq(c->client_idle_timeout_ms, 5 * MIN);
    ck_assert_uint_eq(c->client_login_timeout_ms, 0);
    const txs_db_conf_t *db = &c->dbs[0];
    ck_assert_int_eq(db->max_overflow, 6);
    ck_assert_int_eq(db->min_idle, 4);
    ck_assert_uint_eq(db->pool_idle_timeout_ms, 0);
    ck_assert(!db->pre_ping);
    ck_assert_uint_eq(db->pre_ping_after_ms, 0);
    ck_assert(db->reset_always);
    ck_assert_uint_eq(db->query_timeout_ms, 200);
    ck_assert_uint_eq(db->idle_in_transaction_timeout_ms, 0);
    ck_assert_uint_eq(db->transaction_timeout_ms, 2 * HOUR);
    ck_assert_uint_eq(db->session_idle_timeout_ms, 0);
    txs_conf_free(c);

    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x",
                   "TXSCOPE_CLIENT_IDLE_TIMEOUT=7d",
                   "TXSCOPE_CLIENT_LOGIN_TIMEOUT=1h",
                   "TXSCOPE_DB_MAIN_MAX_OVERFLOW=10000",
                   "TXSCOPE_DB_MAIN_POOL_SIZE=10000",
                   "TXSCOPE_DB_MAIN_MIN_IDLE=10000",
                   "TXSCOPE_DB_MAIN_POOL_IDLE_TIMEOUT=30d",
                   "TXSCOPE_DB_MAIN_PRE_PING=no",
                   "TXSCOPE_DB_MAIN_PRE_PING_AFTER=1d",
                   "TXSCOPE_DB_MAIN_RESET_ALWAYS=yes",
                   "TXSCOPE_DB_MAIN_QUERY_TIMEOUT=1d",
                   "TXSCOPE_DB_MAIN_IDLE_IN_TRANSACTION_TIMEOUT=1d",
                   "TXSCOPE_DB_MAIN_TRANSACTION_TIMEOUT=7d",
                   "TXSCOPE_DB_MAIN_SESSION_IDLE_TIMEOUT=7d",
                   NULL};
    c = conftest_load_ok(NULL, env);
    ck_assert_int_eq(c->ndbs, 1); /* IDLE_IN_TRANSACTION_TIMEOUT made no db "main_idle_in" */
    ck_assert_uint_eq(c->client_idle_timeout_ms, 7 * DAY);
    ck_assert_uint_eq(c->client_login_timeout_ms, HOUR);
    db = &c->dbs[0];
    ck_assert_int_eq(db->max_overflow, 10000);
    ck_assert_int_eq(db->min_idle, 10000);
    ck_assert_uint_eq(db->pool_idle_timeout_ms, 30 * DAY);
    ck_assert(!db->pre_ping);
    ck_assert_uint_eq(db->pre_ping_after_ms, DAY);
    ck_assert(db->reset_always);
    ck_assert_uint_eq(db->query_timeout_ms, DAY);
    ck_assert_uint_eq(db->idle_in_transaction_timeout_ms, DAY);
    ck_assert_uint_eq(db->transaction_timeout_ms, 7 * DAY);
    ck_assert_uint_eq(db->session_idle_timeout_ms, 7 * DAY);
    txs_conf_free(c);
}
END_TEST

/* Every spelling, each for true and false, in the file and in the environment. */
static const struct {
    const char *text;
    bool value;
} bools[] = {
    {"on", true},   {"off", false},   {"true", true}, {"false", false}, {"yes", true},
    {"no", false},  {"1", true},      {"0", false},   {"ON", true},     {"Off", false},
    {"TRUE", true}, {"False", false}, {"yEs", true},  {"NO", false},
};

START_TEST(bool_spellings)
{
    char text[256];
    bool v = bools[_i].value;
    snprintf(text, sizeof text, DB_MAIN "pre_ping = %s\nreset_always = %s\n", bools[_i].text,
             bools[_i].text);
    txs_conf_t *c = conftest_load_ok(conftest_write_ini(text), no_env);
    ck_assert_msg(c->dbs[0].pre_ping == v, "pre_ping = %s", bools[_i].text);
    ck_assert_msg(c->dbs[0].reset_always == v, "reset_always = %s", bools[_i].text);
    txs_conf_free(c);

    char pre[64], reset[64];
    snprintf(pre, sizeof pre, "TXSCOPE_DB_MAIN_PRE_PING=%s", bools[_i].text);
    snprintf(reset, sizeof reset, "TXSCOPE_RESET_ALWAYS=%s", bools[_i].text);
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", pre, reset, NULL};
    c = conftest_load_ok(NULL, env);
    ck_assert_msg(c->dbs[0].pre_ping == v, "%s", pre);
    ck_assert_msg(c->dbs[0].reset_always == v, "%s", reset);
    txs_conf_free(c);
}
END_TEST

#define BOOL_EXPECTED "expected on or off (also true or false, yes or no, 1 or 0; any case)"

static const char *const bad_bools[] = {"enabled", "2", "onn", "o", "y", "t", "-1", "01", "o n"};

START_TEST(bool_bad_spelling_lists_the_good_ones)
{
    char text[256], want[256];
    snprintf(text, sizeof text, DB_MAIN "reset_always = %s\n", bad_bools[_i]);
    const char *e = conftest_load_err(conftest_write_ini(text), no_env);
    ck_assert_has(e, conftest_at(3));
    snprintf(want, sizeof want, "[db.main] reset_always = \"%s\": " BOOL_EXPECTED, bad_bools[_i]);
    ck_assert_has(e, want);
}
END_TEST

START_TEST(bool_empty_and_padded_values_refused)
{
    const char *e = conftest_load_err(conftest_write_ini(DB_MAIN "pre_ping =\n"), no_env);
    ck_assert_has(e, conftest_at(3));
    ck_assert_has(e, "[db.main] pre_ping = \"\": " BOOL_EXPECTED);
    /* The environment is taken as is: no blanks are dropped. */
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_DB_MAIN_PRE_PING= on", NULL};
    e = conftest_load_err(NULL, env);
    ck_assert_has(e, "TXSCOPE_DB_MAIN_PRE_PING = \" on\": " BOOL_EXPECTED);
    char *env2[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_PRE_PING=", NULL};
    e = conftest_load_err(NULL, env2);
    ck_assert_has(e, "TXSCOPE_PRE_PING = \"\": " BOOL_EXPECTED);
}
END_TEST

/* A value just past each bound (and a wrong type): the line and what is allowed. */
static const struct bad_value {
    const char *ini; /* after DB_MAIN for [db.main] keys */
    const char *says;
} bad_values[] = {
    {"[txscope]\nclient_idle_timeout = 8d\n",
     "[txscope] client_idle_timeout = \"8d\": expected a duration from 0 (off) to 7d, like "
     "500ms"},
    {"[txscope]\nclient_idle_timeout = -1\n", "expected a duration from 0 (off) to 7d"},
    {"[txscope]\nclient_login_timeout = 61m\n",
     "[txscope] client_login_timeout = \"61m\": expected a duration from 0 (off) to 1h"},
    {"[txscope]\nclient_login_timeout = off\n", "expected a duration from 0 (off) to 1h"},
    {"max_overflow = 10001\n",
     "[db.main] max_overflow = \"10001\": expected an integer from 0 to 10000"},
    {"max_overflow = -1\n", "[db.main] max_overflow = \"-1\": expected an integer from 0 to 10000"},
    {"min_idle = 10001\n", "[db.main] min_idle = \"10001\": expected an integer from 0 to 10000"},
    {"min_idle = some\n", "[db.main] min_idle = \"some\": expected an integer from 0 to 10000"},
    {"pool_idle_timeout = 31d\n",
     "[db.main] pool_idle_timeout = \"31d\": expected a duration from 0 (never) to 30d"},
    {"pre_ping_after = 25h\n", "[db.main] pre_ping_after = \"25h\": expected a duration from 0 "
                               "(check at every checkout) to 1d"},
    {"query_timeout = 1441m\n",
     "[db.main] query_timeout = \"1441m\": expected a duration from 0 (off) to 1d"},
    {"query_timeout = off\n", "[db.main] query_timeout = \"off\": expected a duration"},
    {"idle_in_transaction_timeout = 2d\n",
     "[db.main] idle_in_transaction_timeout = \"2d\": expected a duration from 0 (off) to 1d"},
    {"transaction_timeout = 8d\n",
     "[db.main] transaction_timeout = \"8d\": expected a duration from 0 (off) to 7d"},
    {"session_idle_timeout = 169h\n",
     "[db.main] session_idle_timeout = \"169h\": expected a duration from 0 (off) to 7d"},
    {"pre_ping = maybe\n", "[db.main] pre_ping = \"maybe\": " BOOL_EXPECTED},
};

START_TEST(bad_value_names_line_and_bounds)
{
    const struct bad_value *b = &bad_values[_i];
    char text[512];
    bool txscope = strncmp(b->ini, "[txscope]", 9) == 0;
    snprintf(text, sizeof text, "%s%s", txscope ? b->ini : DB_MAIN, txscope ? DB_MAIN : b->ini);
    const char *e = conftest_load_err(conftest_write_ini(text), no_env);
    ck_assert_has(e, conftest_at(txscope ? 2 : 3));
    ck_assert_has(e, b->says);
}
END_TEST

START_TEST(bad_env_value_names_variable)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_DB_MAIN_QUERY_TIMEOUT=2d", NULL};
    ck_assert_has(conftest_load_err(NULL, env),
                  "TXSCOPE_DB_MAIN_QUERY_TIMEOUT = \"2d\": expected a duration from 0 (off) to 1d");
    char *env2[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_CLIENT_LOGIN_TIMEOUT=2h", NULL};
    ck_assert_has(conftest_load_err(NULL, env2),
                  "TXSCOPE_CLIENT_LOGIN_TIMEOUT = \"2h\": expected a duration from 0 (off) to 1h");
    char *env3[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_MAX_OVERFLOW=-1", NULL};
    ck_assert_has(conftest_load_err(NULL, env3),
                  "TXSCOPE_MAX_OVERFLOW = \"-1\": expected an integer from 0 to 10000");
}
END_TEST

/* [txscope] pool_size and query_timeout for every db; the file's order does not matter. */
START_TEST(txscope_default_either_side_of_the_db)
{
    static const char *const inis[] = {
        "[txscope]\npool_size = 3\nquery_timeout = 5s\npre_ping = off\n"
        "[db.a]\ndsn = a\n[db.b]\ndsn = b\npool_size = 7\n",
        "[db.a]\ndsn = a\n[db.b]\ndsn = b\npool_size = 7\n"
        "[txscope]\npool_size = 3\nquery_timeout = 5s\npre_ping = off\n",
        "[db.a]\ndsn = a\n[txscope]\npool_size = 3\nquery_timeout = 5s\npre_ping = off\n"
        "[db.b]\ndsn = b\npool_size = 7\n",
    };
    for (size_t i = 0; i < sizeof inis / sizeof *inis; i++) {
        txs_conf_t *c = conftest_load_ok(conftest_write_ini(inis[i]), no_env);
        ck_assert_int_eq(c->ndbs, 2);
        ck_assert_int_eq(c->dbs[0].pool_size, 3);
        ck_assert_uint_eq(c->dbs[0].query_timeout_ms, 5000);
        ck_assert(!c->dbs[0].pre_ping);
        ck_assert_int_eq(c->dbs[1].pool_size, 7); /* its own */
        ck_assert_uint_eq(c->dbs[1].query_timeout_ms, 5000);
        ck_assert(!c->dbs[1].pre_ping);
        /* What neither sets keeps the built-in default. */
        ck_assert_uint_eq(c->dbs[1].pool_timeout_ms, 30000);
        txs_conf_free(c);
    }
}
END_TEST

START_TEST(txscope_default_for_dbs_the_environment_creates)
{
    const char *f = conftest_write_ini("[txscope]\npool_size = 3\ndriver = mysql\n");
    char *env[] = {"TXSCOPE_DB_X_DSN=x", "TXSCOPE_DB_Y_DSN=y", "TXSCOPE_DB_Y_DRIVER=postgresql",
                   NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    ck_assert_int_eq(c->ndbs, 2);
    ck_assert_int_eq(c->dbs[0].pool_size, 3);
    ck_assert_str_eq(c->dbs[0].driver, "mysql");
    ck_assert_int_eq(c->dbs[1].pool_size, 3);
    ck_assert_str_eq(c->dbs[1].driver, "postgresql");
    txs_conf_free(c);
    /* Without a file at all. */
    char *only_env[] = {"TXSCOPE_DB_X_DSN=x", "TXSCOPE_IDLE_IN_TRANSACTION_TIMEOUT=300ms",
                        "TXSCOPE_RESET_ALWAYS=on", NULL};
    c = conftest_load_ok(NULL, only_env);
    ck_assert_uint_eq(c->dbs[0].idle_in_transaction_timeout_ms, 300);
    ck_assert(c->dbs[0].reset_always);
    txs_conf_free(c);
}
END_TEST

/* db's variable > db's line > TXSCOPE_<KEY> > [txscope] line > built-in. */
START_TEST(precedence)
{
    const char *f = conftest_write_ini("[txscope]\n"
                                       "query_timeout = 1s\n"
                                       "transaction_timeout = 2s\n"
                                       "session_idle_timeout = 3s\n"
                                       "[db.a]\n"
                                       "dsn = a\n"
                                       "query_timeout = 10s\n"
                                       "transaction_timeout = 20s\n"
                                       "[db.b]\n"
                                       "dsn = b\n");
    char *env[] = {"TXSCOPE_QUERY_TIMEOUT=100s", "TXSCOPE_SESSION_IDLE_TIMEOUT=300s",
                   "TXSCOPE_DB_A_TRANSACTION_TIMEOUT=200s", "TXSCOPE_DB_B_QUERY_TIMEOUT=50s", NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    const txs_db_conf_t *a = &c->dbs[0], *b = &c->dbs[1];
    ck_assert_uint_eq(a->query_timeout_ms, 10 * SEC);         /* own line over TXSCOPE_ */
    ck_assert_uint_eq(a->transaction_timeout_ms, 200 * SEC);  /* own variable over own line */
    ck_assert_uint_eq(a->session_idle_timeout_ms, 300 * SEC); /* TXSCOPE_ over [txscope] */
    ck_assert_uint_eq(b->query_timeout_ms, 50 * SEC);         /* own variable over TXSCOPE_ */
    ck_assert_uint_eq(b->transaction_timeout_ms, 2 * SEC);    /* [txscope] line */
    ck_assert_uint_eq(b->session_idle_timeout_ms, 300 * SEC);
    ck_assert_uint_eq(b->idle_in_transaction_timeout_ms, MIN); /* built-in */
    txs_conf_free(c);
    /* The defaults are for dbs only: [txscope] keys keep their own meaning. */
    c = conftest_load_ok(conftest_write_ini("[txscope]\nmax_clients = 5\npool_size = 2\n" DB_MAIN),
                         no_env);
    ck_assert_int_eq(c->max_clients, 5);
    ck_assert_int_eq(c->dbs[0].pool_size, 2);
    txs_conf_free(c);
}
END_TEST

/* The sections' example in docs/configuration.md, as it says. */
START_TEST(docs_example)
{
    const char *f = conftest_write_ini("[db.app]\n"
                                       "dsn = postgresql://txscope@db1:5432/app\n"
                                       "query_timeout = 5s          ; app's own\n"
                                       "\n"
                                       "[db.reports]\n"
                                       "dsn = postgresql://txscope@db2:5432/reports\n"
                                       "query_timeout = 0           ; its own\n"
                                       "\n"
                                       "[db.audit]\n"
                                       "dsn = postgresql://txscope@db3:5432/audit\n"
                                       "                            ; no lines of its own\n"
                                       "\n"
                                       "[txscope]\n"
                                       "pool_size = 20              ; for every db\n"
                                       "query_timeout = 30s\n");
    txs_conf_t *c = conftest_load_ok(f, no_env);
    ck_assert_uint_eq(c->dbs[0].query_timeout_ms, 5 * SEC);
    ck_assert_uint_eq(c->dbs[1].query_timeout_ms, 0);
    ck_assert_uint_eq(c->dbs[2].query_timeout_ms, 30 * SEC);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(c->dbs[i].pool_size, 20);
    txs_conf_free(c);
    char *env[] = {"TXSCOPE_QUERY_TIMEOUT=1m", NULL};
    c = conftest_load_ok(f, env);
    ck_assert_uint_eq(c->dbs[0].query_timeout_ms, 5 * SEC);
    ck_assert_uint_eq(c->dbs[1].query_timeout_ms, 0);
    ck_assert_uint_eq(c->dbs[2].query_timeout_ms, MIN);
    txs_conf_free(c);
    char *env2[] = {"TXSCOPE_QUERY_TIMEOUT=1m", "TXSCOPE_DB_AUDIT_QUERY_TIMEOUT=10s", NULL};
    c = conftest_load_ok(f, env2);
    ck_assert_uint_eq(c->dbs[2].query_timeout_ms, 10 * SEC);
    txs_conf_free(c);
}
END_TEST

/* Mistakes with [txscope] defaults: the ini, the line, what the error says. */
static const struct bad_file {
    const char *ini;
    int line;
    const char *says;
} bad_files[] = {
    {"[txscope]\ndsn = x\n" DB_MAIN, 2,
     "[txscope] dsn: cannot be the default for every db: each db needs its own dsn; set it "
     "under [db.NAME], or as TXSCOPE_DB_<NAME>_DSN"},
    {DB_MAIN "[txscope]\ndsn = x\n", 4, "[txscope] dsn: cannot be the default for every db"},
    /* A bad default is an error where it is written, even if every db sets its own. */
    {"[txscope]\npool_size = 0\n" DB_MAIN "pool_size = 5\n", 2,
     "[txscope] pool_size = \"0\": expected an integer from 1 to 10000"},
    {"[txscope]\npre_ping = sometimes\n" DB_MAIN, 2,
     "[txscope] pre_ping = \"sometimes\": " BOOL_EXPECTED},
    {"[txscope]\ndriver = oracle\n" DB_MAIN, 2,
     "[txscope] driver = \"oracle\": expected one of: postgresql, mysql"},
    {"[txscope]\nquery_timeout = 1s\nquery_timeout = 2s\n" DB_MAIN, 3,
     "[txscope] query_timeout: set twice (first on line 2)"},
    {"[txscope]\npool_sise = 1\n" DB_MAIN, 2,
     "[txscope] pool_sise: unknown key; expected one of: listen, unix_socket, auth_token, "
     "max_clients, max_sessions_per_client, max_pipeline, max_request_bytes, max_result_bytes, "
     "log_level, log_format, admin_listen, drain_timeout, outcome_journal_size, "
     "outcome_journal_ttl, client_idle_timeout, "
     "client_login_timeout; or, as the default for every db, one of: driver, pool_size, "
     "pool_timeout, pool_recycle, connect_timeout, ddl_in_transaction, max_overflow, min_idle, "
     "pool_idle_timeout, pre_ping, pre_ping_after, reset_always, query_timeout, "
     "idle_in_transaction_timeout, transaction_timeout, session_idle_timeout"},
    /* The other way round: a key of the whole daemon in a db's section. */
    {DB_MAIN "client_idle_timeout = 1m\n", 3,
     "[db.main] client_idle_timeout: a key of the whole daemon, not of one db; move it to "
     "[txscope]"},
    {DB_MAIN "pool_sise = 1\n", 3,
     "[db.main] pool_sise: unknown key; expected one of: driver, dsn, pool_size, pool_timeout, "
     "pool_recycle, connect_timeout, ddl_in_transaction, max_overflow, min_idle, "
     "pool_idle_timeout, pre_ping, pre_ping_after, reset_always, query_timeout, "
     "idle_in_transaction_timeout, transaction_timeout, session_idle_timeout"},
};

START_TEST(bad_txscope_defaults)
{
    const struct bad_file *b = &bad_files[_i];
    const char *e = conftest_load_err(conftest_write_ini(b->ini), no_env);
    ck_assert_has(e, conftest_at(b->line));
    ck_assert_has(e, b->says);
}
END_TEST

START_TEST(dsn_default_refused_in_env)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_DSN=y", NULL};
    const char *e = conftest_load_err(NULL, env);
    ck_assert_has(e, "TXSCOPE_DSN: cannot be the default for every db: each db needs its own dsn; "
                     "set it under [db.NAME], or as TXSCOPE_DB_<NAME>_DSN");
    char *env2[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_POOLSIZE=3", NULL};
    e = conftest_load_err(NULL, env2);
    ck_assert_has(e, "TXSCOPE_POOLSIZE: unknown variable; expected TXSCOPE_<KEY> with KEY one of "
                     "LISTEN, ");
    ck_assert_has(e, "CLIENT_LOGIN_TIMEOUT, or a db KEY below but DSN (the default for every "
                     "db); or TXSCOPE_DB_<NAME>_<KEY> with KEY one of DRIVER, DSN, ");
    ck_assert_has(e, "SESSION_IDLE_TIMEOUT; or TXSCOPE_TOKEN_<NAME>; or TXSCOPE_CONFIG");
}
END_TEST

/* min_idle above pool_size: names the db, both keys, and where each value came from. */
START_TEST(min_idle_above_pool_size)
{
    char want[1024];
    const char *e = conftest_load_err(conftest_write_ini(DB_MAIN "min_idle = 11\n"), no_env);
    snprintf(want, sizeof want,
             "%s:3: [db.main] min_idle = 11 is more than its pool_size = 10 (the built-in "
             "default): min_idle is how many connections the pool keeps open, at most "
             "pool_size; lower min_idle or raise pool_size",
             conftest_ini());
    ck_assert_has(e, want);

    e = conftest_load_err(conftest_write_ini(DB_MAIN "pool_size = 4\nmin_idle = 5\n"), no_env);
    snprintf(want, sizeof want,
             "%s:4: [db.main] min_idle = 5 is more than its pool_size = 4 (%s:3)", conftest_ini(),
             conftest_ini());
    ck_assert_has(e, want);

    /* min_idle from [txscope], pool_size from the db: the second db fails. */
    e = conftest_load_err(conftest_write_ini("[txscope]\nmin_idle = 3\n" DB_MAIN
                                             "[db.small]\ndsn = x\n"
                                             "pool_size = 2\n"),
                          no_env);
    snprintf(want, sizeof want,
             "%s:2: [txscope] min_idle = 3, the default of [db.small], is more than its "
             "pool_size = 2 (%s:7)",
             conftest_ini(), conftest_ini());
    ck_assert_has(e, want);

    /* pool_size from [txscope], min_idle from variables. */
    char *env[] = {"TXSCOPE_DB_MAIN_MIN_IDLE=6", NULL};
    e = conftest_load_err(conftest_write_ini(DB_MAIN "[txscope]\npool_size = 5\n"), env);
    snprintf(want, sizeof want,
             "TXSCOPE_DB_MAIN_MIN_IDLE: [db.main] min_idle = 6 is more than its pool_size = 5 "
             "(%s:4 under [txscope])",
             conftest_ini());
    ck_assert_has(e, want);
    char *env2[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_MIN_IDLE=8", "TXSCOPE_POOL_SIZE=7", NULL};
    e = conftest_load_err(NULL, env2);
    ck_assert_has(e, "TXSCOPE_MIN_IDLE: [txscope] min_idle = 8, the default of [db.main], is more "
                     "than its pool_size = 7 (TXSCOPE_POOL_SIZE)");
    char *env3[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_MIN_IDLE=8", "TXSCOPE_DB_MAIN_POOL_SIZE=7",
                    NULL};
    e = conftest_load_err(NULL, env3);
    ck_assert_has(e, "(TXSCOPE_DB_MAIN_POOL_SIZE)");
}
END_TEST

START_TEST(min_idle_up_to_pool_size_accepted)
{
    /* Equal is fine; so is a db that raises its pool_size over a [txscope] min_idle. */
    txs_conf_t *c =
        conftest_load_ok(conftest_write_ini("[txscope]\nmin_idle = 10\n" DB_MAIN
                                            "[db.big]\ndsn = x\npool_size = 50\nmin_idle = 50\n"),
                         no_env);
    ck_assert_int_eq(c->dbs[0].min_idle, 10);
    ck_assert_int_eq(c->dbs[0].pool_size, 10);
    ck_assert_int_eq(c->dbs[1].min_idle, 50);
    txs_conf_free(c);
    /* max_overflow is beyond pool_size, not a bound of min_idle. */
    c = conftest_load_ok(
        conftest_write_ini(DB_MAIN "pool_size = 2\nmax_overflow = 8\nmin_idle = 2\n"), no_env);
    ck_assert_int_eq(c->dbs[0].max_overflow, 8);
    txs_conf_free(c);
}
END_TEST

/* The key table: every new key reloadable; a db key takes a [txscope] default exactly
 * when it has a default of its own, as config.h says. */
START_TEST(key_table_and_txscope_defaults_agree)
{
    static const char *const new_keys[] = {"max_overflow",        "min_idle",
                                           "pool_idle_timeout",   "pre_ping",
                                           "pre_ping_after",      "reset_always",
                                           "query_timeout",       "idle_in_transaction_timeout",
                                           "transaction_timeout", "session_idle_timeout",
                                           "client_idle_timeout", "client_login_timeout"};
    size_t seen = 0;
    for (size_t i = 0; txs_conf_key_info(i); i++) {
        const txs_conf_key_info_t *k = txs_conf_key_info(i);
        for (size_t j = 0; j < sizeof new_keys / sizeof *new_keys; j++) {
            if (strcmp(k->name, new_keys[j]) != 0)
                continue;
            seen++;
            ck_assert_msg(k->reloadable, "%s", k->name);
            ck_assert_ptr_nonnull(k->default_value);
            bool top = strncmp(k->name, "client_", 7) == 0;
            ck_assert_str_eq(k->section, top ? "txscope" : "db.NAME");
        }
        if (strcmp(k->section, "db.NAME") != 0)
            continue;
        char text[512];
        snprintf(text, sizeof text, "[txscope]\n%s = %s\n" DB_MAIN, k->name,
                 k->default_value ? k->default_value : "x");
        txs_conf_t *c = NULL;
        char err[1024];
        int rc = txs_conf_load(conftest_write_ini(text), no_env, &c, err, sizeof err);
        if (k->default_value) {
            ck_assert_msg(rc == 0, "[txscope] %s: %s", k->name, err);
            txs_conf_free(c);
        } else {
            ck_assert_int_eq(rc, TXS_ECONFIG);
            ck_assert_has(err, "cannot be the default for every db");
        }
    }
    ck_assert_uint_eq(seen, sizeof new_keys / sizeof *new_keys);
}
END_TEST

Suite *suite_conf_db_defaults(void)
{
    Suite *s = suite_create("conf_db_defaults");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, conftest_setup, conftest_teardown);
    tcase_add_test(tc, new_keys_have_their_defaults);
    tcase_add_test(tc, new_keys_set_from_file_and_env);
    tcase_add_loop_test(tc, bool_spellings, 0, sizeof bools / sizeof *bools);
    tcase_add_loop_test(tc, bool_bad_spelling_lists_the_good_ones, 0,
                        sizeof bad_bools / sizeof *bad_bools);
    tcase_add_test(tc, bool_empty_and_padded_values_refused);
    tcase_add_loop_test(tc, bad_value_names_line_and_bounds, 0,
                        sizeof bad_values / sizeof *bad_values);
    tcase_add_test(tc, bad_env_value_names_variable);
    tcase_add_test(tc, txscope_default_either_side_of_the_db);
    tcase_add_test(tc, txscope_default_for_dbs_the_environment_creates);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, docs_example);
    tcase_add_loop_test(tc, bad_txscope_defaults, 0, sizeof bad_files / sizeof *bad_files);
    tcase_add_test(tc, dsn_default_refused_in_env);
    tcase_add_test(tc, min_idle_above_pool_size);
    tcase_add_test(tc, min_idle_up_to_pool_size_accepted);
    tcase_add_test(tc, key_table_and_txscope_defaults_agree);
    suite_add_tcase(s, tc);
    return s;
}
