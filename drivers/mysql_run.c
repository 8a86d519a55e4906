/* mysql_run.c - the library calls that run statements, one after the other: text or prepared,
 * their results, the errors that end them; the reset and rollback of reset(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/mysql_conn.h"
#include "drivers/mysql_text.h"

/* Right after connecting and after every reset: values get one text form (TIMESTAMP in
 * UTC), and the server flags statements that change the session. */
#define SETUP_SQL "SET SESSION session_track_state_change=ON, time_zone='+00:00'"

static int start_stmt(txs_dconn_t *c);

/* ---- errors ---- */

void txs_my_set_error(txs_dconn_t *c, const char *code, unsigned vendor, const char *msg,
                      bool from_db)
{
    memset(&c->err, 0, sizeof c->err);
    snprintf(c->errcode, sizeof c->errcode, "%.5s", code && strlen(code) == 5 ? code : "HY000");
    snprintf(c->errmsg, sizeof c->errmsg, "%s", msg && *msg ? msg : "connection lost");
    c->err.code = c->errcode;
    c->err.message = c->errmsg;
    c->err.vendor_code = (int)vendor;
    c->err.from_db = from_db;
}

/* The client library's "Can't connect to server on 'h' (111)" with the errno's text. */
static void explain_connect_error(txs_dconn_t *c, unsigned err)
{
    size_t n = strlen(c->errmsg);
    if ((err != 2002 && err != 2003) || n < 3 || c->errmsg[n - 1] != ')')
        return;
    char *open = strrchr(c->errmsg, '(');
    int e = open ? atoi(open + 1) : 0;
    if (e > 0 && open[1] >= '0' && open[1] <= '9')
        snprintf(open, sizeof c->errmsg - (size_t)(open - c->errmsg), "(%d \"%s\")", e,
                 strerror(e));
}

/* Whether error `err` ended the connection rather than the statement. */
static bool connection_gone(txs_dconn_t *c, unsigned err)
{
    switch (err) {
    case 2006: /* CR_SERVER_GONE_ERROR */
    case 2013: /* CR_SERVER_LOST */
    case 2055: /* CR_SERVER_LOST_EXTENDED */
    case 2014: /* CR_COMMANDS_OUT_OF_SYNC: the protocol is lost */
    case 2027: /* CR_MALFORMED_PACKET */
    case 1053: /* ER_SERVER_SHUTDOWN */
    case 1927: /* ER_CONNECTION_KILLED */
        return true;
    default:
        return (int)mysql_get_socket(c->my) < 0;
    }
}

/* The failure of the connection's last call (or the statement's, from_stmt). */
static void take_error(txs_dconn_t *c, bool from_stmt)
{
    unsigned err = from_stmt ? mysql_stmt_errno(c->stmt) : mysql_errno(c->my);
    const char *state = from_stmt ? mysql_stmt_sqlstate(c->stmt) : mysql_sqlstate(c->my);
    const char *msg = from_stmt ? mysql_stmt_error(c->stmt) : mysql_error(c->my);
    c->fail_lost = connection_gone(c, err);
    txs_my_set_error(c, c->fail_lost ? "08006" : state, err, msg, !c->fail_lost);
    c->failed = true;
}

/* ---- the library calls ---- */

/* Continue the call under way with what happened (MYSQL_WAIT_*); its wait mask, or 0. */
int txs_my_run_cont(txs_dconn_t *c, int events)
{
    switch (c->call) {
    case CALL_CONNECT:
        return mysql_real_connect_cont(&c->ret_my, c->my, events);
    case CALL_QUERY:
        return mysql_real_query_cont(&c->ret_int, c->my, events);
    case CALL_STORE:
        return mysql_store_result_cont(&c->ret_res, c->my, events);
    case CALL_NEXT:
        return mysql_next_result_cont(&c->ret_int, c->my, events);
    case CALL_PREPARE:
        return mysql_stmt_prepare_cont(&c->ret_int, c->stmt, events);
    case CALL_EXECUTE:
        return mysql_stmt_execute_cont(&c->ret_int, c->stmt, events);
    case CALL_STMT_STORE:
        return mysql_stmt_store_result_cont(&c->ret_int, c->stmt, events);
    case CALL_STMT_NEXT:
        return mysql_stmt_next_result_cont(&c->ret_int, c->stmt, events);
    case CALL_STMT_CLOSE:
        return mysql_stmt_close_cont(&c->ret_bool, c->stmt, events);
    case CALL_ROLLBACK:
        return mysql_rollback_cont(&c->ret_bool, c->my, events);
    case CALL_RESET:
        return mysql_reset_connection_cont(&c->ret_int, c->my, events);
    case CALL_PING:
        return mysql_ping_cont(&c->ret_int, c->my, events);
    default:
        return 0;
    }
}

