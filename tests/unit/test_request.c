/* test_request.c - decoding protocol-v1 request lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/request.h"

Suite *suite_request(void);

static txs_request_t req;
static txs_decode_error_t err;

/* Decodes into the file's request, releasing the previous one first. */
static int decode_len(const char *line, size_t len)
{
    txs_request_free(&req);
    memset(&err, 0x55, sizeof err); /* nothing stale may pass for a result */
    return txs_request_decode(line, len, &req, &err);
}

static int decode(const char *line)
{
    return decode_len(line, strlen(line));
}

static void teardown(void)
{
    txs_request_free(&req);
}

#define DECODE_OK(line)                                                                            \
    do {                                                                                           \
        int rc_ = decode(line);                                                                    \
        ck_assert_msg(rc_ == TXS_OK, "%s: %s", line, rc_ ? err.message : "");                      \
    } while (0)

/* A refused line: its message, and the id the error reply echoes ("" for none). */
#define DECODE_ERR(line, msg, want_id)                                                             \
    do {                                                                                           \
        ck_assert_int_eq(decode(line), TXS_EPROTO);                                                \
        ck_assert_str_eq(err.message, msg);                                                        \
        ck_assert_uint_eq(err.id_len, strlen(want_id));                                            \
        ck_assert(memcmp(err.id, want_id, err.id_len) == 0);                                       \
        ck_assert_ptr_null(req.storage);                                                           \
    } while (0)

#define ID_EQ(text)                                                                                \
    do {                                                                                           \
        ck_assert_uint_eq(req.id_len, strlen(text));                                               \
        ck_assert(memcmp(req.id, text, req.id_len) == 0);                                          \
    } while (0)

/* Parameter k of statement st is the text v (NULL: SQL NULL). */
static void param_is(const txs_stmt_t *st, int k, const char *v)
{
    ck_assert_int_lt(k, st->nparams);
    if (!v) {
        ck_assert_ptr_null(st->values[k]);
        return;
    }
    ck_assert_ptr_nonnull(st->values[k]);
    ck_assert_str_eq(st->values[k], v);
    ck_assert_int_eq(st->lengths[k], (int)strlen(v));
}

/* ---- every op with every field ---- */

START_TEST(test_ping_minimal)
{
    DECODE_OK("{\"op\":\"ping\"}");
    ck_assert_int_eq(req.op, TXS_OP_PING);
    ck_assert_uint_eq(req.id_len, 0);
    ck_assert(!req.has_ctx);
    ck_assert(!req.has_db);
    ck_assert_int_eq(req.read_only, TXS_UNSET);
    ck_assert_int_eq(req.deferrable, TXS_UNSET);
    ck_assert_int_eq(req.isolation, TXS_ISO_DEFAULT);
    ck_assert_ptr_null(req.token);
    ck_assert_ptr_null(req.name);
    ck_assert_int_eq(req.nstmts, 0);
    /* With a ctx, spaces around everything and a CR the framing left in. */
    DECODE_OK(" { \"op\" : \"ping\" , \"ctx\" : \"r1\" } \r");
    ck_assert(req.has_ctx);
    ck_assert_str_eq(req.ctx, "r1");
}
END_TEST

START_TEST(test_hello)
{
    DECODE_OK("{\"op\":\"hello\",\"id\":1,\"token\":\"s3cr\\u00e9t\",\"client\":\"app/1.0\"}");
    ck_assert_int_eq(req.op, TXS_OP_HELLO);
    ID_EQ("1");
    ck_assert_str_eq(req.token, "s3cr\xC3\xA9t");
    ck_assert_str_eq(req.client, "app/1.0");
    ck_assert(!req.has_ctx);
    DECODE_OK("{\"op\":\"hello\"}");
    ck_assert_ptr_null(req.token);
    ck_assert_ptr_null(req.client);
}
END_TEST

START_TEST(test_begin)
{
    DECODE_OK("{\"op\":\"begin\",\"id\":\"b1\",\"ctx\":\"r1\",\"db\":\"main\","
              "\"isolation\":\"Repeatable Read\",\"read_only\":true,\"deferrable\":false,"
              "\"nested\":true,\"join\":false}");
    ck_assert_int_eq(req.op, TXS_OP_BEGIN);
    ID_EQ("\"b1\"");
    ck_assert_str_eq(req.ctx, "r1");
    ck_assert(req.has_db);
    ck_assert_str_eq(req.db, "main");
    ck_assert_int_eq(req.isolation, TXS_ISO_REPEATABLE_READ);
    ck_assert_int_eq(req.read_only, TXS_TRUE);
    ck_assert_int_eq(req.deferrable, TXS_FALSE);
    ck_assert(req.nested);
    ck_assert(!req.join);
    DECODE_OK("{\"op\":\"begin\",\"ctx\":\"r1\",\"join\":true}");
    ck_assert(req.join);
    ck_assert(!req.nested);
    ck_assert_int_eq(req.read_only, TXS_UNSET);
}
END_TEST

