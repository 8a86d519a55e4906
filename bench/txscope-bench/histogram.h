/* histogram.h - latency histogram with log-linear buckets (HDR-style), < 0.4% error. */
#ifndef TXS_BENCH_HISTOGRAM_H
#define TXS_BENCH_HISTOGRAM_H

#include <stdint.h>

/* Values below 2 * TXS_HIST_SUB are exact; above, each power of two is split into
 * TXS_HIST_SUB buckets, so a bucket's middle is within 1 / (2 * TXS_HIST_SUB) of any value
 * in it. Values up to 2^63 fit. */
#define TXS_HIST_SUB_BITS 7
#define TXS_HIST_SUB (1u << TXS_HIST_SUB_BITS)
#define TXS_HIST_BUCKETS (2 * TXS_HIST_SUB + (63 - TXS_HIST_SUB_BITS) * TXS_HIST_SUB)

typedef struct txs_hist {
    uint64_t count, sum, min, max;
    uint64_t buckets[TXS_HIST_BUCKETS];
} txs_hist_t;

void txs_hist_reset(txs_hist_t *h);
void txs_hist_record(txs_hist_t *h, uint64_t value);
/* Adds every value of src to dst. */
void txs_hist_merge(txs_hist_t *dst, const txs_hist_t *src);
/* The value at quantile q (0..1): the middle of the bucket holding the ceil(q * count)-th
 * smallest value, clamped to [min, max]; 0 when empty. */
double txs_hist_quantile(const txs_hist_t *h, double q);
/* The exact average; 0 when empty. */
double txs_hist_mean(const txs_hist_t *h);

#endif
