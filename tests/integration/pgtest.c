/* pgtest.c - the test PostgreSQL: its address, and a plain libpq connection on the side. */
#include "tests/integration/pgtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        ck_abort_msg("%s is not set: start the test server first with\n"
                     "  eval \"$(tests/scripts/pg.sh start /tmp/pgtest)\"",
                     name);
    return v;
}

const char *txs_pgtest_dsn(void)
{
    static char dsn[512];
    const char *host = need_env("PGHOST"), *port = need_env("PGPORT");
    const char *user = need_env("PGUSER"), *db = need_env("PGDATABASE");
    snprintf(dsn, sizeof dsn, "host=%s port=%s user=%s dbname=%s", host, port, user, db);
    return dsn;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *txs_pgtest_pg(void)
{
    PGconn *pg = PQconnectdb(txs_pgtest_dsn());
    if (PQstatus(pg) != CONNECTION_OK)
        ck_abort_msg("cannot connect to the test server (%s): %s", txs_pgtest_dsn(),
                     PQerrorMessage(pg));
    PQsetNoticeProcessor(pg, quiet, NULL); /* "... does not exist, skipping" */
    return pg;
}

void txs_pgtest_exec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        ck_abort_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

char *txs_pgtest_value(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

void txs_pgtest_terminate(int pid)
{
    PGconn *pg = txs_pgtest_pg();
    char sql[96];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%d)", pid);
    char *v = txs_pgtest_value(pg, sql);
    ck_assert_str_eq(v, "t");
    free(v);
    PQfinish(pg);
}
