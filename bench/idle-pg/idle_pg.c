/* idle_pg.c - idle-pg-clients: open N logged-in PostgreSQL connections (to PgBouncer, in
 * bench/compare) and hold them idle, so that the server's memory per idle client can be
 * read from its RSS. The twin of `txscope-bench --idle` for the PostgreSQL protocol.
 *
 *   idle-pg-clients -n N [-T SECONDS] 'CONNINFO'
 *
 * Connects with libpq's non-blocking PQconnectStart/PQconnectPoll, at most 64 logins at a
 * time, prints "idle: N clients, ready" once all are in, then holds them until SIGINT,
 * SIGTERM or -T seconds. Exit 0, or 1 when a connection failed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_IN_FLIGHT 64

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: idle-pg-clients -n N [-T SECONDS] 'CONNINFO'\n");
    return 2;
}

/* Drives the logins [first, first+n) until each is made or has failed. */
static int connect_some(PGconn **conns, int first, int n)
{
    struct pollfd pfd[MAX_IN_FLIGHT];
    PostgresPollingStatusType want[MAX_IN_FLIGHT];
    for (int i = 0; i < n; i++)
        want[i] = PGRES_POLLING_WRITING;
    for (;;) {
        int waiting = 0;
        for (int i = 0; i < n; i++) {
            pfd[i].fd = -1;
            pfd[i].events = 0;
            if (want[i] == PGRES_POLLING_OK)
                continue;
            if (want[i] == PGRES_POLLING_FAILED) {
                fprintf(stderr, "idle-pg-clients: connection %d: %s", first + i,
                        PQerrorMessage(conns[first + i]));
                return -1;
            }
            pfd[i].fd = PQsocket(conns[first + i]);
            pfd[i].events = want[i] == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            waiting++;
        }
        if (waiting == 0)
            return 0;
        if (poll(pfd, (nfds_t)n, 10000) <= 0) {
            fprintf(stderr, "idle-pg-clients: logins stalled: %s\n",
                    errno ? strerror(errno) : "timed out");
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (pfd[i].fd >= 0 && pfd[i].revents)
                want[i] = PQconnectPoll(conns[first + i]);
    }
}

int main(int argc, char **argv)
{
    int n = 0;
    double seconds = -1;
    int opt;
    while ((opt = getopt(argc, argv, "n:T:h")) != -1) {
        switch (opt) {
        case 'n':
            n = atoi(optarg);
            break;
        case 'T':
            seconds = atof(optarg);
            break;
        default:
            return usage();
        }
    }
    if (n <= 0 || optind != argc - 1)
        return usage();
    raise_fd_limit();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    PGconn **conns = calloc((size_t)n, sizeof *conns);
    if (conns == NULL)
        return 1;
    int rc = 0;
    for (int first = 0; first < n && rc == 0; first += MAX_IN_FLIGHT) {
        int k = n - first < MAX_IN_FLIGHT ? n - first : MAX_IN_FLIGHT;
        for (int i = 0; i < k; i++) {
            conns[first + i] = PQconnectStart(argv[optind]);
            if (conns[first + i] == NULL || PQstatus(conns[first + i]) == CONNECTION_BAD) {
                fprintf(stderr, "idle-pg-clients: cannot start connection %d\n", first + i);
                rc = 1;
            }
        }
        if (rc == 0 && connect_some(conns, first, k) != 0)
            rc = 1;
    }
    if (rc == 0) {
        printf("idle: %d clients, ready\n", n);
        fflush(stdout);
        struct timespec start;
        clock_gettime(CLOCK_MONOTONIC, &start);
        while (!stop) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            double el = (double)(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
            if (seconds >= 0 && el >= seconds)
                break;
            usleep(50000);
        }
    }
    for (int i = 0; i < n; i++)
        if (conns[i] != NULL)
            PQfinish(conns[i]);
    free(conns);
    return rc;
}