/* End a suspended call at once: each read or write it waits for is told it timed out,
 * so it fails (the library then drops the connection). For close(). */
void txs_my_run_abort(txs_dconn_t *c)
{
    for (int i = 0; c->call != CALL_NONE && i < 100; i++)
        if (txs_my_run_cont(c, MYSQL_WAIT_TIMEOUT) == 0) {
            if (c->call == CALL_STMT_CLOSE)
                c->stmt = NULL; /* freed by the close */
            c->call = CALL_NONE;
        }
    if (c->ret_res) {
        mysql_free_result(c->ret_res);
        c->ret_res = NULL;
    }
}

/* ---- statements ---- */

static txs_my_result_t *cur_result(txs_dconn_t *c)
{
    return c->setup ? &c->own : &c->results[c->cur];
}

/* The statement is over (c->failed tells how): close its prepared statement, then go on
 * with the next one or report. Returns a wait mask, or -1 when nothing more is under way. */
static int stmt_end(txs_dconn_t *c)
{
    if (c->stmt) {
        c->call = CALL_STMT_CLOSE;
        return mysql_stmt_close_start(&c->ret_bool, c->stmt);
    }
    if (c->failed) {
        c->setup = false;
        if (c->op == OP_CONNECT || c->fail_lost) {
            memcpy(c->errcode, c->op == OP_CONNECT ? "08001" : "08006", 6);
            c->err.from_db = false;
            txs_my_conn_lost(c, false);
            return -1;
        }
        if (c->op == OP_BATCH) {
            c->err.has_index = true;
            c->err.index = c->cur;
        }
        txs_my_conn_finish(c, TXS_DRV_DB_ERROR);
        return -1;
    }
    if (c->setup) {
        c->setup = false;
        c->dirty = false;
        if (c->op == OP_CONNECT)
            uv_timer_stop(&c->timer);
        txs_my_conn_finish(c, TXS_DRV_OK);
        return -1;
    }
    if (c->sent && (c->my->server_status & SERVER_SESSION_STATE_CHANGED))
        c->dirty = true;
    if (c->my->server_status & SERVER_STATUS_IN_TRANS)
        c->tx_pending = false; /* the transaction it was for has begun */
    if (++c->cur < c->n)
        return start_stmt(c);
    txs_my_conn_finish(c, TXS_DRV_OK);
    return -1;
}

/* The op was cancelled before its next step: it stops here. */
static int stmt_canceled(txs_dconn_t *c)
{
    txs_my_set_error(c, "70100", 1317, "Query execution was interrupted", false);
    c->failed = true;
    c->fail_lost = false;
    return stmt_end(c);
}

static int fail(txs_dconn_t *c, bool from_stmt)
{
    take_error(c, from_stmt);
    return stmt_end(c);
}

static int start_query(txs_dconn_t *c, const char *sql, size_t len)
{
    c->sent = true;
    c->call = CALL_QUERY;
    return mysql_real_query_start(&c->ret_int, c->my, sql, len);
}

/* The set-up statement, after connecting or a reset. */
static int start_setup(txs_dconn_t *c)
{
    c->setup = true;
    c->failed = false;
    txs_my_result_clear(&c->own);
    return start_query(c, SETUP_SQL, sizeof SETUP_SQL - 1);
}

/* Bind the parameters of statement s to c->stmt by their JSON kind. */
static int bind_params(txs_dconn_t *c, const txs_stmt_t *s)
{
    int n = s->nparams;
    if (n > c->param_cap) {
        c->params = txs_xrealloc(c->params, (size_t)n * sizeof *c->params);
        c->nums = txs_xrealloc(c->nums, (size_t)n * sizeof *c->nums);
        c->plens = txs_xrealloc(c->plens, (size_t)n * sizeof *c->plens);
        c->param_cap = n;
    }
    for (int i = 0; i < n; i++) {
        MYSQL_BIND *b = &c->params[i];
        memset(b, 0, sizeof *b);
        const char *v = s->values[i];
        if (!v) {
            b->buffer_type = MYSQL_TYPE_NULL;
            continue;
        }
        c->plens[i] = (unsigned long)strlen(v);
        int64_t i64 = 0;
        uint64_t u64 = 0;
        switch (s->kinds ? s->kinds[i] : TXS_PARAM_TEXT) {
        case TXS_PARAM_BOOL: /* MySQL's TRUE and FALSE are 1 and 0 */
            c->nums[i].i = v[0] == 't';
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &c->nums[i];
            continue;
        case TXS_PARAM_NUMBER:
            switch (txs_mysql_number_kind(v, c->plens[i], &i64, &u64)) {
            case TXS_MYSQL_NUM_INT: /* an integer, so that LIMIT ? takes it */
                c->nums[i].i = i64;
                b->buffer_type = MYSQL_TYPE_LONGLONG;
                b->buffer = &c->nums[i];
                continue;
            case TXS_MYSQL_NUM_UINT:
                c->nums[i].u = u64;
                b->buffer_type = MYSQL_TYPE_LONGLONG;
                b->is_unsigned = 1;
                b->buffer = &c->nums[i];
                continue;
            case TXS_MYSQL_NUM_DECIMAL: /* exact: its text, never through a double */
                b->buffer_type = MYSQL_TYPE_NEWDECIMAL;
                break;
            }
            break;
        default:
            b->buffer_type = MYSQL_TYPE_STRING;
            break;
        }
        b->buffer = (void *)v;
        b->buffer_length = c->plens[i];
        b->length = &c->plens[i];
    }
    return mysql_stmt_bind_param(c->stmt, c->params) ? -1 : 0;
}

