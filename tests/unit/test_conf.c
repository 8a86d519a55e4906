/* test_conf.c - txs_conf_load: defaults, the ini file, the environment, the tokens, error
 * messages. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "protocol/errors.h"
#include "tests/unit/conftest.h"

Suite *suite_conf(void);

static char *no_env[] = {NULL};

START_TEST(defaults_with_env_dsn)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=" DSN, NULL};
    txs_conf_t *c = conftest_load_ok(NULL, env);
    ck_assert_ptr_null(c->source);
    ck_assert_str_eq(c->listen_host, "127.0.0.1");
    ck_assert_int_eq(c->listen_port, 7432);
    ck_assert_ptr_null(c->unix_socket);
    ck_assert_ptr_null(c->auth_token);
    ck_assert_int_eq(c->ntokens, 0);
    ck_assert_ptr_null(c->tokens);
    ck_assert_int_eq(c->max_clients, 1000);
    ck_assert_int_eq(c->max_sessions_per_client, 1000);
    ck_assert_int_eq(c->max_pipeline, 128);
    ck_assert_uint_eq(c->max_request_bytes, 1024 * 1024);
    ck_assert_uint_eq(c->max_result_bytes, 64 * 1024 * 1024);
    ck_assert_int_eq(c->log_level, TXS_LOG_INFO);
    ck_assert_int_eq(c->ndbs, 1);
    const txs_db_conf_t *db = &c->dbs[0];
    ck_assert_str_eq(db->name, "main");
    ck_assert_str_eq(db->driver, "postgresql");
    ck_assert_str_eq(db->dsn, DSN);
    ck_assert_int_eq(db->pool_size, 10);
    ck_assert_uint_eq(db->pool_timeout_ms, 30000);
    ck_assert_uint_eq(db->pool_recycle_ms, 3600000);
    ck_assert_uint_eq(db->connect_timeout_ms, 10000);
    ck_assert_ptr_eq(txs_conf_find_db(c, "main"), db);
    ck_assert_ptr_null(txs_conf_find_db(c, "other"));
    txs_conf_free(c);
}
END_TEST

START_TEST(no_db_at_all)
{
    const char *e = conftest_load_err(NULL, no_env);
    ck_assert_has(e, "no database configured");
    ck_assert_has(e, "TXSCOPE_DB_MAIN_DSN");
    ck_assert_has(e, "[db.NAME]");
    /* NULL envp is an empty environment. */
    e = conftest_load_err(NULL, NULL);
    ck_assert_has(e, "no database configured");
    /* A file with only [txscope] has no db either, and the message names the file. */
    e = conftest_load_err(conftest_write_ini("[txscope]\nmax_clients = 5\n"), no_env);
    ck_assert_has(e, "TXSCOPE_DB_MAIN_DSN");
    ck_assert_has(e, conftest_ini());
}
END_TEST

START_TEST(file_sets_every_key)
{
    const char *f = conftest_write_ini("; a comment\n"
                                       "# another\n"
                                       "\n"
                                       "[txscope]\n"
                                       "listen = 0.0.0.0:9000\n"
                                       "unix_socket = /run/txscope.sock\n"
                                       "auth_token = s3cret ; an inline comment\n"
                                       "max_clients = 7\n"
                                       "  max_sessions_per_client = 8\n" /* indented */
                                       "max_pipeline = 9\n"
                                       "max_request_bytes = 2kB\n"
                                       "max_result_bytes = 3MiB\n"
                                       "log_level = debug\n"
                                       "[db.first]\n"
                                       "driver = postgresql\n"
                                       "dsn = host=/tmp dbname=app user=me\n"
                                       "pool_size = 3\n"
                                       "pool_timeout = 1.5\n"
                                       "pool_recycle = 0\n"
                                       "connect_timeout = 250ms\n"
                                       "[db.second_db]\n"
                                       "dsn = " DSN "\n"
                                       "[db.my]\n"
                                       "driver = mysql\n"
                                       "dsn = mysql://u:p@127.0.0.1:3306/app\n"
                                       "ddl_in_transaction = allow\n");
    txs_conf_t *c = conftest_load_ok(f, no_env);
    ck_assert_str_eq(c->source, f);
    ck_assert_str_eq(c->listen_host, "0.0.0.0");
    ck_assert_int_eq(c->listen_port, 9000);
    ck_assert_str_eq(c->unix_socket, "/run/txscope.sock");
    ck_assert_str_eq(c->auth_token, "s3cret");
    ck_assert_int_eq(c->max_clients, 7);
    ck_assert_int_eq(c->max_sessions_per_client, 8);
    ck_assert_int_eq(c->max_pipeline, 9);
    ck_assert_uint_eq(c->max_request_bytes, 2048);
    ck_assert_uint_eq(c->max_result_bytes, 3 * 1024 * 1024);
    ck_assert_int_eq(c->log_level, TXS_LOG_DEBUG);
    ck_assert_int_eq(c->ndbs, 3);
    ck_assert_str_eq(c->dbs[0].name, "first");
    ck_assert_str_eq(c->dbs[0].driver, "postgresql");
    ck_assert_str_eq(c->dbs[0].dsn, "host=/tmp dbname=app user=me");
    ck_assert_int_eq(c->dbs[0].pool_size, 3);
    ck_assert_uint_eq(c->dbs[0].pool_timeout_ms, 1500);
    ck_assert_uint_eq(c->dbs[0].pool_recycle_ms, 0);
    ck_assert_uint_eq(c->dbs[0].connect_timeout_ms, 250);
    /* The second db has the defaults. */
    ck_assert_str_eq(c->dbs[1].name, "second_db");
    ck_assert_int_eq(c->dbs[1].pool_size, 10);
    ck_assert_uint_eq(c->dbs[1].pool_recycle_ms, 3600000);
    ck_assert_int_eq(c->dbs[1].ddl_in_transaction, TXS_DDL_REFUSE);
    ck_assert_str_eq(c->dbs[2].driver, "mysql");
    ck_assert_str_eq(c->dbs[2].dsn, "mysql://u:p@127.0.0.1:3306/app");
    ck_assert_int_eq(c->dbs[2].ddl_in_transaction, TXS_DDL_ALLOW);
    txs_conf_free(c);
}
END_TEST

