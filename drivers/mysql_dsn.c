/* mysql_dsn.c - a MySQL/MariaDB dsn taken apart (pure: no MariaDB headers). */
#include "drivers/mysql_dsn.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "protocol/buf.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* s[0..len) percent-decoded into a new string; NULL when a %XX is malformed or decodes
 * to a NUL byte (which no C string could carry). */
static char *decode(const char *s, size_t len)
{
    char *out = txs_xmalloc(len + 1), *p = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            *p++ = s[i];
            continue;
        }
        int hi = i + 1 < len ? txs_hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < len ? txs_hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        *p++ = (char)(hi << 4 | lo);
        i += 2;
    }
    *p = '\0';
    return out;
}

/* Decode part `what` of the dsn into *dst (NULL when empty). */
static int take(char **dst, const char *s, size_t len, const char *what, char *err, size_t errlen)
{
    free(*dst);
    *dst = NULL;
    if (len == 0)
        return 0;
    *dst = decode(s, len);
    if (!*dst)
        return fail(err, errlen, "bad percent-encoding in the %s of the dsn", what);
    if (!**dst) {
        free(*dst);
        *dst = NULL;
    }
    return 0;
}

static bool has_scheme(const char *dsn, const char *scheme, size_t *skip)
{
    size_t n = strlen(scheme);
    if (strncasecmp(dsn, scheme, n) != 0)
        return false;
    *skip = n;
    return true;
}

/* The query part: name=value pairs joined by &. */
static int parse_options(txs_mysql_dsn_t *d, const char *q, char *err, size_t errlen)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t klen = eq ? (size_t)(eq - q) : n;
        if (klen == 6 && strncmp(q, "socket", 6) == 0) {
            if (!eq)
                return fail(err, errlen, "the dsn option \"socket\" needs a value");
            if (take(&d->socket, eq + 1, n - klen - 1, "socket option", err, errlen) < 0)
                return -1;
        } else if (n > 0) {
            return fail(err, errlen, "unknown option \"%.*s\" in the dsn (known: socket)",
                        (int)(klen > 64 ? 64 : klen), q);
        }
        q += n;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* host[:port], or [v6]:port; *port_given tells whether a port was there. */
static int parse_hostport(txs_mysql_dsn_t *d, const char *s, size_t len, bool *port_given,
                          char *err, size_t errlen)
{
    const char *port = NULL;
    *port_given = false;
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return fail(err, errlen, "missing ] after the IPv6 address in the dsn");
        if (take(&d->host, s + 1, (size_t)(close - s) - 1, "host", err, errlen) < 0)
            return -1;
        if ((size_t)(close - s) + 1 < len) {
            if (close[1] != ':')
                return fail(err, errlen, "unexpected text after ] in the dsn");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(s, ':', len);
        size_t hlen = len;
        if (colon) {
            hlen = (size_t)(colon - s);
            port = colon + 1;
        }
        if (take(&d->host, s, hlen, "host", err, errlen) < 0)
            return -1;
    }
    *port_given = port != NULL;
    if (port) {
        size_t plen = len - (size_t)(port - s);
        unsigned long v = 0;
        for (size_t i = 0; i < plen; i++) {
            if (port[i] < '0' || port[i] > '9' || v > 65535) {
                v = 0;
                break;
            }
            v = v * 10 + (unsigned long)(port[i] - '0');
        }
        if (plen == 0 || v == 0 || v > 65535)
            return fail(err, errlen, "bad port \"%.*s\" in the dsn (1 to 65535)",
                        (int)(plen > 16 ? 16 : plen), port);
        d->port = (unsigned)v;
    }
    return 0;
}

static int parse_uri(txs_mysql_dsn_t *d, const char *s, char *err, size_t errlen)
{
    size_t alen = strcspn(s, "/?");
    const char *auth = s, *rest = s + alen;

    /* user:password@ ends at the last @: a password may hold one unencoded */
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    if (at) {
        size_t ulen = (size_t)(at - auth);
        const char *colon = memchr(auth, ':', ulen);
        size_t nlen = colon ? (size_t)(colon - auth) : ulen;
        if (take(&d->user, auth, nlen, "user", err, errlen) < 0)
            return -1;
        if (colon) {
            /* an empty password is a password: "" */
            size_t plen = ulen - nlen - 1;
            d->password = plen ? decode(colon + 1, plen) : txs_xstrdup("");
            if (!d->password)
                return fail(err, errlen, "bad percent-encoding in the password of the dsn");
        }
        alen -= ulen + 1;
        auth = at + 1;
    }
    bool port_given = false;
    if (parse_hostport(d, auth, alen, &port_given, err, errlen) < 0)
        return -1;

    if (*rest == '/') {
        rest++;
        size_t dlen = strcspn(rest, "?");
        if (take(&d->db, rest, dlen, "database", err, errlen) < 0)
            return -1;
        rest += dlen;
    }
    if (*rest == '?' && parse_options(d, rest + 1, err, errlen) < 0)
        return -1;

    if (d->host && d->host[0] == '/') { /* a percent-encoded socket path */
        if (d->socket)
            return fail(err, errlen, "the dsn names two unix sockets: as host and socket");
        d->socket = d->host;
        d->host = NULL;
    }
    if (port_given && !d->socket && (!d->host || strcmp(d->host, "localhost") == 0))
        /* MySQL's localhost is the default unix socket, where a port means nothing: the
         * port would be ignored and another server reached. */
        return fail(err, errlen,
                    "the dsn has a port but no host: MySQL's localhost is the unix socket; "
                    "use 127.0.0.1 for TCP");
    if (d->socket) {
        if (d->socket[0] != '/')
            return fail(err, errlen, "the dsn's socket must be an absolute path");
        if (d->host && strcmp(d->host, "localhost") != 0)
            return fail(err, errlen, "the dsn has both host %s and a unix socket", d->host);
        if (port_given)
            return fail(err, errlen, "the dsn has both a port and a unix socket");
    }
    return 0;
}

int txs_mysql_dsn_parse(const char *dsn, txs_mysql_dsn_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = TXS_MYSQL_DEFAULT_PORT;
    if (errlen)
        err[0] = '\0';
    size_t skip;
    if (dsn[0] == '/') {
        out->socket = txs_xstrdup(dsn);
        return 0;
    }
    if (!has_scheme(dsn, "mysql://", &skip) && !has_scheme(dsn, "mariadb://", &skip))
        return fail(err, errlen,
                    "a MySQL dsn is mysql://user:password@host:port/database or the path of "
                    "a unix socket");
    if (parse_uri(out, dsn + skip, err, errlen) < 0) {
        txs_mysql_dsn_free(out);
        out->port = TXS_MYSQL_DEFAULT_PORT;
        return -1;
    }
    return 0;
}

void txs_mysql_dsn_free(txs_mysql_dsn_t *d)
{
    free(d->host);
    free(d->socket);
    free(d->user);
    free(d->password);
    free(d->db);
    memset(d, 0, sizeof *d);
}
