/* test_pg_driver.c - the PostgreSQL driver, one statement at a time: connect, types, errors. */
#include <check.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "protocol/utf8.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/pgtest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h;
 * test_pg_driver_ops.c has batches, cancel, a dying connection and close.
 * The tests both drivers pass alike are in drvtest_*.c (drvtest_add_*_tests). */
Suite *suite_pg_driver(void);

static const txs_driver_t *drv = &txs_driver_pg;

/* ---- connect ---- */

START_TEST(connect_ok_sets_session)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_expect_new_session(&t);
    drvtest_expect(&t, "select current_setting('application_name')", "\"txscope\"");
    drvtest_expect(&t, "select current_setting('DateStyle')", "\"ISO, MDY\"");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    drvtest_expect(&t, "select current_setting('client_encoding')", "\"UTF8\"");
    drvtest_expect(&t, "select current_setting('extra_float_digits')", "\"1\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_keeps_user_options_but_pins_ours)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[700];
    snprintf(dsn, sizeof dsn,
             "%s application_name=myapp client_encoding=LATIN1 "
             "options='-c work_mem=8MB -c DateStyle=German -c TimeZone=Europe/Paris'",
             txs_pgtest_dsn());
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_OK);
    drvtest_expect(&t, "select current_setting('application_name')", "\"myapp\"");
    drvtest_expect(&t, "select current_setting('work_mem')", "\"8MB\"");
    /* ours come after: ISO output (German's day-month order stays), UTC, UTF8 */
    drvtest_expect(&t, "select current_setting('DateStyle')", "\"ISO, DMY\"");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    drvtest_expect(&t, "select current_setting('client_encoding')", "\"UTF8\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_uri_dsn)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[512];
    snprintf(dsn, sizeof dsn, "postgresql://%s@%s:%s/%s?application_name=uriapp", getenv("PGUSER"),
             getenv("PGHOST"), getenv("PGPORT"), getenv("PGDATABASE"));
    txs_pgtest_dsn(); /* fails the test when the variables are missing */
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_OK);
    drvtest_expect(&t, "select current_setting('application_name')", "\"uriapp\"");
    drvtest_expect(&t, "select current_setting('TimeZone')", "\"UTC\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_bad_dsn_is_lost_08001)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    ck_assert_int_eq(drvtest_connect(&t, "host=127.0.0.1 nosuchoption=1", 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "nosuchoption"), "message: %s", t.message);
    drvtest_close(&t);
}
END_TEST

/* A fake server that accepts one connection, says it is read-only, and waits for the
 * client to hang up: with target_session_attrs=read-write, libpq then drops that socket
 * and opens another for the next host. */
