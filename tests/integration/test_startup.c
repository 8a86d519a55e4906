/* test_startup.c - txscoped refuses a bad configuration clearly, and a busy port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_startup(void);

static const char *daemon_bin(void)
{
    return getenv("TXS_DAEMON") ? getenv("TXS_DAEMON") : "build/asan/bin/txscoped";
}

/* A db of the current backend's kind that is never reached (start-up fails first). */
#define DRIVER_ENV TH_PICK("TXSCOPE_DB_MAIN_DRIVER=postgresql", "TXSCOPE_DB_MAIN_DRIVER=mysql")
#define DSN_ENV                                                                                    \
    TH_PICK("TXSCOPE_DB_MAIN_DSN=postgresql://x@127.0.0.1/x",                                      \
            "TXSCOPE_DB_MAIN_DSN=mysql://x@127.0.0.1/x")

START_TEST(bad_environment_value_names_the_variable)
{
    const char *env[] = {DRIVER_ENV, DSN_ENV, "TXSCOPE_MAX_PIPELINE=lots", NULL};
    th_run_t r;
    th_run(&r, daemon_bin(), NULL, env, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "TXSCOPE_MAX_PIPELINE") && strstr(r.err, "lots") &&
                      strstr(r.err, "integer"),
                  "stderr: %s", r.err);
}
END_TEST

START_TEST(bad_config_is_a_json_line_when_the_environment_asks)
{
    const char *env[] = {DRIVER_ENV, DSN_ENV, "TXSCOPE_MAX_PIPELINE=lots",
                         "TXSCOPE_LOG_FORMAT=json", NULL};
    th_run_t r;
    th_run(&r, daemon_bin(), NULL, env, NULL);
    ck_assert_int_eq(r.status, 2);
    cJSON *line = cJSON_Parse(r.err);
    ck_assert_msg(line != NULL, "not one JSON line: %s", r.err);
    ck_assert_str_eq(cJSON_GetObjectItem(line, "level")->valuestring, "error");
    ck_assert_msg(strstr(cJSON_GetObjectItem(line, "msg")->valuestring, "TXSCOPE_MAX_PIPELINE"),
                  "stderr: %s", r.err);
    cJSON_Delete(line);
}
END_TEST

START_TEST(bad_file_names_file_line_key_and_allowed_values)
{
    char path[] = "/tmp/txs_conf_XXXXXX";
    int fd = mkstemp(path);
    const char *text = TH_PICK(
        "[txscope]\nlisten = 127.0.0.1:7999\n\n[db.main]\ndsn = postgresql://x@127.0.0.1/x\n"
        "pool_size = 0\n",
        "[txscope]\nlisten = 127.0.0.1:7999\n\n[db.main]\ndsn = mysql://x@127.0.0.1/x\n"
        "pool_size = 0\ndriver = mysql\n");
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    const char *args[] = {"-c", path, NULL};
    th_run_t r;
    th_run(&r, daemon_bin(), args, NULL, NULL);
    unlink(path);
    ck_assert_int_eq(r.status, 2);
    char where[64];
    snprintf(where, sizeof where, "%s:6", path);
    ck_assert_msg(strstr(r.err, where) && strstr(r.err, "pool_size") && strstr(r.err, "10000"),
                  "stderr: %s", r.err);

    const char *missing[] = {"-c", "/nonexistent/txscope.ini", NULL};
    th_run(&r, daemon_bin(), missing, NULL, NULL);
    ck_assert_int_eq(r.status, 2);
    ck_assert_msg(strstr(r.err, "/nonexistent/txscope.ini"), "stderr: %s", r.err);
}
END_TEST

START_TEST(busy_port_fails_start_up)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    char listen[96];
    snprintf(listen, sizeof listen, "TXSCOPE_LISTEN=%s", d.addr);
    const char *env[] = {DRIVER_ENV, DSN_ENV, listen, NULL};
    th_run_t r;
    th_run(&r, daemon_bin(), NULL, env, NULL);
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "address already in use"), "stderr: %s", r.err);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_startup(void)
{
    Suite *s = suite_create("startup");
    TCase *tc[2];
    th_tcases(s, tc, 30);
    /* The configuration errors too: a mysql db must not change how they are reported. */
    TH_ADD_TEST(tc, bad_environment_value_names_the_variable);
    TH_ADD_TEST(tc, bad_file_names_file_line_key_and_allowed_values);
    tcase_add_test(tc[TH_PG], bad_config_is_a_json_line_when_the_environment_asks);
    TH_ADD_TEST(tc, busy_port_fails_start_up);
    return s;
}
