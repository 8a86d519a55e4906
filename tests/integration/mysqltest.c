/* mysqltest.c - the test MariaDB: its address, and a plain libmariadb connection on the side. */
#include "tests/integration/mysqltest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *txs_mysqltest_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        ck_abort_msg("%s is not set: start the test server first with\n"
                     "  eval \"$(tests/scripts/mysql.sh start /tmp/mytest/db)\"",
                     name);
    return v;
}

const char *txs_mysqltest_dsn(void)
{
    static char dsn[512];
    snprintf(dsn, sizeof dsn, "mysql://%s:%s@%s:%s/%s", txs_mysqltest_env("MYSQL_USER"),
             txs_mysqltest_env("MYSQL_PWD"), txs_mysqltest_env("MYSQL_HOST"),
             txs_mysqltest_env("MYSQL_TCP_PORT"), txs_mysqltest_env("MYSQL_DATABASE"));
    return dsn;
}

MYSQL *txs_mysqltest_side(void)
{
    txs_mysqltest_dsn(); /* fails the test when a variable is missing */
    MYSQL *m = mysql_init(NULL);
    ck_assert_ptr_nonnull(m);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m, txs_mysqltest_env("MYSQL_HOST"), txs_mysqltest_env("MYSQL_USER"),
                            txs_mysqltest_env("MYSQL_PWD"), txs_mysqltest_env("MYSQL_DATABASE"),
                            (unsigned)atoi(txs_mysqltest_env("MYSQL_TCP_PORT")), NULL, 0))
        ck_abort_msg("cannot connect to the test server: %s", mysql_error(m));
    return m;
}

void txs_mysqltest_exec(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        ck_abort_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    if (r)
        mysql_free_result(r);
}

char *txs_mysqltest_value(MYSQL *m, const char *sql)
{
    if (mysql_query(m, sql))
        ck_abort_msg("%s: %s", sql, mysql_error(m));
    MYSQL_RES *r = mysql_store_result(m);
    ck_assert_ptr_nonnull(r);
    MYSQL_ROW row = mysql_fetch_row(r);
    char *v = strdup(!row ? "" : row[0] ? row[0] : "NULL");
    mysql_free_result(r);
    return v;
}

void txs_mysqltest_kill(int id)
{
    char sql[64];
    snprintf(sql, sizeof sql, "KILL %d", id);
    MYSQL *m = txs_mysqltest_side();
    txs_mysqltest_exec(m, sql);
    mysql_close(m);
}

const char *txs_mysqltest_own(const char *sql)
{
    static char bufs[4][512];
    static int next;
    char *out = bufs[next++ % 4], pre[32];
    snprintf(pre, sizeof pre, "mdrv%d_", (int)getpid());
    size_t n = 0;
    for (const char *s = sql; *s && n + strlen(pre) + 1 < sizeof bufs[0];) {
        if (strncmp(s, "mdrv_", 5) == 0) {
            n += (size_t)snprintf(out + n, sizeof bufs[0] - n, "%s", pre);
            s += 5;
        } else {
            out[n++] = *s++;
        }
    }
    out[n] = '\0';
    return out;
}
