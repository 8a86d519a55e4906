/* config.c - the key table, the ini file (through inih), the TXSCOPE_* overrides and the
 * client tokens. */
#include "conf/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "daemon/journal.h"
#include "protocol/buf.h"
#include "protocol/errors.h"

/* Debian's inih turns its compile-time limits into variables; where they exist, allow
 * lines long enough for a DSN with a host list and options (upstream stops at 200). */
#pragma weak ini_max_line
#define LINE_MAX_BYTES 4096

#define ENV_PREFIX "TXSCOPE_"
#define ENV_DB_PREFIX "TXSCOPE_DB_"
#define ENV_TOKEN_PREFIX "TXSCOPE_TOKEN_"
#define ENV_CONFIG "TXSCOPE_CONFIG" /* main()'s: the file to read; not a key */

typedef enum key_type {
    T_STRING,   /* char *, length within [min, max] (max 0: any); "" is NULL when min is 0 */
    T_INT,      /* int within [min, max] */
    T_DURATION, /* uint64_t milliseconds within [min, max] */
    T_SIZE,     /* size_t bytes within [min, max] */
    T_ENUM,     /* int: the index of the value in `choices` */
    T_CHOICE,   /* char *: a copy of the matching `choices` entry */
    T_LISTEN,   /* HOST:PORT: host into the char * at offset, port into listen_port */
} key_type_t;

typedef enum section {
    S_TXSCOPE, /* [txscope]: fields of txs_conf_t */
    S_DB,      /* [db.NAME]: fields of txs_db_conf_t */
    S_TOKENS,  /* [tokens]: NAME = secret, free-form names, so not in the key table */
} section_t;

typedef struct conf_key {
    txs_conf_key_info_t info; /* first, so txs_conf_key_info() hands out &row->info */
    section_t section;
    key_type_t type;
    size_t offset;
    int64_t min, max;
    const char *const *choices; /* T_ENUM, T_CHOICE: NULL-terminated */
    const char *zero_means;     /* T_DURATION: what 0 means, when it is allowed */
    bool required;
} conf_key_t;

/* Indexed by txs_log_level_t. */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
/* The drivers a [db.NAME] may name; extend with the driver. */
static const char *const drivers[] = {"postgresql", "mysql", NULL};
static const char *const ddl_policies[] = {"refuse", "allow", NULL};
_Static_assert(sizeof(txs_ddl_policy_t) == sizeof(int), "T_ENUM stores an int");

_Static_assert(sizeof(txs_log_level_t) == sizeof(int), "T_ENUM stores an int");

#define SUN_PATH_MAX ((int64_t)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define SECOND 1000LL
#define MINUTE (60 * SECOND)
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)
#define KIB 1024LL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

/* The columns every row has: the key, its field, its default (as written in the file;
 * NULL = none), whether a reload may change it, and its one-line doc. */
#define TXS(name, field, def, reload, doc)                                                         \
    .info = {"txscope", name, def, reload, doc}, .section = S_TXSCOPE,                             \
    .offset = offsetof(txs_conf_t, field)
#define DB(name, field, def, reload, doc)                                                          \
    .info = {"db.NAME", name, def, reload, doc}, .section = S_DB,                                  \
    .offset = offsetof(txs_db_conf_t, field)
#define RELOAD true
#define RESTART false

/* One row per key. docs/configuration.md and conf/txscope.ini follow this table (a unit
 * test checks that every key and default appears in both). */
