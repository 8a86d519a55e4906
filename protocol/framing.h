/* framing.h - newline-delimited framing of the input stream (pure). */
#ifndef TXS_PROTOCOL_FRAMING_H
#define TXS_PROTOCOL_FRAMING_H

#include <stddef.h>
#include <sys/types.h>

/* Find the first complete line in buf[0..len).
 * *scanned: bytes at the front already known to hold no '\n' (start at 0, keep it
 * between calls while the buffer only grows, reset it when a line is consumed), so
 * a large line arriving in pieces is scanned once.
 * Returns:
 *   > 0           the line is complete: consume that many bytes (newline included);
 *                 *line_len is the line's length without "\n" or "\r\n"
 *   0             no complete line yet
 *   TXS_ETOOBIG   the line (without its newline) is longer than max_line bytes;
 *                 known as soon as more than max_line bytes arrived with no newline */
ssize_t txs_frame_next(const char *buf, size_t len, size_t max_line, size_t *scanned,
                       size_t *line_len);

#endif