START_TEST(quotes_crlf_bom_and_empty_values)
{
    const char *f = conftest_write_ini("\xEF\xBB\xBF[txscope]\r\n"
                                       "auth_token = \" two words \"\r\n"
                                       "log_level = WARN\r\n"
                                       "unix_socket =\r\n" DB_MAIN);
    txs_conf_t *c = conftest_load_ok(f, no_env);
    ck_assert_str_eq(c->auth_token, " two words ");
    ck_assert_int_eq(c->log_level, TXS_LOG_WARN);
    ck_assert_ptr_null(c->unix_socket);
    txs_conf_free(c);
    /* An empty auth_token means none. */
    c = conftest_load_ok(conftest_write_ini("[txscope]\nauth_token =\n" DB_MAIN), no_env);
    ck_assert_ptr_null(c->auth_token);
    txs_conf_free(c);
}
END_TEST

START_TEST(long_lines)
{
    /* A long DSN fits (inih's own limit is 200 bytes). */
    char dsn[1200];
    memset(dsn, 'x', sizeof dsn - 1);
    dsn[sizeof dsn - 1] = '\0';
    char text[1400];
    snprintf(text, sizeof text, "[db.main]\ndsn = %s\n", dsn);
    txs_conf_t *c = conftest_load_ok(conftest_write_ini(text), no_env);
    ck_assert_str_eq(c->dbs[0].dsn, dsn);
    txs_conf_free(c);
    /* Past the limit: an error, not a value cut short. */
    char *big = malloc(10000);
    ck_assert_ptr_nonnull(big);
    int n = snprintf(big, 10000, "[db.main]\ndsn = ");
    memset(big + n, 'y', 5000);
    strcpy(big + n + 5000, "\n");
    const char *e = conftest_load_err(conftest_write_ini(big), no_env);
    free(big);
    ck_assert_has(e, conftest_at(2));
    ck_assert_has(e, "line longer than");
}
END_TEST

/* One bad value per row: the ini text, then what the error must say after "t.ini:LINE: ". */
static const struct bad_value {
    const char *ini;
    int line;
    const char *says;
} bad_values[] = {
    {"[txscope]\nmax_clients = abc\n", 2,
     "[txscope] max_clients = \"abc\": expected an integer from 1 to 1000000"},
    {"[txscope]\nmax_clients = 0\n", 2, "expected an integer from 1 to 1000000"},
    {"[txscope]\nmax_clients = 1000001\n", 2, "expected an integer from 1 to 1000000"},
    {"[txscope]\nmax_pipeline = 99999999999999999999999\n", 2,
     "expected an integer from 1 to 100000"},
    {"[txscope]\nmax_pipeline = 5x\n", 2, "expected an integer from 1 to 100000"},
    {"[txscope]\nmax_pipeline = +5\n", 2, "expected an integer from 1 to 100000"},
    {"[txscope]\nmax_sessions_per_client = -1\n", 2,
     "[txscope] max_sessions_per_client = \"-1\": expected an integer from 1 to 1000000"},
    {"[txscope]\nmax_request_bytes = 512\n", 2,
     "[txscope] max_request_bytes = \"512\": expected a size from 1kB to 1GB"},
    {"[txscope]\nmax_request_bytes = 2GB\n", 2, "expected a size from 1kB to 1GB"},
    {"[txscope]\nmax_request_bytes = 1mb\n", 2, "units B, kB, MB, GB are 1024-based"},
    {"[txscope]\nmax_result_bytes = 4097MB\n", 2, "expected a size from 1kB to 4GB"},
    {"[txscope]\nlog_level = verbose\n", 2,
     "[txscope] log_level = \"verbose\": expected one of: error, warn, info, debug"},
    {"[txscope]\nlisten = 127.0.0.1:0\n", 2,
     "[txscope] listen = \"127.0.0.1:0\": expected HOST:PORT with HOST an IP address (IPv6 as "
     "[::1]:7432) and PORT from 1 to 65535"},
    {"[txscope]\nlisten = 127.0.0.1:65536\n", 2, "expected HOST:PORT"},
    {"[txscope]\nlisten = 127.0.0.1:x\n", 2, "(IPv6 as [::1]:7432)"},
    {"[txscope]\nlisten = ::1:7432\n", 2, "(IPv6 as [::1]:7432)"},
    {"[txscope]\nlisten = localhost:7432\n", 2, "HOST an IP address"},
    {"[txscope]\nlisten = 1.2.3:7432\n", 2, "HOST an IP address"},
    {"[txscope]\nlisten = 127.0.0.1:7432:1\n", 2, "HOST an IP address"},
    {"[txscope]\nunix_socket = /"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxx"
     "xxxxxxxxxx\n",
     2, "[txscope] unix_socket = \"/xxx"},
    {"[txscope]\nunix_socket = /"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxx"
     "xxxxxxxxxx\n",
     2, "expected at most 107 bytes"},
    {"[db.main]\ndsn = x\ndriver = oracle\n", 3,
     "[db.main] driver = \"oracle\": expected one of: postgresql, mysql"},
    {"[db.main]\ndsn = x\nddl_in_transaction = maybe\n", 3,
     "[db.main] ddl_in_transaction = \"maybe\": expected one of: refuse, allow"},
    {"[db.main]\ndsn =\n", 2, "[db.main] dsn = \"\": expected a non-empty value"},
    {"[db.main]\ndsn = x\npool_size = 10001\n", 3,
     "[db.main] pool_size = \"10001\": expected an integer from 1 to 10000"},
    {"[db.main]\ndsn = x\npool_size = abc\n", 3,
     "[db.main] pool_size = \"abc\": expected an integer from 1 to 10000"},
    {"[db.main]\ndsn = x\npool_timeout = -1s\n", 3,
     "[db.main] pool_timeout = \"-1s\": expected a duration from 0 to 1h"},
    {"[db.main]\ndsn = x\npool_timeout = 3601s\n", 3, "expected a duration from 0 to 1h"},
    {"[db.main]\ndsn = x\npool_timeout = soon\n", 3, "like 500ms, 30s, 5m, 1h, 2d"},
    {"[db.main]\ndsn = x\npool_recycle = 31d\n", 3,
     "[db.main] pool_recycle = \"31d\": expected a duration from 0 (never) to 30d"},
    {"[db.main]\ndsn = x\nconnect_timeout = 99ms\n", 3,
     "[db.main] connect_timeout = \"99ms\": expected a duration from 100ms to 10m"},
    {"[db.main]\ndsn = x\nconnect_timeout = 11m\n", 3, "expected a duration from 100ms to 10m"},
};