/* clang-format off */
static const conf_key_t keys[] = {
    {TXS("listen", listen_host, "127.0.0.1:7432", RESTART,
         "TCP address for clients, HOST:PORT; IPv6 as [::1]:7432"),
     .type = T_LISTEN},
    {TXS("unix_socket", unix_socket, NULL, RESTART,
         "also listen on this Unix socket path; empty = none"),
     .type = T_STRING, .max = SUN_PATH_MAX},
    {TXS("auth_token", auth_token, NULL, RELOAD,
         "clients must send it in hello before anything else; empty = no authentication"),
     .type = T_STRING},
    {TXS("max_clients", max_clients, "1000", RELOAD, "connected clients at most"),
     .type = T_INT, .min = 1, .max = 1000000},
    {TXS("max_sessions_per_client", max_sessions_per_client, "1000", RELOAD,
         "open sessions (contexts) per client connection at most"),
     .type = T_INT, .min = 1, .max = 1000000},
    {TXS("max_pipeline", max_pipeline, "128", RELOAD,
         "requests a client may send ahead of the replies"),
     .type = T_INT, .min = 1, .max = 100000},
    {TXS("max_request_bytes", max_request_bytes, "1MB", RELOAD, "longest request line"),
     .type = T_SIZE, .min = KIB, .max = GIB},
    {TXS("max_result_bytes", max_result_bytes, "64MB", RELOAD,
         "largest result of one statement before it fails"),
     .type = T_SIZE, .min = KIB, .max = 4 * GIB},
    {TXS("log_level", log_level, "info", RELOAD, "least severe messages logged"),
     .type = T_ENUM, .choices = log_levels},
    {TXS("outcome_journal_size", outcome_journal_size, "10000", RELOAD,
         "ended transactions remembered per principal for the outcome op; 0 = off"),
     .type = T_INT, .min = 0, .max = 10000000},
    {TXS("outcome_journal_ttl", outcome_journal_ttl_ms, "10m", RELOAD,
         "how long the outcome of an ended transaction is remembered"),
     .type = T_DURATION, .min = SECOND, .max = 7 * DAY},

    {DB("driver", driver, "postgresql", RESTART, "the kind of database"),
     .type = T_CHOICE, .choices = drivers},
    {DB("dsn", dsn, NULL, RELOAD,
        "where to connect: a postgresql:// URI or libpq key=value words, or a mysql:// URI; "
        "required"),
     .type = T_STRING, .min = 1, .required = true},
    {DB("pool_size", pool_size, "10", RELOAD, "backend connections at most"),
     .type = T_INT, .min = 1, .max = 10000},
    {DB("pool_timeout", pool_timeout_ms, "30s", RELOAD,
        "how long a session waits for a free connection before it fails"),
     .type = T_DURATION, .min = 0, .max = HOUR},
    {DB("pool_recycle", pool_recycle_ms, "1h", RELOAD,
        "close a connection this long after it was opened, once idle; 0 = never"),
     .type = T_DURATION, .min = 0, .max = 30 * DAY, .zero_means = "never"},
    {DB("connect_timeout", connect_timeout_ms, "10s", RELOAD,
        "how long opening a connection may take"),
     .type = T_DURATION, .min = 100, .max = 10 * MINUTE},
    {DB("ddl_in_transaction", ddl_in_transaction, "refuse", RELOAD,
        "MySQL: DDL inside a transaction commits it; refuse it (0A000) or allow it "
        "(the transaction is committed first, then the DDL runs alone)"),
     .type = T_ENUM, .choices = ddl_policies},
};
/* clang-format on */

#define NKEYS (sizeof keys / sizeof *keys)

const txs_conf_key_info_t *txs_conf_key_info(size_t i)
{
    return i < NKEYS ? &keys[i].info : NULL;
}

/* What the loader knows about a db beyond txs_db_conf_t: where it came from. */
typedef struct db_meta {
    int line;            /* its [db.NAME] header, 0 when the environment created it */
    char *var;           /* else the variable that created it */
    int key_line[NKEYS]; /* where each key was set in the file, 0 = not set */
} db_meta_t;

/* Where a token came from, for errors: a line of the file or a variable. */
typedef struct token_meta {
    int line;
    char *var;
} token_meta_t;

typedef struct loader {
    txs_conf_t *conf;
    db_meta_t *meta; /* parallel to conf->dbs */
    int dbcap;
    token_meta_t *tmeta; /* parallel to conf->tokens, which holds only named ones until
                            finish_tokens() puts auth_token in front */
    int tokcap;
    int ntok; /* named tokens so far: conf->ntokens until auth_token joins them */
    const char *path;
    char *text;      /* the whole file */
    const char *pos; /* the next line to hand to inih */
    const char *end;
    int lineno;      /* of the line inih has now */
    bool in_section; /* false before the first header */
    section_t section;
    int db;           /* the current [db.NAME], an index into conf->dbs */
    int txscope_line; /* the [txscope] header, 0 = none yet */
    int tokens_line;  /* the [tokens] header, 0 = none yet */
    int key_line[NKEYS];
    bool key_env[NKEYS]; /* [txscope] keys last set by their variable */
    char *err;
    size_t errlen;
    bool failed;
    int err_line; /* the file line of the error */
} loader_t;

static void fail(loader_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Records the first error only: later ones tend to follow from it. */
static void fail(loader_t *ld, const char *fmt, ...)
{
    if (ld->failed)
        return;
    ld->failed = true;
    ld->err_line = ld->lineno;
    if (ld->err && ld->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err, ld->errlen, fmt, ap);
        va_end(ap);
    }
}

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = value ? txs_xstrdup(value) : NULL;
}

