/* mysql_dsn.h - a MySQL/MariaDB dsn taken apart (pure: no MariaDB headers). */
#ifndef TXS_DRIVERS_MYSQL_DSN_H
#define TXS_DRIVERS_MYSQL_DSN_H

#include <stddef.h>

#define TXS_MYSQL_DEFAULT_PORT 3306

/* What a connection needs to know. Every string is its own allocation, or NULL. */
typedef struct txs_mysql_dsn {
    char *host;     /* NULL: "localhost", MySQL's name for the default unix socket */
    char *socket;   /* a unix socket path; NULL: TCP, or the default socket when no host */
    unsigned port;  /* TXS_MYSQL_DEFAULT_PORT unless given */
    char *user;     /* NULL: the name of the OS user the daemon runs as */
    char *password; /* NULL: none given (the client library then reads MYSQL_PWD) */
    char *db;       /* NULL: no default database */
} txs_mysql_dsn_t;

/* Take apart one of:
 *   mysql://user:password@host:port/database?socket=/path   (mariadb:// too)
 *   /run/mysqld/mysqld.sock                                  (a socket path alone)
 * In a URI every part is optional and percent-decoded (user, password, host, database,
 * option values); a host that decodes to a path (%2Frun%2Fmysqld%2Fmysqld.sock) is a
 * unix socket, and so is the `socket` option (with no host, or localhost). An IPv6
 * address goes in brackets. No other option is known. A socket path alone connects as
 * the OS user with no database. Returns 0, or -1 with the reason in err (errlen bytes,
 * NUL-terminated); *out then holds nothing to free. */
int txs_mysql_dsn_parse(const char *dsn, txs_mysql_dsn_t *out, char *err, size_t errlen);

void txs_mysql_dsn_free(txs_mysql_dsn_t *d);

#endif
