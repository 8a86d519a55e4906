/* pg_types.c - PostgreSQL type names by OID, and a PGresult encoded as reply members. */
#include "drivers/pg_types.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/reply.h"
#include "protocol/utf8.h"

/* The builtin types of PostgreSQL 15 (every pg_type row with oid < 10000, copied from
 * `select oid, typname from pg_type where oid < 10000 order by oid`). Builtin OIDs are
 * fixed across clusters and never reused, so the table also holds for later servers,
 * minus the types they added (those show as their number). Sorted by oid. */
static const struct builtin {
    Oid oid;
    const char *name;
} builtins[] = {
    {16, "bool"},
    {17, "bytea"},
    {18, "char"},
    {19, "name"},
    {20, "int8"},
    {21, "int2"},
    {22, "int2vector"},
    {23, "int4"},
    {24, "regproc"},
    {25, "text"},
    {26, "oid"},
    {27, "tid"},
    {28, "xid"},
    {29, "cid"},
    {30, "oidvector"},
    {32, "pg_ddl_command"},
    {71, "pg_type"},
    {75, "pg_attribute"},
    {81, "pg_proc"},
    {83, "pg_class"},
    {114, "json"},
    {142, "xml"},
    {143, "_xml"},
    {194, "pg_node_tree"},
    {199, "_json"},
    {210, "_pg_type"},
    {269, "table_am_handler"},
    {270, "_pg_attribute"},
    {271, "_xid8"},
    {272, "_pg_proc"},
    {273, "_pg_class"},
    {325, "index_am_handler"},
    {600, "point"},
    {601, "lseg"},
    {602, "path"},
    {603, "box"},
    {604, "polygon"},
    {628, "line"},
    {629, "_line"},
    {650, "cidr"},
    {651, "_cidr"},
    {700, "float4"},
    {701, "float8"},
    {705, "unknown"},
    {718, "circle"},
    {719, "_circle"},
    {774, "macaddr8"},
    {775, "_macaddr8"},
    {790, "money"},
    {791, "_money"},
    {829, "macaddr"},
    {869, "inet"},
    {1000, "_bool"},
    {1001, "_bytea"},
    {1002, "_char"},
    {1003, "_name"},
    {1005, "_int2"},
    {1006, "_int2vector"},
    {1007, "_int4"},
    {1008, "_regproc"},
    {1009, "_text"},
    {1010, "_tid"},
    {1011, "_xid"},
    {1012, "_cid"},
    {1013, "_oidvector"},
    {1014, "_bpchar"},
    {1015, "_varchar"},
    {1016, "_int8"},
    {1017, "_point"},
    {1018, "_lseg"},
    {1019, "_path"},
    {1020, "_box"},
    {1021, "_float4"},
    {1022, "_float8"},
    {1027, "_polygon"},
    {1028, "_oid"},
    {1033, "aclitem"},
    {1034, "_aclitem"},
    {1040, "_macaddr"},
    {1041, "_inet"},
    {1042, "bpchar"},
    {1043, "varchar"},
    {1082, "date"},
    {1083, "time"},
    {1114, "timestamp"},
    {1115, "_timestamp"},
    {1182, "_date"},
    {1183, "_time"},
    {1184, "timestamptz"},
    {1185, "_timestamptz"},
    {1186, "interval"},
    {1187, "_interval"},
    {1231, "_numeric"},
    {1248, "pg_database"},
    {1263, "_cstring"},
    {1266, "timetz"},
    {1270, "_timetz"},
    {1560, "bit"},
    {1561, "_bit"},
    {1562, "varbit"},
    {1563, "_varbit"},
    {1700, "numeric"},
    {1790, "refcursor"},
    {2201, "_refcursor"},
    {2202, "regprocedure"},
    {2203, "regoper"},
    {2204, "regoperator"},
    {2205, "regclass"},
    {2206, "regtype"},
    {2207, "_regprocedure"},
    {2208, "_regoper"},
    {2209, "_regoperator"},
    {2210, "_regclass"},
    {2211, "_regtype"},
    {2249, "record"},
    {2275, "cstring"},
    {2276, "any"},
    {2277, "anyarray"},
    {2278, "void"},
    {2279, "trigger"},
    {2280, "language_handler"},
    {2281, "internal"},
    {2283, "anyelement"},
    {2287, "_record"},
    {2776, "anynonarray"},
    {2842, "pg_authid"},
    {2843, "pg_auth_members"},
    {2949, "_txid_snapshot"},
    {2950, "uuid"},
    {2951, "_uuid"},
    {2970, "txid_snapshot"},
    {3115, "fdw_handler"},
    {3220, "pg_lsn"},
    {3221, "_pg_lsn"},
    {3310, "tsm_handler"},
    {3361, "pg_ndistinct"},
    {3402, "pg_dependencies"},
    {3500, "anyenum"},
    {3614, "tsvector"},
    {3615, "tsquery"},
    {3642, "gtsvector"},
    {3643, "_tsvector"},
    {3644, "_gtsvector"},
    {3645, "_tsquery"},
    {3734, "regconfig"},
    {3735, "_regconfig"},
    {3769, "regdictionary"},
    {3770, "_regdictionary"},
    {3802, "jsonb"},
    {3807, "_jsonb"},
    {3831, "anyrange"},
    {3838, "event_trigger"},
    {3904, "int4range"},
    {3905, "_int4range"},
    {3906, "numrange"},
    {3907, "_numrange"},
    {3908, "tsrange"},
    {3909, "_tsrange"},
    {3910, "tstzrange"},
    {3911, "_tstzrange"},
    {3912, "daterange"},
    {3913, "_daterange"},
    {3926, "int8range"},
    {3927, "_int8range"},
    {4066, "pg_shseclabel"},
    {4072, "jsonpath"},
    {4073, "_jsonpath"},
    {4089, "regnamespace"},
    {4090, "_regnamespace"},
    {4096, "regrole"},
    {4097, "_regrole"},
    {4191, "regcollation"},
    {4192, "_regcollation"},
    {4451, "int4multirange"},
    {4532, "nummultirange"},
    {4533, "tsmultirange"},
    {4534, "tstzmultirange"},
    {4535, "datemultirange"},
    {4536, "int8multirange"},
    {4537, "anymultirange"},
    {4538, "anycompatiblemultirange"},
    {4600, "pg_brin_bloom_summary"},
    {4601, "pg_brin_minmax_multi_summary"},
    {5017, "pg_mcv_list"},
    {5038, "pg_snapshot"},
    {5039, "_pg_snapshot"},
    {5069, "xid8"},
    {5077, "anycompatible"},
    {5078, "anycompatiblearray"},
    {5079, "anycompatiblenonarray"},
    {5080, "anycompatiblerange"},
    {6101, "pg_subscription"},
    {6150, "_int4multirange"},
    {6151, "_nummultirange"},
    {6152, "_tsmultirange"},
    {6153, "_tstzmultirange"},
    {6155, "_datemultirange"},
    {6157, "_int8multirange"},
};

