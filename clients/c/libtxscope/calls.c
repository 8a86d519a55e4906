/* calls.c - libtxscope's request helpers (call, query, op, hello, ping) and reply readers. */
#include <string.h>

#include "clients/c/libtxscope/internal.h"

cJSON *txscope_call(txscope_conn_t *c, cJSON *req, int timeout_ms)
{
    if (txscope_send(c, req, NULL) != 0)
        return NULL;
    return txscope__wait_for(c, cJSON_GetObjectItemCaseSensitive(req, "id"), timeout_ms);
}

/* Builds {"op":op,"ctx":ctx} (ctx omitted when NULL). */
static cJSON *request(txscope_conn_t *c, const char *op, const char *ctx)
{
    cJSON *req = cJSON_CreateObject();
    if (req == NULL || cJSON_AddStringToObject(req, "op", op) == NULL ||
        (ctx != NULL && cJSON_AddStringToObject(req, "ctx", ctx) == NULL)) {
        cJSON_Delete(req);
        txscope__fail(c, TXSCOPE_ENOMEM, "out of memory");
        return NULL;
    }
    return req;
}

static cJSON *call_and_free(txscope_conn_t *c, cJSON *req, int timeout_ms)
{
    cJSON *reply = txscope_call(c, req, timeout_ms);
    cJSON_Delete(req);
    return reply;
}

cJSON *txscope_query(txscope_conn_t *c, const char *ctx, const char *sql, const char *params_json,
                     int timeout_ms)
{
    cJSON *params = NULL;
    if (params_json != NULL) {
        params = cJSON_Parse(params_json);
        if (!cJSON_IsArray(params)) {
            cJSON_Delete(params);
            txscope__fail(c, TXSCOPE_EINVAL, "params is not a JSON array: %.80s", params_json);
            return NULL;
        }
        /* So that 64-bit integers reach the daemon with all their digits. */
        txscope__keep_number_text(params, params_json);
    }
    cJSON *req = request(c, "query", ctx);
    if (req == NULL || cJSON_AddStringToObject(req, "sql", sql) == NULL) {
        cJSON_Delete(params);
        cJSON_Delete(req);
        txscope__fail(c, TXSCOPE_ENOMEM, "out of memory");
        return NULL;
    }
    if (params != NULL)
        cJSON_AddItemToObject(req, "params", params);
    return call_and_free(c, req, timeout_ms);
}

cJSON *txscope_op(txscope_conn_t *c, const char *ctx, const char *op, int timeout_ms)
{
    cJSON *req = request(c, op, ctx);
    return req == NULL ? NULL : call_and_free(c, req, timeout_ms);
}

/* Turns a reply into 0 (ok) or TXSCOPE_EREPLY with "CODE message", and frees it. */
static int check_reply(txscope_conn_t *c, cJSON *reply)
{
    if (reply == NULL)
        return txscope_last_error(c);
    int rc = 0;
    if (!txscope_reply_ok(reply)) {
        const char *code = txscope_reply_code(reply), *msg = txscope_reply_message(reply);
        rc = txscope__fail(c, TXSCOPE_EREPLY, "%s %s", code != NULL ? code : "?????",
                           msg != NULL ? msg : "(no message)");
    }
    cJSON_Delete(reply);
    return rc;
}

int txscope_hello(txscope_conn_t *c, const char *token, int timeout_ms)
{
    cJSON *req = request(c, "hello", NULL);
    if (req == NULL)
        return TXSCOPE_ENOMEM;
    if ((token != NULL && cJSON_AddStringToObject(req, "token", token) == NULL) ||
        cJSON_AddStringToObject(req, "client", "libtxscope/" TXSCOPE_VERSION) == NULL) {
        cJSON_Delete(req);
        return txscope__fail(c, TXSCOPE_ENOMEM, "out of memory");
    }
    return check_reply(c, call_and_free(c, req, timeout_ms));
}

int txscope_ping(txscope_conn_t *c, int timeout_ms)
{
    cJSON *req = request(c, "ping", NULL);
    if (req == NULL)
        return TXSCOPE_ENOMEM;
    return check_reply(c, call_and_free(c, req, timeout_ms));
}

bool txscope_reply_ok(const cJSON *r)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok"));
}

/* A string member of the object member `outer` of r, or NULL. */
static const char *nested_string(const cJSON *r, const char *outer, const char *name)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(r, outer);
    const cJSON *s = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    return cJSON_GetStringValue(s);
}

const char *txscope_reply_code(const cJSON *r)
{
    return nested_string(r, "error", "code");
}

const char *txscope_reply_message(const cJSON *r)
{
    return nested_string(r, "error", "message");
}

const char *txscope_reply_tx_state(const cJSON *r)
{
    return nested_string(r, "tx", "state");
}

int txscope_reply_tx_depth(const cJSON *r)
{
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(r, "tx");
    const cJSON *d = cJSON_IsObject(tx) ? cJSON_GetObjectItemCaseSensitive(tx, "depth") : NULL;
    int64_t v;
    return txscope_get_int64(d, &v) && v >= 0 && v <= INT32_MAX ? (int)v : -1;
}
