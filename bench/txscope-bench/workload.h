/* workload.h - the request lines of the bench's workloads, on pgbench's tables. */
#ifndef TXS_BENCH_WORKLOAD_H
#define TXS_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum txs_workload { TXS_WL_SELECT, TXS_WL_TX3, TXS_WL_TPCB, TXS_WL_BATCH } txs_workload_t;

/* The random values of one transaction, drawn as pgbench draws them. */
typedef struct txs_wl_vals {
    int64_t aid, tid, bid, delta;
} txs_wl_vals_t;

/* Parses "select", "tx3", "tpcb" or "batch"; false when the name is none of them. */
bool txs_workload_parse(const char *name, txs_workload_t *out);
const char *txs_workload_name(txs_workload_t w);
/* Requests per transaction: select 1, tx3 4, tpcb 6, batch 1. */
int txs_workload_steps(txs_workload_t w);
/* True when a failed request may leave a transaction open (tx3, tpcb): roll back. */
bool txs_workload_needs_rollback(txs_workload_t w);

/* splitmix64: a fast PRNG, one per context. */
typedef struct txs_rng {
    uint64_t s;
} txs_rng_t;
uint64_t txs_rng_next(txs_rng_t *r);
/* Uniform in [lo, hi]. */
int64_t txs_rng_range(txs_rng_t *r, int64_t lo, int64_t hi);
/* aid in 1..100000*scale, tid in 1..10*scale, bid in 1..scale, delta in -5000..5000. */
void txs_workload_draw(txs_rng_t *r, int64_t scale, txs_wl_vals_t *v);

/* Writes into buf the request line (ending in '\n') of step `step` of a transaction:
 * `{"id":ID` + ctx_part + the step's fields + `}`. ctx_part is `,"ctx":"NAME"` and any
 * other field every request carries (`,"db":"x"`). Returns its length, 0 if cap is too
 * small. */
size_t txs_workload_format(txs_workload_t w, int step, const txs_wl_vals_t *v, uint64_t id,
                           const char *ctx_part, size_t ctx_len, char *buf, size_t cap);
/* The same for {"op":"rollback"}. */
size_t txs_workload_rollback(uint64_t id, const char *ctx_part, size_t ctx_len, char *buf,
                             size_t cap);

/* Longest request line txs_workload_format writes, ctx_part aside. */
#define TXS_WL_MAX_LINE 1024

#endif