START_TEST(test_query)
{
    DECODE_OK("{\"op\":\"query\",\"id\":7,\"ctx\":\"r1\",\"db\":\"main\",\"sql\":\"SELECT $1, $2, "
              "$3\\n\",\"params\":[1,\"a\",null],\"autocommit\":true}");
    ck_assert_int_eq(req.op, TXS_OP_QUERY);
    ID_EQ("7");
    ck_assert_str_eq(req.stmt.sql, "SELECT $1, $2, $3\n");
    ck_assert_uint_eq(req.stmt.sql_len, 18);
    ck_assert_int_eq(req.stmt.nparams, 3);
    param_is(&req.stmt, 0, "1");
    param_is(&req.stmt, 1, "a");
    param_is(&req.stmt, 2, NULL);
    ck_assert(req.autocommit);
    /* No params: none. */
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r1\",\"sql\":\"SELECT 1\"}");
    ck_assert_int_eq(req.stmt.nparams, 0);
    ck_assert(!req.autocommit);
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r1\",\"sql\":\"SELECT 1\",\"params\":[]}");
    ck_assert_int_eq(req.stmt.nparams, 0);
}
END_TEST

START_TEST(test_batch)
{
    DECODE_OK("{\"op\":\"batch\",\"id\":2,\"ctx\":\"r1\",\"isolation\":\"serializable\","
              "\"read_only\":false,\"deferrable\":true,\"statements\":["
              "{\"sql\":\"INSERT INTO t VALUES ($1, $2)\",\"params\":[1,\"a\"]},"
              "{\"params\":[true,1.10],\"note\":\"ignored\",\"sql\":\"UPDATE t SET b = $1\"},"
              "{\"sql\":\"DELETE FROM t\"}]}");
    ck_assert_int_eq(req.op, TXS_OP_BATCH);
    ck_assert_int_eq(req.isolation, TXS_ISO_SERIALIZABLE);
    ck_assert_int_eq(req.read_only, TXS_FALSE);
    ck_assert_int_eq(req.deferrable, TXS_TRUE);
    ck_assert_int_eq(req.nstmts, 3);
    ck_assert_str_eq(req.stmts[0].sql, "INSERT INTO t VALUES ($1, $2)");
    ck_assert_int_eq(req.stmts[0].nparams, 2);
    param_is(&req.stmts[0], 0, "1");
    param_is(&req.stmts[0], 1, "a");
    ck_assert_str_eq(req.stmts[1].sql, "UPDATE t SET b = $1");
    ck_assert_uint_eq(req.stmts[1].sql_len, strlen("UPDATE t SET b = $1"));
    param_is(&req.stmts[1], 0, "true");
    param_is(&req.stmts[1], 1, "1.10");
    ck_assert_str_eq(req.stmts[2].sql, "DELETE FROM t");
    ck_assert_int_eq(req.stmts[2].nparams, 0);
    /* An empty batch is well formed. */
    DECODE_OK("{\"op\":\"batch\",\"ctx\":\"r1\",\"statements\":[]}");
    ck_assert_int_eq(req.nstmts, 0);
}
END_TEST

START_TEST(test_simple_ops)
{
    const struct {
        const char *name;
        txs_op_t op;
    } ops[] = {
        {"commit", TXS_OP_COMMIT}, {"rollback", TXS_OP_ROLLBACK}, {"status", TXS_OP_STATUS},
        {"end", TXS_OP_END},       {"outcome", TXS_OP_OUTCOME},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"op\":\"%s\",\"ctx\":\"c-%zu\",\"id\":%zu}", ops[i].name, i,
                 i);
        DECODE_OK(line);
        ck_assert_int_eq(req.op, ops[i].op);
        char ctx[16];
        snprintf(ctx, sizeof ctx, "c-%zu", i);
        ck_assert_str_eq(req.ctx, ctx);
        ck_assert_str_eq(txs_op_name(ops[i].op), ops[i].name);
    }
}
END_TEST

