/* keys.c - the key table: every key's type, field, default, bounds and reload flag, and
 * how a value of each type is parsed, copied and described in error messages. */
#include "conf/keys.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "protocol/buf.h"

/* Indexed by txs_log_level_t. */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
/* The drivers a [db.NAME] may name; extend with the driver. */
static const char *const drivers[] = {"postgresql", "mysql", NULL};
static const char *const ddl_policies[] = {"refuse", "allow", NULL};
/* Indexed by txs_log_format_t. */
static const char *const log_formats[] = {"text", "json", NULL};
_Static_assert(sizeof(txs_ddl_policy_t) == sizeof(int), "ENUM stores an int");
_Static_assert(sizeof(txs_log_level_t) == sizeof(int), "ENUM stores an int");
_Static_assert(sizeof(txs_log_format_t) == sizeof(int), "ENUM stores an int");

/* A bool's spellings, true and false in pairs; matched in any case. */
static const char *const bool_words[][2] = {
    {"on", "off"}, {"true", "false"}, {"yes", "no"}, {"1", "0"}};

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
    .info = {"txscope", name, def, reload, doc}, .section = TXS_CS_TXSCOPE,                        \
    .offset = offsetof(txs_conf_t, field)
#define DB(name, field, def, reload, doc)                                                          \
    .info = {"db.NAME", name, def, reload, doc}, .section = TXS_CS_DB,                             \
    .offset = offsetof(txs_db_conf_t, field)
#define RELOAD true
#define RESTART false

/* One row per key. docs/configuration.md and conf/txscope.ini follow this table (a unit
 * test checks that every key and default appears in both). */