const char txs_pg_typemap_sql[] = "select t.oid, t.typname from pg_catalog.pg_type t"
                                  " where t.oid >= 16384 and t.typtype <> 'd'"
                                  " and not exists (select 1 from pg_catalog.pg_class c"
                                  " where c.oid = t.typrelid and c.relkind <> 'c')"
                                  " and not exists (select 1 from pg_catalog.pg_type e"
                                  " join pg_catalog.pg_class c on c.oid = e.typrelid"
                                  " where e.oid = t.typelem and c.relkind <> 'c')"
                                  " order by t.oid";

static int cmp_builtin(const void *key, const void *elem)
{
    Oid k = *(const Oid *)key, o = ((const struct builtin *)elem)->oid;
    return k < o ? -1 : k > o;
}

static int cmp_oid(const void *key, const void *elem)
{
    Oid k = *(const Oid *)key, o = *(const Oid *)elem;
    return k < o ? -1 : k > o;
}

bool txs_pg_typemap_build(txs_pg_typemap_t *m, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 2)
        return false;
    int n = PQntuples(res);
    Oid *oids = txs_xmalloc((size_t)n * sizeof *oids);
    for (int i = 0; i < n; i++) {
        oids[i] = (Oid)strtoul(PQgetvalue(res, i, 0), NULL, 10);
        if (i > 0 && oids[i] <= oids[i - 1]) { /* bsearch needs them ascending */
            free(oids);
            return false;
        }
    }
    m->res = res;
    m->oids = oids;
    m->n = n;
    return true;
}