typedef struct fake_ro {
    int listen_fd;
    int port;
    uv_thread_t thread;
    uv_sem_t accepted;
} fake_ro_t;

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static bool read_n(int fd, unsigned char *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static size_t put_param(unsigned char *p, const char *name, const char *value)
{
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    p[0] = 'S';
    put32(p + 1, (uint32_t)(4 + nl + vl));
    memcpy(p + 5, name, nl);
    memcpy(p + 5 + nl, value, vl);
    return 5 + nl + vl;
}

static void fake_ro_main(void *arg)
{
    fake_ro_t *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    uv_sem_post(&f->accepted);
    if (fd < 0)
        return;
    unsigned char buf[512];
    /* SSLRequest (8 bytes): no */
    if (read_n(fd, buf, 8) && write(fd, "N", 1) == 1 && read_n(fd, buf, 4)) {
        uint32_t len = (uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3];
        if (len >= 4 && len - 4 <= sizeof buf && read_n(fd, buf, len - 4)) { /* startup */
            size_t n = 0;
            buf[n++] = 'R'; /* AuthenticationOk */
            put32(buf + n, 8);
            put32(buf + n + 4, 0);
            n += 8;
            n += put_param(buf + n, "default_transaction_read_only", "on");
            n += put_param(buf + n, "in_hot_standby", "off");
            buf[n++] = 'Z'; /* ReadyForQuery */
            put32(buf + n, 5);
            n += 4;
            buf[n++] = 'I';
            if (write(fd, buf, n) == (ssize_t)n)
                while (read(fd, buf, sizeof buf) > 0) /* until libpq hangs up */
                    ;
        }
    }
    close(fd);
}

static void fake_ro_start(fake_ro_t *f)
{
    f->listen_fd = drvtest_silent_listener(&f->port);
    ck_assert_int_eq(uv_sem_init(&f->accepted, 0), 0);
    ck_assert_int_eq(uv_thread_create(&f->thread, fake_ro_main, f), 0);
}

static void fake_ro_stop(fake_ro_t *f)
{
    ck_assert_int_eq(uv_thread_join(&f->thread), 0);
    uv_sem_destroy(&f->accepted);
    close(f->listen_fd);
}

START_TEST(connect_follows_a_new_socket)
{
    for (int renumber = 0; renumber < 2; renumber++) {
        fake_ro_t f;
        fake_ro_start(&f);
        drvtest_t t;
        drvtest_init(&t, drv);
        char dsn[512];
        snprintf(dsn, sizeof dsn,
                 "host=127.0.0.1,%s port=%d,%s user=%s dbname=%s gssencmode=disable "
                 "target_session_attrs=read-write",
                 getenv("PGHOST"), f.port, getenv("PGPORT"), getenv("PGUSER"),
                 getenv("PGDATABASE"));
        txs_pgtest_dsn(); /* fails the test when the variables are missing */
        /* renumber: hold the lowest free descriptor during the first attempt and free it
         * after, so the next socket gets another number (else usually the same one) */
        int hold = renumber ? dup(2) : -1;
        t.done = 0;
        ck_assert_int_eq(drv->connect(&t.loop, dsn, 10000, drvtest_on_op, &t, &t.c), TXS_OK);
        uv_sem_wait(&f.accepted);
        if (hold >= 0)
            close(hold);
        ck_assert(drvtest_run_until(&t.loop, &t.done, DRVTEST_WAIT_MS));
        ck_assert_msg(t.st == TXS_DRV_OK, "%s %s", t.code, t.message);
        drvtest_expect(&t, "select current_setting('transaction_read_only')", "\"off\"");
        drvtest_close(&t);
        fake_ro_stop(&f);
    }
}
END_TEST

START_TEST(notifications_and_notices_while_idle_are_not_death)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drv->watch(t.c, drvtest_on_watch, &t);
    drvtest_ok(&t, "listen pgdrv_chan");
    drvtest_ok(&t, "do $$ begin raise notice 'hello'; end $$");
    PGconn *side = txs_pgtest_pg();
    for (int i = 0; i < 50; i++)
        txs_pgtest_exec(side, "notify pgdrv_chan, 'x'");
    PQfinish(side);
    drvtest_run_for(&t.loop, 300);
    ck_assert_int_eq(t.watched, 0);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select 5", "5");
    drvtest_close(&t);
}
END_TEST

/* ---- values and types ---- */

