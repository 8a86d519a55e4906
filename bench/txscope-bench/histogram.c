/* histogram.c - latency histogram with log-linear buckets: no per-sample storage. */
#include "bench/txscope-bench/histogram.h"

#include <math.h>
#include <string.h>

void txs_hist_reset(txs_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
    if (v < 2 * TXS_HIST_SUB)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* >= TXS_HIST_SUB_BITS + 1 */
    unsigned shift = top - TXS_HIST_SUB_BITS;
    unsigned mant = (unsigned)(v >> shift); /* in [SUB, 2 * SUB) */
    return 2 * TXS_HIST_SUB + (shift - 1) * TXS_HIST_SUB + (mant - TXS_HIST_SUB);
}

/* The middle of the values that fall into bucket i. */
static double bucket_middle(unsigned i)
{
    if (i < 2 * TXS_HIST_SUB)
        return i;
    unsigned k = i - 2 * TXS_HIST_SUB;
    unsigned shift = k / TXS_HIST_SUB + 1;
    double low = (double)((uint64_t)(TXS_HIST_SUB + k % TXS_HIST_SUB) << shift);
    return low + ((double)((uint64_t)1 << shift) - 1) / 2;
}

void txs_hist_record(txs_hist_t *h, uint64_t value)
{
    h->buckets[bucket_of(value)]++;
    h->count++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

void txs_hist_merge(txs_hist_t *dst, const txs_hist_t *src)
{
    if (src->count == 0)
        return;
    for (unsigned i = 0; i < TXS_HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

double txs_hist_quantile(const txs_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    double r = ceil(q * (double)h->count);
    uint64_t rank = r < 1 ? 1 : r > (double)h->count ? h->count : (uint64_t)r;
    uint64_t seen = 0;
    for (unsigned i = 0; i < TXS_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            double v = bucket_middle(i);
            return v < (double)h->min ? (double)h->min : v > (double)h->max ? (double)h->max : v;
        }
    }
    return (double)h->max;
}

double txs_hist_mean(const txs_hist_t *h)
{
    return h->count == 0 ? 0 : (double)h->sum / (double)h->count;
}
