/* fdlimit.c - raise the open-files limit to what max_clients and the pools need.
 *
 * Debian's default soft limit is 1024 descriptors while the hard limit is far higher;
 * a daemon configured for 10,000 clients would refuse the 1,021st. Like PgBouncer and
 * redis, raise the soft limit (up to the hard one) at start, and warn when even the hard
 * limit is short, so the operator learns it from the log instead of from EMFILE. */
#include "daemon/fdlimit.h"

#include <sys/resource.h>

#include "daemon/log.h"

/* Descriptors besides clients and backends: listeners, the loop, logs, resolver. */
#define FD_SPARE 64

void txs_fdlimit_raise(const txs_conf_t *conf)
{
    rlim_t need = (rlim_t)conf->max_clients + FD_SPARE;
    for (int i = 0; i < conf->ndbs; i++)
        need += (rlim_t)(conf->dbs[i].pool_size + conf->dbs[i].max_overflow);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
        return;
    rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need : rl.rlim_max;
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = want;
    if (want > before && setrlimit(RLIMIT_NOFILE, &rl) == 0)
        txs_log_info("open files limit raised from %llu to %llu", (unsigned long long)before,
                     (unsigned long long)want);
    else
        want = before;
    if (want < need)
        txs_log_warn("max_clients = %d and the pools need about %llu open files, but the limit "
                     "is %llu: raise it (ulimit -n, LimitNOFILE=) or lower max_clients",
                     conf->max_clients, (unsigned long long)need, (unsigned long long)want);
}
