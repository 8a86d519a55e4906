/* daemon_stats.c - read a running test daemon's counters: SIGUSR1 makes it log one stats
 * line per pool and one for itself; the newest such line after the signal is parsed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/integration/harness.h"

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The last line at or after `from` in the log that holds `marker`; NULL if none. */
static char *find_line(const char *path, long from, const char *marker)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, from, SEEK_SET);
    char line[4096];
    char *found = NULL;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, marker)) {
            free(found);
            found = strdup(line);
        }
    }
    fclose(f);
    return found;
}

long long th_daemon_stat(const th_daemon_t *d, const char *db, const char *key)
{
    char marker[128], want[128];
    if (db)
        snprintf(marker, sizeof marker, "db %s stats: ", db);
    else
        snprintf(marker, sizeof marker, " stats: clients=");
    snprintf(want, sizeof want, " %s=", key);
    long from = file_size(d->log_path);
    ck_assert_int_eq(kill(d->pid, SIGUSR1), 0);
    long long t0 = th_now_ms();
    char *line = NULL;
    while (!(line = find_line(d->log_path, from, marker))) {
        ck_assert_msg(th_now_ms() - t0 < 5000, "no \"%s\" line in %s after SIGUSR1", marker,
                      d->log_path);
        th_sleep_ms(10);
    }
    char *p = strstr(line, want); /* every key follows a space, the first one too */
    ck_assert_msg(p != NULL, "no %s in the stats line: %s", key, line);
    long long v = strtoll(p + strlen(want), NULL, 10);
    free(line);
    return v;
}