START_TEST(test_savepoint_ops)
{
    DECODE_OK("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"sa_savepoint_1\"}");
    ck_assert_int_eq(req.op, TXS_OP_SAVEPOINT);
    ck_assert_str_eq(req.name, "sa_savepoint_1");
    /* Names are case-insensitive: they come out folded to lower case. */
    DECODE_OK("{\"op\":\"release\",\"ctx\":\"r\",\"name\":\"_A9\"}");
    ck_assert_int_eq(req.op, TXS_OP_RELEASE);
    ck_assert_str_eq(req.name, "_a9");
    DECODE_OK("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"Sa_SavePoint_1\"}");
    ck_assert_str_eq(req.name, "sa_savepoint_1");
    /* The daemon's own savepoints are named txscope_level_N: a client's name never
     * shadows them. */
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"TXSCOPE_level_2\"}",
               "field \"name\": names starting with txscope_ are reserved", "");
    DECODE_OK("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"txscope\"}");
    DECODE_OK("{\"op\":\"rollback_to\",\"ctx\":\"r\",\"name\":\"sp\"}");
    ck_assert_int_eq(req.op, TXS_OP_ROLLBACK_TO);
    ck_assert_str_eq(req.name, "sp");

    const char *bad = "field \"name\" must be 1 to 63 letters, digits or underscores, not "
                      "starting with a digit";
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\"}",
               "field \"name\" is required for op \"savepoint\"", "");
    DECODE_ERR("{\"op\":\"release\",\"ctx\":\"r\",\"name\":null}",
               "field \"name\" is required for op \"release\"", "");
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"\"}", bad, "");
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"1a\"}", bad, "");
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"a-b\"}", bad, "");
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"a\\\"; COMMIT; --\"}", bad, "");
    DECODE_ERR("{\"op\":\"savepoint\",\"ctx\":\"r\",\"name\":\"a\\u0000\"}",
               "field \"name\" must not contain \\u0000", "");
    char line[256], name[80];
    memset(name, 'n', 63);
    name[63] = '\0';
    snprintf(line, sizeof line, "{\"op\":\"rollback_to\",\"ctx\":\"r\",\"name\":\"%s\"}", name);
    DECODE_OK(line);
    ck_assert_str_eq(req.name, name);
    strcat(name, "n");
    snprintf(line, sizeof line, "{\"op\":\"rollback_to\",\"ctx\":\"r\",\"name\":\"%s\"}", name);
    DECODE_ERR(line, bad, "");
}
END_TEST

START_TEST(test_op_and_isolation_names)
{
    const char *names[] = {"hello",  "ping",     "begin",     "query",   "batch",
                           "commit", "rollback", "savepoint", "release", "rollback_to",
                           "status", "end",      "outcome"};
    for (int op = TXS_OP_HELLO; op <= TXS_OP_OUTCOME; op++)
        ck_assert_str_eq(txs_op_name((txs_op_t)op), names[op]);
    ck_assert_ptr_null(txs_isolation_sql(TXS_ISO_DEFAULT));
    ck_assert_str_eq(txs_isolation_sql(TXS_ISO_READ_UNCOMMITTED), "READ UNCOMMITTED");
    ck_assert_str_eq(txs_isolation_sql(TXS_ISO_READ_COMMITTED), "READ COMMITTED");
    ck_assert_str_eq(txs_isolation_sql(TXS_ISO_REPEATABLE_READ), "REPEATABLE READ");
    ck_assert_str_eq(txs_isolation_sql(TXS_ISO_SERIALIZABLE), "SERIALIZABLE");

    const struct {
        const char *wire;
        txs_isolation_t iso;
    } isos[] = {
        {"read committed", TXS_ISO_READ_COMMITTED},     {"READ COMMITTED", TXS_ISO_READ_COMMITTED},
        {"repeatable read", TXS_ISO_REPEATABLE_READ},   {"Serializable", TXS_ISO_SERIALIZABLE},
        {"read uncommitted", TXS_ISO_READ_UNCOMMITTED},
    };
    for (size_t i = 0; i < sizeof isos / sizeof isos[0]; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"op\":\"begin\",\"ctx\":\"r\",\"isolation\":\"%s\"}",
                 isos[i].wire);
        DECODE_OK(line);
        ck_assert_int_eq(req.isolation, isos[i].iso);
    }
    const char *bad = "field \"isolation\" must be one of \"read committed\", \"repeatable "
                      "read\", \"serializable\", \"read uncommitted\"";
    DECODE_ERR("{\"op\":\"begin\",\"ctx\":\"r\",\"isolation\":\"snapshot\"}", bad, "");
    DECODE_ERR("{\"op\":\"begin\",\"ctx\":\"r\",\"isolation\":\"read_committed\"}", bad, "");
    DECODE_ERR("{\"op\":\"begin\",\"ctx\":\"r\",\"isolation\":\" serializable\"}", bad, "");
    DECODE_ERR("{\"op\":\"begin\",\"ctx\":\"r\",\"isolation\":\"serializable and more words\"}",
               bad, "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[],\"isolation\":\"\"}", bad, "");
}
END_TEST

/* ---- exact numbers and parameter text ---- */

