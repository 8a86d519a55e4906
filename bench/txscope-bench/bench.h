/* bench.h - what the parts of txscope-bench share: options, connections, results. */
#ifndef TXS_BENCH_H
#define TXS_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/txscope-bench/histogram.h"
#include "bench/txscope-bench/workload.h"
#include "clients/c/libtxscope/txscope.h"

typedef struct txs_bench_opts {
    const char *address;
    const char *token; /* NULL: no hello */
    const char *db;    /* NULL: no "db" field */
    int clients;
    int contexts; /* per client */
    txs_workload_t workload;
    double seconds;
    bool seconds_given;
    long transactions; /* per context; 0: run for `seconds` */
    int64_t scale;     /* 0 until detected */
    double progress;   /* seconds between progress lines; 0: none */
    bool idle;
} txs_bench_opts_t;

#define TXS_BENCH_MAX_CODES 32

/* How many error replies came with one SQLSTATE. */
typedef struct txs_bench_code {
    char code[8];
    uint64_t n;
} txs_bench_code_t;

typedef struct txs_bench_result {
    double seconds;
    uint64_t transactions; /* completed without an error */
    uint64_t errors;       /* error replies */
    txs_hist_t *latency;   /* of the completed transactions, in ns */
    txs_bench_code_t codes[TXS_BENCH_MAX_CODES];
    int ncodes;
} txs_bench_result_t;

/* Prints "txscope-bench: " and the message to stderr and exits with status 1. */
void txs_bench_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* calloc that never returns NULL (fatal instead). */
void *txs_bench_xcalloc(size_t n, size_t size);

/* Connects o->clients clients one after the other, each with hello (when o->token) and
 * a ping. Fatal on any failure. */
txscope_conn_t **txs_bench_connect_all(const txs_bench_opts_t *o);
void txs_bench_close_all(txscope_conn_t **conns, int n);
/* pgbench's scale: select count(*) from pgbench_branches (autocommit). Fatal on failure. */
int64_t txs_bench_detect_scale(txscope_conn_t *c, const txs_bench_opts_t *o);
/* `,"ctx":"b<client>-<context>-<pid>"` plus `,"db":"NAME"` when o->db (allocated). */
char *txs_bench_ctx_part(const txs_bench_opts_t *o, int client, int context, size_t *len);
/* Counts an error reply's SQLSTATE in r. */
void txs_bench_count_code(txs_bench_result_t *r, const char *code);
/* Reads a reply line: its integer id, ok flag and (for ok:false) error.code into code
 * (8 bytes). The common `{"id":N,"ok":true` shape is read without a JSON parser.
 * False when the line is no reply with an integer id. */
bool txs_bench_parse_reply(const char *line, size_t len, uint64_t *id, bool *ok, char *code);

/* The load: runs the workload and fills r; exits 1 on a lost connection. */
void txs_bench_run_load(const txs_bench_opts_t *o, txscope_conn_t **conns, txs_bench_result_t *r);
/* --idle: sets up the idle contexts, says ready, holds until a signal or -T. Returns the
 * exit status. */
int txs_bench_run_idle(const txs_bench_opts_t *o, txscope_conn_t **conns);

#endif
