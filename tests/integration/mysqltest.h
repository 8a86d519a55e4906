/* mysqltest.h - the test MariaDB: its address, and a plain libmariadb connection on the side. */
#ifndef TXS_TESTS_MYSQLTEST_H
#define TXS_TESTS_MYSQLTEST_H

#include <mysql.h>

/* The environment variable `name` (one of the MYSQL_* that tests/scripts/mysql.sh start
 * prints); fails the running test when it is missing. */
const char *txs_mysqltest_env(const char *name);
/* mysql://user:password@host:port/database from the MYSQL_* variables. */
const char *txs_mysqltest_dsn(void);

/* A plain blocking connection to the test server: the view from the side. Fails the
 * test on error. */
MYSQL *txs_mysqltest_side(void);
/* Run sql on m (its result, if any, dropped); fails the test unless it succeeds. */
void txs_mysqltest_exec(MYSQL *m, const char *sql);
/* The first value of sql's first row, as text ("NULL" for NULL, "" when no row); the
 * caller frees it. */
char *txs_mysqltest_value(MYSQL *m, const char *sql);
/* KILL the connection with this id, from a connection of its own. */
void txs_mysqltest_kill(int id);

/* sql with "mdrv_" made "mdrv<pid>_": the names of tables, procedures and locks that other
 * connections see, so that two test runs on one server do not meet. The result lives in
 * one of four rotating static buffers. */
const char *txs_mysqltest_own(const char *sql);

#endif
