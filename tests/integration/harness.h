/* harness.h - start the real txscoped against the test PostgreSQL, talk to it, look
 * at the server from the side with plain libpq. */
#ifndef TXS_TESTS_HARNESS_H
#define TXS_TESTS_HARNESS_H

#include <check.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

#include "clients/c/libtxscope/txscope.h"

#define T_TIMEOUT 10000 /* ms: generous, for ASan builds on a loaded machine */

typedef struct th_daemon {
    pid_t pid;
    int port;
    char addr[64];
    char log_path[256];
} th_daemon_t;

/* Start txscoped ($TXS_DAEMON, default build/asan/bin/txscoped) listening on a free
 * port, with TXSCOPE_DB_MAIN_DSN pointing at the test server and the extra
 * "KEY=VALUE" settings in env (NULL-terminated; may be NULL). Waits until it accepts.
 * The daemon gets SIGTERM if the test process dies. Fails the test on error. */
void th_daemon_start(th_daemon_t *d, const char *const *env);
/* SIGTERM, wait, and return its exit status (0 = clean, no leaks under ASan). */
int th_daemon_stop(th_daemon_t *d);
/* The DSN of the test server (for libpq on the side). */
const char *th_pg_dsn(void);

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

/* pg_backend_pid() of the connection serving ctx (autobegin unless autocommit). */
long th_backend_pid(txscope_conn_t *c, const char *ctx, bool autocommit);

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