/* Strict: digits with an optional '-', nothing else (strtoll alone takes " +5"). */
static bool parse_int(const char *s, int64_t *out)
{
    const char *d = *s == '-' ? s + 1 : s;
    if (!isdigit((unsigned char)*d))
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

/* IPV4:PORT or [IPV6]:PORT; the host is stored without brackets. */
static bool parse_listen(const char *v, char **host_out, int *port_out)
{
    const char *host, *host_end, *port;
    if (*v == '[') {
        host = v + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return false;
        port = host_end + 2;
        char addr[INET6_ADDRSTRLEN];
        struct in6_addr a;
        size_t n = (size_t)(host_end - host);
        if (n == 0 || n >= sizeof addr)
            return false;
        memcpy(addr, host, n);
        addr[n] = '\0';
        if (inet_pton(AF_INET6, addr, &a) != 1)
            return false;
    } else {
        /* IPv4; a bare IPv6 address must be bracketed. No host names: the listener
         * binds addresses, and a name would fail there instead of here. */
        host = v;
        host_end = strchr(v, ':');
        if (!host_end)
            return false;
        port = host_end + 1;
        char addr[INET_ADDRSTRLEN];
        struct in_addr a;
        size_t n = (size_t)(host_end - host);
        if (n == 0 || n >= sizeof addr)
            return false;
        memcpy(addr, host, n);
        addr[n] = '\0';
        if (inet_pton(AF_INET, addr, &a) != 1)
            return false;
    }
    int64_t n;
    if (!isdigit((unsigned char)*port) || !parse_int(port, &n) || n < 1 || n > 65535)
        return false;
    free(*host_out);
    *host_out = txs_xstrndup(host, (size_t)(host_end - host));
    *port_out = (int)n;
    return true;
}

static bool set_value(const conf_key_t *k, void *base, const char *v)
{
    char *field = (char *)base + k->offset;
    switch (k->type) {
    case T_STRING: {
        size_t n = strlen(v);
        if (n < (uint64_t)k->min || (k->max > 0 && n > (uint64_t)k->max))
            return false;
        set_string((char **)field, n > 0 ? v : NULL);
        return true;
    }
    case T_INT: {
        int64_t n;
        if (!parse_int(v, &n) || n < k->min || n > k->max)
            return false;
        *(int *)field = (int)n;
        return true;
    }
    case T_DURATION: {
        uint64_t ms;
        if (txs_conf_parse_duration_ms(v, &ms) != 0 || ms < (uint64_t)k->min ||
            ms > (uint64_t)k->max)
            return false;
        *(uint64_t *)field = ms;
        return true;
    }
    case T_SIZE: {
        size_t n;
        if (txs_conf_parse_size(v, &n) != 0 || n < (uint64_t)k->min || n > (uint64_t)k->max)
            return false;
        *(size_t *)field = n;
        return true;
    }
    case T_ENUM:
    case T_CHOICE:
        for (int i = 0; k->choices[i]; i++) {
            if (strcasecmp(v, k->choices[i]) != 0)
                continue;
            if (k->type == T_ENUM)
                *(int *)field = i;
            else
                set_string((char **)field, k->choices[i]);
            return true;
        }
        return false;
    case T_LISTEN:
        return parse_listen(v, (char **)field, &((txs_conf_t *)base)->listen_port);
    }
    return false;
}

/* "expected ..." for a key's error messages: the allowed values. */
static void describe(const conf_key_t *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (k->type) {
    case T_STRING:
        if (k->max > 0)
            snprintf(buf, len, "expected at most %lld bytes", (long long)k->max);
        else
            snprintf(buf, len, "expected a non-empty value");
        return;
    case T_INT:
        snprintf(buf, len, "expected an integer from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        return;
    case T_DURATION:
        txs_conf_format_duration((uint64_t)k->min, lo, sizeof lo);
        txs_conf_format_duration((uint64_t)k->max, hi, sizeof hi);
        snprintf(buf, len,
                 "expected a duration from %s%s%s%s to %s, like 500ms, 30s, 5m, 1h, 2d "
                 "(a bare number is seconds)",
                 lo, k->zero_means ? " (" : "", k->zero_means ? k->zero_means : "",
                 k->zero_means ? ")" : "", hi);
        return;
    case T_SIZE:
        txs_conf_format_size((uint64_t)k->min, lo, sizeof lo);
        txs_conf_format_size((uint64_t)k->max, hi, sizeof hi);
        snprintf(buf, len,
                 "expected a size from %s to %s, like 512kB, 64MB, 1GB (units B, kB, MB, "
                 "GB are 1024-based; a bare number is bytes)",
                 lo, hi);
        return;
    case T_ENUM:
    case T_CHOICE: {
        size_t used = (size_t)snprintf(buf, len, "expected one of:");
        for (int i = 0; k->choices[i] && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", k->choices[i]);
        return;
    }
    case T_LISTEN:
        snprintf(buf, len,
                 "expected HOST:PORT with HOST an IP address (IPv6 as [::1]:7432) and PORT "
                 "from 1 to 65535");
        return;
    }
}

static const conf_key_t *find_key(section_t s, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].section == s && strcmp(keys[i].info.name, name) == 0)
            return &keys[i];
    return NULL;
}

/* "listen, unix_socket, ..." (upper-cased for the environment's messages). */
static void key_list(section_t s, bool upper, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NKEYS && used < len; i++) {
        if (keys[i].section != s)
            continue;
        int n = snprintf(buf + used, len - used, "%s", used ? ", " : "");
        used += (size_t)n;
        for (const char *p = keys[i].info.name; *p && used + 1 < len; p++)
            buf[used++] = upper ? (char)toupper((unsigned char)*p) : *p;
        buf[used < len ? used : len - 1] = '\0';
    }
}

