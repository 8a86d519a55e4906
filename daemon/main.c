/* main.c - txscoped: parse arguments, load the config, run the loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/config.h"
#include "daemon/fdlimit.h"
#include "daemon/log.h"
#include "daemon/server.h"
#include "daemon/version.h"
#include "protocol/errors.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: txscoped [-c FILE] [-V] [-h]\n"
            "  -c FILE   config file (default: $TXSCOPE_CONFIG, else none: environment only)\n"
            "  -V        print the version\n"
            "Every setting can be given as an environment variable; see docs/configuration.md.\n");
}

int main(int argc, char **argv)
{
    const char *path = getenv("TXSCOPE_CONFIG");
    int opt;
    while ((opt = getopt(argc, argv, "c:Vh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'V':
            printf("txscoped %s\n", TXS_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path && !*path)
        path = NULL;

    char err[1024];
    txs_conf_t *conf = NULL;
    if (txs_conf_load(path, environ, &conf, err, sizeof err) != TXS_OK) {
        /* The config did not load, but a log collector reading JSON lines should still
         * get this one as JSON when the environment asked for it. */
        const char *format = getenv("TXSCOPE_LOG_FORMAT");
        if (format && strcasecmp(format, "json") == 0) {
            txs_log_set_format(TXS_LOG_JSON);
            txs_log_error("txscoped: %s", err);
        } else {
            fprintf(stderr, "txscoped: %s\n", err);
        }
        return 2;
    }
    txs_log_set_level(conf->log_level);
    txs_log_set_format(conf->log_format);
    txs_fdlimit_raise(conf);

    uv_loop_t *loop = uv_default_loop();
    txs_server_t server;
    int rc = txs_server_init(&server, loop, conf);
    if (rc == TXS_OK)
        rc = txs_server_listen(&server);
    if (rc != TXS_OK) {
        txs_server_shutdown(&server, "start-up failed");
        uv_run(loop, UV_RUN_DEFAULT);
        txs_server_free(&server);
        uv_loop_close(loop);
        txs_conf_free(server.conf); /* a reload may have replaced conf */
        return 1;
    }
    txs_log_info("txscoped %s ready", TXS_VERSION);
    uv_run(loop, UV_RUN_DEFAULT);
    txs_server_free(&server);
    if (uv_loop_close(loop) != 0)
        txs_log_warn("event loop closed with handles still open");
    txs_log_info("stopped");
    txs_conf_free(server.conf); /* a reload may have replaced conf */
    return 0;
}
