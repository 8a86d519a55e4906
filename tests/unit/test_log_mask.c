/* test_log_mask.c - secrets masked in text bound for the log or a client (protocol/mask.c). */
#include <check.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/mask.h"
#include "tests/unit/conftest.h"

Suite *suite_log_mask(void);

/* text masked; *n the number of secrets masked (may be NULL). */
static const char *masked(const char *text, int *n)
{
    static char out[1024];
    txs_buf_t b = TXS_BUF_INIT;
    int k = txs_mask_append(&b, text, strlen(text));
    if (n)
        *n = k;
    ck_assert_uint_lt(b.len, sizeof out);
    memcpy(out, b.data ? b.data : "", b.len);
    out[b.len] = '\0';
    txs_buf_free(&b);
    return out;
}

#define ck_masked(in, want)                                                                        \
    do {                                                                                           \
        const char *got_ = masked((in), NULL);                                                     \
        ck_assert_msg(strcmp(got_, (want)) == 0, "mask(%s)\n  got  %s\n  want %s", (in), got_,     \
                      (want));                                                                     \
    } while (0)

START_TEST(uri_passwords)
{
    ck_masked("postgresql://app:s3cret@db.example:5432/app",
              "postgresql://app:***@db.example:5432/app");
    ck_masked("postgres://app:s3cret@10.0.0.1/app?sslmode=require",
              "postgres://app:***@10.0.0.1/app?sslmode=require");
    ck_masked("mysql://txs:pa%40ss@127.0.0.1:3306/txs", "mysql://txs:***@127.0.0.1:3306/txs");
    ck_masked("mariadb://u:p@127.0.0.1/db", "mariadb://u:***@127.0.0.1/db");
    /* A host list, and an '@' in the password left unencoded: the last '@' ends it. */
    ck_masked("postgresql://u:p@ss@h1:5432,h2:5433/db", "postgresql://u:***@h1:5432,h2:5433/db");
    /* A '/' in the password, unencoded: everything up to the URI's last '@' goes. */
    ck_masked("mysql://u:pa/ss@h/db", "mysql://u:***@h/db");
    /* Quoted inside a message: the quote ends the URI. */
    ck_masked("dsn \"postgresql://u:pw@h/db\" is bad", "dsn \"postgresql://u:***@h/db\" is bad");
}
END_TEST

START_TEST(uri_without_password_untouched)
{
    const char *same[] = {
        "postgresql://app@db.example:5432/app",
        "postgresql://db.example:5432/app?application_name=txs_1",
        "mysql://127.0.0.1:3306/txs",
        "postgresql:///app?host=/var/run/postgresql",
        "see http://example.com:8080/x for more",
        "a time like 12:30://", /* no scheme before :// */
        "postgresql://u:@h/db", /* an empty password hides nothing */
        "",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        int n = -1;
        const char *got = masked(same[i], &n);
        ck_assert_str_eq(got, same[i]);
        ck_assert_int_eq(n, 0);
    }
}
END_TEST

START_TEST(keyword_passwords)
{
    ck_masked("host=127.0.0.1 password=s3cret dbname=app",
              "host=127.0.0.1 password=*** dbname=app");
    ck_masked("password=s3cret", "password=***");
    ck_masked("host=h password = s3cret user=u", "host=h password = *** user=u");
    ck_masked("host=h password='a b c' user=u", "host=h password=*** user=u");
    ck_masked("host=h password='it\\'s' user=u", "host=h password=*** user=u");
    ck_masked("host=h password=a\\ b user=u", "host=h password=*** user=u");
    ck_masked("PASSWORD=x", "PASSWORD=***");
    ck_masked("sslpassword=keypw host=h", "sslpassword=*** host=h");
    /* libpq skips blanks after '=': the next word is the password. */
    ck_masked("password= host=h", "password= ***");
    /* Empty: nothing to hide. */
    ck_masked("host=h password='' user=u", "host=h password='' user=u");
    ck_masked("host=h password=", "host=h password=");
}
END_TEST

START_TEST(query_passwords)
{
    ck_masked("postgresql://h/db?password=s3cret&sslmode=require",
              "postgresql://h/db?password=***&sslmode=require");
    ck_masked("postgresql://h/db?sslmode=require&password=s3cret",
              "postgresql://h/db?sslmode=require&password=***");
    ck_masked("postgresql://h/db?password=s3cret#frag", "postgresql://h/db?password=***#frag");
    ck_masked("postgresql://h/db?password=&sslmode=disable",
              "postgresql://h/db?password=&sslmode=disable");
    ck_masked("postgresql://u:one@h/db?password=two", "postgresql://u:***@h/db?password=***");
}
END_TEST

START_TEST(tokens_and_other_secret_keys)
{
    ck_masked("TXSCOPE_AUTH_TOKEN = \"abc def\": expected", "TXSCOPE_AUTH_TOKEN = ***: expected");
    ck_masked("auth_token=abc", "auth_token=***");
    ck_masked("TXSCOPE_TOKEN_WEB=abc", "TXSCOPE_TOKEN_WEB=***");
    ck_masked("client_secret=abc pwd=x passwd=y", "client_secret=*** pwd=*** passwd=***");
}
END_TEST

