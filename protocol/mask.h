/* mask.h - secrets hidden in text bound for a log line or a client: DSN passwords and
 * key=value secrets become ***. Pure: no I/O, no event loop. */
#ifndef TXS_PROTOCOL_MASK_H
#define TXS_PROTOCOL_MASK_H

#include <stddef.h>

#include "protocol/buf.h"

#define TXS_MASK "***"

/* What is masked (the value only; what surrounds it stays):
 * - a URI's password: scheme://user:SECRET@host... (postgresql://, mysql://, any
 *   scheme). The userinfo ends at the last '@' before the path, query or fragment; when
 *   no '@' is there (a password with an unencoded '/', '?' or '#'), at the last '@' of
 *   the URI, which may hide more than the password but never less.
 * - the value of a key = value word whose key ends in password, passwd, secret or token
 *   (any case; sslpassword, db_password, TXSCOPE_AUTH_TOKEN...), is pwd, or starts with
 *   TXSCOPE_TOKEN_: password=SECRET, password = 'a b' (the quotes go too), and in a
 *   URI's query ?password=SECRET&sslmode=... (up to the next & or #). Values are read as
 *   libpq reads them: blanks after '=' are skipped, a backslash escapes the next byte.
 * Not masked: an empty password (user:@host, password=''), which hides nothing; a key
 * that only contains such a word (password_hint=, token_count=). */

/* Append text[0..len) to b, masked; returns how many secrets were masked. */
int txs_mask_append(txs_buf_t *b, const char *text, size_t len);

/* text masked into out (outlen > 0: always terminated; cut to fit, never inside a UTF-8
 * sequence); returns out. */
char *txs_mask_copy(char *out, size_t outlen, const char *text);

#endif
