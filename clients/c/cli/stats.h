/* stats.h - `txscope stats`: the daemon's numbers from /stats on its admin listener. */
#ifndef TXS_CLI_STATS_H
#define TXS_CLI_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Where `txscope stats` asks when neither -A nor $TXSCOPE_ADMIN says. */
#define TXS_CLI_DEFAULT_ADMIN "127.0.0.1:7433"

/* GET /stats from admin ("host:port", "[v6addr]:port", "host" for port 7433; NULL or ""
 * for the default) within timeout_ms; prints the summary, or with json the body as
 * received. Returns an exit status: 0, or 1 with a one-line error on stderr when the
 * admin listener does not answer, answers non-200, or not JSON. */
int txs_cli_stats(const char *admin, bool json, int timeout_ms);

/* The readable summary of a /stats object: a few lines for the daemon, then one block
 * per db. */
void txs_cli_print_stats(FILE *out, const cJSON *stats);

#endif
