/* framing.c - splitting the input stream into newline-terminated lines (pure). */
#include "protocol/framing.h"

#include <string.h>

#include "protocol/errors.h"

ssize_t txs_frame_next(const char *buf, size_t len, size_t max_line, size_t *scanned,
                       size_t *line_len)
{
    size_t from = *scanned < len ? *scanned : len;
    /* Nothing new to look at (buf may then even be NULL, an empty buffer). */
    const char *nl = from < len ? memchr(buf + from, '\n', len - from) : NULL;
    if (!nl) {
        *scanned = len;
        /* Refuse as soon as the line can no longer fit; one byte more is allowed only
         * when it is a '\r' that may be the start of the "\r\n" ending the line. */
        if (len > max_line && !(len == max_line + 1 && buf[max_line] == '\r'))
            return TXS_ETOOBIG;
        return 0;
    }
    size_t n = (size_t)(nl - buf);
    size_t content = n > 0 && buf[n - 1] == '\r' ? n - 1 : n;
    if (content > max_line)
        return TXS_ETOOBIG;
    /* The caller consumes the line next; the rest has not been scanned yet. */
    *scanned = 0;
    *line_len = content;
    return (ssize_t)(n + 1);
}