void txs_pg_typemap_free(txs_pg_typemap_t *m)
{
    PQclear(m->res);
    free(m->oids);
    m->res = NULL;
    m->oids = NULL;
    m->n = 0;
}

const char *txs_pg_type_name(Oid oid, const txs_pg_typemap_t *user, char numbuf[16])
{
    const struct builtin *b = bsearch(&oid, builtins, sizeof builtins / sizeof builtins[0],
                                      sizeof builtins[0], cmp_builtin);
    if (b)
        return b->name;
    if (user && user->n > 0) {
        const Oid *p = bsearch(&oid, user->oids, (size_t)user->n, sizeof *p, cmp_oid);
        if (p)
            return PQgetvalue(user->res, (int)(p - user->oids), 1);
    }
    snprintf(numbuf, 16, "%u", (unsigned)oid);
    return numbuf;
}

size_t txs_pg_command_len(const char *status)
{
    size_t len = strlen(status);
    for (;;) {
        size_t i = len;
        while (i > 0 && status[i - 1] >= '0' && status[i - 1] <= '9')
            i--;
        if (i == len || i == 0 || status[i - 1] != ' ')
            return len;
        len = i - 1;
    }
}

/* How a value's text is written, by its type. */
enum vkind {
    V_TEXT,  /* a JSON string: text, numeric, dates, uuid, ... */
    V_BOOL,  /* t / f */
    V_INT,   /* int2/int4/int8: the digits as a number */
    V_FLOAT, /* float4/float8: a number, or "NaN", "Infinity", "-Infinity" */
    V_JSON,  /* json/jsonb: embedded */
    V_BYTEA, /* \x hex: base64 */
};

static enum vkind kind_of(Oid oid)
{
    switch (oid) {
    case 16:
        return V_BOOL;
    case 20:
    case 21:
    case 23:
        return V_INT;
    case 700:
    case 701:
        return V_FLOAT;
    case 114:
    case 3802:
        return V_JSON;
    case 17:
        return V_BYTEA;
    default:
        return V_TEXT; /* numeric (1700) too: a string, so no digit or scale is lost */
    }
}

/* s with every byte that starts no valid UTF-8 sequence replaced by U+FFFD, in scratch. */
static void utf8_repair(txs_buf_t *scratch, const char *s, size_t len)
{
    txs_buf_truncate(scratch, 0);
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)s[i];
        size_t n = 1;
        if (ch >= 0x80) {
            for (n = 2; n <= 4; n++)
                if (i + n <= len && txs_utf8_valid(s + i, n))
                    break;
            if (n > 4) {
                txs_buf_append(scratch, "\xEF\xBF\xBD", 3);
                i++;
                continue;
            }
        }
        txs_buf_append(scratch, s + i, n);
        i += n;
    }
}

static void put_text(txs_buf_t *out, const char *s, size_t len, bool check_utf8, txs_buf_t *scratch)
{
    if (check_utf8 && !txs_utf8_valid(s, len)) {
        utf8_repair(scratch, s, len);
        txs_json_put_string(out, scratch->data, scratch->len);
    } else {
        txs_json_put_string(out, s, len);
    }
}

/* bytea's text form: "\x" and hex (bytea_output = hex, which the driver pins), or the
 * escape format if a session set it (then libpq decodes, allocating). */
static void put_bytea(txs_buf_t *out, const char *s, size_t len, txs_buf_t *scratch)
{
    if (len >= 2 && s[0] == '\\' && s[1] == 'x' && len % 2 == 0) {
        size_t n = (len - 2) / 2;
        unsigned char *p = (unsigned char *)txs_buf_reserve(scratch, n + 1);
        size_t i;
        for (i = 0; i < n; i++) {
            int hi = txs_hex_digit(s[2 + 2 * i]), lo = txs_hex_digit(s[3 + 2 * i]);
            if (hi < 0 || lo < 0)
                break;
            p[i] = (unsigned char)(hi << 4 | lo);
        }
        if (i == n) {
            txs_json_put_base64(out, p, n);
            return;
        }
    }
    size_t n = 0;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)s, &n);
    if (!raw) {
        fprintf(stderr, "txscope: out of memory decoding bytea\n");
        abort();
    }
    txs_json_put_base64(out, raw, n);
    PQfreemem(raw);
}

