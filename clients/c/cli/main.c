/* main.c - the txscope command: options, then ping, -e statements or the input loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/c/cli/cli.h"
#include "clients/c/cli/stats.h"

#define DEFAULT_TIMEOUT_S 5

typedef struct options {
    const char *address;
    const char *admin; /* stats: the admin listener */
    bool stats;
    const char *token;
    const char *db;
    const char *ctx;
    const char **exec;
    size_t nexec;
    bool interactive;
    bool json;
    int timeout_ms;
} options_t;

static void usage(FILE *out)
{
    fputs("Usage:\n"
          "  txscope [OPTIONS] [-c CTX] -e SQL [-e SQL ...]   run statements in one transaction\n"
          "  txscope [OPTIONS] [-c CTX] [-i]                  read statements (interactive at a "
          "terminal)\n"
          "  txscope ping [-a ADDRESS] [-t TOKEN]             check that the daemon answers\n"
          "  txscope stats [-A HOST:PORT] [--json]            the daemon's numbers (admin "
          "listener)\n"
          "\n"
          "Options:\n"
          "  -a, --address ADDRESS   host:port, [v6addr]:port or /unix/socket/path\n"
          "                          (default $TXSCOPE_ADDRESS, else " TXSCOPE_DEFAULT_ADDRESS ")\n"
          "  -A, --admin HOST:PORT   stats: the admin listener (default $TXSCOPE_ADMIN, else\n"
          "                          " TXS_CLI_DEFAULT_ADMIN ")\n"
          "  -t, --token TOKEN       authenticate with hello (default $TXSCOPE_TOKEN)\n"
          "  -d, --db DB             the database for new sessions (default: the daemon's "
          "first)\n"
          "  -c, --ctx CTX           the context (default cli-PID-TIME)\n"
          "  -e, --execute SQL       run SQL; repeatable; all are committed when all succeed\n"
          "  -i, --interactive       read statements from stdin with line editing\n"
          "      --json              print replies as the JSON lines received (stats: its JSON)\n"
          "      --timeout SECONDS   connect timeout, and ping's and stats' reply timeout "
          "(default 5)\n"
          "  -h, --help              this help\n"
          "  -V, --version           the version\n"
          "\n"
          "Exit status: 0 ok, 1 a statement or request failed, 2 usage or connection error.\n",
          out);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("txscope: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry \"txscope --help\".\n", stderr);
    return TXS_CLI_EXIT_LOST;
}

/* A context name is 1 to 128 printable ASCII characters (protocol-v1.md). */
static bool valid_ctx(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* Parses argv; returns -1 to go on, else an exit status. *ping is set for "ping". */
static int parse_options(int argc, char **argv, options_t *o, bool *ping)
{
    enum { OPT_JSON = 256, OPT_TIMEOUT };
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"admin", required_argument, NULL, 'A'},
        {"token", required_argument, NULL, 't'},
        {"db", required_argument, NULL, 'd'},
        {"ctx", required_argument, NULL, 'c'},
        {"execute", required_argument, NULL, 'e'},
        {"interactive", no_argument, NULL, 'i'},
        {"json", no_argument, NULL, OPT_JSON},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    o->address = getenv("TXSCOPE_ADDRESS");
    o->admin = getenv("TXSCOPE_ADMIN");
    o->token = getenv("TXSCOPE_TOKEN");
    if (o->token != NULL && *o->token == '\0')
        o->token = NULL;
    o->timeout_ms = DEFAULT_TIMEOUT_S * 1000;
    o->exec = calloc((size_t)argc, sizeof *o->exec);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":a:A:t:d:c:e:ihV", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            o->address = optarg;
            break;
        case 'A':
            o->admin = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'd':
            o->db = optarg;
            break;
        case 'c':
            o->ctx = optarg;
            break;
        case 'e':
            o->exec[o->nexec++] = optarg;
            break;
        case 'i':
            o->interactive = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_TIMEOUT: {
            char *end;
            double s = strtod(optarg, &end);
            if (*end != '\0' || !(s > 0 && s <= 86400))
                return usage_error("bad --timeout \"%s\" (seconds, > 0)", optarg);
            o->timeout_ms = (int)(s * 1000);
            break;
        }
        case 'h':
            usage(stdout);
            return TXS_CLI_EXIT_OK;
        case 'V':
            printf("txscope %s\n", TXSCOPE_VERSION);
            return TXS_CLI_EXIT_OK;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    *ping = optind < argc && strcmp(argv[optind], "ping") == 0;
    if (*ping)
        optind++;
    o->stats = !*ping && optind < argc && strcmp(argv[optind], "stats") == 0;
    if (o->stats)
        optind++;
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (*ping && (o->nexec > 0 || o->ctx != NULL || o->db != NULL || o->interactive))
        return usage_error("%s", "ping takes only -a, -t and --timeout");
    if (o->stats && (o->nexec > 0 || o->ctx != NULL || o->db != NULL || o->interactive))
        return usage_error("%s", "stats takes only -A, --json and --timeout");
    if (o->nexec > 0 && o->interactive)
        return usage_error("%s", "-e and -i do not go together");
    if (o->ctx != NULL && !valid_ctx(o->ctx))
        return usage_error("bad context \"%s\" (1 to 128 printable ASCII characters)", o->ctx);
    return -1;
}