static int start_stmt(txs_dconn_t *c)
{
    const txs_stmt_t *s = &c->stmts[c->cur];
    txs_my_result_t *r = cur_result(c);
    txs_my_result_clear(r);
    c->failed = false;
    c->sent = false;
    if (c->cancel_wanted)
        return stmt_canceled(c);
    if (txs_mysql_sql_start(s->sql, s->sql_len) == s->sql_len)
        return stmt_end(c); /* empty: command "", as PostgreSQL answers */
    txs_mysql_sql_keyword(s->sql, s->sql_len, r->command, sizeof r->command);
    if (txs_mysql_sql_changes_session(s->sql, s->sql_len))
        c->dirty = true;
    if (txs_mysql_sql_sets_next_tx(s->sql, s->sql_len))
        c->tx_pending = true; /* set before it runs: a kill may stop what follows */
    if (s->nparams == 0)
        return start_query(c, s->sql, s->sql_len);
    c->stmt = mysql_stmt_init(c->my);
    if (!c->stmt) {
        fprintf(stderr, "txscope: out of memory preparing a MySQL statement\n");
        abort();
    }
    c->sent = true;
    c->call = CALL_PREPARE;
    return mysql_stmt_prepare_start(&c->ret_int, c->stmt, s->sql, s->sql_len);
}

/* More results (a CALL's): the next one, else the statement is done. */
static int more_results(txs_dconn_t *c)
{
    if (c->stmt) {
        if (mysql_stmt_more_results(c->stmt)) {
            c->call = CALL_STMT_NEXT;
            return mysql_stmt_next_result_start(&c->ret_int, c->stmt);
        }
    } else if (mysql_more_results(c->my)) {
        c->call = CALL_NEXT;
        return mysql_next_result_start(&c->ret_int, c->my);
    }
    return stmt_end(c);
}

/* A result without rows: its counts, unless a result set came first. */
static void take_status(txs_dconn_t *c)
{
    txs_my_result_t *r = cur_result(c);
    if (r->has_set)
        return;
    if (c->stmt) {
        r->count = mysql_stmt_affected_rows(c->stmt);
        r->insert_id = mysql_stmt_insert_id(c->stmt);
    } else {
        r->count = mysql_affected_rows(c->my);
        r->insert_id = mysql_insert_id(c->my);
    }
    if (r->count == (uint64_t)-1)
        r->count = 0;
}

/* mysql_real_query or mysql_next_result succeeded: a result set to store, or counts. */
static int text_result(txs_dconn_t *c)
{
    if (mysql_field_count(c->my) > 0) {
        c->call = CALL_STORE;
        return mysql_store_result_start(&c->ret_res, c->my);
    }
    take_status(c);
    return more_results(c);
}

/* After prepare: bind, then execute unless cancelled. */
static int prepared(txs_dconn_t *c)
{
    const txs_stmt_t *s = &c->stmts[c->cur];
    unsigned long want = mysql_stmt_param_count(c->stmt);
    if (want != (unsigned long)s->nparams) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the statement has %lu parameter marker%s but %d parameter%s given", want,
                 want == 1 ? "" : "s", s->nparams, s->nparams == 1 ? " was" : "s were");
        txs_my_set_error(c, "08P01", 0, msg, false);
        c->failed = true;
        c->fail_lost = false;
        return stmt_end(c);
    }
    if (bind_params(c, s) < 0)
        return fail(c, true);
    if (c->cancel_wanted)
        return stmt_canceled(c);
    c->call = CALL_EXECUTE;
    return mysql_stmt_execute_start(&c->ret_int, c->stmt);
}

