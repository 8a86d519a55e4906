/* test_mysql_driver.c - the MySQL/MariaDB driver, one statement at a time: connect to errors. */
#include <check.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/driver.h"
#include "protocol/buf.h"
#include "protocol/errors.h"
#include "tests/integration/drvtest.h"
#include "tests/integration/mysqltest.h"

/* The driver on a real uv loop against the test server, through tests/integration/drvtest.h;
 * test_mysql_driver_ops.c has cancel, a dying connection, close, batches and reset.
 * The tests both drivers pass alike are in drvtest_*.c (drvtest_add_*_tests). */
Suite *suite_mysql_driver(void);

static const txs_driver_t *drv = &txs_driver_mysql;

/* ---- connect ---- */

START_TEST(connect_ok_sets_session)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_expect_new_session(&t);
    drvtest_expect(&t, "select @@session.time_zone", "\"+00:00\"");
    drvtest_expect(&t, "select @@session.session_track_state_change", "1");
    drvtest_expect(&t, "select @@character_set_client", "\"utf8mb4\"");
    drvtest_expect(&t, "select @@character_set_results", "\"utf8mb4\"");
    drvtest_expect(&t, "select database()", "\"txs\"");
    drvtest_expect(&t, "select current_user()", "\"txs@%\"");
    ck_assert_str_eq(drv->name, "mysql");
    ck_assert_uint_eq(drv->features, 0);
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_through_unix_sockets)
{
    const char *sock = txs_mysqltest_env("MYSQL_UNIX_SOCKET");
    char enc[400], dsn[600];
    size_t n = 0;
    for (const char *p = sock; *p && n + 4 < sizeof enc; p++)
        n += (size_t)(*p == '/' ? snprintf(enc + n, 4, "%%2F") : snprintf(enc + n, 2, "%c", *p));
    const char *forms[] = {"mysql://txs:txs@%s/txs", "mysql://txs:txs@/txs?socket=%s",
                           "mysql://txs:txs@localhost/txs?socket=%s"};
    for (int i = 0; i < 3; i++) {
        drvtest_t t;
        drvtest_init(&t, drv);
        snprintf(dsn, sizeof dsn, forms[i], i == 0 ? enc : sock);
        ck_assert_msg(drvtest_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s: %s", dsn, t.message);
        drvtest_expect(&t,
                       "select host from information_schema.processlist where id = "
                       "connection_id()",
                       "\"localhost\"");
        drvtest_expect(&t, "select current_user()", "\"txs@%\"");
        drvtest_close(&t);
    }
    /* a socket path alone: the OS user (root here, whose socket login needs no password),
     * no database; the password is not taken from MYSQL_PWD when none is set */
    char *pwd = strdup(txs_mysqltest_env("MYSQL_PWD"));
    unsetenv("MYSQL_PWD");
    drvtest_t t;
    drvtest_init(&t, drv);
    txs_drv_status_t st = drvtest_connect(&t, sock, 10000);
    setenv("MYSQL_PWD", pwd, 1); /* for the tests after this one when not forked */
    free(pwd);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %s", sock, t.message);
    drvtest_expect(&t, "select current_user()", "\"root@localhost\"");
    drvtest_expect(&t, "select database()", "null");
    drvtest_expect(&t, "select @@session.time_zone", "\"+00:00\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_without_password_reads_mysql_pwd)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs@%s:%s/txs", txs_mysqltest_env("MYSQL_HOST"),
             txs_mysqltest_env("MYSQL_TCP_PORT"));
    txs_mysqltest_env("MYSQL_PWD"); /* as the mysql client does */
    ck_assert_msg(drvtest_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s", t.message);
    drvtest_expect(&t, "select current_user()", "\"txs@%\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_resolves_host_names)
{
    /* not "localhost" (the unix socket to MySQL clients): a name resolved off the loop */
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@LocalHost:%s/txs",
             txs_mysqltest_env("MYSQL_TCP_PORT"));
    ck_assert_msg(drvtest_connect(&t, dsn, 10000) == TXS_DRV_OK, "%s", t.message);
    const char *out = drvtest_ok(&t, "select substring_index(host, ':', 1) from "
                                     "information_schema.processlist where id = connection_id()");
    ck_assert_msg(strstr(out, "\"rows\":[[\"127.0.0.1\"]]"), "%s", out);
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_bad_dsn_is_lost_08001)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    ck_assert_int_eq(drvtest_connect(&t, "mysql://txs:txs@127.0.0.1/txs?sslmode=require", 10000),
                     TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_str_eq(t.message, "unknown option \"sslmode\" in the dsn (known: socket)");
    drvtest_close(&t);
    drvtest_init(&t, drv);
    ck_assert_int_eq(drvtest_connect(&t, "host=127.0.0.1 user=txs", 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_msg(strstr(t.message, "mysql://user:password@host:port/database"), "%s", t.message);
    drvtest_close(&t);
}
END_TEST

START_TEST(connect_bad_password_is_lost_08001)
{
    drvtest_t t;
    drvtest_init(&t, drv);
    char dsn[300];
    snprintf(dsn, sizeof dsn, "mysql://txs:wrong@%s:%s/txs", txs_mysqltest_env("MYSQL_HOST"),
             txs_mysqltest_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_int_eq(t.vendor, 1045);
    ck_assert_msg(strstr(t.message, "Access denied for user 'txs'"), "%s", t.message);
    drvtest_close(&t);
    /* an unknown database */
    drvtest_init(&t, drv);
    snprintf(dsn, sizeof dsn, "mysql://txs:txs@%s:%s/nosuchdb", txs_mysqltest_env("MYSQL_HOST"),
             txs_mysqltest_env("MYSQL_TCP_PORT"));
    ck_assert_int_eq(drvtest_connect(&t, dsn, 10000), TXS_DRV_LOST);
    ck_assert_str_eq(t.code, "08001");
    ck_assert_int_eq(t.vendor, 1049);
    ck_assert_str_eq(t.message, "Unknown database 'nosuchdb'");
    drvtest_close(&t);
}
END_TEST

/* ---- values and types ---- */

/* Run sql through the text protocol, then through a prepared statement (a parameter
 * that changes nothing is added as "?" in place of `marker`), and check both give want. */
static void both_paths(drvtest_t *t, const char *sql, const char *marker, const char *want)
{
    const char *out = drvtest_ok(t, sql);
    ck_assert_msg(strcmp(out, want) == 0, "text protocol:\n got %s\nwant %s", out, want);
    char prepared[4096];
    const char *m = strstr(sql, marker);
    ck_assert_ptr_nonnull(m);
    snprintf(prepared, sizeof prepared, "%.*s?%s", (int)(m - sql), sql, m + strlen(marker));
    const char *one[] = {"1"};
    const unsigned char kinds[] = {TXS_PARAM_NUMBER};
    txs_drv_status_t st = drvtest_runk(t, prepared, 1, one, kinds);
    ck_assert_msg(st == TXS_DRV_OK, "%s: %s %s", prepared, t->code, t->message);
    out = drvtest_out(t);
    ck_assert_msg(strcmp(out, want) == 0, "binary protocol:\n got %s\nwant %s", out, want);
}

START_TEST(column_types_encode_the_same_through_both_protocols)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(
        &t, "create temporary table mdrv_ty (id int primary key, ti tinyint, tu tinyint unsigned,"
            " si smallint, mi mediumint, i int, iz int(5) zerofill, bi bigint,"
            " bu bigint unsigned, yr year, fl float, fl2 float, db double, db2 double,"
            " fd float(7,4), dd double(10,3), de decimal(10,3), dl decimal(30,10), bt bit(10),"
            " b64 bit(64), js json, bn binary(3), vb varbinary(10), bl blob, vc varchar(20),"
            " ch char(5), tx text, en enum('a','b'), st set('x','y'), d date, tm time(2),"
            " t0 time, dt datetime(3), ts timestamp(6) null, dz datetime(2), g geometry,"
            " i6 inet6, uu uuid, lt longtext, tb tinyblob) default charset utf8mb4");
    drvtest_ok(
        &t, "insert into mdrv_ty values (1, -128, 255, -32768, 8388607, -2147483648, 42,"
            " -9223372036854775808, 18446744073709551615, 2024, 1.2345678, 16777217,"
            " 0.1e0 + 0.2e0, 1e300, 1.2, 2.5, 1.5, -12345678901234567890.0123456789,"
            " b'1000000001', b'1111111111111111111111111111111111111111111111111111111111111111',"
            " '{\"a\": [1, 2],\n \"b\": \"x y\"}', x'00ff10', x'0102', 'hello',"
            " 'say \"hi\"\\n\xc3\xa9\xf0\x9f\x98\x80', 'ab', 'long text', 'b', 'y,x',"
            " '2024-01-02', '-12:34:56.78', '100:00:00', '2024-01-02 03:04:05.12',"
            " '2024-01-02 03:04:05.123456', '0000-00-00 00:00:00', ST_GeomFromText('POINT(1 2)'),"
            " '::1', '123e4567-e89b-12d3-a456-426655440000', 'x', '')");
    drvtest_ok(&t, "insert into mdrv_ty (id) values (2)");
    const char *fields =
        "\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"ti\",\"type\":\"tinyint\"},"
        "{\"name\":\"tu\",\"type\":\"tinyint unsigned\"},{\"name\":\"si\",\"type\":\"smallint\"},"
        "{\"name\":\"mi\",\"type\":\"mediumint\"},{\"name\":\"i\",\"type\":\"int\"},"
        "{\"name\":\"iz\",\"type\":\"int unsigned\"},{\"name\":\"bi\",\"type\":\"bigint\"},"
        "{\"name\":\"bu\",\"type\":\"bigint unsigned\"},{\"name\":\"yr\",\"type\":\"year\"},"
        "{\"name\":\"fl\",\"type\":\"float\"},{\"name\":\"fl2\",\"type\":\"float\"},"
        "{\"name\":\"db\",\"type\":\"double\"},{\"name\":\"db2\",\"type\":\"double\"},"
        "{\"name\":\"fd\",\"type\":\"float\"},{\"name\":\"dd\",\"type\":\"double\"},"
        "{\"name\":\"de\",\"type\":\"decimal\"},{\"name\":\"dl\",\"type\":\"decimal\"},"
        "{\"name\":\"bt\",\"type\":\"bit\"},{\"name\":\"b64\",\"type\":\"bit\"},"
        "{\"name\":\"js\",\"type\":\"json\"},{\"name\":\"bn\",\"type\":\"binary\"},"
        "{\"name\":\"vb\",\"type\":\"varbinary\"},{\"name\":\"bl\",\"type\":\"blob\"},"
        "{\"name\":\"vc\",\"type\":\"varchar\"},{\"name\":\"ch\",\"type\":\"char\"},"
        "{\"name\":\"tx\",\"type\":\"text\"},{\"name\":\"en\",\"type\":\"enum\"},"
        "{\"name\":\"st\",\"type\":\"set\"},{\"name\":\"d\",\"type\":\"date\"},"
        "{\"name\":\"tm\",\"type\":\"time\"},{\"name\":\"t0\",\"type\":\"time\"},"
        "{\"name\":\"dt\",\"type\":\"datetime\"},{\"name\":\"ts\",\"type\":\"timestamp\"},"
        "{\"name\":\"dz\",\"type\":\"datetime\"},{\"name\":\"g\",\"type\":\"geometry\"},"
        "{\"name\":\"i6\",\"type\":\"inet6\"},{\"name\":\"uu\",\"type\":\"uuid\"},"
        "{\"name\":\"lt\",\"type\":\"text\"},{\"name\":\"tb\",\"type\":\"blob\"}]";
    char want[4096];
    snprintf(want, sizeof want,
             "\"command\":\"SELECT\",\"rowCount\":2,%s,\"rows\":["
             "[1,-128,255,-32768,8388607,-2147483648,42,-9223372036854775808,"
             "18446744073709551615,2024,1.23457,16777200,0.30000000000000004,1e+300,1.2,2.5,"
             "\"1.500\",\"-12345678901234567890.0123456789\",513,18446744073709551615,"
             "{\"a\":[1,2],\"b\":\"x y\"},\"AP8Q\",\"AQI=\",\"aGVsbG8=\","
             "\"say \\\"hi\\\"\\n\xc3\xa9\xf0\x9f\x98\x80\",\"ab\",\"long text\",\"b\",\"x,y\","
             "\"2024-01-02\",\"-12:34:56.78\",\"100:00:00\",\"2024-01-02 03:04:05.120\","
             "\"2024-01-02 03:04:05.123456\",\"0000-00-00 00:00:00.00\","
             "\"AQEAAAAAAAAAAADwPwAAAAAAAABA\",\"::1\",\"123e4567-e89b-12d3-a456-426655440000\","
             "\"x\",\"\"],"
             "[2,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
             "null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
             "null,null,null,null,null,null,null,null]]",
             fields);
    both_paths(&t, "select * from mdrv_ty where 1 = 1 order by id", "1 = 1", want);
    drvtest_close(&t);
}
END_TEST

START_TEST(expression_types_encode_the_same_through_both_protocols)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    both_paths(
        &t,
        "select 1 as one, 12345678901 as big, -1.50 as dcm, 1.5e0 as dbl, 1/3e0 as third,"
        " -0e0 as negzero, 'x' as s, _binary'x' as bx, null as n, json_object('a', 1, 'b',"
        " json_array(true, null)) as j, json_extract('[1.5]', '$[0]') as je, 'not json' as nj,"
        " cast('2024-01-02' as date) as d, cast('2024-01-02 03:04:05.5' as datetime(1)) as dt,"
        " time'-838:59:59' as tmin, b'101' as bits, true as tr, year('2024-05-06') as y,"
        " cast(1.5 as float) as f, round(2.345e0, 2) as r, cast(18446744073709551615 as"
        " unsigned) as umax, uuid_short() > 0 as pos, cast('::ffff:1.2.3.4' as inet6) as ip"
        " from dual where 7 = 7",
        "7 = 7",
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"one\",\"type\":\"int\"},"
        "{\"name\":\"big\",\"type\":\"bigint\"},{\"name\":\"dcm\",\"type\":\"decimal\"},"
        "{\"name\":\"dbl\",\"type\":\"double\"},{\"name\":\"third\",\"type\":\"double\"},"
        "{\"name\":\"negzero\",\"type\":\"double\"},{\"name\":\"s\",\"type\":\"varchar\"},"
        "{\"name\":\"bx\",\"type\":\"varbinary\"},{\"name\":\"n\",\"type\":\"null\"},"
        "{\"name\":\"j\",\"type\":\"json\"},{\"name\":\"je\",\"type\":\"json\"},"
        "{\"name\":\"nj\",\"type\":\"varchar\"},{\"name\":\"d\",\"type\":\"date\"},"
        "{\"name\":\"dt\",\"type\":\"datetime\"},{\"name\":\"tmin\",\"type\":\"time\"},"
        "{\"name\":\"bits\",\"type\":\"varbinary\"},{\"name\":\"tr\",\"type\":\"int\"},"
        "{\"name\":\"y\",\"type\":\"int\"},{\"name\":\"f\",\"type\":\"float\"},"
        "{\"name\":\"r\",\"type\":\"double\"},{\"name\":\"umax\",\"type\":\"bigint unsigned\"},"
        "{\"name\":\"pos\",\"type\":\"int\"},{\"name\":\"ip\",\"type\":\"inet6\"}],"
        "\"rows\":[[1,12345678901,\"-1.50\",1.5,0.3333333333333333,0,\"x\",\"eA==\",null,"
        "{\"a\":1,\"b\":[true,null]},1.5,\"not json\",\"2024-01-02\",\"2024-01-02 03:04:05.5\","
        "\"-838:59:59\",\"BQ==\",1,2024,1.5,2.35,18446744073709551615,1,\"::ffff:1.2.3.4\"]]");
    drvtest_close(&t);
}
END_TEST

START_TEST(parameters_bind_by_their_json_kind)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *v[] = {"42",
                       "42",
                       "true",
                       "false",
                       "1.50",
                       "18446744073709551615",
                       "123456789012345678901234567890",
                       "-9223372036854775808",
                       "1.5e3",
                       NULL,
                       "[1, {\"a\": null}]"};
    const unsigned char k[] = {TXS_PARAM_NUMBER, TXS_PARAM_TEXT,   TXS_PARAM_BOOL,
                               TXS_PARAM_BOOL,   TXS_PARAM_NUMBER, TXS_PARAM_NUMBER,
                               TXS_PARAM_NUMBER, TXS_PARAM_NUMBER, TXS_PARAM_NUMBER,
                               TXS_PARAM_TEXT,   TXS_PARAM_JSON};
    txs_drv_status_t st =
        drvtest_runk(&t,
                     "select ? as n, ? as s, ? as t, ? as f, ? as d, ? as u, ? as big, ? as imin,"
                     " ? + 0 as e, ? as nul, json_length(?) as jl",
                     11, v, k);
    ck_assert_msg(st == TXS_DRV_OK, "%s %s", t.code, t.message);
    ck_assert_str_eq(
        drvtest_out(&t),
        "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"n\",\"type\":\"bigint\"},"
        "{\"name\":\"s\",\"type\":\"char\"},{\"name\":\"t\",\"type\":\"bigint\"},"
        "{\"name\":\"f\",\"type\":\"bigint\"},{\"name\":\"d\",\"type\":\"decimal\"},"
        "{\"name\":\"u\",\"type\":\"bigint unsigned\"},{\"name\":\"big\",\"type\":\"decimal\"},"
        "{\"name\":\"imin\",\"type\":\"bigint\"},{\"name\":\"e\",\"type\":\"decimal\"},"
        "{\"name\":\"nul\",\"type\":\"null\"},{\"name\":\"jl\",\"type\":\"int\"}],"
        "\"rows\":[[42,\"42\",1,0,\"1.50\",18446744073709551615,"
        "\"123456789012345678901234567890\",-9223372036854775808,\"1500\",null,2]]");
    /* LIMIT takes an integer, and a kind-less statement binds text */
    drvtest_ok(&t, "create temporary table mdrv_p (x int, j json)");
    drvtest_ok(&t, "insert into mdrv_p (x) values (1), (2), (3)");
    const char *two[] = {"2"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    ck_assert_int_eq(drvtest_runk(&t, "select x from mdrv_p order by x limit ?", 1, two, num),
                     TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[1],[2]]"), "%s", drvtest_out(&t));
    ck_assert_int_eq(drvtest_runp(&t, "select x from mdrv_p where x = ?", 1, two), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[2]]"), "%s", drvtest_out(&t));
    /* JSON goes in as its text */
    const char *js[] = {"{\"k\":[true,null,1.5]}", "3"};
    const unsigned char jk[] = {TXS_PARAM_JSON, TXS_PARAM_NUMBER};
    ck_assert_int_eq(drvtest_runk(&t, "update mdrv_p set j = ? where x = ?", 2, js, jk),
                     TXS_DRV_OK);
    drvtest_expect(&t, "select j from mdrv_p where x = 3", "{\"k\":[true,null,1.5]}");
    drvtest_expect(&t, "select json_extract(j, '$.k[2]') from mdrv_p where x = 3", "1.5");
    /* the text of a string is sent as it is: no quoting games */
    const char *evil[] = {"x'); drop table mdrv_p; --"};
    ck_assert_int_eq(drvtest_runp(&t, "select ? as v", 1, evil), TXS_DRV_OK);
    ck_assert_msg(strstr(drvtest_out(&t), "\"rows\":[[\"x'); drop table mdrv_p; --\"]]"), "%s",
                  drvtest_out(&t));
    drvtest_close(&t);
}
END_TEST

START_TEST(wrong_parameter_counts_are_refused)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    const char *v[] = {"1", "2"};
    ck_assert_int_eq(drvtest_runp(&t, "select ? + ?", 1, v), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_str_eq(t.message, "the statement has 2 parameter markers but 1 parameter was given");
    ck_assert(!t.from_db);
    ck_assert_int_eq(drvtest_runp(&t, "select 1", 2, v), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "08P01");
    ck_assert_str_eq(t.message,
                     "the statement has 0 parameter markers but 2 parameters were given");
    /* without parameters, a marker is the server's syntax error */
    ck_assert_int_eq(drvtest_run(&t, "select ?"), TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "42000");
    ck_assert_int_eq(t.vendor, 1064);
    drvtest_expect(&t, "select 'usable'", "\"usable\"");
    drvtest_close(&t);
}
END_TEST

START_TEST(command_row_count_and_last_insert_id)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    ck_assert_str_eq(
        drvtest_ok(&t, "create temporary table mdrv_t (id int auto_increment primary key, v text)"),
        "\"command\":\"CREATE\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "insert into mdrv_t (v) values ('a'), ('b')"),
                     "\"command\":\"INSERT\",\"rowCount\":2,\"lastInsertId\":1,\"fields\":[],"
                     "\"rows\":[]");
    const char *vals[] = {"c"};
    ck_assert_int_eq(drvtest_runp(&t, "  /* x */ INSERT into mdrv_t (v) values (?)", 1, vals),
                     TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t), "\"command\":\"INSERT\",\"rowCount\":1,\"lastInsertId\":3,"
                                      "\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "insert into mdrv_t values (10, 'x')"),
                     "\"command\":\"INSERT\",\"rowCount\":1,\"lastInsertId\":10,\"fields\":[],"
                     "\"rows\":[]");
    /* UPDATE counts the rows it matched, changed or not (as PostgreSQL does) */
    ck_assert_str_eq(drvtest_ok(&t, "update mdrv_t set v = 'z' where id <= 2"),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "update mdrv_t set v = 'z' where id <= 3"),
                     "\"command\":\"UPDATE\",\"rowCount\":3,\"fields\":[],\"rows\":[]");
    const char *three[] = {"3"};
    ck_assert_int_eq(drvtest_runp(&t, "update mdrv_t set v = 'y' where id >= ?", 1, three),
                     TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t),
                     "\"command\":\"UPDATE\",\"rowCount\":2,\"fields\":[],\"rows\":[]");
    /* no lastInsertId on a SELECT, even after an INSERT */
    ck_assert_str_eq(
        drvtest_ok(&t, "select id, v from mdrv_t where id > 2 order by id"),
        "\"command\":\"SELECT\",\"rowCount\":2,\"fields\":[{\"name\":\"id\",\"type\":"
        "\"int\"},{\"name\":\"v\",\"type\":\"text\"}],\"rows\":[[3,\"y\"],[10,\"y\"]]");
    ck_assert_str_eq(drvtest_ok(&t, "select id from mdrv_t where false"),
                     "\"command\":\"SELECT\",\"rowCount\":0,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int\"}],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "replace into mdrv_t values (10, 'r')"),
                     "\"command\":\"REPLACE\",\"rowCount\":2,\"lastInsertId\":10,\"fields\":[],"
                     "\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "delete from mdrv_t where id = 1"),
                     "\"command\":\"DELETE\",\"rowCount\":1,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "# comment\nset @x = 1"),
                     "\"command\":\"SET\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, "delete from mdrv_t returning id"),
                     "\"command\":\"SELECT\",\"rowCount\":3,\"fields\":[{\"name\":\"id\",\"type\":"
                     "\"int\"}],\"rows\":[[2],[3],[10]]");
    /* an empty statement: OK and command "", as on PostgreSQL */
    ck_assert_str_eq(drvtest_ok(&t, ""),
                     "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    ck_assert_str_eq(drvtest_ok(&t, " -- nothing\n /* at all */ "),
                     "\"command\":\"\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    drvtest_close(&t);
}
END_TEST

START_TEST(calls_give_their_first_result_set)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, txs_mysqltest_own("drop procedure if exists mdrv_proc"));
    drvtest_ok(&t, txs_mysqltest_own("drop procedure if exists mdrv_quiet"));
    drvtest_ok(
        &t, txs_mysqltest_own(
                "create procedure mdrv_proc(in a int) begin select a as x, 'one' as y; select 2 as "
                "z; end"));
    drvtest_ok(
        &t, txs_mysqltest_own("create procedure mdrv_quiet() begin declare v int; set v = 1; end"));
    const char *want = "\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"x\","
                       "\"type\":\"int\"},{\"name\":\"y\",\"type\":\"varchar\"}],"
                       "\"rows\":[[7,\"one\"]]";
    ck_assert_str_eq(drvtest_ok(&t, txs_mysqltest_own("call mdrv_proc(7)")), want);
    const char *seven[] = {"7"};
    const unsigned char num[] = {TXS_PARAM_NUMBER};
    ck_assert_int_eq(drvtest_runk(&t, txs_mysqltest_own("call mdrv_proc(?)"), 1, seven, num),
                     TXS_DRV_OK);
    ck_assert_str_eq(drvtest_out(&t), want);
    ck_assert_str_eq(drvtest_ok(&t, txs_mysqltest_own("call mdrv_quiet()")),
                     "\"command\":\"CALL\",\"rowCount\":0,\"fields\":[],\"rows\":[]");
    drvtest_expect(&t, "select 'after'", "\"after\"");
    drvtest_ok(&t, txs_mysqltest_own("drop procedure mdrv_proc"));
    drvtest_ok(&t, txs_mysqltest_own("drop procedure mdrv_quiet"));
    drvtest_close(&t);
}
END_TEST

