/* xalloc.h - the CLI's allocators: running out of memory ends the process. */
#ifndef TXS_CLI_XALLOC_H
#define TXS_CLI_XALLOC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* static inline, so the pure CLI files can be #included by unit tests without clashing
 * with the daemon's txs_xmalloc. */
static inline void *cli_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL) {
        fputs("txscope: out of memory\n", stderr);
        abort();
    }
    return q;
}

static inline void *cli_xmalloc(size_t n)
{
    return cli_xrealloc(NULL, n);
}

static inline char *cli_xstrndup(const char *s, size_t n)
{
    char *d = cli_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static inline char *cli_xstrdup(const char *s)
{
    return cli_xstrndup(s, strlen(s));
}

#endif