START_TEST(test_exact_numbers)
{
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"x\",\"params\":[4611686018427387905,"
              "-0.000,1.10,1e400,-9223372036854775808,0,2.5E-3,"
              "123456789012345678901234567890.123456789012345678901234567890]}");
    ck_assert_int_eq(req.stmt.nparams, 8);
    param_is(&req.stmt, 0, "4611686018427387905");
    param_is(&req.stmt, 1, "-0.000");
    param_is(&req.stmt, 2, "1.10");
    param_is(&req.stmt, 3, "1e400");
    param_is(&req.stmt, 4, "-9223372036854775808");
    param_is(&req.stmt, 5, "0");
    param_is(&req.stmt, 6, "2.5E-3");
    param_is(&req.stmt, 7, "123456789012345678901234567890.123456789012345678901234567890");
    /* Numeric ids are echoed exactly as written too. */
    DECODE_OK("{\"op\":\"ping\",\"id\":4611686018427387905}");
    ID_EQ("4611686018427387905");
    DECODE_OK("{\"op\":\"ping\",\"id\":1.10}");
    ID_EQ("1.10");
    DECODE_OK("{\"op\":\"ping\",\"id\":-0.000}");
    ID_EQ("-0.000");
    DECODE_OK("{\"op\":\"ping\",\"id\":1e400}");
    ID_EQ("1e400");
}
END_TEST

START_TEST(test_param_kinds)
{
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"x\",\"params\":[null,true,false,"
              "\"t\\u00e9xt \\\"q\\\"\\n\",\"\",[1, 2.50, \"a b\"],"
              "{\"a\": [1.10, {\"b\": 4611686018427387905}], \"c\" : \"x y\", \"d\": null},"
              "[],{}]}");
    const txs_stmt_t *st = &req.stmt;
    ck_assert_int_eq(st->nparams, 9);
    param_is(st, 0, NULL);
    ck_assert_int_eq(st->lengths[0], 0);
    param_is(st, 1, "true");
    param_is(st, 2, "false");
    param_is(st, 3, "t\xC3\xA9xt \"q\"\n");
    param_is(st, 4, "");
    /* Arrays and objects as compact JSON with numbers exactly as written. */
    param_is(st, 5, "[1,2.50,\"a b\"]");
    param_is(st, 6, "{\"a\":[1.10,{\"b\":4611686018427387905}],\"c\":\"x y\",\"d\":null}");
    param_is(st, 7, "[]");
    param_is(st, 8, "{}");
    /* The JSON kind of each, for drivers that bind by type (MySQL). */
    static const unsigned char kinds[] = {TXS_PARAM_TEXT, TXS_PARAM_BOOL, TXS_PARAM_BOOL,
                                          TXS_PARAM_TEXT, TXS_PARAM_TEXT, TXS_PARAM_JSON,
                                          TXS_PARAM_JSON, TXS_PARAM_JSON, TXS_PARAM_JSON};
    ck_assert_ptr_nonnull(st->kinds);
    for (int k = 0; k < 9; k++)
        ck_assert_msg(st->kinds[k] == kinds[k], "param %d: kind %d", k, st->kinds[k]);
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"x\",\"params\":[-1.5e3, 7, \"7\"]}");
    ck_assert_int_eq(req.stmt.kinds[0], TXS_PARAM_NUMBER);
    param_is(&req.stmt, 0, "-1.5e3");
    ck_assert_int_eq(req.stmt.kinds[1], TXS_PARAM_NUMBER);
    ck_assert_int_eq(req.stmt.kinds[2], TXS_PARAM_TEXT);
    /* A NUL inside nested JSON is JSON text, not a NUL byte: it is kept escaped. */
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"x\",\"params\":[{\"k\":\"a\\u0000b\"}]}");
    param_is(&req.stmt, 0, "{\"k\":\"a\\u0000b\"}");
}
END_TEST

START_TEST(test_nul_refused)
{
    DECODE_ERR("{\"op\":\"query\",\"id\":1,\"ctx\":\"r\",\"sql\":\"SELECT 1\\u0000\"}",
               "field \"sql\" must not contain \\u0000", "1");
    DECODE_ERR("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"SELECT $1\",\"params\":[\"a\\u0000b\"]}",
               "field \"params\" must not contain \\u0000", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":\"x\"},"
               "{\"sql\":\"y\",\"params\":[1,\"\\u0000\"]}]}",
               "field \"statements[1].params\" must not contain \\u0000", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":\"\\u0000\"}]}",
               "field \"statements[0].sql\" must not contain \\u0000", "");
    DECODE_ERR("{\"op\":\"hello\",\"token\":\"secret\\u0000junk\"}",
               "field \"token\" must not contain \\u0000", "");
    DECODE_ERR("{\"op\":\"hello\",\"client\":\"\\u0000\"}",
               "field \"client\" must not contain \\u0000", "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":\"a\\u0000\"}", "field \"id\" must not contain \\u0000",
               "");
    DECODE_ERR("{\"op\":\"ping\",\"ctx\":\"a\\u0000\"}",
               "field \"ctx\" must be 1 to 128 printable ASCII characters", "");
    DECODE_ERR("{\"op\":\"ping\",\"db\":\"main\\u0000x\"}",
               "field \"db\" must be a name of 1 to 63 characters", "");
    /* A key with a NUL is not the field it starts like: ignored. */
    DECODE_OK("{\"op\":\"ping\",\"op\\u0000x\":\"query\"}");
    ck_assert_int_eq(req.op, TXS_OP_PING);
}
END_TEST