START_TEST(types_encode_exactly)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "drop type if exists pgdrv_mood cascade");
    txs_pgtest_exec(side, "create type pgdrv_mood as enum ('sad', 'happy')");
    txs_pgtest_exec(side, "drop type if exists pgdrv_pair cascade");
    txs_pgtest_exec(side, "create type pgdrv_pair as (a int, b text)");
    drvtest_t t;
    drvtest_open(&t, drv); /* after the enum exists: its name is known */
    const char *vals[] = {"true",
                          "-32768",
                          "2147483647",
                          "4611686018427387904",
                          "-9223372036854775808",
                          "say \"hi\"\nnext \xc3\xa9\xf0\x9f\x98\x80",
                          "{ \"a\" : [1, 2,\n 3],\t\"b\": \"x y\" }",
                          "{\"k\": [true, null]}"};
    txs_drv_status_t st = drvtest_runp(
        &t,
        "select $1::bool as b, $2::int2 as i2, $3::int4 as i4, $4::int8 as i8, $5::int8 as i8min,"
        " 1.5::float8 as f, 'NaN'::float8 as fnan, 'Infinity'::float8 as finf,"
        " '-Infinity'::float8 as fninf, 0.25::float4 as f4, 1.10::numeric as n,"
        " 'NaN'::numeric as nnan, $6::text as t, $7::json as j, $8::jsonb as jb,"
        " '\\x00ff10'::bytea as by, '2024-01-02 03:04:05.5'::timestamp as ts,"
        " '2024-01-02 03:04:05+02'::timestamptz as tstz,"
        " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid as u, null::text as nul,"
        " 'happy'::pgdrv_mood as m, array[1,2]::int4[] as arr, row(1, 'x y')::pgdrv_pair as p",
        8, vals);
    ck_assert_msg(st == TXS_DRV_OK, "%s %s", t.code, t.message);
    ck_assert_int_eq(t.enc_rc, TXS_OK);
    ck_assert_str_eq(
        drvtest_out(&t),
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":["
        "{\"name\":\"b\",\"type\":\"bool\"},{\"name\":\"i2\",\"type\":\"int2\"},"
        "{\"name\":\"i4\",\"type\":\"int4\"},{\"name\":\"i8\",\"type\":\"int8\"},"
        "{\"name\":\"i8min\",\"type\":\"int8\"},{\"name\":\"f\",\"type\":\"float8\"},"
        "{\"name\":\"fnan\",\"type\":\"float8\"},{\"name\":\"finf\",\"type\":\"float8\"},"
        "{\"name\":\"fninf\",\"type\":\"float8\"},{\"name\":\"f4\",\"type\":\"float4\"},"
        "{\"name\":\"n\",\"type\":\"numeric\"},{\"name\":\"nnan\",\"type\":\"numeric\"},"
        "{\"name\":\"t\",\"type\":\"text\"},{\"name\":\"j\",\"type\":\"json\"},"
        "{\"name\":\"jb\",\"type\":\"jsonb\"},{\"name\":\"by\",\"type\":\"bytea\"},"
        "{\"name\":\"ts\",\"type\":\"timestamp\"},{\"name\":\"tstz\",\"type\":\"timestamptz\"},"
        "{\"name\":\"u\",\"type\":\"uuid\"},{\"name\":\"nul\",\"type\":\"text\"},"
        "{\"name\":\"m\",\"type\":\"pgdrv_mood\"},{\"name\":\"arr\",\"type\":\"_int4\"},"
        "{\"name\":\"p\",\"type\":\"pgdrv_pair\"}],"
        "\"rows\":[[true,-32768,2147483647,4611686018427387904,-9223372036854775808,"
        "1.5,\"NaN\",\"Infinity\",\"-Infinity\",0.25,\"1.10\",\"NaN\","
        "\"say \\\"hi\\\"\\nnext \xc3\xa9\xf0\x9f\x98\x80\","
        "{\"a\":[1,2,3],\"b\":\"x y\"},{\"k\":[true,null]},\"AP8Q\","
        "\"2024-01-02 03:04:05.5\",\"2024-01-02 01:04:05+00\","
        "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\",null,\"happy\",\"{1,2}\",\"(1,\\\"x y\\\")\"]]");
    /* false, and NULL parameters */
    const char *vals2[] = {"f", NULL};
    ck_assert_int_eq(drvtest_runp(&t, "select $1::bool as b, $2::int4 as n", 2, vals2), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[false,null]]"), "%s", drvtest_out(&t));
    drvtest_close(&t);
    txs_pgtest_exec(side, "drop type pgdrv_mood");
    txs_pgtest_exec(side, "drop type pgdrv_pair");
    PQfinish(side);
}
END_TEST