/* ---- errors ---- */

START_TEST(db_errors_carry_their_fields)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table mdrv_e (id int primary key)");
    drvtest_ok(&t, "insert into mdrv_e values (1)");
    for (int prepared = 0; prepared < 2; prepared++) {
        const char *one[] = {"1"};
        ck_assert_int_eq(prepared ? drvtest_runp(&t, "insert into mdrv_e values (?)", 1, one)
                                  : drvtest_run(&t, "insert into mdrv_e values (1)"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "23000");
        ck_assert_int_eq(t.vendor, 1062);
        ck_assert_str_eq(t.message, "Duplicate entry '1' for key 'PRIMARY'");
        ck_assert(t.from_db);
        ck_assert(!t.has_index);
        ck_assert_int_eq(prepared ? drvtest_runp(&t, "select 1 frm mdrv_e where ?", 1, one)
                                  : drvtest_run(&t, "select 1 frm mdrv_e"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42000");
        ck_assert_int_eq(t.vendor, 1064);
        ck_assert_msg(strstr(t.message, "You have an error in your SQL syntax"), "%s", t.message);
        ck_assert_int_eq(prepared ? drvtest_runp(&t, "select nosuch from mdrv_e where ?", 1, one)
                                  : drvtest_run(&t, "select nosuch from mdrv_e"),
                         TXS_DRV_DB_ERROR);
        ck_assert_str_eq(t.code, "42S22");
        ck_assert_int_eq(t.vendor, 1054);
        ck_assert_msg(strncmp(t.message, "Unknown column 'nosuch' in ", 27) == 0, "%s", t.message);
    }
    /* an error while the rows come (not at execute) */
    ck_assert_int_eq(drvtest_run(&t, "select json_extract('[1', '$') as x, 1 / 0"), TXS_DRV_OK);
    drvtest_expect(&t, "select 41 + 1", "42");
    drvtest_close(&t);
}
END_TEST

START_TEST(tx_status_follows_the_backend)
{
    drvtest_t t;
    drvtest_open(&t, drv);
    drvtest_ok(&t, "create temporary table mdrv_x (id int primary key) engine=innodb");
    drvtest_ok(&t, "start transaction");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    drvtest_ok(&t, "insert into mdrv_x values (1)");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_INTRANS);
    /* MySQL keeps the transaction going after a failed statement: no INERROR */
    ck_assert_int_eq(drvtest_run(&t, "insert into mdrv_x values (1)"), TXS_DRV_DB_ERROR);
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    drvtest_ok(&t, "rollback");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_expect(&t, "select count(*) from mdrv_x", "0");
    drvtest_ok(&t, "begin");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_INTRANS);
    drvtest_ok(&t, "commit");
    ck_assert_int_eq(t.tx, TXS_DRV_TX_IDLE);
    drvtest_start(&t, "select 1", 0, NULL);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_ACTIVE);
    drvtest_wait(&t);
    ck_assert_int_eq(drv->tx_status(t.c), TXS_DRV_TX_IDLE);
    drvtest_close(&t);
}
END_TEST