static void upper_copy(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (char)toupper((unsigned char)s[i]);
    buf[i] = '\0';
}

static void apply_defaults(section_t s, void *base)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].section != s || !keys[i].info.default_value)
            continue;
        bool ok = set_value(&keys[i], base, keys[i].info.default_value);
        assert(ok && "a default in the key table does not parse");
        (void)ok;
    }
}

/* A [db.NAME] or [tokens] name; upper: as written in a variable. */
static bool valid_name(const char *name, size_t len, bool upper)
{
    if (len < 1 || len > TXS_CONF_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool letter = upper ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z');
        if (!letter && !(c >= '0' && c <= '9') && c != '_')
            return false;
    }
    return true;
}

static int find_db(const txs_conf_t *conf, const char *name)
{
    for (int i = 0; i < conf->ndbs; i++)
        if (strcmp(conf->dbs[i].name, name) == 0)
            return i;
    return -1;
}

/* Appends a db with the defaults; `name` is valid and not yet there. */
static int add_db(loader_t *ld, const char *name, int line, const char *var)
{
    txs_conf_t *c = ld->conf;
    if (c->ndbs == ld->dbcap) {
        ld->dbcap = ld->dbcap ? 2 * ld->dbcap : 4;
        c->dbs = txs_xrealloc(c->dbs, (size_t)ld->dbcap * sizeof *c->dbs);
        ld->meta = txs_xrealloc(ld->meta, (size_t)ld->dbcap * sizeof *ld->meta);
    }
    txs_db_conf_t *db = &c->dbs[c->ndbs];
    memset(db, 0, sizeof *db);
    snprintf(db->name, sizeof db->name, "%s", name);
    apply_defaults(S_DB, db);
    db_meta_t *m = &ld->meta[c->ndbs];
    memset(m, 0, sizeof *m);
    m->line = line;
    m->var = var ? txs_xstrdup(var) : NULL;
    return c->ndbs++;
}

/* A [section] header, seen by the reader before inih: inih tells the handler only
 * about keys, so an empty or duplicated section would otherwise pass unnoticed. */