/* After execute or mysql_stmt_next_result: a result set to store, or counts. */
static int stmt_result(txs_dconn_t *c)
{
    if (mysql_stmt_field_count(c->stmt) > 0) {
        c->call = CALL_STMT_STORE;
        return mysql_stmt_store_result_start(&c->ret_int, c->stmt);
    }
    take_status(c);
    return more_results(c);
}

static int stmt_stored(txs_dconn_t *c)
{
    txs_my_result_t *r = cur_result(c);
    if (!r->has_set) {
        MYSQL_RES *meta = mysql_stmt_result_metadata(c->stmt);
        int rc = meta ? txs_my_result_take_stmt(r, c->stmt, meta) : 1;
        if (meta)
            mysql_free_result(meta);
        if (rc)
            return fail(c, true);
    }
    return more_results(c);
}

/* What comes after the call that just finished. Returns the next call's wait mask (0:
 * it finished too), or -1 when nothing more is under way. */
static int after(txs_dconn_t *c, my_call_t done)
{
    switch (done) {
    case CALL_CONNECT:
        if (!c->ret_my) {
            take_error(c, false);
            explain_connect_error(c, mysql_errno(c->my));
            memcpy(c->errcode, "08001", 6);
            c->err.from_db = false;
            txs_my_conn_lost(c, false);
            return -1;
        }
        return start_setup(c);
    case CALL_QUERY:
        if (c->ret_int)
            return fail(c, false);
        return text_result(c);
    case CALL_STORE:
        if (!c->ret_res) {
            if (mysql_errno(c->my))
                return fail(c, false); /* e.g. killed while sending rows: 1317 */
            return more_results(c);
        }
        if (cur_result(c)->has_set)
            mysql_free_result(c->ret_res); /* a CALL's later result set */
        else
            txs_my_result_take_text(cur_result(c), c->ret_res);
        c->ret_res = NULL;
        return more_results(c);
    case CALL_NEXT:
        if (c->ret_int > 0)
            return fail(c, false);
        return c->ret_int < 0 ? stmt_end(c) : text_result(c);
    case CALL_PREPARE:
        return c->ret_int ? fail(c, true) : prepared(c);
    case CALL_EXECUTE:
        return c->ret_int ? fail(c, true) : stmt_result(c);
    case CALL_STMT_STORE:
        return c->ret_int ? fail(c, true) : stmt_stored(c);
    case CALL_STMT_NEXT:
        if (c->ret_int > 0)
            return fail(c, true);
        if (c->ret_int < 0) {
            c->call = CALL_STMT_CLOSE;
            return mysql_stmt_close_start(&c->ret_bool, c->stmt);
        }
        return stmt_result(c);
    case CALL_STMT_CLOSE:
        c->stmt = NULL; /* freed, whatever it returned: the error (if any) is taken */
        return stmt_end(c);
    case CALL_ROLLBACK:
        if (c->ret_bool)
            return fail(c, false);
        txs_my_conn_finish(c, TXS_DRV_OK);
        return -1;
    case CALL_RESET:
        if (c->ret_int)
            return fail(c, false);
        return start_setup(c);
    case CALL_PING:
        uv_timer_stop(&c->timer); /* the ping's deadline */
        if (c->ret_int) {
            take_error(c, false);
            if (c->fail_lost) {
                txs_my_conn_lost(c, false);
                return -1;
            }
        }
        txs_my_conn_finish(c, TXS_DRV_OK); /* the server answered, if with an error */
        return -1;
    default:
        return -1;
    }
}

/* Go on from a call's wait mask st (0: it finished) until something must be waited for. */
void txs_my_run_drive(txs_dconn_t *c, int st)
{
    while (st >= 0) {
        if (st > 0) {
            int r = txs_my_io_wait(&c->io, st);
            if (r) {
                txs_my_set_error(c, c->state == MY_CONNECTING ? "08001" : "08006", 0,
                                 uv_strerror(r), false);
                txs_my_conn_lost(c, false);
            }
            return;
        }
        my_call_t done = c->call;
        c->call = CALL_NONE;
        st = after(c, done);
    }
}

int txs_my_run_start(txs_dconn_t *c)
{
    if (c->op == OP_RESET) {
        c->tx_pending = false; /* either call clears it; if it fails, c is closed */
        if (c->dirty || c->reset_full) {
            c->call = CALL_RESET;
            return mysql_reset_connection_start(&c->ret_int, c->my);
        }
        c->call = CALL_ROLLBACK;
        return mysql_rollback_start(&c->ret_bool, c->my);
    }
    if (c->op == OP_PING) {
        c->call = CALL_PING;
        return mysql_ping_start(&c->ret_int, c->my);
    }
    c->stmts = txs_stmt_copy_get(&c->held);
    return start_stmt(c);
}
