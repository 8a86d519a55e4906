/* harness.h - start the real txscoped against the test PostgreSQL or MariaDB, talk to
 * it, look at the server from the side with plain libpq / libmariadb. */
#ifndef TXS_TESTS_HARNESS_H
#define TXS_TESTS_HARNESS_H

#include <check.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

#include "clients/c/libtxscope/txscope.h"

#define T_TIMEOUT 10000 /* ms: generous, for ASan builds on a loaded machine */

/* Every backend-neutral test runs twice, in the TCases "pg" and "mysql" of its suite;
 * PostgreSQL-only tests go to "pg" alone. */
typedef enum th_backend { TH_PG = 0, TH_MYSQL = 1 } th_backend_t;
extern th_backend_t th_backend; /* the backend of the running test */
/* Create the TCases "pg" and "mysql" in s, each with `timeout` seconds and an unchecked
 * fixture that sets th_backend (back to TH_PG after the TCase, for TCases made without
 * th_tcases); returned in tcs[TH_PG], tcs[TH_MYSQL]. */
void th_tcases(Suite *s, TCase *tcs[2], double timeout);
#define TH_ADD_TEST(tcs, fn)                                                                       \
    do {                                                                                           \
        tcase_add_test((tcs)[TH_PG], fn);                                                          \
        tcase_add_test((tcs)[TH_MYSQL], fn);                                                       \
    } while (0)
#define TH_PICK(pg, my) (th_backend == TH_MYSQL ? (my) : (pg))

/* SQL in the current backend's dialect. th_sql: `?` placeholders (outside quotes) become
 * $1, $2, ... on PostgreSQL and stay on MySQL; the result lives in one of 16 rotating
 * static buffers, so several may be used in one printf. */
const char *th_sql(const char *sql);
/* "select pg_sleep(S)" / "select sleep(S)" for a number of seconds given as text ("1.5"). */
const char *th_sleep_sql(const char *secs);

typedef struct th_daemon {
    pid_t pid;
    int port;
    char addr[64];
    int admin_port; /* admin_listen: 127.0.0.1:admin_port */
    char log_path[256];
} th_daemon_t;

/* Start txscoped ($TXS_DAEMON, default build/asan/bin/txscoped) listening on a free
 * port, against the current backend's test server, with the extra "KEY=VALUE" settings
 * in env (NULL-terminated; may be NULL; they win over the harness's). Waits until it
 * accepts. The daemon gets SIGTERM if the test process dies. Fails the test on error.
 * Its backend connections are marked so that th_side_backends can count them:
 * PostgreSQL by application_name=txs_PORT; MySQL by a database of its own, txs_PORT
 * (created here if missing), which the DSN names (TXSCOPE_DB_MAIN_DRIVER=mysql). From
 * then on th_side() connects to that database, so tables made on the side are the
 * daemon's tables. */
void th_daemon_start(th_daemon_t *d, const char *const *env);
/* SIGTERM, wait, and return its exit status (0 = clean, no leaks under ASan). */
int th_daemon_stop(th_daemon_t *d);
/* The daemon's own count `key` as its stats log line says now: SIGUSR1, then the line it
 * logs is read back (daemon_stats.c). db: the pool's line ("db NAME stats: ..."); NULL:
 * the server's ("stats: clients=..."). Fails the test when no line or key shows. */
long long th_daemon_stat(const th_daemon_t *d, const char *db, const char *key);
/* The DSN of the test PostgreSQL (for libpq on the side). */
const char *th_pg_dsn(void);
/* mysql://txs:txs@127.0.0.1:PORT/txs from the MYSQL_* environment. */
const char *th_mysql_dsn(void);
/* The current backend's: th_pg_dsn() or th_mysql_dsn(). */
const char *th_dsn(void);

txscope_conn_t *th_connect(const th_daemon_t *d);
/* A raw TCP socket to the daemon (for malformed input and abrupt closes). */
int th_raw_connect(const th_daemon_t *d);