START_TEST(bad_value_names_file_line_key_and_allowed)
{
    const struct bad_value *b = &bad_values[_i];
    char text[512];
    /* Rows without a db get one after their lines, so only the bad value fails. */
    snprintf(text, sizeof text, "%s%s", b->ini, strstr(b->ini, "[db.") ? "" : DB_MAIN);
    const char *e = conftest_load_err(conftest_write_ini(text), no_env);
    ck_assert_has(e, conftest_at(b->line));
    ck_assert_has(e, b->says);
}
END_TEST

START_TEST(good_bounds_accepted)
{
    txs_conf_t *c = conftest_load_ok(conftest_write_ini("[txscope]\n"
                                                        "listen = [::1]:1\n"
                                                        "max_clients = 1000000\n"
                                                        "max_request_bytes = 1kB\n"
                                                        "max_result_bytes = 4GB\n"
                                                        "[db.main]\n"
                                                        "dsn = x\n"
                                                        "pool_size = 10000\n"
                                                        "pool_timeout = 1h\n"
                                                        "pool_recycle = 30d\n"
                                                        "connect_timeout = 100ms\n"),
                                     no_env);
    ck_assert_str_eq(c->listen_host, "::1");
    ck_assert_int_eq(c->listen_port, 1);
    ck_assert_int_eq(c->max_clients, 1000000);
    ck_assert_uint_eq(c->max_request_bytes, 1024);
    ck_assert_uint_eq(c->max_result_bytes, 4ULL << 30);
    ck_assert_int_eq(c->dbs[0].pool_size, 10000);
    ck_assert_uint_eq(c->dbs[0].pool_timeout_ms, 3600000);
    ck_assert_uint_eq(c->dbs[0].pool_recycle_ms, 30ULL * 86400000);
    ck_assert_uint_eq(c->dbs[0].connect_timeout_ms, 100);
    txs_conf_free(c);
}
END_TEST

/* Structural mistakes: the ini, the line, what the error says. */
static const struct bad_value bad_files[] = {
    {"[txscope]\nmax_clint = 5\n", 2,
     "[txscope] max_clint: unknown key; expected one of: listen, unix_socket, auth_token, "
     "max_clients, max_sessions_per_client, max_pipeline, max_request_bytes, max_result_bytes, "
     "log_level"},
    {"[db.main]\ndsn = x\npool_sise = 5\n", 3,
     "[db.main] pool_sise: unknown key; expected one of: driver, dsn, pool_size, pool_timeout, "
     "pool_recycle, connect_timeout"},
    {"[db.main]\ndsn = x\nPool_Size = 5\n", 3, "Pool_Size: unknown key"},
    {"[txscop]\nmax_clients = 5\n", 1,
     "unknown section [txscop]; expected [txscope], [db.NAME] or [tokens]"},
    {"[token]\nweb = x\n", 1, "unknown section [token]"},
    {"[db.main]\ndsn = x\n[db]\n", 3, "unknown section [db]"},
    {"[db.Main]\ndsn = x\n", 1, "[db.Main]: expected [db.NAME] with NAME 1 to 63 characters"},
    {"[db.]\ndsn = x\n", 1, "[db.]: expected [db.NAME]"},
    {"[db.a-b]\ndsn = x\n", 1, "[db.a-b]: expected [db.NAME]"},
    {"[db.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\ndsn = x\n", 1,
     "expected [db.NAME] with NAME 1 to 63 characters of a-z, 0-9 and _"},
    {"[txscope]\n[db.main]\ndsn = x\n[txscope]\n", 4, "[txscope] appears twice (first on line 1)"},
    {"[db.main]\ndsn = x\n\n[db.main]\npool_size = 2\n", 4,
     "[db.main] appears twice (first on line 1)"},
    {"[db.main]\ndsn = x\ndsn = y\n", 3, "[db.main] dsn: set twice (first on line 2)"},
    {"max_clients = 5\n[db.main]\ndsn = x\n", 1,
     "max_clients: a key outside any section; put it under [txscope], [db.NAME] or [tokens]"},
    {"[db.main]\ndsn = x\npool_size 10\n", 3, "\"pool_size 10\": expected key = value, [section]"},
    {"[db.main\ndsn = x\n", 1, "\"[db.main\": expected key = value, [section]"},
    {"[txscope] junk\n[db.main]\ndsn = x\n", 1, "text after [txscope]"},
    /* The first error in the file wins, whichever kind it is. */
    {"[db.main]\ndsn = x\nbroken\npool_size = 0\n", 3, "\"broken\""},
    {"[db.main]\ndsn = x\npool_size = 0\nbroken\n", 3, "pool_size = \"0\""},
    /* A db without its required dsn; the error names its header. */
    {"[txscope]\n[db.main]\npool_size = 5\n", 2,
     "[db.main] has no dsn: add dsn = ... to it, or set TXSCOPE_DB_MAIN_DSN"},
    {"[db.main]\ndsn = x\n[db.other]\n", 3, "[db.other] has no dsn"},
    /* [tokens]: names as db names, non-empty secrets, each name once. */
    {"[tokens]\nWeb = x\n", 2,
     "[tokens] Web: expected NAME = secret with NAME 1 to 63 characters of a-z, 0-9 and _"},
    {"[tokens]\nweb-app = x\n", 2, "[tokens] web-app: expected NAME = secret"},
    {"[tokens]\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa = x\n", 2,
     "expected NAME = secret with NAME 1 to 63 characters"},
    {"[tokens]\nweb =\n", 2, "[tokens] web = \"\": expected a non-empty secret"},
    {"[tokens]\nweb = \"\"\n", 2, "[tokens] web = \"\": expected a non-empty secret"},
    {"[tokens]\nweb = a\nworker = b\n\nweb = c\n", 5, "[tokens] web: set twice (first on line 2)"},
    {"[tokens]\nweb = a\n[db.main]\ndsn = x\n[tokens]\n", 5,
     "[tokens] appears twice (first on line 1)"},
    /* auth_token is the principal default's token: not both. */
    {"[txscope]\nauth_token = a\n[tokens]\ndefault = b\n" DB_MAIN, 4,
     "[tokens] default: auth_token (" /* path */},
    /* One secret, two principals: hello could not tell them apart. */
    {"[tokens]\nweb = same\nworker = same\n" DB_MAIN, 3,
     "[tokens] worker: the same secret as [tokens] web ("},
    {"[txscope]\nauth_token = same\n[tokens]\nweb = same\n" DB_MAIN, 4,
     "[tokens] web: the same secret as auth_token ("},
};