static txscope_conn_t *open_connection(const options_t *o)
{
    char err[256];
    txscope_conn_t *conn = txscope_connect(o->address, o->timeout_ms, err, sizeof err);
    if (conn == NULL) {
        fprintf(stderr, "txscope: %s\n", err);
        return NULL;
    }
    if (o->token != NULL && txscope_hello(conn, o->token, o->timeout_ms) != 0) {
        fprintf(stderr, "txscope: hello: %s\n", txscope_errmsg(conn));
        txscope_close(conn);
        return NULL;
    }
    /* Say something at once: a session left at its prompt must not look like a client
     * that never logs in (client_login_timeout). */
    if (o->token == NULL && txscope_ping(conn, o->timeout_ms) != 0) {
        fprintf(stderr, "txscope: ping: %s\n", txscope_errmsg(conn));
        txscope_close(conn);
        return NULL;
    }
    return conn;
}

static int do_ping(const options_t *o)
{
    txscope_conn_t *conn = open_connection(o);
    if (conn == NULL)
        return TXS_CLI_EXIT_FAILED;
    int rc = txscope_ping(conn, o->timeout_ms);
    if (rc != 0)
        fprintf(stderr, "txscope: ping: %s\n", txscope_errmsg(conn));
    else
        puts("ok");
    txscope_close(conn);
    return rc == 0 ? TXS_CLI_EXIT_OK : TXS_CLI_EXIT_FAILED;
}

/* -e: every statement in order, then commit; on the first failure roll back. */
static int do_execute(txs_cli_t *cli, const options_t *o)
{
    int rc = TXS_CLI_EXIT_OK;
    bool quit = false;
    for (size_t i = 0; i < o->nexec && rc == TXS_CLI_EXIT_OK && !quit; i++)
        rc = txs_cli_execute_text(cli, o->exec[i], &quit);
    if (rc == TXS_CLI_EXIT_OK)
        rc = txs_cli_commit_all(cli);
    else if (rc == TXS_CLI_EXIT_FAILED)
        txs_cli_rollback_all(cli);
    txs_cli_end_all(cli, false);
    return cli->lost ? TXS_CLI_EXIT_LOST : rc;
}

int main(int argc, char **argv)
{
    options_t o = {0};
    bool ping = false;
    int rc = parse_options(argc, argv, &o, &ping);
    if (rc >= 0 || ping || o.stats) {
        if (rc < 0)
            rc = ping ? do_ping(&o) : txs_cli_stats(o.admin, o.json, o.timeout_ms);
        free(o.exec);
        return rc;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    char ctx[64];
    if (o.ctx == NULL) {
        snprintf(ctx, sizeof ctx, "cli-%ld-%lld", (long)getpid(), (long long)time(NULL));
        o.ctx = ctx;
    }
    txs_cli_t cli = {.db = o.db, .json = o.json};
    cli.conn = open_connection(&o);
    if (cli.conn == NULL) {
        free(o.exec);
        return TXS_CLI_EXIT_LOST;
    }
    txs_cli_use_ctx(&cli, o.ctx);
    if (o.nexec > 0)
        rc = do_execute(&cli, &o);
    else
        rc = txs_cli_repl(&cli, o.interactive || isatty(STDIN_FILENO));
    txscope_close(cli.conn);
    txs_cli_free(&cli);
    free(o.exec);
    return rc;
}
