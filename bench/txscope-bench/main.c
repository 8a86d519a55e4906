/* main.c - txscope-bench: options, the run, and its report. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "bench/txscope-bench/bench.h"

static void usage(FILE *f)
{
    fputs("usage: txscope-bench [options]\n"
          "A load generator for txscoped on pgbench's tables (pgbench -i).\n"
          "\n"
          "  -a, --address ADDR       the daemon (default " TXSCOPE_DEFAULT_ADDRESS ")\n"
          "      --token T            send hello with this token first\n"
          "      --db NAME            add \"db\":NAME to every request\n"
          "  -c, --clients N          client connections (default 1)\n"
          "  -m, --contexts M         contexts per connection, each running its own\n"
          "                           transactions concurrently (default 1)\n"
          "  -w, --workload W         select, tx3, tpcb or batch (default select)\n"
          "  -T, --time SECONDS       run for that long (default 10)\n"
          "  -t, --transactions N     run N transactions per context instead\n"
          "  -s, --scale S            pgbench's scale (default: count pgbench_branches)\n"
          "  -P, --progress SECONDS   a progress line to stderr that often (default 1;\n"
          "                           0: none)\n"
          "      --idle               hold N clients with M idle sessions each, until\n"
          "                           SIGINT/SIGTERM (or -T when given); no load\n"
          "  -h, --help               this help\n",
          f);
}

static _Noreturn void bad_usage(const char *fmt, const char *arg)
{
    fputs("txscope-bench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(txscope-bench -h for help)\n", stderr);
    exit(2);
}

static long parse_long(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: expected an integer from %ld to %ld, got \"%%s\"", opt, lo,
                 hi);
        bad_usage(msg, s);
    }
    return v;
}

static double parse_seconds(const char *opt, const char *s, double lo)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo) || v > 1e7) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: expected a number of seconds%s, got \"%%s\"", opt,
                 lo > 0 ? " above 0" : "");
        bad_usage(msg, s);
    }
    return v;
}

enum { OPT_TOKEN = 256, OPT_DB, OPT_IDLE };

static void parse_options(int argc, char **argv, txs_bench_opts_t *o)
{
    static const struct option longopts[] = {
        {"address", required_argument, NULL, 'a'},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"db", required_argument, NULL, OPT_DB},
        {"clients", required_argument, NULL, 'c'},
        {"contexts", required_argument, NULL, 'm'},
        {"workload", required_argument, NULL, 'w'},
        {"time", required_argument, NULL, 'T'},
        {"transactions", required_argument, NULL, 't'},
        {"scale", required_argument, NULL, 's'},
        {"progress", required_argument, NULL, 'P'},
        {"idle", no_argument, NULL, OPT_IDLE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (txs_bench_opts_t){.address = TXSCOPE_DEFAULT_ADDRESS,
                            .clients = 1,
                            .contexts = 1,
                            .workload = TXS_WL_SELECT,
                            .seconds = 10,
                            .progress = 1};
    int ch;
    while ((ch = getopt_long(argc, argv, "a:c:m:w:T:t:s:P:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            o->address = optarg;
            break;
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_DB:
            if (*optarg == '\0' || strlen(optarg) > 128)
                bad_usage("--db: expected a name of 1 to 128 characters, got \"%s\"", optarg);
            o->db = optarg;
            break;
        case 'c':
            o->clients = (int)parse_long("--clients", optarg, 1, 1000000);
            break;
        case 'm':
            o->contexts = (int)parse_long("--contexts", optarg, 0, 1000000);
            break;
        case 'w':
            if (!txs_workload_parse(optarg, &o->workload))
                bad_usage("--workload: expected select, tx3, tpcb or batch, got \"%s\"", optarg);
            break;
        case 'T':
            o->seconds = parse_seconds("--time", optarg, 0.001);
            o->seconds_given = true;
            break;
        case 't':
            o->transactions = parse_long("--transactions", optarg, 1, 1000000000L);
            break;
        case 's':
            o->scale = parse_long("--scale", optarg, 1, 100000000L);
            break;
        case 'P':
            o->progress = parse_seconds("--progress", optarg, 0);
            break;
        case OPT_IDLE:
            o->idle = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fputs("(txscope-bench -h for help)\n", stderr);
            exit(2);
        }
    }
    if (optind < argc)
        bad_usage("unexpected argument \"%s\"", argv[optind]);
    if (o->contexts == 0 && !o->idle)
        bad_usage("--contexts: 0 is only for --idle%s", "");
}

/* 10,000 connections need more descriptors than the usual soft limit of 1024. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "txscope-bench: could not raise the open files limit: %s\n",
                    strerror(errno));
    }
}

static int by_code(const void *a, const void *b)
{
    return strcmp(((const txs_bench_code_t *)a)->code, ((const txs_bench_code_t *)b)->code);
}

static void report(const txs_bench_opts_t *o, const txs_bench_result_t *r)
{
    const txs_hist_t *h = r->latency;
    double tps = r->seconds > 0 ? (double)r->transactions / r->seconds : 0;
    double avg = txs_hist_mean(h) / 1e6, p50 = txs_hist_quantile(h, 0.50) / 1e6,
           p90 = txs_hist_quantile(h, 0.90) / 1e6, p99 = txs_hist_quantile(h, 0.99) / 1e6,
           p999 = txs_hist_quantile(h, 0.999) / 1e6;
    const char *w = txs_workload_name(o->workload);
    printf("workload: %s\n", w);
    printf("address: %s\n", o->address);
    printf("clients: %d x %d contexts\n", o->clients, o->contexts);
    printf("duration: %.2f s\n", r->seconds);
    printf("transactions: %" PRIu64 "\n", r->transactions);
    printf("errors: %" PRIu64 "\n", r->errors);
    if (r->ncodes > 0) {
        /* By SQLSTATE (digits and capitals), then "none" and "other". */
        txs_bench_result_t sorted = *r;
        qsort(sorted.codes, (size_t)sorted.ncodes, sizeof sorted.codes[0], by_code);
        printf("errors by sqlstate:");
        for (int i = 0; i < sorted.ncodes; i++)
            printf(" %s=%" PRIu64, sorted.codes[i].code, sorted.codes[i].n);
        printf("\n");
    }
    printf("tps: %.1f\n", tps);
    printf("latency ms: avg %.3f p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f\n", avg, p50, p90, p99,
           p999);
    printf("result workload=%s clients=%d contexts=%d seconds=%.2f transactions=%" PRIu64
           " errors=%" PRIu64 " tps=%.1f avg_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
           "p999_ms=%.3f\n",
           w, o->clients, o->contexts, r->seconds, r->transactions, r->errors, tps, avg, p50, p90,
           p99, p999);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    txs_bench_opts_t o;
    parse_options(argc, argv, &o);
    raise_nofile();

    uint64_t t = uv_hrtime();
    txscope_conn_t **conns = txs_bench_connect_all(&o);
    if (o.progress > 0 && !o.idle)
        fprintf(stderr, "connected: %d clients in %.2f s\n", o.clients,
                (double)(uv_hrtime() - t) / 1e9);
    int status = 0;
    if (o.idle) {
        status = txs_bench_run_idle(&o, conns);
    } else {
        if (o.scale == 0)
            o.scale = txs_bench_detect_scale(conns[0], &o);
        txs_bench_result_t r = {.latency = txs_bench_xcalloc(1, sizeof(txs_hist_t))};
        txs_hist_reset(r.latency);
        txs_bench_run_load(&o, conns, &r);
        report(&o, &r);
        free(r.latency);
    }
    txs_bench_close_all(conns, o.clients);
    uv_loop_close(uv_default_loop());
    return status;
}