static void on_section(loader_t *ld, const char *line)
{
    const char *close = strchr(line, ']');
    if (!close)
        return; /* inih reports the line */
    const char *name = line + 1;
    size_t n = (size_t)(close - name);
    const char *after = close + 1;
    while (isspace((unsigned char)*after))
        after++;
    if (*after != '\0' && *after != ';' && *after != '#') {
        fail(ld, "%s:%d: text after [%.*s]; expected nothing or a ; comment", ld->path, ld->lineno,
             (int)n, name);
        return;
    }
    if (n == strlen("txscope") && memcmp(name, "txscope", n) == 0) {
        if (ld->txscope_line) {
            fail(ld, "%s:%d: [txscope] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, ld->txscope_line);
            return;
        }
        ld->txscope_line = ld->lineno;
        ld->in_section = true;
        ld->section = S_TXSCOPE;
        return;
    }
    if (n == strlen("tokens") && memcmp(name, "tokens", n) == 0) {
        if (ld->tokens_line) {
            fail(ld, "%s:%d: [tokens] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, ld->tokens_line);
            return;
        }
        ld->tokens_line = ld->lineno;
        ld->in_section = true;
        ld->section = S_TOKENS;
        return;
    }
    if (n >= 3 && memcmp(name, "db.", 3) == 0) {
        if (!valid_name(name + 3, n - 3, false)) {
            fail(ld,
                 "%s:%d: [%.*s]: expected [db.NAME] with NAME 1 to %d characters of a-z, 0-9 "
                 "and _",
                 ld->path, ld->lineno, (int)n, name, TXS_CONF_NAME_MAX);
            return;
        }
        char dbname[TXS_CONF_NAME_MAX + 1];
        memcpy(dbname, name + 3, n - 3);
        dbname[n - 3] = '\0';
        int i = find_db(ld->conf, dbname);
        if (i >= 0) {
            fail(ld, "%s:%d: [db.%s] appears twice (first on line %d); merge the two", ld->path,
                 ld->lineno, dbname, ld->meta[i].line);
            return;
        }
        ld->db = add_db(ld, dbname, ld->lineno, NULL);
        ld->in_section = true;
        ld->section = S_DB;
        return;
    }
    fail(ld, "%s:%d: unknown section [%.*s]; expected [txscope], [db.NAME] or [tokens]", ld->path,
         ld->lineno, (int)n, name);
}

/* inih's fgets: one line of the file per call, counted, so errors can name it. */
static char *read_line(char *str, int num, void *stream)
{
    loader_t *ld = stream;
    if (ld->failed || ld->pos >= ld->end)
        return NULL;
    const char *start = ld->pos;
    const char *nl = memchr(start, '\n', (size_t)(ld->end - start));
    const char *stop = nl ? nl + 1 : ld->end;
    ld->pos = stop;
    ld->lineno++;
    /* Leading blanks never matter here; dropping them stops inih from reading an
     * indented line as the continuation of the value above. */
    while (start < stop && (*start == ' ' || *start == '\t'))
        start++;
    size_t n = (size_t)(stop - start), content = n;
    while (content > 0 && (start[content - 1] == '\n' || start[content - 1] == '\r'))
        content--;
    if (num < 3 || content > (size_t)num - 3) {
        fail(ld, "%s:%d: line longer than %d bytes", ld->path, ld->lineno, num < 3 ? 0 : num - 3);
        return NULL;
    }
    memcpy(str, start, n);
    str[n] = '\0';
    if (*str == '[')
        on_section(ld, str);
    return ld->failed ? NULL : str;
}

/* "value" in double quotes means value: for a token with a ';' or spaces at the ends.
 * Returns the copy to free (NULL when there were no quotes). */
static char *unquote(const char **value)
{
    size_t len = strlen(*value);
    if (len < 2 || (*value)[0] != '"' || (*value)[len - 1] != '"')
        return NULL;
    char *copy = txs_xstrndup(*value + 1, len - 2);
    *value = copy;
    return copy;
}

/* While loading, the named tokens are tokens[0..ld->ntok) with tmeta parallel to them. */
static int find_token(const loader_t *ld, const char *name)
{
    for (int i = 0; i < ld->ntok; i++)
        if (strcmp(ld->conf->tokens[i].name, name) == 0)
            return i;
    return -1;
}

/* Adds the token `name` (valid), or replaces its secret; line or var says from where. */
static void set_token(loader_t *ld, const char *name, const char *secret, int line, const char *var)
{
    txs_conf_t *c = ld->conf;
    int i = find_token(ld, name);
    if (i < 0) {
        if (ld->ntok >= ld->tokcap) {
            ld->tokcap = ld->tokcap ? 2 * ld->tokcap : 4;
            c->tokens = txs_xrealloc(c->tokens, (size_t)ld->tokcap * sizeof *c->tokens);
            ld->tmeta = txs_xrealloc(ld->tmeta, (size_t)ld->tokcap * sizeof *ld->tmeta);
        }
        i = ld->ntok++;
        c->ntokens = ld->ntok;
        memset(&c->tokens[i], 0, sizeof c->tokens[i]);
        memset(&ld->tmeta[i], 0, sizeof ld->tmeta[i]);
        snprintf(c->tokens[i].name, sizeof c->tokens[i].name, "%s", name);
    }
    assert(ld->tmeta); /* grown with tokens above */
    set_string(&c->tokens[i].secret, secret);
    free(ld->tmeta[i].var);
    ld->tmeta[i].line = line;
    ld->tmeta[i].var = var ? txs_xstrdup(var) : NULL;
}

/* NAME = secret under [tokens]. Messages never show a secret. */
static void on_token(loader_t *ld, const char *name, const char *value)
{
    if (!valid_name(name, strlen(name), false)) {
        fail(ld,
             "%s:%d: [tokens] %s: expected NAME = secret with NAME 1 to %d characters of a-z, "
             "0-9 and _ (the principal's name)",
             ld->path, ld->lineno, name, TXS_CONF_NAME_MAX);
        return;
    }
    int i = find_token(ld, name);
    if (i >= 0) {
        fail(ld, "%s:%d: [tokens] %s: set twice (first on line %d)", ld->path, ld->lineno, name,
             ld->tmeta[i].line);
        return;
    }
    char *unquoted = unquote(&value);
    if (*value == '\0')
        fail(ld, "%s:%d: [tokens] %s = \"\": expected a non-empty secret", ld->path, ld->lineno,
             name);
    else
        set_token(ld, name, value, ld->lineno, NULL);
    free(unquoted);
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    loader_t *ld = user;
    if (ld->failed)
        return 0;
    if (!ld->in_section) {
        fail(ld,
             "%s:%d: %s: a key outside any section; put it under [txscope], [db.NAME] or "
             "[tokens]",
             ld->path, ld->lineno, name);
        return 0;
    }
    if (ld->section == S_TOKENS) {
        on_token(ld, name, value);
        return !ld->failed;
    }
    char label[TXS_CONF_NAME_MAX + 8];
    void *base;
    int *lines;
    if (ld->section == S_TXSCOPE) {
        snprintf(label, sizeof label, "txscope");
        base = ld->conf;
        lines = ld->key_line;
    } else {
        snprintf(label, sizeof label, "db.%s", ld->conf->dbs[ld->db].name);
        base = &ld->conf->dbs[ld->db];
        lines = ld->meta[ld->db].key_line;
    }
    const conf_key_t *k = find_key(ld->section, name);
    if (!k) {
        char list[512];
        key_list(ld->section, false, list, sizeof list);
        fail(ld, "%s:%d: [%s] %s: unknown key; expected one of: %s", ld->path, ld->lineno, label,
             name, list);
        return 0;
    }
    size_t idx = (size_t)(k - keys);
    if (lines[idx]) {
        fail(ld, "%s:%d: [%s] %s: set twice (first on line %d)", ld->path, ld->lineno, label, name,
             lines[idx]);
        return 0;
    }
    lines[idx] = ld->lineno;
    char *unquoted = unquote(&value);
    if (!set_value(k, base, value)) {
        char expected[256];
        describe(k, expected, sizeof expected);
        fail(ld, "%s:%d: [%s] %s = \"%s\": %s", ld->path, ld->lineno, label, name, value, expected);
    }
    free(unquoted);
    return !ld->failed;
}

/* inih names only the number of a line it could not parse; show the line too. */
static void syntax_error(loader_t *ld, int line)
{
    const char *p = ld->text;
    for (int i = 1; i < line && p < ld->end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(ld->end - p));
        p = nl ? nl + 1 : ld->end;
    }
    while (p < ld->end && (*p == ' ' || *p == '\t'))
        p++;
    size_t n = 0;
    while (p + n < ld->end && p[n] != '\n' && p[n] != '\r')
        n++;
    ld->failed = false; /* this error comes first in the file: it replaces a later one */
    ld->lineno = line;
    fail(ld, "%s:%d: \"%.*s\": expected key = value, [section], a ; or # comment, or nothing",
         ld->path, line, (int)(n > 80 ? 80 : n), p);
}

static void parse_file(loader_t *ld, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(ld, "cannot open %s: %s", path, strerror(errno));
        return;
    }
    size_t len = 0, cap = 4096;
    ld->text = txs_xmalloc(cap);
    for (;;) {
        len += fread(ld->text + len, 1, cap - len, f);
        if (len < cap)
            break;
        cap *= 2;
        ld->text = txs_xrealloc(ld->text, cap);
    }
    int read_errno = ferror(f) ? errno : 0;
    fclose(f);
    if (read_errno) {
        fail(ld, "cannot read %s: %s", path, strerror(read_errno));
        return;
    }
    ld->pos = ld->text;
    ld->end = ld->text + len;
    if (len >= 3 && memcmp(ld->text, "\xEF\xBB\xBF", 3) == 0)
        ld->pos += 3; /* a UTF-8 byte order mark, as some editors write */
    const char *nul = memchr(ld->text, '\0', len);
    if (nul) {
        for (const char *p = ld->text; p < nul; p++)
            ld->lineno += *p == '\n';
        ld->lineno++;
        fail(ld, "%s:%d: a NUL byte; expected a text file", path, ld->lineno);
        return;
    }
    if (&ini_max_line != NULL && ini_max_line < LINE_MAX_BYTES)
        ini_max_line = LINE_MAX_BYTES;
    int r = ini_parse_stream(read_line, ld, on_pair, ld);
    if (r > 0 && (!ld->failed || r < ld->err_line))
        syntax_error(ld, r);
    else if (r < 0)
        fail(ld, "%s: inih failed (%d)", path, r);
}

