/* workload.c - the request lines of the bench's workloads, written without printf. */
#include "bench/txscope-bench/workload.h"

#include <string.h>

/* The statements of pgbench's TPC-B-like script, with their parameters in order. */
enum { P_AID, P_TID, P_BID, P_DELTA, P_END };

typedef struct stmt {
    const char *sql;
    unsigned char params[5]; /* P_* up to P_END */
} stmt_t;

#define SQL_SELECT "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
#define SQL_UPD_ACCOUNTS "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2"

static const stmt_t tpcb[5] = {
    {SQL_UPD_ACCOUNTS, {P_DELTA, P_AID, P_END}},
    {SQL_SELECT, {P_AID, P_END}},
    {"UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2", {P_DELTA, P_TID, P_END}},
    {"UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
     {P_DELTA, P_BID, P_END}},
    {"INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, "
     "CURRENT_TIMESTAMP)",
     {P_TID, P_BID, P_AID, P_DELTA, P_END}},
};

static const stmt_t sel = {SQL_SELECT, {P_AID, P_END}};
static const stmt_t upd = {SQL_UPD_ACCOUNTS, {P_DELTA, P_AID, P_END}};

static const char *const names[] = {"select", "tx3", "tpcb", "batch"};

bool txs_workload_parse(const char *name, txs_workload_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (txs_workload_t)i;
            return true;
        }
    }
    return false;
}

const char *txs_workload_name(txs_workload_t w)
{
    return names[w];
}

int txs_workload_steps(txs_workload_t w)
{
    static const int steps[] = {1, 4, 6, 1};
    return steps[w];
}

bool txs_workload_needs_rollback(txs_workload_t w)
{
    return w == TXS_WL_TX3 || w == TXS_WL_TPCB;
}

uint64_t txs_rng_next(txs_rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int64_t txs_rng_range(txs_rng_t *r, int64_t lo, int64_t hi)
{
    /* Multiply-shift (Lemire): the bias for ranges this small is below 2^-40. */
    uint64_t span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(((unsigned __int128)txs_rng_next(r) * span) >> 64);
}

void txs_workload_draw(txs_rng_t *r, int64_t scale, txs_wl_vals_t *v)
{
    v->aid = txs_rng_range(r, 1, 100000 * scale);
    v->tid = txs_rng_range(r, 1, 10 * scale);
    v->bid = txs_rng_range(r, 1, scale);
    v->delta = txs_rng_range(r, -5000, 5000);
}

/* ---- a writer that cannot overflow: on overflow it only marks itself full ---- */

typedef struct out {
    char *p, *end;
    bool full;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->full || (size_t)(o->end - o->p) < n) {
        o->full = true;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

#define PUT_LIT(o, s) put((o), s, sizeof s - 1)

static void put_str(out_t *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    char *t = tmp + sizeof tmp;
    do
        *--t = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    put(o, t, (size_t)(tmp + sizeof tmp - t));
}

static void put_i64(out_t *o, int64_t v)
{
    if (v < 0) {
        PUT_LIT(o, "-");
        put_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(o, (uint64_t)v);
    }
}

/* "sql":"...","params":[...] */
static void put_stmt(out_t *o, const stmt_t *s, const txs_wl_vals_t *v)
{
    PUT_LIT(o, "\"sql\":\"");
    put_str(o, s->sql);
    PUT_LIT(o, "\",\"params\":[");
    for (int i = 0; s->params[i] != P_END; i++) {
        if (i > 0)
            PUT_LIT(o, ",");
        const int64_t vals[] = {v->aid, v->tid, v->bid, v->delta};
        put_i64(o, vals[s->params[i]]);
    }
    PUT_LIT(o, "]");
}

static void put_query(out_t *o, const stmt_t *s, const txs_wl_vals_t *v, bool autocommit)
{
    PUT_LIT(o, ",\"op\":\"query\",");
    put_stmt(o, s, v);
    if (autocommit)
        PUT_LIT(o, ",\"autocommit\":true");
}

static void put_head(out_t *o, uint64_t id, const char *ctx_part, size_t ctx_len)
{
    PUT_LIT(o, "{\"id\":");
    put_u64(o, id);
    put(o, ctx_part, ctx_len);
}

static size_t finish(out_t *o, char *buf)
{
    PUT_LIT(o, "}\n");
    return o->full ? 0 : (size_t)(o->p - buf);
}

size_t txs_workload_format(txs_workload_t w, int step, const txs_wl_vals_t *v, uint64_t id,
                           const char *ctx_part, size_t ctx_len, char *buf, size_t cap)
{
    out_t o = {buf, buf + cap, false};
    put_head(&o, id, ctx_part, ctx_len);
    switch (w) {
    case TXS_WL_SELECT:
        put_query(&o, &sel, v, true);
        break;
    case TXS_WL_TX3:
        if (step == 0)
            PUT_LIT(&o, ",\"op\":\"begin\"");
        else if (step == 3)
            PUT_LIT(&o, ",\"op\":\"commit\"");
        else
            put_query(&o, step == 1 ? &sel : &upd, v, false);
        break;
    case TXS_WL_TPCB:
        if (step == 5)
            PUT_LIT(&o, ",\"op\":\"commit\"");
        else
            put_query(&o, &tpcb[step], v, false);
        break;
    case TXS_WL_BATCH:
        PUT_LIT(&o, ",\"op\":\"batch\",\"statements\":[");
        for (int i = 0; i < 5; i++) {
            if (i > 0)
                PUT_LIT(&o, ",");
            PUT_LIT(&o, "{");
            put_stmt(&o, &tpcb[i], v);
            PUT_LIT(&o, "}");
        }
        PUT_LIT(&o, "]");
        break;
    }
    return finish(&o, buf);
}

size_t txs_workload_rollback(uint64_t id, const char *ctx_part, size_t ctx_len, char *buf,
                             size_t cap)
{
    out_t o = {buf, buf + cap, false};
    put_head(&o, id, ctx_part, ctx_len);
    PUT_LIT(&o, ",\"op\":\"rollback\"");
    return finish(&o, buf);
}