/* ---- malformed lines ---- */

START_TEST(test_not_a_request)
{
    DECODE_ERR("{\"op\":\"ping\",\"x\":\"\xFF\"}", "invalid UTF-8 in request", "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":1,\"x\":\"\xED\xA0\x80\"}", "invalid UTF-8 in request", "");
    DECODE_ERR("", "request is not valid JSON", "");
    DECODE_ERR("   ", "request is not valid JSON", "");
    DECODE_ERR("{op:ping}", "request is not valid JSON", "");
    DECODE_ERR("{\"op\":\"ping\"", "request is not valid JSON", "");
    DECODE_ERR("{\"op\":\"ping\"}{}", "request is not valid JSON", "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":01}", "request is not valid JSON", "");
    DECODE_ERR("{\"op\":\"ping\",\"x\":\"tab\there\"}", "request is not valid JSON", "");
    DECODE_ERR("[{\"op\":\"ping\"}]", "request must be a JSON object", "");
    DECODE_ERR("[1,2]", "request must be a JSON object", "");
    DECODE_ERR("\"ping\"", "request must be a JSON object", "");
    DECODE_ERR("null", "request must be a JSON object", "");
    DECODE_ERR("42", "request must be a JSON object", "");
    /* A NUL byte in the line is not JSON. */
    ck_assert_int_eq(decode_len("{\"op\":\"ping\"}\0", 14), TXS_EPROTO);
    ck_assert_str_eq(err.message, "request is not valid JSON");
}
END_TEST

START_TEST(test_op_errors)
{
    DECODE_ERR("{}", "missing field \"op\"", "");
    DECODE_ERR("{\"id\":3}", "missing field \"op\"", "3");
    DECODE_ERR("{\"op\":null,\"id\":3}", "missing field \"op\"", "3");
    DECODE_ERR("{\"op\":5,\"id\":\"q\"}", "field \"op\" must be a string", "\"q\"");
    DECODE_ERR("{\"op\":[\"ping\"]}", "field \"op\" must be a string", "");
    DECODE_ERR("{\"op\":\"foo\"}", "unknown op \"foo\"", "");
    /* The id is read whatever its place in the object. */
    DECODE_ERR("{\"op\":\"foo\",\"id\":5}", "unknown op \"foo\"", "5");
    DECODE_ERR("{\"op\":\"PING\"}", "unknown op \"PING\"", "");
    DECODE_ERR("{\"op\":\"\"}", "unknown op \"\"", "");
    DECODE_ERR("{\"op\":\"a\\tb\"}", "unknown op \"a?b\"", "");
    DECODE_ERR("{\"op\":\"0123456789abcdef0123456789abcdef0123456789\"}",
               "unknown op \"0123456789abcdef0123456789abcdef...\"", "");
    /* Escapes in keys and values are decoded before matching. */
    DECODE_OK("{\"\\u006fp\":\"p\\u0069ng\"}");
    ck_assert_int_eq(req.op, TXS_OP_PING);
}
END_TEST

/* A query that is fine but for one field; every known field of the wrong type is
 * refused with a message naming it, and the error carries the id. */
START_TEST(test_wrong_types)
{
    const struct {
        const char *field;
        const char *value;
        const char *msg;
    } cases[] = {
        {"ctx", "5", "field \"ctx\" must be a string"},
        {"ctx", "{}", "field \"ctx\" must be a string"},
        {"db", "true", "field \"db\" must be a string"},
        {"sql", "1", "field \"sql\" must be a string"},
        {"sql", "[\"SELECT 1\"]", "field \"sql\" must be a string"},
        {"params", "\"x\"", "field \"params\" must be an array"},
        {"params", "{\"a\":1}", "field \"params\" must be an array"},
        {"params", "1", "field \"params\" must be an array"},
        {"autocommit", "\"yes\"", "field \"autocommit\" must be a boolean"},
        {"autocommit", "1", "field \"autocommit\" must be a boolean"},
        {"read_only", "0", "field \"read_only\" must be a boolean"},
        {"deferrable", "\"false\"", "field \"deferrable\" must be a boolean"},
        {"nested", "[]", "field \"nested\" must be a boolean"},
        {"join", "{}", "field \"join\" must be a boolean"},
        {"isolation", "1", "field \"isolation\" must be a string"},
        {"token", "123", "field \"token\" must be a string"},
        {"client", "[]", "field \"client\" must be a string"},
        {"name", "5", "field \"name\" must be a string"},
        {"statements", "{}", "field \"statements\" must be an array"},
        {"statements", "\"SELECT 1\"", "field \"statements\" must be an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"op\":\"query\",\"id\":9,\"ctx\":\"r\",\"sql\":\"SELECT 1\",\"%s\":%s}",
                 cases[i].field, cases[i].value);
        if (strcmp(cases[i].field, "ctx") == 0 || strcmp(cases[i].field, "sql") == 0)
            snprintf(line, sizeof line, "{\"op\":\"query\",\"id\":9,\"%s\":%s}", cases[i].field,
                     cases[i].value);
        ck_assert_int_eq(decode(line), TXS_EPROTO);
        ck_assert_msg(strcmp(err.message, cases[i].msg) == 0, "%s: %s", line, err.message);
        ck_assert_uint_eq(err.id_len, 1);
        ck_assert_int_eq(err.id[0], '9');
    }
    /* Checked whatever the op, even where the op does not use the field. */
    DECODE_ERR("{\"op\":\"ping\",\"sql\":5}", "field \"sql\" must be a string", "");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"r\",\"nested\":\"no\"}",
               "field \"nested\" must be a boolean", "");
}
END_TEST