START_TEST(bad_file_names_line_and_fix)
{
    const struct bad_value *b = &bad_files[_i];
    const char *e = conftest_load_err(conftest_write_ini(b->ini), no_env);
    ck_assert_has(e, conftest_at(b->line));
    ck_assert_has(e, b->says);
}
END_TEST

START_TEST(tokens_from_the_file)
{
    const char *f = conftest_write_ini("[tokens]\n"
                                       "web = s3cret\n"
                                       "worker_2 = \" two words \"\n"
                                       "ops = x;y ; a comment\n" DB_MAIN);
    txs_conf_t *c = conftest_load_ok(f, no_env);
    ck_assert_ptr_null(c->auth_token);
    ck_assert_int_eq(c->ntokens, 3);
    ck_assert_str_eq(c->tokens[0].name, "web");
    ck_assert_str_eq(c->tokens[0].secret, "s3cret");
    ck_assert_str_eq(c->tokens[1].name, "worker_2");
    ck_assert_str_eq(c->tokens[1].secret, " two words ");
    ck_assert_str_eq(c->tokens[2].name, "ops");
    ck_assert_str_eq(c->tokens[2].secret, "x;y");
    txs_conf_free(c);
    /* An empty [tokens] is no token: no authentication. */
    c = conftest_load_ok(conftest_write_ini("[tokens]\n" DB_MAIN), no_env);
    ck_assert_int_eq(c->ntokens, 0);
    txs_conf_free(c);
}
END_TEST

/* auth_token stays, and is the token of the principal "default", first in the list. */
START_TEST(auth_token_is_the_default_principal)
{
    txs_conf_t *c = conftest_load_ok(
        conftest_write_ini("[txscope]\nauth_token = a\n[tokens]\nweb = w\n" DB_MAIN), no_env);
    ck_assert_str_eq(c->auth_token, "a");
    ck_assert_int_eq(c->ntokens, 2);
    ck_assert_str_eq(c->tokens[0].name, "default");
    ck_assert_str_eq(c->tokens[0].secret, "a");
    ck_assert_str_eq(c->tokens[1].name, "web");
    ck_assert_str_eq(c->tokens[1].secret, "w");
    txs_conf_free(c);
    /* auth_token alone: one token. */
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_AUTH_TOKEN=t", NULL};
    c = conftest_load_ok(NULL, env);
    ck_assert_int_eq(c->ntokens, 1);
    ck_assert_str_eq(c->tokens[0].name, "default");
    ck_assert_str_eq(c->tokens[0].secret, "t");
    txs_conf_free(c);
    /* [tokens] default without auth_token is fine; so is the file's auth_token emptied by
     * the environment next to it. */
    char *unset[] = {"TXSCOPE_AUTH_TOKEN=", NULL};
    c = conftest_load_ok(
        conftest_write_ini("[txscope]\nauth_token = a\n[tokens]\ndefault = d\n" DB_MAIN), unset);
    ck_assert_ptr_null(c->auth_token);
    ck_assert_int_eq(c->ntokens, 1);
    ck_assert_str_eq(c->tokens[0].name, "default");
    ck_assert_str_eq(c->tokens[0].secret, "d");
    txs_conf_free(c);
}
END_TEST

