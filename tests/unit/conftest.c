/* conftest.c - the fixture of the config suites: a temp dir, an ini file in it, loads
 * that must pass or fail. */
#include "tests/unit/conftest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "protocol/errors.h"

/* Per test: check runs each one in a process of its own. */
static char tmpdir[64];
static char ini_path[256];
static char errbuf[1024];

void conftest_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/txs_conf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(ini_path, sizeof ini_path, "%s/t.ini", tmpdir);
}

void conftest_teardown(void)
{
    DIR *d = opendir(tmpdir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    ck_assert_int_eq(rmdir(tmpdir), 0);
}

const char *conftest_dir(void)
{
    return tmpdir;
}

const char *conftest_ini(void)
{
    return ini_path;
}

const char *conftest_write_ini(const char *text)
{
    FILE *f = fopen(ini_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    return ini_path;
}

txs_conf_t *conftest_load_ok(const char *file, char **env)
{
    txs_conf_t *c = NULL;
    int rc = txs_conf_load(file, env, &c, errbuf, sizeof errbuf);
    ck_assert_msg(rc == 0, "load failed: %s", errbuf);
    ck_assert_ptr_nonnull(c);
    return c;
}

const char *conftest_load_err(const char *file, char **env)
{
    txs_conf_t *c = (txs_conf_t *)&c; /* must be reset to NULL */
    int rc = txs_conf_load(file, env, &c, errbuf, sizeof errbuf);
    ck_assert_int_eq(rc, TXS_ECONFIG);
    ck_assert_ptr_null(c);
    ck_assert_msg(errbuf[0] != '\0', "no error message");
    return errbuf;
}

const char *conftest_at(int line)
{
    static char buf[300];
    snprintf(buf, sizeof buf, "%s:%d: ", ini_path, line);
    return buf;
}
