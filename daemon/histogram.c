/* histogram.c - fixed-bucket latency histograms. */
#include "daemon/histogram.h"

const uint64_t txs_histogram_bounds_us[TXS_HISTOGRAM_NBOUNDS] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

static const char *const le_labels[TXS_HISTOGRAM_NBOUNDS + 1] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10",   "+Inf",
};

void txs_histogram_observe(txs_histogram_t *h, uint64_t us)
{
    int i = 0;
    while (i < TXS_HISTOGRAM_NBOUNDS && us > txs_histogram_bounds_us[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum_us += us;
}

const char *txs_histogram_le(int i)
{
    return i >= 0 && i <= TXS_HISTOGRAM_NBOUNDS ? le_labels[i] : "+Inf";
}
