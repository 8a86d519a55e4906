/* fdlimit.h - raise the open-files limit to what the configuration needs. */
#ifndef TXS_DAEMON_FDLIMIT_H
#define TXS_DAEMON_FDLIMIT_H

#include "conf/config.h"

/* Raises RLIMIT_NOFILE's soft limit towards max_clients + pool connections + spare
 * (never above the hard limit); logs what it did, and warns when it falls short. */
void txs_fdlimit_raise(const txs_conf_t *conf);

#endif