/* s (n bytes) is key upper-cased. */
static bool upper_eq(const char *s, size_t n, const char *key)
{
    if (strlen(key) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != (char)toupper((unsigned char)key[i]))
            return false;
    return true;
}

static void set_from_env(loader_t *ld, const conf_key_t *k, void *base, const char *var,
                         const char *value)
{
    if (!set_value(k, base, value)) {
        char expected[256];
        describe(k, expected, sizeof expected);
        fail(ld, "%s = \"%s\": %s", var, value, expected);
    }
}

/* TXSCOPE_DB_<NAME>_<KEY>: NAME may hold '_' too, so the longest key name that ends
 * the variable is the key and the rest the name. Returns false if no key fits. */
static bool apply_db_var(loader_t *ld, const char *var, const char *value)
{
    const char *tail = var + strlen(ENV_DB_PREFIX);
    size_t tlen = strlen(tail);
    const conf_key_t *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        size_t klen = strlen(keys[i].info.name);
        if (keys[i].section != S_DB || tlen < klen + 2 || klen <= best_len)
            continue;
        if (tail[tlen - klen - 1] == '_' && upper_eq(tail + tlen - klen, klen, keys[i].info.name)) {
            best = &keys[i];
            best_len = klen;
        }
    }
    if (!best)
        return false;
    size_t nlen = tlen - best_len - 1;
    if (!valid_name(tail, nlen, true)) {
        fail(ld,
             "%s: expected TXSCOPE_DB_<NAME>_%.*s with NAME 1 to %d characters of A-Z, 0-9 and _ "
             "(the [db.NAME] name upper-cased)",
             var, (int)best_len, tail + nlen + 1, TXS_CONF_NAME_MAX);
        return true;
    }
    char name[TXS_CONF_NAME_MAX + 1];
    for (size_t i = 0; i < nlen; i++)
        name[i] = (char)tolower((unsigned char)tail[i]);
    name[nlen] = '\0';
    int i = find_db(ld->conf, name);
    if (i < 0)
        i = add_db(ld, name, 0, var);
    set_from_env(ld, best, &ld->conf->dbs[i], var, value);
    return true;
}