/* A lower bound of what the value's encoding adds, to refuse a huge value before
 * copying it. */
static size_t min_encoded(enum vkind k, size_t len)
{
    switch (k) {
    case V_BYTEA:
        return len >= 2 ? (len - 2) / 2 / 3 * 4 + 2 : 2;
    case V_JSON:
        return 1; /* compacting may drop any amount of whitespace */
    case V_BOOL:
        return 4;
    default:
        return len;
    }
}

static void put_value(txs_buf_t *out, enum vkind k, const char *v, size_t len, bool check_utf8,
                      txs_buf_t *scratch)
{
    switch (k) {
    case V_BOOL:
        txs_buf_puts(out, v[0] == 't' ? "true" : "false");
        return;
    case V_INT:
        txs_buf_append(out, v, len);
        return;
    case V_FLOAT:
        /* Digits, or NaN / Infinity / -Infinity which JSON has no number for. */
        if ((v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9'))
            txs_buf_append(out, v, len);
        else
            txs_json_put_string(out, v, len);
        return;
    case V_JSON:
        if (check_utf8 && !txs_utf8_valid(v, len)) {
            utf8_repair(scratch, v, len);
            txs_json_put_compact(out, scratch->data, scratch->len);
        } else {
            txs_json_put_compact(out, v, len);
        }
        return;
    case V_BYTEA:
        put_bytea(out, v, len, scratch);
        return;
    case V_TEXT:
        put_text(out, v, len, check_utf8, scratch);
        return;
    }
}

int txs_pg_encode_result(const PGresult *res, const txs_pg_typemap_t *user, bool check_utf8,
                         txs_buf_t *scratch, txs_buf_t *out, size_t max_len)
{
    size_t start = out->len;
    /* PQcmdStatus and PQcmdTuples only read the result; their prototypes lack const. */
    PGresult *r = (PGresult *)res;
    int nfields = PQnfields(res), ntuples = PQntuples(res);

    const char *status = PQcmdStatus(r);
    txs_buf_puts(out, "\"command\":");
    txs_json_put_string(out, status, txs_pg_command_len(status));
    const char *tuples = PQcmdTuples(r);
    txs_buf_puts(out, ",\"rowCount\":");
    if (tuples[0])
        txs_buf_puts(out, tuples);
    else
        txs_buf_put_int(out, ntuples);

    txs_buf_puts(out, ",\"fields\":[");
    for (int f = 0; f < nfields; f++) {
        char numbuf[16];
        const char *name = PQfname(res, f);
        txs_buf_puts(out, f ? ",{\"name\":" : "{\"name\":");
        put_text(out, name, strlen(name), check_utf8, scratch);
        txs_buf_puts(out, ",\"type\":");
        const char *type = txs_pg_type_name(PQftype(res, f), user, numbuf);
        put_text(out, type, strlen(type), check_utf8, scratch);
        txs_buf_putc(out, '}');
    }
    txs_buf_puts(out, "],\"rows\":[");
    if (out->len > max_len)
        goto too_big;

    for (int t = 0; t < ntuples; t++) {
        txs_buf_puts(out, t ? ",[" : "[");
        for (int f = 0; f < nfields; f++) {
            if (f)
                txs_buf_putc(out, ',');
            if (PQgetisnull(res, t, f)) {
                txs_buf_puts(out, "null");
                continue;
            }
            enum vkind k = kind_of(PQftype(res, f));
            size_t len = (size_t)PQgetlength(res, t, f);
            if (out->len + min_encoded(k, len) > max_len)
                goto too_big;
            put_value(out, k, PQgetvalue(res, t, f), len, check_utf8, scratch);
            if (out->len > max_len)
                goto too_big;
        }
        txs_buf_putc(out, ']');
    }
    txs_buf_putc(out, ']');
    if (out->len > max_len)
        goto too_big;
    txs_buf_truncate(scratch, 0);
    txs_buf_shrink(scratch, 64 * 1024);
    return TXS_OK;

too_big:
    txs_buf_truncate(out, start);
    txs_buf_truncate(scratch, 0);
    txs_buf_shrink(scratch, 64 * 1024);
    return TXS_ETOOBIG;
}