START_TEST(tokens_from_the_environment)
{
    const char *f = conftest_write_ini("[tokens]\nweb = from-file\nworker = w\n" DB_MAIN);
    char *env[] = {"TXSCOPE_TOKEN_WEB=from-env", "TXSCOPE_TOKEN_BATCH_JOBS= b ;c",
                   "TXSCOPE_TOKEN_A=a", NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    ck_assert_int_eq(c->ntokens, 4);
    /* The file's in file order (an override keeps its place), then the environment's. */
    ck_assert_str_eq(c->tokens[0].name, "web");
    ck_assert_str_eq(c->tokens[0].secret, "from-env");
    ck_assert_str_eq(c->tokens[1].name, "worker");
    ck_assert_str_eq(c->tokens[1].secret, "w");
    ck_assert_str_eq(c->tokens[2].name, "batch_jobs");
    ck_assert_str_eq(c->tokens[2].secret, " b ;c"); /* as is: no quotes or comments */
    ck_assert_str_eq(c->tokens[3].name, "a");
    txs_conf_free(c);
    /* No file at all. */
    char *only_env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_TOKEN_WEB=1", "TXSCOPE_TOKEN_WORKER=2",
                        NULL};
    c = conftest_load_ok(NULL, only_env);
    ck_assert_int_eq(c->ntokens, 2);
    ck_assert_str_eq(c->tokens[0].name, "web");
    ck_assert_str_eq(c->tokens[1].name, "worker");
    ck_assert_ptr_null(c->auth_token);
    txs_conf_free(c);
}
END_TEST

/* Errors about tokens say where each came from: the line or the variable. */
START_TEST(token_conflicts_name_both_origins)
{
    char want[400];
    char *env1[] = {"TXSCOPE_TOKEN_DEFAULT=d", NULL};
    const char *e =
        conftest_load_err(conftest_write_ini("[txscope]\nauth_token = a\n" DB_MAIN), env1);
    snprintf(want, sizeof want,
             "TXSCOPE_TOKEN_DEFAULT: [tokens] default: auth_token (%s:2) is already the token "
             "of the principal default; set one of the two",
             conftest_ini());
    ck_assert_has(e, want);

    char *env2[] = {"TXSCOPE_AUTH_TOKEN=a", NULL};
    e = conftest_load_err(conftest_write_ini("[tokens]\ndefault = d\n" DB_MAIN), env2);
    snprintf(want, sizeof want, "%s:2: [tokens] default: auth_token (TXSCOPE_AUTH_TOKEN)",
             conftest_ini());
    ck_assert_has(e, want);

    char *env3[] = {"TXSCOPE_TOKEN_WORKER=s", NULL};
    e = conftest_load_err(conftest_write_ini("[tokens]\nweb = s\n" DB_MAIN), env3);
    snprintf(want, sizeof want,
             "TXSCOPE_TOKEN_WORKER: [tokens] worker: the same secret as [tokens] web (%s:2); "
             "every principal needs its own",
             conftest_ini());
    ck_assert_has(e, want);

    /* An override moves the token's origin to the variable. */
    char *env4[] = {"TXSCOPE_TOKEN_WEB=s", NULL};
    e = conftest_load_err(conftest_write_ini("[tokens]\nworker = s\nweb = t\n" DB_MAIN), env4);
    ck_assert_has(e, "TXSCOPE_TOKEN_WEB: [tokens] web: the same secret as [tokens] worker (");
    snprintf(want, sizeof want, "(%s:2)", conftest_ini());
    ck_assert_has(e, want);
}
END_TEST

/* A secret is never in a message, whatever went wrong around it. */
START_TEST(token_errors_never_show_the_secret)
{
    static const char *const inis[] = {
        "[tokens]\nweb = hunter2\nweb = hunter2\n",
        "[tokens]\nweb = hunter2\nworker = hunter2\n" DB_MAIN,
        "[txscope]\nauth_token = hunter2\n[tokens]\nweb = hunter2\n" DB_MAIN,
        "[txscope]\nauth_token = hunter2\n[tokens]\ndefault = hunter2x\n" DB_MAIN,
        "[tokens]\nWEB = hunter2\n",
    };
    for (size_t i = 0; i < sizeof inis / sizeof *inis; i++) {
        const char *e = conftest_load_err(conftest_write_ini(inis[i]), no_env);
        ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
    }
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_TOKEN_A=hunter2", "TXSCOPE_TOKEN_B=hunter2",
                   NULL};
    const char *e = conftest_load_err(NULL, env);
    ck_assert_has(e,
                  "TXSCOPE_TOKEN_B: [tokens] b: the same secret as [tokens] a (TXSCOPE_TOKEN_A)");
    ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
    char *bad_name[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_TOKEN_web=hunter2", NULL};
    e = conftest_load_err(NULL, bad_name);
    ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
}
END_TEST

START_TEST(missing_file)
{
    char nope[300];
    snprintf(nope, sizeof nope, "%s/nope.ini", conftest_dir());
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", NULL};
    const char *e = conftest_load_err(nope, env);
    ck_assert_has(e, "cannot open");
    ck_assert_has(e, nope);
    ck_assert_has(e, "No such file");
    /* A directory is not a file either. */
    e = conftest_load_err(conftest_dir(), env);
    ck_assert_has(e, conftest_dir());
}
END_TEST

