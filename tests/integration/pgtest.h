/* pgtest.h - the test PostgreSQL: its address, and a plain libpq connection on the side. */
#ifndef TXS_TESTS_PGTEST_H
#define TXS_TESTS_PGTEST_H

#include <libpq-fe.h>

/* "host=.. port=.. user=.. dbname=.." from PGHOST, PGPORT, PGUSER, PGDATABASE (as
 * tests/scripts/pg.sh start prints them). Fails the running test when one is missing. */
const char *txs_pgtest_dsn(void);

/* A plain blocking libpq connection to the test server (fails the test on error). */
PGconn *txs_pgtest_pg(void);
/* Run sql on pg; fails the test unless it succeeds. */
void txs_pgtest_exec(PGconn *pg, const char *sql);
/* The first value of sql's first row as text ("" when no row); the caller frees it.
 * Fails the test unless sql returns rows. */
char *txs_pgtest_value(PGconn *pg, const char *sql);
/* pg_terminate_backend(pid) from a connection of its own; fails the test unless it
 * succeeds. */
void txs_pgtest_terminate(int pid);

#endif