/* clang-format off */
const txs_conf_key_t txs_conf_keys[] = {
    {TXS("listen", listen_host, "127.0.0.1:7432", RESTART,
         "TCP address for clients, HOST:PORT; IPv6 as [::1]:7432"),
     .type = TXS_CT_LISTEN, .port_offset = offsetof(txs_conf_t, listen_port)},
    {TXS("unix_socket", unix_socket, NULL, RESTART,
         "also listen on this Unix socket path; empty = none"),
     .type = TXS_CT_STRING, .max = SUN_PATH_MAX},
    {TXS("auth_token", auth_token, NULL, RELOAD,
         "clients must send it in hello before anything else; empty = no authentication"),
     .type = TXS_CT_STRING},
    {TXS("max_clients", max_clients, "1000", RELOAD, "connected clients at most"),
     .type = TXS_CT_INT, .min = 1, .max = 1000000},
    {TXS("max_sessions_per_client", max_sessions_per_client, "1000", RELOAD,
         "open sessions (contexts) per client connection at most"),
     .type = TXS_CT_INT, .min = 1, .max = 1000000},
    {TXS("max_pipeline", max_pipeline, "128", RELOAD,
         "requests a client may send ahead of the replies"),
     .type = TXS_CT_INT, .min = 1, .max = 100000},
    {TXS("max_request_bytes", max_request_bytes, "1MB", RELOAD, "longest request line"),
     .type = TXS_CT_SIZE, .min = KIB, .max = GIB},
    {TXS("max_result_bytes", max_result_bytes, "64MB", RELOAD,
         "largest result of one statement before it fails"),
     .type = TXS_CT_SIZE, .min = KIB, .max = 4 * GIB},
    {TXS("log_level", log_level, "info", RELOAD, "least severe messages logged"),
     .type = TXS_CT_ENUM, .choices = log_levels},
    {TXS("log_format", log_format, "text", RELOAD,
         "log lines as text, or as one JSON object each"),
     .type = TXS_CT_ENUM, .choices = log_formats},
    {TXS("admin_listen", admin_host, "127.0.0.1:7433", RESTART,
         "HTTP address of /metrics, /healthz, /readyz and /stats, HOST:PORT"),
     .type = TXS_CT_LISTEN, .port_offset = offsetof(txs_conf_t, admin_port)},
    {TXS("drain_timeout", drain_timeout_ms, "30s", RELOAD,
         "after SIGTERM, how long open transactions and connected clients may go on before "
         "the rest is rolled back; 0 = at once"),
     .type = TXS_CT_DURATION, .min = 0, .max = HOUR, .zero_means = "at once"},
    {TXS("outcome_journal_size", outcome_journal_size, "10000", RELOAD,
         "ended transactions remembered per principal for the outcome op; 0 = off"),
     .type = TXS_CT_INT, .min = 0, .max = 10000000},
    {TXS("outcome_journal_ttl", outcome_journal_ttl_ms, "10m", RELOAD,
         "how long the outcome of an ended transaction is remembered"),
     .type = TXS_CT_DURATION, .min = SECOND, .max = 7 * DAY},
    {TXS("client_idle_timeout", client_idle_timeout_ms, "0", RELOAD,
         "close a client connection with no request pending that sent nothing for this long; "
         "0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = 7 * DAY, .zero_means = "off"},
    {TXS("client_login_timeout", client_login_timeout_ms, "1m", RELOAD,
         "close a client that has not finished hello (with tokens) or sent a first line "
         "(without) by then; 0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = HOUR, .zero_means = "off"},

    {DB("driver", driver, "postgresql", RESTART, "the kind of database"),
     .type = TXS_CT_CHOICE, .choices = drivers},
    {DB("dsn", dsn, NULL, RELOAD,
        "where to connect: a postgresql:// URI or libpq key=value words, or a mysql:// URI; "
        "required"),
     .type = TXS_CT_STRING, .min = 1, .required = true},
    {DB("pool_size", pool_size, "10", RELOAD, "backend connections at most, max_overflow aside"),
     .type = TXS_CT_INT, .min = 1, .max = 10000},
    {DB("pool_timeout", pool_timeout_ms, "30s", RELOAD,
        "how long a session waits for a free connection before it fails"),
     .type = TXS_CT_DURATION, .min = 0, .max = HOUR},
    {DB("pool_recycle", pool_recycle_ms, "1h", RELOAD,
        "close a connection this long after it was opened, once idle; 0 = never"),
     .type = TXS_CT_DURATION, .min = 0, .max = 30 * DAY, .zero_means = "never"},
    {DB("connect_timeout", connect_timeout_ms, "10s", RELOAD,
        "how long opening a connection may take"),
     .type = TXS_CT_DURATION, .min = 100, .max = 10 * MINUTE},
    {DB("ddl_in_transaction", ddl_in_transaction, "refuse", RELOAD,
        "MySQL: DDL inside a transaction commits it; refuse it (0A000) or allow it "
        "(the transaction is committed first, then the DDL runs alone)"),
     .type = TXS_CT_ENUM, .choices = ddl_policies},
    {DB("max_overflow", max_overflow, "0", RELOAD,
        "connections opened beyond pool_size while all are busy, closed when returned"),
     .type = TXS_CT_INT, .min = 0, .max = 10000},
    {DB("min_idle", min_idle, "0", RELOAD,
        "connections opened at start and kept open while idle; at most pool_size"),
     .type = TXS_CT_INT, .min = 0, .max = 10000},
    {DB("pool_idle_timeout", pool_idle_timeout_ms, "10m", RELOAD,
        "close a connection idle this long, down to min_idle; 0 = never"),
     .type = TXS_CT_DURATION, .min = 0, .max = 30 * DAY, .zero_means = "never"},
    {DB("pre_ping", pre_ping, "on", RELOAD,
        "check a connection idle longer than pre_ping_after before use; a dead one is "
        "replaced"),
     .type = TXS_CT_BOOL},
    {DB("pre_ping_after", pre_ping_after_ms, "30s", RELOAD,
        "how long a connection may sit idle before pre_ping checks it; 0 = at every checkout"),
     .type = TXS_CT_DURATION, .min = 0, .max = DAY, .zero_means = "check at every checkout"},
    {DB("reset_always", reset_always, "off", RELOAD,
        "reset session state at every return of a connection, not only when the daemon saw "
        "the session change it"),
     .type = TXS_CT_BOOL},
    {DB("query_timeout", query_timeout_ms, "0", RELOAD,
        "cancel a statement running longer (57014; the connection is kept); 0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = DAY, .zero_means = "off"},
    {DB("idle_in_transaction_timeout", idle_in_transaction_timeout_ms, "1m", RELOAD,
        "roll back a transaction idle this long between statements (25P03 on the session's "
        "next request); 0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = DAY, .zero_means = "off"},
    {DB("transaction_timeout", transaction_timeout_ms, "0", RELOAD,
        "roll back a transaction open this long (25P03 on the session's next request); "
        "0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = 7 * DAY, .zero_means = "off"},
    {DB("session_idle_timeout", session_idle_timeout_ms, "1m", RELOAD,
        "forget a session (ctx) with no transaction and no request for this long; 0 = off"),
     .type = TXS_CT_DURATION, .min = 0, .max = 7 * DAY, .zero_means = "off"},
};
/* clang-format on */

_Static_assert(sizeof txs_conf_keys / sizeof *txs_conf_keys == TXS_CONF_NKEYS,
               "TXS_CONF_NKEYS is the number of rows");

const txs_conf_key_info_t *txs_conf_key_info(size_t i)
{
    return i < TXS_CONF_NKEYS ? &txs_conf_keys[i].info : NULL;
}

const txs_conf_key_t *txs_conf_key_find(txs_conf_section_t s, const char *name)
{
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++)
        if (txs_conf_keys[i].section == s && strcmp(txs_conf_keys[i].info.name, name) == 0)
            return &txs_conf_keys[i];
    return NULL;
}

bool txs_conf_key_has_txscope_default(const txs_conf_key_t *k)
{
    return k->section == TXS_CS_DB && k->info.default_value != NULL;
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

static bool parse_bool(const char *s, bool *out)
{
    for (size_t i = 0; i < sizeof bool_words / sizeof *bool_words; i++) {
        for (int v = 0; v < 2; v++) {
            if (strcasecmp(s, bool_words[i][v]) == 0) {
                *out = v == 0;
                return true;
            }
        }
    }
    return false;
}

/* Whether the n bytes at host are an address of family af (no host name). */
static bool is_address(int af, const char *host, size_t n)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned char a[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof addr)
        return false;
    memcpy(addr, host, n);
    addr[n] = '\0';
    return inet_pton(af, addr, a) == 1;
}

/* IPV4:PORT or [IPV6]:PORT; the host is stored without brackets. */
static bool parse_listen(const char *v, char **host_out, int *port_out)
{
    const char *host, *host_end, *port;
    int af;
    if (*v == '[') {
        host = v + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return false;
        port = host_end + 2;
        af = AF_INET6;
    } else {
        /* IPv4; a bare IPv6 address must be bracketed. No host names: the listener
         * binds addresses, and a name would fail there instead of here. */
        host = v;
        host_end = strchr(v, ':');
        if (!host_end)
            return false;
        port = host_end + 1;
        af = AF_INET;
    }
    if (!is_address(af, host, (size_t)(host_end - host)))
        return false;
    int64_t n;
    if (!isdigit((unsigned char)*port) || !parse_int(port, &n) || n < 1 || n > 65535)
        return false;
    free(*host_out);
    *host_out = txs_xstrndup(host, (size_t)(host_end - host));
    *port_out = (int)n;
    return true;
}

bool txs_conf_key_set(const txs_conf_key_t *k, void *base, const char *v)
{
    char *field = (char *)base + k->offset;
    switch (k->type) {
    case TXS_CT_STRING: {
        size_t n = strlen(v);
        if (n < (uint64_t)k->min || (k->max > 0 && n > (uint64_t)k->max))
            return false;
        set_string((char **)field, n > 0 ? v : NULL);
        return true;
    }
    case TXS_CT_INT: {
        int64_t n;
        if (!parse_int(v, &n) || n < k->min || n > k->max)
            return false;
        *(int *)field = (int)n;
        return true;
    }
    case TXS_CT_DURATION: {
        uint64_t ms;
        if (txs_conf_parse_duration_ms(v, &ms) != 0 || ms < (uint64_t)k->min ||
            ms > (uint64_t)k->max)
            return false;
        *(uint64_t *)field = ms;
        return true;
    }
    case TXS_CT_SIZE: {
        size_t n;
        if (txs_conf_parse_size(v, &n) != 0 || n < (uint64_t)k->min || n > (uint64_t)k->max)
            return false;
        *(size_t *)field = n;
        return true;
    }
    case TXS_CT_BOOL:
        return parse_bool(v, (bool *)field);
    case TXS_CT_ENUM:
    case TXS_CT_CHOICE:
        for (int i = 0; k->choices[i]; i++) {
            if (strcasecmp(v, k->choices[i]) != 0)
                continue;
            if (k->type == TXS_CT_ENUM)
                *(int *)field = i;
            else
                set_string((char **)field, k->choices[i]);
            return true;
        }
        return false;
    case TXS_CT_LISTEN:
        return parse_listen(v, (char **)field, (int *)((char *)base + k->port_offset));
    }
    return false;
}

void txs_conf_key_copy(const txs_conf_key_t *k, void *dst, const void *src)
{
    char *to = (char *)dst + k->offset;
    const char *from = (const char *)src + k->offset;
    switch (k->type) {
    case TXS_CT_STRING:
    case TXS_CT_CHOICE:
        set_string((char **)to, *(char *const *)from);
        return;
    case TXS_CT_INT:
    case TXS_CT_ENUM:
        memcpy(to, from, sizeof(int));
        return;
    case TXS_CT_DURATION:
        memcpy(to, from, sizeof(uint64_t));
        return;
    case TXS_CT_SIZE:
        memcpy(to, from, sizeof(size_t));
        return;
    case TXS_CT_BOOL:
        memcpy(to, from, sizeof(bool));
        return;
    case TXS_CT_LISTEN:
        break; /* [txscope] only: never copied between dbs */
    }
    assert(!"a key of this type is not copied");
}

void txs_conf_key_describe(const txs_conf_key_t *k, char *buf, size_t len)
{
    char lo[32], hi[32];
    switch (k->type) {
    case TXS_CT_STRING:
        if (k->max > 0)
            snprintf(buf, len, "expected at most %lld bytes", (long long)k->max);
        else
            snprintf(buf, len, "expected a non-empty value");
        return;
    case TXS_CT_INT:
        snprintf(buf, len, "expected an integer from %lld to %lld", (long long)k->min,
                 (long long)k->max);
        return;
    case TXS_CT_DURATION:
        txs_conf_format_duration((uint64_t)k->min, lo, sizeof lo);
        txs_conf_format_duration((uint64_t)k->max, hi, sizeof hi);
        snprintf(buf, len,
                 "expected a duration from %s%s%s%s to %s, like 500ms, 30s, 5m, 1h, 2d "
                 "(a bare number is seconds)",
                 lo, k->zero_means ? " (" : "", k->zero_means ? k->zero_means : "",
                 k->zero_means ? ")" : "", hi);
        return;
    case TXS_CT_SIZE:
        txs_conf_format_size((uint64_t)k->min, lo, sizeof lo);
        txs_conf_format_size((uint64_t)k->max, hi, sizeof hi);
        snprintf(buf, len,
                 "expected a size from %s to %s, like 512kB, 64MB, 1GB (units B, kB, MB, "
                 "GB are 1024-based; a bare number is bytes)",
                 lo, hi);
        return;
    case TXS_CT_BOOL:
        snprintf(buf, len, "expected on or off (also true or false, yes or no, 1 or 0; any case)");
        return;
    case TXS_CT_ENUM:
    case TXS_CT_CHOICE: {
        size_t used = (size_t)snprintf(buf, len, "expected one of:");
        for (int i = 0; k->choices[i] && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", k->choices[i]);
        return;
    }
    case TXS_CT_LISTEN:
        snprintf(buf, len,
                 "expected HOST:PORT with HOST an IP address (IPv6 as [::1]:7432) and PORT "
                 "from 1 to 65535");
        return;
    }
}

void txs_conf_key_list(txs_conf_section_t s, bool txscope_defaults, bool upper, char *buf,
                       size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < TXS_CONF_NKEYS && used < len; i++) {
        const txs_conf_key_t *k = &txs_conf_keys[i];
        if (k->section != s || (txscope_defaults && !txs_conf_key_has_txscope_default(k)))
            continue;
        int n = snprintf(buf + used, len - used, "%s", used ? ", " : "");
        used += (size_t)n;
        for (const char *p = k->info.name; *p && used + 1 < len; p++)
            buf[used++] = upper ? (char)toupper((unsigned char)*p) : *p;
        buf[used < len ? used : len - 1] = '\0';
    }
}

void txs_conf_keys_apply_defaults(txs_conf_section_t s, void *base)
{
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
        const txs_conf_key_t *k = &txs_conf_keys[i];
        if (k->section != s || !k->info.default_value)
            continue;
        bool ok = txs_conf_key_set(k, base, k->info.default_value);
        assert(ok && "a default in the key table does not parse");
        (void)ok;
    }
}

void txs_conf_keys_free_strings(txs_conf_section_t s, void *base)
{
    for (size_t i = 0; i < TXS_CONF_NKEYS; i++) {
        txs_conf_type_t t = txs_conf_keys[i].type;
        if (txs_conf_keys[i].section == s &&
            (t == TXS_CT_STRING || t == TXS_CT_CHOICE || t == TXS_CT_LISTEN))
            free(*(char **)((char *)base + txs_conf_keys[i].offset));
    }
}
