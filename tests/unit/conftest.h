/* conftest.h - the fixture of the config suites: a temp dir, an ini file in it, loads
 * that must pass or fail. */
#ifndef TXS_TESTS_CONFTEST_H
#define TXS_TESTS_CONFTEST_H

#include <check.h>
#include <string.h>

#include "conf/config.h"

#define DSN "postgresql://txscope@127.0.0.1:5432/app"
#define DB_MAIN "[db.main]\ndsn = " DSN "\n"

#define ck_assert_has(hay, needle)                                                                 \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "\"%s\" not in \"%s\"", (needle), (hay))

/* The checked fixture: a fresh temp dir, removed with what is in it. */
void conftest_setup(void);
void conftest_teardown(void);
/* The temp dir. */
const char *conftest_dir(void);
/* The path of t.ini in the temp dir. */
const char *conftest_ini(void);
/* Writes t.ini; returns its path. */
const char *conftest_write_ini(const char *text);
/* txs_conf_load that must succeed; the caller frees the result. */
txs_conf_t *conftest_load_ok(const char *file, char **env);
/* txs_conf_load that must fail with TXS_ECONFIG and a message; returns the message (valid
 * until the next load). */
const char *conftest_load_err(const char *file, char **env);
/* The file name and line an error about t.ini names, e.g. "/tmp/../t.ini:2: ". */
const char *conftest_at(int line);

#endif