/* Decided: only a key that ends in the secret's word is one. */
START_TEST(no_false_positives)
{
    const char *same[] = {
        "password_hint=the dog's name",
        "token_count=3 secrets=4",
        "password authentication failed for user \"app\"",
        "Access denied for user 'txs'@'localhost' (using password: YES)",
        "hello without a token",
        "db main stats: total=1 idle=1 timeouts_pool=0",
        "mypasswordfile=/etc/x",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        int n = -1;
        const char *got = masked(same[i], &n);
        ck_assert_str_eq(got, same[i]);
        ck_assert_int_eq(n, 0);
    }
}
END_TEST

START_TEST(several_in_one_string)
{
    int n = 0;
    const char *got = masked("main: postgresql://a:one@h/db; replica: host=r password=two "
                             "user=u; cache: mysql://b:three@c/d?socket=/s; token=four",
                             &n);
    ck_assert_str_eq(got, "main: postgresql://a:***@h/db; replica: host=r password=*** "
                          "user=u; cache: mysql://b:***@c/d?socket=/s; token=***");
    ck_assert_int_eq(n, 4);
    ck_assert_ptr_null(strstr(got, "one"));
    ck_assert_ptr_null(strstr(got, "two"));
    ck_assert_ptr_null(strstr(got, "three"));
    ck_assert_ptr_null(strstr(got, "four"));
}
END_TEST

START_TEST(copy_cuts_to_fit)
{
    char out[32];
    ck_assert_str_eq(txs_mask_copy(out, sizeof out, "postgresql://u:pw@h/db"),
                     "postgresql://u:***@h/db");
    /* Cut: masked first, so no part of the secret is left. */
    char small[18];
    txs_mask_copy(small, sizeof small, "postgresql://u:longsecret@h/db");
    ck_assert_str_eq(small, "postgresql://u:**");
    /* Never inside a UTF-8 sequence: "é" is two bytes. */
    char tiny[3];
    ck_assert_str_eq(txs_mask_copy(tiny, sizeof tiny, "a\xc3\xa9"), "a");
    char one[1];
    ck_assert_str_eq(txs_mask_copy(one, sizeof one, "password=x"), "");
}
END_TEST

/* ---- the config loader's messages, which quote what they could not read ---- */

/* A line of [tokens] or an auth_token line that inih cannot read is not quoted. */
START_TEST(config_does_not_quote_token_lines)
{
    static const char *const inis[] = {
        "[tokens]\nweb hunter2\n" DB_MAIN,
        "[tokens]\nweb = x\n  hunter2\n" DB_MAIN,
        "[txscope]\nauth_token hunter2\n" DB_MAIN,
    };
    /* With a ':' further on, inih takes the line for key: value: the key is not shown
     * past its first word. */
    static const char *const split[] = {
        "[txscope]\nauth_token hunter2: x\n" DB_MAIN,
        "[tokens]\nweb hunter2: x\n" DB_MAIN,
        "[db.main]\ndsn postgresql://app:hunter2@h/app\n",
    };
    for (size_t i = 0; i < sizeof split / sizeof *split; i++) {
        const char *e = conftest_load_err(conftest_write_ini(split[i]), NULL);
        ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
        ck_assert_has(e, " ...\": expected key = value; a key has no blanks");
    }
    for (size_t i = 0; i < sizeof inis / sizeof *inis; i++) {
        const char *e = conftest_load_err(conftest_write_ini(inis[i]), NULL);
        ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
        ck_assert_has(e, "a line that may hold a token (not shown)");
    }
    /* Other lines are still quoted, so the operator sees what is wrong. */
    const char *e =
        conftest_load_err(conftest_write_ini("[tokens]\nweb = x\n" DB_MAIN "pool_size 10\n"), NULL);
    ck_assert_has(e, "\"pool_size 10\": expected key = value");
}
END_TEST

START_TEST(config_masks_dsn_passwords)
{
    /* A DSN pasted as the driver: the message quotes the value, masked. */
    const char *e = conftest_load_err(
        conftest_write_ini("[db.main]\ndsn = x\ndriver = postgresql://app:hunter2@h/app\n"), NULL);
    ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
    ck_assert_has(e, "driver = \"postgresql://app:***@h/app\": expected");
    char *env[] = {"TXSCOPE_DB_MAIN_DSN=x", "TXSCOPE_DB_MAIN_DRIVER=host=h password=hunter2", NULL};
    e = conftest_load_err(NULL, env);
    ck_assert_msg(strstr(e, "hunter2") == NULL, "secret shown: %s", e);
    ck_assert_has(e, "TXSCOPE_DB_MAIN_DRIVER = \"host=h password=***");
}
END_TEST

Suite *suite_log_mask(void)
{
    Suite *s = suite_create("log_mask");
    TCase *tc = tcase_create("mask");
    tcase_add_test(tc, uri_passwords);
    tcase_add_test(tc, uri_without_password_untouched);
    tcase_add_test(tc, keyword_passwords);
    tcase_add_test(tc, query_passwords);
    tcase_add_test(tc, tokens_and_other_secret_keys);
    tcase_add_test(tc, no_false_positives);
    tcase_add_test(tc, several_in_one_string);
    tcase_add_test(tc, copy_cuts_to_fit);
    suite_add_tcase(s, tc);
    TCase *conf = tcase_create("config");
    tcase_add_checked_fixture(conf, conftest_setup, conftest_teardown);
    tcase_add_test(conf, config_does_not_quote_token_lines);
    tcase_add_test(conf, config_masks_dsn_passwords);
    suite_add_tcase(s, conf);
    return s;
}