START_TEST(test_null_is_absent)
{
    DECODE_OK("{\"op\":\"begin\",\"id\":null,\"ctx\":\"r\",\"db\":null,\"isolation\":null,"
              "\"read_only\":null,\"deferrable\":null,\"nested\":null,\"join\":null,"
              "\"token\":null,\"client\":null,\"name\":null,\"params\":null,\"sql\":null,"
              "\"autocommit\":null,\"statements\":null}");
    ck_assert_int_eq(req.op, TXS_OP_BEGIN);
    ck_assert_uint_eq(req.id_len, 0);
    ck_assert(!req.has_db);
    ck_assert_int_eq(req.isolation, TXS_ISO_DEFAULT);
    ck_assert_int_eq(req.read_only, TXS_UNSET);
    ck_assert_ptr_null(req.token);
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"SELECT 1\",\"params\":null}");
    ck_assert_int_eq(req.stmt.nparams, 0);
    DECODE_ERR("{\"op\":\"query\",\"ctx\":null,\"sql\":\"x\"}",
               "field \"ctx\" is required for op \"query\"", "");
}
END_TEST

START_TEST(test_ctx)
{
    DECODE_OK("{\"op\":\"status\",\"ctx\":\"a\"}");
    ck_assert_str_eq(req.ctx, "a");
    DECODE_OK("{\"op\":\"status\",\"ctx\":\"req 42/~!\"}");
    ck_assert_str_eq(req.ctx, "req 42/~!");
    DECODE_OK("{\"op\":\"status\",\"ctx\":\"\\u0041\\/b\"}");
    ck_assert_str_eq(req.ctx, "A/b");

    char line[1200], ctx[200];
    memset(ctx, 'c', 128);
    ctx[128] = '\0';
    snprintf(line, sizeof line, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"x\"}", ctx);
    DECODE_OK(line);
    ck_assert_str_eq(req.ctx, ctx);
    /* 128 characters written as escapes are still 128. */
    char *p = line + sprintf(line, "{\"op\":\"end\",\"ctx\":\"");
    for (int i = 0; i < 128; i++)
        p += sprintf(p, "\\u0063");
    sprintf(p, "\"}");
    DECODE_OK(line);
    ck_assert_str_eq(req.ctx, ctx);

    const char *bad = "field \"ctx\" must be 1 to 128 printable ASCII characters";
    strcat(ctx, "c");
    snprintf(line, sizeof line, "{\"op\":\"query\",\"id\":1,\"ctx\":\"%s\",\"sql\":\"x\"}", ctx);
    DECODE_ERR(line, bad, "1");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"\"}", bad, "");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"a\\u0001\"}", bad, "");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"a\\nb\"}", bad, "");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"\\u007f\"}", bad, "");
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"caf\xC3\xA9\"}", bad, "");
    /* ping with a bad ctx: still refused, a ctx given must be valid. */
    DECODE_ERR("{\"op\":\"ping\",\"ctx\":\"\"}", bad, "");
}
END_TEST

START_TEST(test_ctx_required)
{
    const char *ops[] = {"begin",   "query",       "batch",  "commit", "rollback", "savepoint",
                         "release", "rollback_to", "status", "end",    "outcome"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char line[128], msg[128];
        snprintf(line, sizeof line, "{\"op\":\"%s\",\"id\":\"x\"}", ops[i]);
        snprintf(msg, sizeof msg, "field \"ctx\" is required for op \"%s\"", ops[i]);
        DECODE_ERR(line, msg, "\"x\"");
    }
    DECODE_OK("{\"op\":\"ping\"}");
    DECODE_OK("{\"op\":\"hello\",\"token\":\"t\"}");
}
END_TEST

