/* pg_reset.c - the PostgreSQL driver's reset (ROLLBACK, DISCARD ALL) and ping. */

/* reset() costs nothing when the connection is idle and clean, one ROLLBACK when only a
 * transaction is open, and a DISCARD ALL (after the ROLLBACK: it cannot run inside a
 * transaction) when the session may hold state: a statement drivers/pg_state.h flags, a
 * notification (LISTEN is on), or a setting the server reports (DateStyle, TimeZone,
 * session_authorization, ...) that differs from its value when the connection was
 * clean, which also catches a SET inside a function for those. DISCARD ALL keeps the
 * settings of the startup packet (DateStyle=ISO, TimeZone=UTC, ...): RESET goes back to
 * them. */
#include <stdio.h>
#include <string.h>

#include "drivers/pg_conn.h"
#include "protocol/errors.h"

/* The settings PostgreSQL reports whenever they change (ParameterStatus) and a session
 * can change; the server's version, encoding and hot standby status are left out. */
static const char *const reported[] = {
    "DateStyle",
    "TimeZone",
    "IntervalStyle",
    "client_encoding",
    "application_name",
    "session_authorization",
    "is_superuser",
    "standard_conforming_strings",
    "default_transaction_read_only",
};
#define NREPORTED (sizeof reported / sizeof reported[0])

static const char *param(txs_dconn_t *c, size_t i)
{
    const char *v = PQparameterStatus(c->pg, reported[i]);
    return v ? v : "";
}

void txs_pg_params_keep(txs_dconn_t *c)
{
    txs_buf_truncate(&c->params0, 0);
    for (size_t i = 0; i < NREPORTED; i++) {
        const char *v = param(c, i);
        txs_buf_append(&c->params0, v, strlen(v) + 1);
    }
}

/* A reported setting is not what it was when the connection was clean. */
static bool params_changed(txs_dconn_t *c)
{
    const char *kept = c->params0.data;
    for (size_t i = 0; i < NREPORTED; i++) {
        const char *v = param(c, i);
        if (!kept || strcmp(v, kept) != 0)
            return true;
        kept += strlen(kept) + 1;
    }
    return false;
}

static bool needs_discard(txs_dconn_t *c)
{
    /* cache.overflowed: statements the cache let go of are still on the server */
    return c->reset_full || c->dirty || c->cache.overflowed || params_changed(c);
}

/* ---- reset ---- */

static const txs_stmt_t rollback_stmt = {.sql = "ROLLBACK", .sql_len = 8};
static const txs_stmt_t discard_stmt = {.sql = "DISCARD ALL", .sql_len = 11};

static void reset_report(txs_dconn_t *c, txs_drv_status_t st)
{
    c->user_cb(c, st, c->user_arg);
}

static void on_discarded(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)arg;
    if (st == TXS_DRV_OK) {
        c->dirty = false;
        txs_pg_cache_clear(&c->cache); /* DISCARD ALL deallocated its statements */
        txs_pg_params_keep(c);         /* as the startup packet set them: the clean state */
    }
    reset_report(c, st);
}

static void on_rolled_back(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)arg;
    if (st == TXS_DRV_OK && needs_discard(c)) {
        /* In the callback the connection is idle again: run() only fails on a state it
         * cannot be in here, and then the connection is not to be trusted. */
        int rc = txs_pg_conn_run(c, &discard_stmt, on_discarded, NULL);
        if (rc == TXS_OK)
            return;
        txs_pg_conn_set_error(c, "XX000", "could not send DISCARD ALL");
        st = TXS_DRV_DB_ERROR;
    }
    reset_report(c, st);
}

int txs_pg_reset(txs_dconn_t *c, bool full, txs_drv_cb cb, void *arg)
{
    if (c->state == PG_DEAD)
        return txs_pg_conn_run(c, &rollback_stmt, cb, arg); /* TXS_ELOST, or cb with LOST */
    txs_drv_txstatus_t st = txs_pg_tx_status(c);
    if (st != TXS_DRV_TX_IDLE && st != TXS_DRV_TX_INTRANS && st != TXS_DRV_TX_INERROR)
        return TXS_ESTATE;
    c->reset_full = full;
    if (st == TXS_DRV_TX_IDLE && !needs_discard(c))
        return 1;
    c->user_cb = cb;
    c->user_arg = arg;
    /* Whether a DISCARD ALL follows the ROLLBACK is decided after it: a SET LOCAL of a
     * reported setting shows until the transaction ends. */
    if (st != TXS_DRV_TX_IDLE)
        return txs_pg_conn_run(c, &rollback_stmt, on_rolled_back, NULL);
    return txs_pg_conn_run(c, &discard_stmt, on_discarded, NULL);
}

/* ---- ping ---- */

static void on_pinged(txs_dconn_t *c, txs_drv_status_t st, void *arg)
{
    (void)arg;
    c->pinging = false;
    uv_timer_stop(&c->timer);
    /* Any answer, an error too (a late cancel request, a failed transaction), says the
     * server is there. */
    c->user_cb(c, st == TXS_DRV_LOST ? TXS_DRV_LOST : TXS_DRV_OK, c->user_arg);
}

void txs_pg_ping_expired(txs_dconn_t *c)
{
    char msg[96];
    snprintf(msg, sizeof msg, "no answer to ping within %llu ms", (unsigned long long)c->ping_ms);
    c->fatal_msg[0] = '\0'; /* the reason is the silence, not an older message */
    txs_pg_conn_lost(c, "08006", msg, false);
}

int txs_pg_ping(txs_dconn_t *c, uint64_t timeout_ms, txs_drv_cb cb, void *arg)
{
    int rc;
    if (!txs_pg_conn_begin_op(c, cb, arg, false, &rc))
        return rc;
    c->user_cb = cb;
    c->user_arg = arg;
    c->op_cb = on_pinged;
    c->op_arg = NULL;
    c->pinging = true;
    c->ping_ms = timeout_ms;
    /* An empty query: the server parses nothing and answers EmptyQueryResponse and
     * ReadyForQuery, one round trip. A cancel request still under way cannot hurt it. */
    if (!PQsendQuery(c->pg, ";")) {
        txs_pg_conn_set_error(c, "08006", PQerrorMessage(c->pg));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
        return TXS_OK;
    }
    c->state = PG_RUNNING;
    if (txs_pg_conn_flush(c) < 0) {
        txs_pg_conn_set_error(c, "08006", PQerrorMessage(c->pg));
        txs_pg_conn_defer(c, TXS_DRV_LOST);
        return TXS_OK;
    }
    if (timeout_ms > 0)
        txs_pg_conn_timer(c, timeout_ms);
    return TXS_OK;
}