START_TEST(env_overrides_file)
{
    const char *f = conftest_write_ini("[txscope]\n"
                                       "listen = 10.0.0.1:1\n"
                                       "auth_token = from-file\n"
                                       "max_pipeline = 5\n"
                                       "[db.main]\n"
                                       "dsn = from-file\n"
                                       "pool_size = 4\n");
    char *env[] = {"HOME=/root",
                   "TXSCOPE_LISTEN=[::]:9000",
                   "TXSCOPE_AUTH_TOKEN=",
                   "TXSCOPE_MAX_REQUEST_BYTES=4kB",
                   "TXSCOPE_LOG_LEVEL=error",
                   "TXSCOPE_DB_MAIN_DSN=from-env",
                   "TXSCOPE_DB_MAIN_POOL_TIMEOUT=5s",
                   "TXSCOPE_CONFIG=/elsewhere.ini",
                   "TXSCOPEX=ignored",
                   NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    ck_assert_str_eq(c->listen_host, "::");
    ck_assert_int_eq(c->listen_port, 9000);
    ck_assert_ptr_null(c->auth_token); /* empty = none, even over the file's */
    ck_assert_int_eq(c->max_pipeline, 5);
    ck_assert_uint_eq(c->max_request_bytes, 4096);
    ck_assert_int_eq(c->log_level, TXS_LOG_ERROR);
    ck_assert_int_eq(c->ndbs, 1);
    ck_assert_str_eq(c->dbs[0].dsn, "from-env");
    ck_assert_int_eq(c->dbs[0].pool_size, 4);
    ck_assert_uint_eq(c->dbs[0].pool_timeout_ms, 5000);
    ck_assert_str_eq(c->source, f);
    txs_conf_free(c);
}
END_TEST

START_TEST(env_creates_dbs_after_file_dbs_in_envp_order)
{
    const char *f = conftest_write_ini("[db.b]\ndsn = b\n[db.a]\ndsn = a\n");
    char *env[] = {"TXSCOPE_DB_Z_DSN=z", "TXSCOPE_DB_A_POOL_SIZE=2", "TXSCOPE_DB_C_POOL_SIZE=3",
                   "TXSCOPE_DB_C_DSN=c", NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    ck_assert_int_eq(c->ndbs, 4);
    ck_assert_str_eq(c->dbs[0].name, "b");
    ck_assert_str_eq(c->dbs[1].name, "a");
    ck_assert_int_eq(c->dbs[1].pool_size, 2);
    ck_assert_str_eq(c->dbs[2].name, "z");
    ck_assert_str_eq(c->dbs[2].dsn, "z");
    ck_assert_str_eq(c->dbs[2].driver, "postgresql");
    ck_assert_uint_eq(c->dbs[2].connect_timeout_ms, 10000);
    ck_assert_str_eq(c->dbs[3].name, "c");
    ck_assert_int_eq(c->dbs[3].pool_size, 3);
    ck_assert_str_eq(txs_conf_find_db(c, "c")->dsn, "c");
    txs_conf_free(c);
}
END_TEST

START_TEST(env_db_names_with_underscores)
{
    const char *f = conftest_write_ini("[db.main_ro]\ndsn = ro\n");
    char *env[] = {"TXSCOPE_DB_MAIN_RO_POOL_SIZE=7",
                   "TXSCOPE_DB_MAIN_POOL_TIMEOUT=2s", /* main + pool_timeout */
                   "TXSCOPE_DB_MAIN_DSN=m",
                   "TXSCOPE_DB_X_POOL_POOL_RECYCLE=0", /* x_pool + pool_recycle */
                   "TXSCOPE_DB_X_POOL_DSN=xp",
                   "TXSCOPE_DB___DSN=underscore", /* the name "_" */
                   NULL};
    txs_conf_t *c = conftest_load_ok(f, env);
    ck_assert_int_eq(c->ndbs, 4);
    ck_assert_str_eq(c->dbs[0].name, "main_ro");
    ck_assert_int_eq(c->dbs[0].pool_size, 7);
    ck_assert_uint_eq(c->dbs[0].pool_timeout_ms, 30000);
    ck_assert_str_eq(c->dbs[1].name, "main");
    ck_assert_uint_eq(c->dbs[1].pool_timeout_ms, 2000);
    ck_assert_str_eq(c->dbs[1].dsn, "m");
    ck_assert_str_eq(c->dbs[2].name, "x_pool");
    ck_assert_uint_eq(c->dbs[2].pool_recycle_ms, 0);
    ck_assert_str_eq(c->dbs[3].name, "_");
    ck_assert_str_eq(c->dbs[3].dsn, "underscore");
    txs_conf_free(c);
}
END_TEST

/* One bad environment per row: the variable and what the error must say. */
static const struct bad_env {
    char *var;
    const char *says;
} bad_envs[] = {
    {"TXSCOPE_DB_MAIN_POOL_SIZE=0",
     "TXSCOPE_DB_MAIN_POOL_SIZE = \"0\": expected an integer from 1 to 10000"},
    {"TXSCOPE_MAX_CLIENTS=lots", "TXSCOPE_MAX_CLIENTS = \"lots\": expected an integer"},
    {"TXSCOPE_LOG_LEVEL=loud", "TXSCOPE_LOG_LEVEL = \"loud\": expected one of: error, warn"},
    {"TXSCOPE_LISTEN=x", "TXSCOPE_LISTEN = \"x\": expected HOST:PORT"},
    {"TXSCOPE_LISTEN=127.0.0.1:0", "TXSCOPE_LISTEN = \"127.0.0.1:0\": expected HOST:PORT"},
    {"TXSCOPE_LISTEN=127.0.0.1:65536", "TXSCOPE_LISTEN = \"127.0.0.1:65536\""},
    {"TXSCOPE_LISTEN=[::1]7432", "TXSCOPE_LISTEN = \"[::1]7432\""},
    {"TXSCOPE_LISTEN=[nohost]:7432", "TXSCOPE_LISTEN = \"[nohost]:7432\""},
    {"TXSCOPE_LISTEN=:7432", "TXSCOPE_LISTEN = \":7432\""},
    {"TXSCOPE_LISTEN=127.0.0.1:", "TXSCOPE_LISTEN = \"127.0.0.1:\""},
    {"TXSCOPE_LISTEN=127.0.0.1:-80", "TXSCOPE_LISTEN = \"127.0.0.1:-80\""},
    {"TXSCOPE_DB_MAIN_CONNECT_TIMEOUT=1h",
     "TXSCOPE_DB_MAIN_CONNECT_TIMEOUT = \"1h\": expected a duration from 100ms to 10m"},
    {"TXSCOPE_DB_MAIN_DRIVER=oracle",
     "TXSCOPE_DB_MAIN_DRIVER = \"oracle\": expected one of: postgresql"},
    {"TXSCOPE_MAX_CLIENT=5",
     "TXSCOPE_MAX_CLIENT: unknown variable; expected TXSCOPE_<KEY> with KEY one of LISTEN, "
     "UNIX_SOCKET, AUTH_TOKEN, MAX_CLIENTS"},
    {"TXSCOPE_DB_MAIN_POOLSIZE=5", "TXSCOPE_DB_<NAME>_<KEY> with KEY one of DRIVER, DSN, "
                                   "POOL_SIZE, POOL_TIMEOUT, POOL_RECYCLE, CONNECT_TIMEOUT"},
    {"TXSCOPE_DB_DSN=x", "TXSCOPE_DB_DSN: unknown variable"},
    {"TXSCOPE_DB__DSN=x", "TXSCOPE_DB__DSN: unknown variable"}, /* an empty name */
    {"TXSCOPE_DB=x", "TXSCOPE_DB: unknown variable"},
    {"TXSCOPE_=x", "TXSCOPE_: unknown variable"},
    {"TXSCOPE_listen=x", "TXSCOPE_listen: unknown variable"},
    {"TXSCOPE_DB_Main_DSN=x", "TXSCOPE_DB_Main_DSN: expected TXSCOPE_DB_<NAME>_DSN with NAME 1 "
                              "to 63 characters of A-Z, 0-9 and _"},
    {"TXSCOPE_DB_A-B_DSN=x", "TXSCOPE_DB_A-B_DSN: expected TXSCOPE_DB_<NAME>_DSN"},
    {"TXSCOPE_DB_RO_POOL_SIZE=5", "TXSCOPE_DB_RO_POOL_SIZE creates db \"ro\", which has no "
                                  "dsn: set TXSCOPE_DB_RO_DSN too"},
    {"TXSCOPE_MAX_CLIENT=5", "; or TXSCOPE_TOKEN_<NAME>; or TXSCOPE_CONFIG"},
    {"TXSCOPE_TOKEN=x", "TXSCOPE_TOKEN: unknown variable"},
    {"TXSCOPE_TOKEN_=x", "TXSCOPE_TOKEN_: expected TXSCOPE_TOKEN_<NAME> with NAME 1 to 63 "
                         "characters of A-Z, 0-9 and _ (the [tokens] name upper-cased)"},
    {"TXSCOPE_TOKEN_Web=x", "TXSCOPE_TOKEN_Web: expected TXSCOPE_TOKEN_<NAME>"},
    {"TXSCOPE_TOKEN_WEB-APP=x", "TXSCOPE_TOKEN_WEB-APP: expected TXSCOPE_TOKEN_<NAME>"},
    {"TXSCOPE_TOKEN_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=x",
     "expected TXSCOPE_TOKEN_<NAME> with NAME 1 to 63"},
    {"TXSCOPE_TOKEN_WEB=", "TXSCOPE_TOKEN_WEB = \"\": expected a non-empty secret"},
};

START_TEST(bad_env_names_variable_and_allowed)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", bad_envs[_i].var, NULL};
    const char *e = conftest_load_err(NULL, env);
    ck_assert_has(e, bad_envs[_i].says);
}
END_TEST

START_TEST(errbuf_may_be_null)
{
    txs_conf_t *c = NULL;
    ck_assert_int_eq(txs_conf_load(NULL, no_env, &c, NULL, 0), TXS_ECONFIG);
    ck_assert_ptr_null(c);
    /* A short buffer is cut, still terminated. */
    char small[8];
    ck_assert_int_eq(txs_conf_load(NULL, no_env, &c, small, sizeof small), TXS_ECONFIG);
    ck_assert_uint_eq(strlen(small), sizeof small - 1);
}
END_TEST

/* The shipped sample loads, and every value it sets is the code's default. */
START_TEST(sample_loads_with_the_defaults)
{
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=" DSN, NULL};
    txs_conf_t *s = conftest_load_ok("conf/txscope.ini", no_env);
    txs_conf_t *d = conftest_load_ok(NULL, env);
    ck_assert_str_eq(s->listen_host, d->listen_host);
    ck_assert_int_eq(s->listen_port, d->listen_port);
    ck_assert_ptr_null(s->unix_socket);
    ck_assert_ptr_null(s->auth_token);
    ck_assert_int_eq(s->ntokens, 0); /* the sample's [tokens] is commented out */
    ck_assert_int_eq(s->max_clients, d->max_clients);
    ck_assert_int_eq(s->max_sessions_per_client, d->max_sessions_per_client);
    ck_assert_int_eq(s->max_pipeline, d->max_pipeline);
    ck_assert_uint_eq(s->max_request_bytes, d->max_request_bytes);
    ck_assert_uint_eq(s->max_result_bytes, d->max_result_bytes);
    ck_assert_int_eq(s->log_level, d->log_level);
    ck_assert_int_eq(s->ndbs, 1);
    ck_assert_str_eq(s->dbs[0].name, "main");
    ck_assert_str_eq(s->dbs[0].dsn, DSN);
    ck_assert_str_eq(s->dbs[0].driver, d->dbs[0].driver);
    ck_assert_int_eq(s->dbs[0].pool_size, d->dbs[0].pool_size);
    ck_assert_uint_eq(s->dbs[0].pool_timeout_ms, d->dbs[0].pool_timeout_ms);
    ck_assert_uint_eq(s->dbs[0].pool_recycle_ms, d->dbs[0].pool_recycle_ms);
    ck_assert_uint_eq(s->dbs[0].connect_timeout_ms, d->dbs[0].connect_timeout_ms);
    ck_assert_int_eq(s->dbs[0].ddl_in_transaction, d->dbs[0].ddl_in_transaction);
    ck_assert_uint_eq(s->outcome_journal_size, d->outcome_journal_size);
    ck_assert_uint_eq(s->outcome_journal_ttl_ms, d->outcome_journal_ttl_ms);
    ck_assert_uint_eq(s->client_idle_timeout_ms, d->client_idle_timeout_ms);
    ck_assert_uint_eq(s->client_login_timeout_ms, d->client_login_timeout_ms);
    const txs_db_conf_t *sd = &s->dbs[0], *dd = &d->dbs[0];
    ck_assert_int_eq(sd->max_overflow, dd->max_overflow);
    ck_assert_int_eq(sd->min_idle, dd->min_idle);
    ck_assert_uint_eq(sd->pool_idle_timeout_ms, dd->pool_idle_timeout_ms);
    ck_assert(sd->pre_ping == dd->pre_ping);
    ck_assert_uint_eq(sd->pre_ping_after_ms, dd->pre_ping_after_ms);
    ck_assert(sd->reset_always == dd->reset_always);
    ck_assert_uint_eq(sd->query_timeout_ms, dd->query_timeout_ms);
    ck_assert_uint_eq(sd->idle_in_transaction_timeout_ms, dd->idle_in_transaction_timeout_ms);
    ck_assert_uint_eq(sd->transaction_timeout_ms, dd->transaction_timeout_ms);
    ck_assert_uint_eq(sd->session_idle_timeout_ms, dd->session_idle_timeout_ms);
    txs_conf_free(s);
    txs_conf_free(d);
}
END_TEST

static char *slurp(const char *file)
{
    FILE *f = fopen(file, "r");
    ck_assert_msg(f != NULL, "cannot open %s (tests run from the repo root)", file);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The sample's commented [tokens] example loads once uncommented. */
START_TEST(sample_tokens_example_loads)
{
    static const char commented[] = "\n;[tokens]\n;web = change-me\n;worker = change-me-too\n";
    const char *sample = slurp("conf/txscope.ini");
    const char *at_example = strstr(sample, commented);
    ck_assert_msg(at_example != NULL, "no commented [tokens] example in the sample");
    char text[65536];
    snprintf(text, sizeof text, "%.*s\n[tokens]\nweb = change-me\nworker = change-me-too\n%s",
             (int)(at_example - sample), sample, at_example + strlen(commented));
    txs_conf_t *c = conftest_load_ok(conftest_write_ini(text), no_env);
    ck_assert_int_eq(c->ntokens, 2);
    ck_assert_str_eq(c->tokens[0].name, "web");
    ck_assert_str_eq(c->tokens[1].name, "worker");
    txs_conf_free(c);
}
END_TEST

/* Every key of the table is in the sample (at the start of a line, commented out or not, so
 * that transaction_timeout is not found inside idle_in_transaction_timeout) and in
 * docs/configuration.md. */
START_TEST(every_key_documented)
{
    char needle[128], commented[128];
    const char *ini = slurp("conf/txscope.ini");
    size_t n = 0;
    for (const txs_conf_key_info_t *k; (k = txs_conf_key_info(n)) != NULL; n++) {
        snprintf(needle, sizeof needle, "\n%s = ", k->name);
        snprintf(commented, sizeof commented, "\n;%s = ", k->name);
        ck_assert_msg(strstr(ini, needle) || strstr(ini, commented), "%s not in the sample",
                      k->name);
    }
    ck_assert_uint_ge(n, 30); /* the loop above saw the whole table */
    const char *doc = slurp("docs/configuration.md");
    for (size_t i = 0; i < n; i++) {
        const txs_conf_key_info_t *k = txs_conf_key_info(i);
        snprintf(needle, sizeof needle, "| `%s` |", k->name);
        ck_assert_has(doc, needle);
        if (k->default_value) {
            snprintf(needle, sizeof needle, "| `%s` |", k->default_value);
            ck_assert_has(doc, needle);
        }
    }
}
END_TEST

START_TEST(key_table_marks_restart_only_keys)
{
    for (size_t i = 0; txs_conf_key_info(i); i++) {
        const txs_conf_key_info_t *k = txs_conf_key_info(i);
        bool restart = strcmp(k->name, "listen") == 0 || strcmp(k->name, "unix_socket") == 0 ||
                       strcmp(k->name, "admin_listen") == 0 || strcmp(k->name, "driver") == 0;
        ck_assert_msg(k->reloadable == !restart, "%s", k->name);
        ck_assert_ptr_nonnull(k->doc);
        ck_assert_ptr_nonnull(k->section);
    }
}
END_TEST

Suite *suite_conf(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, conftest_setup, conftest_teardown);
    tcase_add_test(tc, defaults_with_env_dsn);
    tcase_add_test(tc, no_db_at_all);
    tcase_add_test(tc, file_sets_every_key);
    tcase_add_test(tc, quotes_crlf_bom_and_empty_values);
    tcase_add_test(tc, long_lines);
    tcase_add_loop_test(tc, bad_value_names_file_line_key_and_allowed, 0,
                        sizeof bad_values / sizeof *bad_values);
    tcase_add_test(tc, good_bounds_accepted);
    tcase_add_loop_test(tc, bad_file_names_line_and_fix, 0, sizeof bad_files / sizeof *bad_files);
    tcase_add_test(tc, tokens_from_the_file);
    tcase_add_test(tc, auth_token_is_the_default_principal);
    tcase_add_test(tc, tokens_from_the_environment);
    tcase_add_test(tc, token_conflicts_name_both_origins);
    tcase_add_test(tc, token_errors_never_show_the_secret);
    tcase_add_test(tc, missing_file);
    tcase_add_test(tc, env_overrides_file);
    tcase_add_test(tc, env_creates_dbs_after_file_dbs_in_envp_order);
    tcase_add_test(tc, env_db_names_with_underscores);
    tcase_add_loop_test(tc, bad_env_names_variable_and_allowed, 0,
                        sizeof bad_envs / sizeof *bad_envs);
    tcase_add_test(tc, errbuf_may_be_null);
    tcase_add_test(tc, sample_loads_with_the_defaults);
    tcase_add_test(tc, sample_tokens_example_loads);
    tcase_add_test(tc, every_key_documented);
    tcase_add_test(tc, key_table_marks_restart_only_keys);
    suite_add_tcase(s, tc);
    return s;
}