START_TEST(test_required_fields)
{
    DECODE_ERR("{\"op\":\"query\",\"ctx\":\"r\"}", "field \"sql\" is required for op \"query\"",
               "");
    DECODE_ERR("{\"op\":\"query\",\"ctx\":\"r\",\"params\":[1]}",
               "field \"sql\" is required for op \"query\"", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\"}",
               "field \"statements\" is required for op \"batch\"", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[5]}",
               "field \"statements[0]\" must be an object", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":\"x\"},[]]}",
               "field \"statements[1]\" must be an object", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"params\":[]}]}",
               "field \"statements[0].sql\" is required", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":1}]}",
               "field \"statements[0].sql\" must be a string", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":\"x\",\"params\":5}]}",
               "field \"statements[0].params\" must be an array", "");
    DECODE_ERR("{\"op\":\"batch\",\"ctx\":\"r\",\"statements\":[{\"sql\":\"x\",\"sql\":\"y\"}]}",
               "duplicate field \"statements[0].sql\"", "");
    /* A query's sql and params are not needed by other ops: not decoded, not refused. */
    DECODE_OK("{\"op\":\"commit\",\"ctx\":\"r\",\"sql\":\"x\\u0000\"}");
    ck_assert_ptr_null(req.stmt.sql);
}
END_TEST

START_TEST(test_id)
{
    DECODE_OK("{\"op\":\"ping\",\"id\":\"abc\"}");
    ID_EQ("\"abc\"");
    DECODE_OK("{\"op\":\"ping\",\"id\":-12}");
    ID_EQ("-12");
    DECODE_OK("{\"op\":\"ping\",\"id\":\"\"}");
    ID_EQ("\"\"");
    /* Strings are re-escaped: the echo is the same string, in canonical form. */
    DECODE_OK("{\"op\":\"ping\",\"id\":\"a\\nb\\u0001\\\"\\/\\u00e9\"}");
    ID_EQ("\"a\\nb\\u0001\\\"/\xC3\xA9\"");

    const char *bad = "field \"id\" must be a number or a string of at most 64 characters";
    char line[1024], id[300];
    memset(id, 'i', 64);
    id[64] = '\0';
    snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":\"%s\"}", id);
    DECODE_OK(line);
    ck_assert_uint_eq(req.id_len, 66);
    strcat(id, "i");
    snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":\"%s\"}", id);
    DECODE_ERR(line, bad, "");
    /* 64 characters of two bytes each, and of four bytes each, are 64 characters. */
    id[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(id, "\xC3\xA9");
    snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":\"%s\"}", id);
    DECODE_OK(line);
    ck_assert_uint_eq(req.id_len, 130);
    char *p = line + sprintf(line, "{\"op\":\"ping\",\"id\":\"");
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "\\uD83D\\uDE00");
    sprintf(p, "\"}");
    DECODE_OK(line);
    ck_assert_uint_eq(req.id_len, 2 + 4 * 64);
    /* 64 control characters: the longest echo there can be. */
    p = line + sprintf(line, "{\"op\":\"ping\",\"id\":\"");
    for (int i = 0; i < 64; i++)
        p += sprintf(p, "\\u0002");
    sprintf(p, "\"}");
    DECODE_OK(line);
    ck_assert_uint_eq(req.id_len, 2 + 6 * 64);
    ck_assert_uint_le(req.id_len, TXS_ID_JSON_MAX);
    /* Numbers: at most 64 characters of text. */
    memset(id, '1', 64);
    id[64] = '\0';
    snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":%s}", id);
    DECODE_OK(line);
    ID_EQ(id);
    strcat(id, "1");
    snprintf(line, sizeof line, "{\"op\":\"ping\",\"id\":%s}", id);
    DECODE_ERR(line, bad, "");
    /* Other types: refused, and the reply can carry no id. */
    DECODE_ERR("{\"op\":\"ping\",\"id\":{\"a\":1}}", bad, "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":[1]}", bad, "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":true}", bad, "");
    /* An unknown op still echoes a valid id. */
    DECODE_ERR("{\"id\":\"x\\ty\",\"op\":\"nope\"}", "unknown op \"nope\"", "\"x\\ty\"");
}
END_TEST

START_TEST(test_unknown_and_duplicate_fields)
{
    DECODE_OK("{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"SELECT 1\",\"extra\":{\"deep\":[1,2,"
              "{\"x\":\"\\u0000\"}]},\"Op\":5,\"trace\":null,\"params\":[3]}");
    ck_assert_int_eq(req.op, TXS_OP_QUERY);
    ck_assert_int_eq(req.stmt.nparams, 1);
    param_is(&req.stmt, 0, "3");
    DECODE_ERR("{\"op\":\"ping\",\"op\":\"ping\"}", "duplicate field \"op\"", "");
    DECODE_ERR("{\"op\":\"ping\",\"id\":4,\"ctx\":\"a\",\"ctx\":\"b\"}", "duplicate field \"ctx\"",
               "4");
    DECODE_ERR("{\"op\":\"ping\",\"id\":4,\"id\":5}", "duplicate field \"id\"", "");
    DECODE_ERR("{\"op\":\"ping\",\"op\":\"end\",\"id\":4,\"id\":5}", "duplicate field \"id\"", "");
    /* Unknown fields may repeat. */
    DECODE_OK("{\"op\":\"ping\",\"x\":1,\"x\":2}");
}
END_TEST