START_TEST(type_created_after_connect_is_its_oid)
{
    PGconn *side = txs_pgtest_pg();
    txs_pgtest_exec(side, "drop type if exists pgdrv_late cascade");
    drvtest_t t;
    drvtest_open(&t, drv);
    txs_pgtest_exec(side, "create type pgdrv_late as enum ('x')");
    char *oid = txs_pgtest_value(side, "select 'pgdrv_late'::regtype::oid");
    drvtest_ok(&t, "select 'x'::pgdrv_late as l");
    char want[128];
    snprintf(want, sizeof want, "\"fields\":[{\"name\":\"l\",\"type\":\"%s\"}]", oid);
    ck_assert_msg(strstr(drvtest_out(&t), want), "%s", drvtest_out(&t));
    drvtest_close(&t);
    free(oid);
    txs_pgtest_exec(side, "drop type pgdrv_late");
    PQfinish(side);
}
END_TEST

START_TEST(non_utf8_session_text_is_repaired)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "set client_encoding to 'LATIN1'");
    /* chr(233) is é: sent as the single LATIN1 byte 0xE9; so is the column name's
     * \xe9, which this query text is read as (LATIN1) */
    const char *out = drvtest_ok(&t, "select 'caf' || chr(233) as \"w\xe9\"");
    ck_assert_msg(txs_utf8_valid(t.out.data, t.out.len), "invalid UTF-8: %s", out);
    ck_assert_msg(strstr(out, "{\"name\":\"w\xef\xbf\xbd\",\"type\":\"text\"}"), "%s", out);
    ck_assert_msg(strstr(out, "\"rows\":[[\"caf\xef\xbf\xbd\"]]"), "%s", out);
    drvtest_ok(&t, "reset client_encoding");
    drvtest_expect(&t, "select 'caf\xc3\xa9'", "\"caf\xc3\xa9\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(bytea_escape_output_still_base64)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "set bytea_output = escape");
    drvtest_expect(&t, "select '\\x00ff10'::bytea", "\"AP8Q\"");
    drvtest_expect(&t, "select ''::bytea", "\"\"");
    drvtest_close(&t);
}
END_TEST

/* ---- commands ---- */