/* One request built from printf-style JSON text, sent, and its reply awaited. */
cJSON *th_call(txscope_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The request line sent as written (no cJSON round trip, so numbers keep every
 * digit); the next reply is returned. Only for a connection with nothing else
 * outstanding. */
cJSON *th_call_raw(txscope_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send without waiting; returns the id. */
int64_t th_send(txscope_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Assert the reply is ok / an error with that code, then free it. */
void th_expect_ok(cJSON *r, const char *what);
void th_expect_code(cJSON *r, const char *code, const char *what);
/* The reply's rows[0][0] as text (numbers printed), or NULL. Caller frees. */
char *th_first_value(const cJSON *r);

/* The server's id of the connection serving ctx (pg_backend_pid() / connection_id()),
 * autobegin unless autocommit. th_backend_pid is the same, under its old name. */
long th_backend_id(txscope_conn_t *c, const char *ctx, bool autocommit);
long th_backend_pid(txscope_conn_t *c, const char *ctx, bool autocommit);

/* A plain blocking connection to the current backend on the side (libpq / libmariadb;
 * on MySQL several statements may go in one call, separated by `;`). */
typedef struct th_side th_side_t;
th_side_t *th_side(void);
void th_side_close(th_side_t *s);
/* Run sql (printf-style); fails the test on error. */
void th_side_exec(th_side_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row as a long (0 for SQL NULL); fails the test on error
 * or no row. */
long th_side_long(th_side_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The first column of the first row as text (NULL for SQL NULL); caller frees. Fails the
 * test on error or no row. */
char *th_side_text(th_side_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Which of a daemon's backend connections to count. On MySQL a transaction shows only
 * once it touched an InnoDB table (information_schema.innodb_trx, whose ~100 ms cache
 * the harness waits out before each look, so the count is never stale). */
typedef enum th_which {
    TH_ALL,     /* every connection of the daemon */
    TH_IN_TX,   /* idle inside a transaction (PG: state like 'idle in transaction%';
                   MySQL: a row in information_schema.innodb_trx and COMMAND = 'Sleep') */
    TH_RUNNING, /* running a statement (PG: state = 'active'; MySQL: COMMAND = 'Query'
                   or 'Execute') */
    TH_BUSY,    /* TH_IN_TX or TH_RUNNING (PG: state <> 'idle') */
} th_which_t;
long th_side_backends(th_side_t *s, const th_daemon_t *d, th_which_t which);
/* Poll every 10 ms until th_side_backends(...) is 0: the ms it took, or -1 after ms. */
long long th_side_wait_no_backends(th_side_t *s, const th_daemon_t *d, th_which_t which, int ms);
/* Poll a count query every 10 ms until it is 0: the ms it took, or -1 after ms. */
long long th_side_wait_zero(th_side_t *s, const char *sql, int ms);
/* End a backend connection from the side (pg_terminate_backend / KILL CONNECTION) and wait
 * until it is gone. */
void th_side_terminate(th_side_t *s, long id);
/* A fresh table t(id int primary key) (InnoDB on MySQL); select count(*) from t. */
void th_side_make_table(th_side_t *s, const char *t);
long th_side_count_rows(th_side_t *s, const char *t);

/* Plain blocking libpq to the test server (the app's view from outside). */
PGconn *th_pg(void);
/* The first column of the first row of sql as a long (fails the test on error). */
long th_pg_long(PGconn *pg, const char *sql);
void th_pg_exec(PGconn *pg, const char *sql);
/* Backends of this daemon in pg_stat_activity (each test daemon connects with its
 * own application_name, txs_PORT), with an optional extra condition. */
long th_daemon_backends(PGconn *pg, const th_daemon_t *d, const char *extra_where);
/* Poll sql (a count) every 10 ms until it is 0: the ms it took, or -1 after ms. */
long long th_wait_zero(PGconn *pg, const char *sql, int ms);
/* th_wait_zero on th_daemon_backends(pg, d, extra_where). */
long long th_wait_no_backends(PGconn *pg, const th_daemon_t *d, const char *extra_where, int ms);
/* pg_terminate_backend(pid), then wait until it is gone from pg_stat_activity. */
void th_pg_terminate(PGconn *pg, long pid);
/* A fresh table t(id int primary key). */
void th_make_table(PGconn *pg, const char *t);
/* select count(*) from t. */
long th_count_rows(PGconn *pg, const char *t);
/* A fresh table t(id int) whose COMMIT sleeps `secs` (a deferred constraint trigger) when
 * row id 1 is in the transaction; other rows commit at once. */
void th_slow_commit_table(PGconn *pg, const char *t, int secs);

/* A program run to completion: exit status (128+signal when killed) and output. */
typedef struct th_run {
    int status;
    char out[16384];
    char err[16384];
} th_run_t;
/* Run bin with args (NULL-terminated, argv[0] not included), extra "KEY=VALUE"
 * environment (may be NULL) and text on stdin (may be NULL). */
void th_run(th_run_t *res, const char *bin, const char *const *args, const char *const *env,
            const char *in);

/* Milliseconds on a monotonic clock. */
long long th_now_ms(void);
void th_sleep_ms(int ms);

#endif