START_TEST(test_db)
{
    DECODE_OK("{\"op\":\"status\",\"ctx\":\"r\",\"db\":\"analytics_2\"}");
    ck_assert(req.has_db);
    ck_assert_str_eq(req.db, "analytics_2");
    const char *bad = "field \"db\" must be a name of 1 to 63 characters";
    DECODE_ERR("{\"op\":\"status\",\"ctx\":\"r\",\"db\":\"\"}", bad, "");
    char line[256], db[80];
    memset(db, 'd', 63);
    db[63] = '\0';
    snprintf(line, sizeof line, "{\"op\":\"status\",\"ctx\":\"r\",\"db\":\"%s\"}", db);
    DECODE_OK(line);
    ck_assert_str_eq(req.db, db);
    strcat(db, "d");
    snprintf(line, sizeof line, "{\"op\":\"status\",\"ctx\":\"r\",\"db\":\"%s\"}", db);
    DECODE_ERR(line, bad, "");
}
END_TEST

/* ---- memory ---- */

START_TEST(test_owns_its_memory)
{
    /* Decode from a heap copy and free the line at once: ASan reports any pointer the
     * request kept into it. */
    const char *text = "{\"op\":\"batch\",\"ctx\":\"r\",\"token\":\"t\",\"client\":\"c\","
                       "\"statements\":[{\"sql\":\"SELECT $1\",\"params\":[\"v\",12,[1]]}]}";
    char *line = strdup(text);
    ck_assert_int_eq(txs_request_decode(line, strlen(line), &req, &err), TXS_OK);
    memset(line, 'X', strlen(line));
    free(line);
    ck_assert_str_eq(req.token, "t");
    ck_assert_str_eq(req.client, "c");
    ck_assert_str_eq(req.stmts[0].sql, "SELECT $1");
    param_is(&req.stmts[0], 0, "v");
    param_is(&req.stmts[0], 1, "12");
    param_is(&req.stmts[0], 2, "[1]");
    /* The struct may be moved (a session queues it by value). */
    txs_request_t moved = req;
    memset(&req, 0, sizeof req);
    ck_assert_str_eq(moved.stmts[0].values[0], "v");
    txs_request_free(&moved);
    ck_assert_ptr_null(moved.storage);
    txs_request_free(&moved); /* twice is harmless */
    txs_request_t zero = {0};
    txs_request_free(&zero);
}
END_TEST

START_TEST(test_large_request)
{
    /* Many parameters and long strings: more than the first chunk of memory. */
    enum { N = 3000 };
    txs_buf_t b = TXS_BUF_INIT;
    txs_buf_puts(&b, "{\"op\":\"query\",\"ctx\":\"r\",\"sql\":\"x\",\"params\":[");
    for (int i = 0; i < N; i++)
        txs_buf_printf(&b, "%s\"p%d-%0200d\",%d,[%d.0]", i ? "," : "", i, i, i, i);
    txs_buf_puts(&b, "]}");
    ck_assert_int_eq(decode_len(b.data, b.len), TXS_OK);
    ck_assert_int_eq(req.stmt.nparams, 3 * N);
    for (int i = 0; i < N; i++) {
        char want[300];
        snprintf(want, sizeof want, "p%d-%0200d", i, i);
        param_is(&req.stmt, 3 * i, want);
        snprintf(want, sizeof want, "%d", i);
        param_is(&req.stmt, 3 * i + 1, want);
        snprintf(want, sizeof want, "[%d.0]", i);
        param_is(&req.stmt, 3 * i + 2, want);
    }
    txs_buf_free(&b);
}
END_TEST

Suite *suite_request(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("ops");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_ping_minimal);
    tcase_add_test(tc, test_hello);
    tcase_add_test(tc, test_begin);
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_batch);
    tcase_add_test(tc, test_simple_ops);
    tcase_add_test(tc, test_savepoint_ops);
    tcase_add_test(tc, test_op_and_isolation_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_exact_numbers);
    tcase_add_test(tc, test_param_kinds);
    tcase_add_test(tc, test_nul_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_not_a_request);
    tcase_add_test(tc, test_op_errors);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_null_is_absent);
    tcase_add_test(tc, test_ctx);
    tcase_add_test(tc, test_ctx_required);
    tcase_add_test(tc, test_required_fields);
    tcase_add_test(tc, test_id);
    tcase_add_test(tc, test_unknown_and_duplicate_fields);
    tcase_add_test(tc, test_db);
    suite_add_tcase(s, tc);

    tc = tcase_create("memory");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_owns_its_memory);
    tcase_add_test(tc, test_large_request);
    suite_add_tcase(s, tc);
    return s;
}