START_TEST(command_and_row_count)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_str_eq(drvtest_ok(&t, "create temp table pgdrv_t (id int primary key, v text)"),
                     "\"command\":\"CREATE TABLE\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    const char *vals[] = {"1", "a", "2", NULL};
    ck_assert_int_eq(drvtest_runp(&t, "insert into pgdrv_t values ($1, $2), ($3, $4)", 4, vals),
                     TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    const char *one[] = {"1"};
    ck_assert_int_eq(drvtest_runp(&t, "update pgdrv_t set v = 'z' where id >= $1", 1, one),
                     TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(
        drvtest_ok(&t, "select id, v from pgdrv_t order by id"),
        "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
        "\"int4\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[1,\"z\"],[2,\"z\"]]");
    ck_assert_str_eq(drvtest_ok(&t, "select id from pgdrv_t where false"),
                     "\"command\":\"SELECT\",\"rowCount\":0,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int4\"}],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "delete from pgdrv_t where id = 1"),
                     "\"command\":\"DELETE\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, ""),
                     "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    /* COPY TO STDOUT: the data cannot be returned; the command and count are */
    ck_assert_str_eq(drvtest_ok(&t, "copy pgdrv_t to stdout"),
                     "\"command\":\"COPY\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    drvtest_close(&t);
}
END_TEST

START_TEST(copy_from_stdin_is_refused_not_hung)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temp table pgdrv_c (x int)");
    ck_assert_int_eq(drvtest_run(&t, "copy pgdrv_c from stdin"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "57014");
    ck_assert_msg(strstr(t.message, "not supported"), "%s", t.message);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from pgdrv_c", "0");
    drvtest_close(&t);
}
END_TEST

/* ---- errors ---- */

START_TEST(db_errors_carry_their_fields)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temp table pgdrv_t (id int primary key)");
    drvtest_ok(&t, "insert into pgdrv_t values (1)");
    ck_assert_int_eq(drvtest_run(&t, "insert into pgdrv_t values (1)"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "23505");
    ck_assert_str_eq(t.message, "duplicate key value violates unique constraint \"pgdrv_t_pkey\"");
    ck_assert_str_eq(t.detail, "Key (id)=(1) already exists.");
    ck_assert_str_eq(t.constraint, "pgdrv_t_pkey");
    ck_assert(t.from_db);
    ck_assert_int_eq(t.position, 0);

    ck_assert_int_eq(drvtest_run(&t, "select 1 frm pgdrv_t"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42601");
    ck_assert_str_eq(t.message, "syntax error at or near \"pgdrv_t\"");
    ck_assert_int_eq(t.position, 14);
    ck_assert_str_eq(t.constraint, "");

    ck_assert_int_eq(drvtest_run(&t, "select nosuchcolumn from pgdrv_t"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42703");
    ck_assert_int_eq(t.position, 8);

    /* the connection stays usable */
    drvtest_expect(&t, "select 41 + 1", "42");
    drvtest_close(&t);
}
END_TEST

START_TEST(tx_status_follows_the_backend)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temp table pgdrv_t (id int)");
    drvtest_ok(&t, "begin");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    drvtest_ok(&t, "insert into pgdrv_t values (1)");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drvtest_run(&t, "select 1/0"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "22012");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INERROR);
    ck_assert_int_eq(drvtest_run(&t, "select 1"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "25P02");
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INERROR);
    drvtest_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    /* while a statement runs */
    drvtest_start(&t, "select 1", 0, NULL);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    drvtest_wait(&t);
    drvtest_close(&t);
}
END_TEST

/* ---- identifiers ---- */

static const char *quoted(txs_buf_t *b, const char *name, size_t len)
{
    txs_buf_truncate(b, 0);
    drv->quote_ident(b, name, len);
    *txs_buf_reserve(b, 1) = '\0';
    return b->data;
}

START_TEST(quote_ident_doubles_quotes)
{
    txs_buf_t b;
    txs_buf_init(&b);
    ck_assert_str_eq(quoted(&b, "a\"b", 3), "\"a\"\"b\"");
    ck_assert_str_eq(quoted(&b, "", 0), "\"\"");
    ck_assert_str_eq(quoted(&b, "\"\"", 2), "\"\"\"\"\"\"");
    ck_assert_str_eq(quoted(&b, "Mixed Case;drop", 15), "\"Mixed Case;drop\"");
    ck_assert_str_eq(quoted(&b, "xyz", 2), "\"xy\""); /* len, not strlen */
    txs_buf_free(&b); /* quote_ident_round_trips: the server reads it back as the same name */
}
END_TEST

Suite *suite_pg_driver(void)
{
    Suite *s = suite_create("pg_driver");
    TCase *tc = tcase_create("pg_driver");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connect_ok_sets_session);
    tcase_add_test(tc, connect_keeps_user_options_but_pins_ours);
    tcase_add_test(tc, connect_uri_dsn);
    drvtest_add_connect_tests(tc, drv);
    tcase_add_test(tc, connect_bad_dsn_is_lost_08001);
    tcase_add_test(tc, connect_follows_a_new_socket);
    tcase_add_test(tc, notifications_and_notices_while_idle_are_not_death);
    tcase_add_test(tc, types_encode_exactly);
    tcase_add_test(tc, type_created_after_connect_is_its_oid);
    tcase_add_test(tc, non_utf8_session_text_is_repaired);
    tcase_add_test(tc, bytea_escape_output_still_base64);
    tcase_add_test(tc, command_and_row_count);
    tcase_add_test(tc, copy_from_stdin_is_refused_not_hung);
    tcase_add_test(tc, db_errors_carry_their_fields);
    drvtest_add_stmt_tests(tc, drv);
    tcase_add_test(tc, tx_status_follows_the_backend);
    tcase_add_test(tc, quote_ident_doubles_quotes);
    suite_add_tcase(s, tc);
    return s;
}
