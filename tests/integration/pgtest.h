/* pgtest.h - integration test helpers: the test server's address, a uv loop run until a flag. */
#ifndef TXS_TESTS_PGTEST_H
#define TXS_TESTS_PGTEST_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* "host=.. port=.. user=.. dbname=.." from PGHOST, PGPORT, PGUSER, PGDATABASE (as
 * tests/scripts/pg.sh start prints them). Fails the running test when one is missing. */
const char *txs_pgtest_dsn(void);

/* A plain blocking libpq connection to the test server (fails the test on error). */
PGconn *txs_pgtest_pg(void);
/* Run sql on pg; fails the test unless it succeeds. */
void txs_pgtest_exec(PGconn *pg, const char *sql);

/* Run the loop until *flag is non-zero or timeout_ms passed; true when the flag was set.
 * Its own handles are closed when it returns (freed on a later turn): the loop runs no
 * further callback after the one that set the flag's turn. */
bool txs_pgtest_run_until(uv_loop_t *loop, const int *flag, uint64_t timeout_ms);
/* Run the loop for ms milliseconds (or until nothing is left to do). */
void txs_pgtest_run_for(uv_loop_t *loop, uint64_t ms);
/* Run the loop until nothing is left and close it; fails the test, naming the open
 * handles, unless uv_loop_close succeeds. */
void txs_pgtest_loop_finish(uv_loop_t *loop);

/* Milliseconds on a monotonic clock. */
int64_t txs_pgtest_now_ms(void);

#endif