/* TXSCOPE_TOKEN_<NAME>=secret. An empty secret is an error rather than "no token": unlike
 * TXSCOPE_AUTH_TOKEN=, dropping one named token could quietly leave none, and with none
 * every client gets in. */
static void apply_token_var(loader_t *ld, const char *var, const char *value)
{
    const char *uname = var + strlen(ENV_TOKEN_PREFIX);
    size_t n = strlen(uname);
    if (!valid_name(uname, n, true)) {
        fail(ld,
             "%s: expected TXSCOPE_TOKEN_<NAME> with NAME 1 to %d characters of A-Z, 0-9 and _ "
             "(the [tokens] name upper-cased)",
             var, TXS_CONF_NAME_MAX);
        return;
    }
    if (*value == '\0') {
        fail(ld, "%s = \"\": expected a non-empty secret (unset the variable for no such token)",
             var);
        return;
    }
    char name[TXS_CONF_NAME_MAX + 1];
    for (size_t i = 0; i <= n; i++)
        name[i] = (char)tolower((unsigned char)uname[i]);
    set_token(ld, name, value, 0, var);
}

static void apply_var(loader_t *ld, const char *var, const char *value)
{
    if (strcmp(var, ENV_CONFIG) == 0)
        return;
    if (strncmp(var, ENV_TOKEN_PREFIX, strlen(ENV_TOKEN_PREFIX)) == 0) {
        apply_token_var(ld, var, value);
        return;
    }
    if (strncmp(var, ENV_DB_PREFIX, strlen(ENV_DB_PREFIX)) == 0) {
        if (apply_db_var(ld, var, value))
            return;
    } else {
        const char *rest = var + strlen(ENV_PREFIX);
        for (size_t i = 0; i < NKEYS; i++) {
            if (keys[i].section == S_TXSCOPE && upper_eq(rest, strlen(rest), keys[i].info.name)) {
                set_from_env(ld, &keys[i], ld->conf, var, value);
                ld->key_env[i] = true;
                return;
            }
        }
    }
    char top[512], db[256];
    key_list(S_TXSCOPE, true, top, sizeof top);
    key_list(S_DB, true, db, sizeof db);
    fail(ld,
         "%s: unknown variable; expected TXSCOPE_<KEY> with KEY one of %s; or "
         "TXSCOPE_DB_<NAME>_<KEY> with KEY one of %s; or TXSCOPE_TOKEN_<NAME>; or " ENV_CONFIG,
         var, top, db);
}

static void apply_env(loader_t *ld, char *const *envp)
{
    for (; envp && *envp && !ld->failed; envp++) {
        const char *e = *envp;
        const char *eq = strchr(e, '=');
        if (strncmp(e, ENV_PREFIX, strlen(ENV_PREFIX)) != 0 || !eq)
            continue;
        char *var = txs_xstrndup(e, (size_t)(eq - e));
        apply_var(ld, var, eq + 1);
        free(var);
    }
}

/* After the file and the environment: what must be there is there. */
static void check_complete(loader_t *ld)
{
    txs_conf_t *c = ld->conf;
    if (c->ndbs == 0) {
        fail(ld,
             "no database configured: set TXSCOPE_DB_MAIN_DSN "
             "(e.g. postgresql://USER@HOST:5432/DBNAME) or add a [db.NAME] section with a "
             "dsn%s%s",
             c->source ? " to " : "", c->source ? c->source : "");
        return;
    }
    assert(ld->meta != NULL); /* grown with dbs: one entry per db */
    for (int i = 0; i < c->ndbs && !ld->failed; i++) {
        for (size_t j = 0; j < NKEYS; j++) {
            const conf_key_t *k = &keys[j];
            if (k->section != S_DB || !k->required ||
                *(char **)((char *)&c->dbs[i] + k->offset) != NULL)
                continue;
            char uname[TXS_CONF_NAME_MAX + 1], ukey[64];
            upper_copy(c->dbs[i].name, uname, sizeof uname);
            upper_copy(k->info.name, ukey, sizeof ukey);
            if (ld->meta[i].line)
                fail(ld, "%s:%d: [db.%s] has no %s: add %s = ... to it, or set TXSCOPE_DB_%s_%s",
                     ld->path, ld->meta[i].line, c->dbs[i].name, k->info.name, k->info.name, uname,
                     ukey);
            else
                fail(ld, "%s creates db \"%s\", which has no %s: set TXSCOPE_DB_%s_%s too",
                     ld->meta[i].var, c->dbs[i].name, k->info.name, uname, ukey);
            break;
        }
    }
}

