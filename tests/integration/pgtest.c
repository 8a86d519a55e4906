/* pgtest.c - integration test helpers: the test server's address, a uv loop run until a flag. */
#include "tests/integration/pgtest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs last before the loop would block for I/O: if a callback of this turn (a timer's,
 * say) set the flag, do not block. */
static void on_prepare(uv_prepare_t *p)
{
    if (*(const int *)p->data)
        uv_stop(p->loop);
}

static void free_handle(uv_handle_t *h)
{
    free(h);
}

bool txs_pgtest_run_until(uv_loop_t *loop, const int *flag, uint64_t timeout_ms)
{
    /* On the heap, closed without running the loop again: one more turn here could run
     * callbacks the caller has yet to look at the results before. */
    bool expired = false;
    uv_timer_t *timer = malloc(sizeof *timer);
    uv_prepare_t *prepare = malloc(sizeof *prepare);
    ck_assert(timer && prepare);
    uv_timer_init(loop, timer);
    timer->data = &expired;
    uv_timer_start(timer, on_deadline, timeout_ms, 0);
    uv_prepare_init(loop, prepare);
    prepare->data = (void *)flag;
    uv_prepare_start(prepare, on_prepare);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)timer, free_handle);
    uv_close((uv_handle_t *)prepare, free_handle);
    return *flag != 0;
}

void txs_pgtest_run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;
    txs_pgtest_run_until(loop, &never, ms);
}

static void name_handle(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        return;
    fprintf(stderr, "pgtest: handle still open: %s\n", uv_handle_type_name(h->type));
    (*(int *)arg)++;
}

void txs_pgtest_loop_finish(uv_loop_t *loop)
{
    int open = 0;
    uv_walk(loop, name_handle, &open);
    ck_assert_msg(open == 0, "%d handle(s) left open on the loop", open);
    uv_run(loop, UV_RUN_DEFAULT); /* pending close callbacks and thread pool work */
    ck_assert_int_eq(uv_loop_close(loop), 0);
}

int64_t txs_pgtest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