/* ---- BEGIN ---- */

/* Run begin_sql's statements for these options. */
static void run_begin(drvtest_t *t, txs_isolation_t iso, txs_tristate_t ro)
{
    char buf[160];
    txs_stmt_t s[TXS_DRV_BEGIN_MAX];
    int n = drv->begin_sql(iso, ro, TXS_TRUE, buf, sizeof buf, s);
    ck_assert_int_ge(n, 1);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strlen(buf) < sizeof buf && s[i].sql[s[i].sql_len] == '\0', "%d", i);
    for (int i = 0; i < n; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "%.*s", (int)s[i].sql_len, s[i].sql);
        drvtest_ok(t, sql);
    }
    ck_assert_int_eq(t->tx, TXS_DRV_TX_INTRANS);
}

/* Prove the transaction's isolation level by what it sees of a side connection's work. */
static void expect_level(drvtest_t *t, MYSQL *side, txs_isolation_t iso)
{
    txs_mysqltest_exec(side, txs_mysqltest_own("delete from mdrv_i"));
    switch (iso) {
    case TXS_ISO_READ_UNCOMMITTED: /* sees what is not committed */
        txs_mysqltest_exec(side, "start transaction");
        txs_mysqltest_exec(side, txs_mysqltest_own("insert into mdrv_i values (1)"));
        drvtest_expect(t, txs_mysqltest_own("select count(*) from mdrv_i"), "1");
        txs_mysqltest_exec(side, "rollback");
        return;
    case TXS_ISO_READ_COMMITTED:  /* each read sees what is committed by then */
    case TXS_ISO_REPEATABLE_READ: /* the first read's snapshot holds */
        drvtest_expect(t, txs_mysqltest_own("select count(*) from mdrv_i"), "0");
        txs_mysqltest_exec(side, txs_mysqltest_own("insert into mdrv_i values (2)"));
        drvtest_expect(t, txs_mysqltest_own("select count(*) from mdrv_i"),
                       iso == TXS_ISO_READ_COMMITTED ? "1" : "0");
        return;
    case TXS_ISO_SERIALIZABLE: { /* a plain read locks what it read */
        drvtest_expect(t, txs_mysqltest_own("select count(*) from mdrv_i"), "0");
        txs_mysqltest_exec(side, "set session innodb_lock_wait_timeout = 1");
        ck_assert_int_ne(mysql_query(side, txs_mysqltest_own("insert into mdrv_i values (3)")), 0);
        ck_assert_int_eq(mysql_errno(side), 1205); /* lock wait timeout */
        return;
    }
    default:
        ck_abort_msg("no such level");
    }
}

