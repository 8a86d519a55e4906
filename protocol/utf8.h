/* utf8.h - UTF-8 validation (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#ifndef TXS_PROTOCOL_UTF8_H
#define TXS_PROTOCOL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool txs_utf8_valid(const char *s, size_t len);

/* Length (1 to 4) of the valid UTF-8 sequence that starts at s, of which `avail` bytes
 * may be read (avail >= 1); 0 when the bytes there are not a valid sequence. */
size_t txs_utf8_seq_len(const char *s, size_t avail);

#endif