/* Where token i (or auth_token, i < 0) was set: "t.ini:3" or the variable. */
static void token_origin(const loader_t *ld, int i, char *buf, size_t len)
{
    if (i < 0) {
        const conf_key_t *k = find_key(S_TXSCOPE, "auth_token");
        size_t idx = (size_t)(k - keys);
        if (ld->key_env[idx])
            snprintf(buf, len, ENV_PREFIX "AUTH_TOKEN");
        else
            snprintf(buf, len, "%s:%d", ld->path, ld->key_line[idx]);
    } else if (ld->tmeta[i].var) {
        snprintf(buf, len, "%s", ld->tmeta[i].var);
    } else {
        snprintf(buf, len, "%s:%d", ld->path, ld->tmeta[i].line);
    }
}

/* After the file and the environment: names and secrets are distinct, auth_token included
 * (a secret shared by two principals would make hello ambiguous); then auth_token goes in
 * front as "default". */
static void finish_tokens(loader_t *ld)
{
    txs_conf_t *c = ld->conf;
    char here[300], there[300];
    for (int i = 0; i < c->ntokens && !ld->failed; i++) {
        const txs_token_conf_t *t = &c->tokens[i];
        token_origin(ld, i, here, sizeof here);
        if (c->auth_token && strcmp(t->name, TXS_DEFAULT_PRINCIPAL) == 0) {
            token_origin(ld, -1, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: auth_token (%s) is already the token of the principal %s; "
                 "set one of the two",
                 here, t->name, there, t->name);
        } else if (c->auth_token && strcmp(t->secret, c->auth_token) == 0) {
            token_origin(ld, -1, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: the same secret as auth_token (%s); every principal needs "
                 "its own",
                 here, t->name, there);
        }
        for (int j = 0; j < i && !ld->failed; j++) {
            if (strcmp(t->secret, c->tokens[j].secret) != 0)
                continue;
            token_origin(ld, j, there, sizeof there);
            fail(ld,
                 "%s: [tokens] %s: the same secret as [tokens] %s (%s); every principal needs "
                 "its own",
                 here, t->name, c->tokens[j].name, there);
        }
    }
    if (ld->failed || !c->auth_token)
        return;
    c->tokens = txs_xrealloc(c->tokens, (size_t)(c->ntokens + 1) * sizeof *c->tokens);
    memmove(&c->tokens[1], &c->tokens[0], (size_t)c->ntokens * sizeof *c->tokens);
    memset(&c->tokens[0], 0, sizeof c->tokens[0]);
    snprintf(c->tokens[0].name, sizeof c->tokens[0].name, "%s", TXS_DEFAULT_PRINCIPAL);
    c->tokens[0].secret = txs_xstrdup(c->auth_token);
    c->ntokens++;
}

int txs_conf_load(const char *path, char *const *envp, txs_conf_t **out, char *errbuf,
                  size_t errlen)
{
    loader_t ld = {.path = path, .err = errbuf, .errlen = errlen};
    *out = NULL;
    if (errbuf && errlen > 0)
        errbuf[0] = '\0';
    ld.conf = txs_xcalloc(1, sizeof *ld.conf);
    apply_defaults(S_TXSCOPE, ld.conf);
    if (path) {
        ld.conf->source = txs_xstrdup(path);
        parse_file(&ld, path);
    }
    if (!ld.failed)
        apply_env(&ld, envp);
    if (!ld.failed)
        check_complete(&ld);
    int named = ld.conf->ntokens; /* tmeta's length, before auth_token joins the tokens */
    if (!ld.failed)
        finish_tokens(&ld);
    for (int i = 0; i < ld.conf->ndbs; i++)
        free(ld.meta[i].var);
    free(ld.meta);
    for (int i = 0; i < named; i++)
        free(ld.tmeta[i].var);
    free(ld.tmeta);
    free(ld.text);
    if (ld.failed) {
        txs_conf_free(ld.conf);
        return TXS_ECONFIG;
    }
    *out = ld.conf;
    return 0;
}

static void free_strings(section_t s, void *base)
{
    for (size_t i = 0; i < NKEYS; i++) {
        key_type_t t = keys[i].type;
        if (keys[i].section == s && (t == T_STRING || t == T_CHOICE || t == T_LISTEN))
            free(*(char **)((char *)base + keys[i].offset));
    }
}

void txs_conf_free(txs_conf_t *conf)
{
    if (!conf)
        return;
    for (int i = 0; i < conf->ndbs; i++)
        free_strings(S_DB, &conf->dbs[i]);
    free(conf->dbs);
    for (int i = 0; i < conf->ntokens; i++)
        free(conf->tokens[i].secret);
    free(conf->tokens);
    free_strings(S_TXSCOPE, conf);
    free(conf->source);
    free(conf);
}

const txs_db_conf_t *txs_conf_find_db(const txs_conf_t *conf, const char *name)
{
    int i = find_db(conf, name);
    return i < 0 ? NULL : &conf->dbs[i];
}