START_TEST(begin_sql_opens_the_transaction_asked_for)
{
    char buf[160];
    txs_stmt_t s[TXS_DRV_BEGIN_MAX];
    ck_assert_int_eq(drv->begin_sql(TXS_ISO_DEFAULT, TXS_UNSET, TXS_UNSET, buf, sizeof buf, s), 1);
    ck_assert_str_eq(s[0].sql, "START TRANSACTION");
    ck_assert_int_eq(drv->begin_sql(TXS_ISO_READ_COMMITTED, TXS_TRUE, TXS_TRUE, buf, sizeof buf, s),
                     2);
    ck_assert_str_eq(s[0].sql, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
    ck_assert_str_eq(s[1].sql, "START TRANSACTION READ ONLY"); /* deferrable left out */

    MYSQL *side = txs_mysqltest_side();
    txs_mysqltest_exec(side, txs_mysqltest_own("drop table if exists mdrv_i"));
    txs_mysqltest_exec(side, txs_mysqltest_own("create table mdrv_i (x int) engine=innodb"));
    drvtest_t t;
    drvtest_open(&t, drv);
    run_begin(&t, TXS_ISO_SERIALIZABLE, TXS_UNSET);
    expect_level(&t, side, TXS_ISO_SERIALIZABLE);
    drvtest_ok(&t, "commit");
    run_begin(&t, TXS_ISO_DEFAULT, TXS_UNSET); /* the level was for that transaction only */
    expect_level(&t, side, TXS_ISO_REPEATABLE_READ);
    drvtest_ok(&t, "rollback");
    run_begin(&t, TXS_ISO_READ_UNCOMMITTED, TXS_FALSE);
    expect_level(&t, side, TXS_ISO_READ_UNCOMMITTED);
    drvtest_ok(&t, txs_mysqltest_own("insert into mdrv_i values (1)")); /* READ WRITE */
    drvtest_ok(&t, "rollback");
    run_begin(&t, TXS_ISO_READ_COMMITTED, TXS_TRUE);
    expect_level(&t, side, TXS_ISO_READ_COMMITTED);
    ck_assert_int_eq(drvtest_run(&t, txs_mysqltest_own("insert into mdrv_i values (1)")),
                     TXS_DRV_DB_ERROR);
    ck_assert_str_eq(t.code, "25006");
    ck_assert_int_eq(t.vendor, 1792);
    drvtest_ok(&t, "rollback");
    run_begin(&t, TXS_ISO_REPEATABLE_READ, TXS_TRUE);
    expect_level(&t, side, TXS_ISO_REPEATABLE_READ);
    drvtest_ok(&t, "rollback");
    drvtest_close(&t);
    txs_mysqltest_exec(side, txs_mysqltest_own("drop table mdrv_i"));
    mysql_close(side);
}
END_TEST

Suite *suite_mysql_driver(void)
{
    Suite *s = suite_create("mysql_driver");
    TCase *tc = tcase_create("mysql_driver");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, connect_ok_sets_session);
    tcase_add_test(tc, connect_through_unix_sockets);
    tcase_add_test(tc, connect_without_password_reads_mysql_pwd);
    tcase_add_test(tc, connect_resolves_host_names);
    drvtest_add_connect_tests(tc, drv);
    tcase_add_test(tc, connect_bad_dsn_is_lost_08001);
    tcase_add_test(tc, connect_bad_password_is_lost_08001);
    tcase_add_test(tc, column_types_encode_the_same_through_both_protocols);
    tcase_add_test(tc, expression_types_encode_the_same_through_both_protocols);
    tcase_add_test(tc, parameters_bind_by_their_json_kind);
    tcase_add_test(tc, wrong_parameter_counts_are_refused);
    tcase_add_test(tc, command_row_count_and_last_insert_id);
    tcase_add_test(tc, calls_give_their_first_result_set);
    tcase_add_test(tc, db_errors_carry_their_fields);
    drvtest_add_stmt_tests(tc, drv);
    tcase_add_test(tc, tx_status_follows_the_backend);
    tcase_add_test(tc, begin_sql_opens_the_transaction_asked_for);
    suite_add_tcase(s, tc);
    return s;
}
