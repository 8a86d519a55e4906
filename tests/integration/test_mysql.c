/* test_mysql.c - where MySQL differs from PostgreSQL, the daemon gives the same contract
 * or refuses clearly: failed state, implicit commits, session state between users,
 * statements of a client that died. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

Suite *suite_mysql(void);

static cJSON *query(txscope_conn_t *c, const char *ctx, const char *sql)
{
    return th_call(c, "{\"op\":\"query\",\"ctx\":\"%s\",\"sql\":\"%s\"}", ctx, sql);
}

static const char *error_message(const cJSON *r)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    return cJSON_IsString(m) ? m->valuestring : "";
}

/* MySQL would let the transaction go on after a failed statement and commit the rest;
 * the daemon makes it failed, as PostgreSQL does. */
START_TEST(failed_statement_then_commit_is_refused_not_partial)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_fail");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(query(c, "a", "insert into t_my_fail values (1)"), "insert");
    cJSON *r = query(c, "a", "insert into t_my_fail values (1)");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    const cJSON *vendor =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(r, "error"), "vendorCode");
    ck_assert_int_eq((int)cJSON_GetNumberValue(vendor), 1062);
    th_expect_code(r, "23000", "duplicate key");
    th_expect_code(query(c, "a", "insert into t_my_fail values (2)"), "25P02", "after failure");
    r = th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "25P02", "commit after failure");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "rollback");
    ck_assert_int_eq(th_side_count_rows(side, "t_my_fail"), 0); /* not even row 1 */
    r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"a\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "outcome")->valuestring, "rolled_back");
    cJSON_Delete(r);
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);

    /* rollback_to a savepoint taken before the failure clears it, as on PostgreSQL. */
    th_expect_ok(query(c, "b", "insert into t_my_fail values (10)"), "b insert");
    th_expect_ok(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"b\",\"name\":\"sp\"}"), "savepoint");
    th_expect_code(query(c, "b", "insert into t_my_fail values (10)"), "23000", "b dup");
    th_expect_ok(th_call(c, "{\"op\":\"rollback_to\",\"ctx\":\"b\",\"name\":\"sp\"}"), "back");
    th_expect_ok(query(c, "b", "insert into t_my_fail values (11)"), "b insert 2");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"b\"}"), "b commit");
    ck_assert_int_eq(th_side_long(side, "select sum(id) from t_my_fail"), 21);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A client killed while its SELECT SLEEP(10) runs: KILL QUERY from another connection
 * ends the statement at once; the connection is reused clean or closed. */
START_TEST(killed_client_sleep_is_killed_and_nothing_left_open)
{
    th_daemon_t d;
    th_daemon_start(&d, (const char *const[]){"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL});
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_kill");
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        txscope_conn_t *c = th_connect(&d);
        cJSON *r = query(c, "k", "insert into t_my_kill values (1)");
        bool ok = txscope_reply_ok(r);
        cJSON_Delete(r);
        char b = ok ? 'y' : 'n';
        ssize_t w = write(fds[1], &b, 1);
        (void)w;
        r = query(c, "k", "select sleep(10) as killed_client"); /* killed before it returns */
        _exit(0);
    }
    close(fds[1]);
    char b = 0;
    ck_assert_int_eq(read(fds[0], &b, 1), 1);
    ck_assert_int_eq(b, 'y');
    close(fds[0]);
    const char *running = "select count(*) from information_schema.processlist where "
                          "info like 'select sleep(10) as killed_client%'";
    long long t0 = th_now_ms();
    while (th_side_long(side, "%s", running) == 0) {
        ck_assert_msg(th_now_ms() - t0 < T_TIMEOUT, "the sleep never started");
        th_sleep_ms(10);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    long long gone = th_side_wait_zero(side, running, 5000);
    ck_assert_msg(gone >= 0 && gone < 1000, "the statement ran on for %lld ms", gone);
    ck_assert_int_ge(th_side_wait_no_backends(side, &d, TH_BUSY, 2000), 0);
    ck_assert_int_eq(th_side_long(side, "select count(*) from information_schema.innodb_trx"), 0);
    ck_assert_int_eq(th_side_count_rows(side, "t_my_kill"), 0);
    ck_assert_int_le(th_side_backends(side, &d, TH_ALL), 1);

    /* The pool's one connection serves the next client, and nothing is killed there. */
    txscope_conn_t *c = th_connect(&d);
    cJSON *r = th_call(c, "{\"op\":\"query\",\"ctx\":\"n\",\"sql\":\"select sleep(0.2) + 7\","
                          "\"autocommit\":true}");
    char *v = th_first_value(r);
    ck_assert_str_eq(v, "7");
    free(v);
    th_expect_ok(r, "next client");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* One backend connection, two sessions one after the other: nothing the first left in
 * the connection's session is seen by the second. */
START_TEST(session_state_does_not_reach_the_next_user)
{
    th_daemon_t d;
    th_daemon_start(&d, (const char *const[]){"TXSCOPE_DB_MAIN_POOL_SIZE=1", NULL});
    th_side_t *side = th_side();
    txscope_conn_t *c = th_connect(&d);
    long first = th_backend_id(c, "a", false);
    th_expect_ok(query(c, "a", "set @leak = 42"), "set var");
    th_expect_ok(query(c, "a", "create temporary table t_my_tmp (id int)"), "temp table");
    th_expect_ok(query(c, "a", "insert into t_my_tmp values (1)"), "temp row");
    cJSON *r = query(c, "a", "select get_lock('txs_test_lock', 0)");
    char *v = th_first_value(r);
    ck_assert_str_eq(v, "1");
    free(v);
    th_expect_ok(r, "get_lock");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"a\"}"), "end");

    long second = th_backend_id(c, "b", false);
    ck_assert_int_eq(second, first); /* the same connection, reset */
    r = query(c, "b", "select @leak");
    v = th_first_value(r);
    ck_assert_str_eq(v, "null");
    free(v);
    th_expect_ok(r, "var gone");
    th_expect_code(query(c, "b", "select * from t_my_tmp"), "42S02", "temp table gone");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"b\"}"), "rollback b");
    ck_assert_int_eq(th_side_long(side, "select is_free_lock('txs_test_lock')"), 1);

    /* The reset connection goes on serving. */
    th_expect_ok(query(c, "c", "select 1"), "plain");
    th_expect_ok(th_call(c, "{\"op\":\"end\",\"ctx\":\"c\"}"), "end c");
    ck_assert_int_eq(th_backend_id(c, "d", true), first);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* DDL commits a MySQL transaction implicitly: refused inside one, fine on its own. */
START_TEST(ddl_in_transaction_is_refused)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_ddl");
    th_side_exec(side, "drop table if exists t_my_ddl2");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(query(c, "a", "insert into t_my_ddl values (1)"), "insert");
    cJSON *r = query(c, "a", "create table t_my_ddl2 (id int)");
    ck_assert_str_eq(txscope_reply_tx_state(r), "open"); /* nothing was sent */
    ck_assert_ptr_nonnull(strstr(error_message(r), "autocommit"));
    th_expect_code(r, "0A000", "create in tx");
    th_expect_code(query(c, "a", "/*!50000 drop table t_my_ddl */"), "0A000", "exec comment");
    th_expect_code(query(c, "a", "truncate t_my_ddl"), "0A000", "truncate");
    /* With no transaction open the query would autobegin one: refused as well. */
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "rollback");
    r = query(c, "a", "alter table t_my_ddl add note text");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "0A000", "autobegin ddl");
    ck_assert_int_eq(th_side_count_rows(side, "t_my_ddl"), 0);
    /* In a batch, with the failing statement's index, and nothing run. */
    r = th_call(c, "{\"op\":\"batch\",\"ctx\":\"b\",\"statements\":["
                   "{\"sql\":\"insert into t_my_ddl values (5)\"},"
                   "{\"sql\":\"create table t_my_ddl2 (id int)\"}]}");
    ck_assert_int_eq(
        (int)cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "index")),
        1);
    th_expect_code(r, "0A000", "batch ddl");
    ck_assert_int_eq(th_side_count_rows(side, "t_my_ddl"), 0);
    /* Temporary tables do not commit; autocommit DDL runs. */
    th_expect_ok(query(c, "t", "create temporary table t_my_tmp2 (id int)"), "temp");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"t\"}"), "rollback t");
    th_expect_ok(th_call(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"create table t_my_ddl2 "
                            "(id int)\",\"autocommit\":true}"),
                 "autocommit ddl");
    ck_assert_int_eq(th_side_long(side, "select count(*) from t_my_ddl2"), 0);
    /* deferrable is PostgreSQL's alone. */
    r = th_call(c, "{\"op\":\"begin\",\"ctx\":\"x\",\"isolation\":\"serializable\","
                   "\"read_only\":true,\"deferrable\":true}");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "0A000", "deferrable");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* ddl_in_transaction = allow: the transaction ends committed first, then the DDL runs
 * alone; however the DDL ends, the work before it is committed and journaled so. */
START_TEST(ddl_in_transaction_allowed_commits_first)
{
    th_daemon_t d;
    th_daemon_start(&d, (const char *const[]){"TXSCOPE_DB_MAIN_DDL_IN_TRANSACTION=allow", NULL});
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_allow");
    th_side_exec(side, "drop table if exists t_my_allow2");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(query(c, "a", "insert into t_my_allow values (1)"), "insert");
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"a\",\"join\":true}"), "join");
    cJSON *r = query(c, "a", "create table t_my_allow2 (id int)");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    ck_assert_int_eq(txscope_reply_tx_depth(r), 0);
    th_expect_ok(r, "ddl");
    ck_assert_int_eq(th_side_count_rows(side, "t_my_allow"), 1);
    r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"a\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "outcome")->valuestring, "committed");
    cJSON_Delete(r);
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit: a no-op now");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);

    /* The DDL fails after the commit: its error, and the work before it stays. */
    th_expect_ok(query(c, "b", "insert into t_my_allow values (2)"), "insert b");
    r = query(c, "b", "create table t_my_allow2 (id int)");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_code(r, "42S01", "table exists");
    ck_assert_int_eq(th_side_count_rows(side, "t_my_allow"), 2);
    r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"b\"}");
    ck_assert_str_eq(cJSON_GetObjectItem(r, "outcome")->valuestring, "committed");
    cJSON_Delete(r);

    /* Begun but nothing sent yet: nothing to commit; the DDL runs alone. */
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"e\"}"), "begin e");
    r = query(c, "e", "drop table t_my_allow2");
    ck_assert_str_eq(txscope_reply_tx_state(r), "idle");
    th_expect_ok(r, "drop");
    ck_assert_int_eq(th_side_long(side, "select count(*) from information_schema.tables where "
                                        "table_name = 't_my_allow2' and table_schema = database()"),
                     0);
    /* A batch stays one unit of work: DDL in it is refused even so. */
    th_expect_code(th_call(c, "{\"op\":\"batch\",\"ctx\":\"f\",\"statements\":["
                              "{\"sql\":\"create table t_my_allow3 (id int)\"}]}"),
                   "0A000", "batch ddl");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* begin's options reach MySQL: SET TRANSACTION + START TRANSACTION READ ONLY. */
START_TEST(begin_options_apply)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_opts");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"a\",\"isolation\":\"serializable\"}"),
                 "begin");
    th_expect_ok(query(c, "a", "select count(*) from t_my_opts"), "touch innodb");
    th_sleep_ms(150); /* information_schema.innodb_trx is a cache refreshed every 100 ms */
    cJSON *r = query(c, "a",
                     "select trx_isolation_level from information_schema.innodb_trx where "
                     "trx_mysql_thread_id = connection_id()");
    char *v = th_first_value(r);
    ck_assert_str_eq(v, "SERIALIZABLE");
    free(v);
    th_expect_ok(r, "isolation");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"a\"}"), "commit");
    /* The one-shot isolation did not stick to the connection. */
    th_expect_ok(query(c, "a", "select count(*) from t_my_opts"), "touch again");
    th_sleep_ms(150);
    r = query(c, "a",
              "select trx_isolation_level from information_schema.innodb_trx where "
              "trx_mysql_thread_id = connection_id()");
    v = th_first_value(r);
    ck_assert_str_eq(v, "REPEATABLE READ");
    free(v);
    th_expect_ok(r, "default isolation");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"a\"}"), "rollback");

    th_expect_ok(th_call(c, "{\"op\":\"begin\",\"ctx\":\"r\",\"read_only\":true}"), "ro");
    r = query(c, "r", "insert into t_my_opts values (1)");
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "25006", "write in read-only");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"r\"}"), "rollback r");
    /* lastInsertId from an AUTO_INCREMENT key. */
    th_side_exec(side, "drop table if exists t_my_auto; create table t_my_auto (id int "
                       "auto_increment primary key, v int)");
    r = th_call(c, "{\"op\":\"query\",\"ctx\":\"i\",\"sql\":\"insert into t_my_auto (v) values "
                   "(?), (?)\",\"params\":[5, 6],\"autocommit\":true}");
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "lastInsertId")), 1);
    ck_assert_int_eq((int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rowCount")), 2);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "command")->valuestring, "INSERT");
    th_expect_ok(r, "insert auto");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* MySQL's types as JSON through the daemon: the same line whether the statement went
 * through the text protocol (no parameters) or as a prepared statement. */
START_TEST(types_map_to_json)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_exec(side,
                 "drop table if exists t_my_types; create table t_my_types (ti tinyint, si "
                 "smallint unsigned, mi mediumint, i int, bi bigint, bu bigint unsigned, f float, "
                 "d double, de decimal(10,3), b bit(5), y year, dt date, tm time(3), dtt "
                 "datetime(6), ts timestamp null, c char(3), vc varchar(10), tx text, bin "
                 "binary(3), vb varbinary(4), bl blob, e enum('a','b'), st set('x','y'), j json, "
                 "g geometry)");
    th_side_exec(side, "insert into t_my_types values (-128, 65535, -8388608, 2147483647, "
                       "-9223372036854775808, 18446744073709551615, 0.1, 0.1, 12.300, b'10101', "
                       "2024, '2024-02-29', '-838:59:59.5', '2024-02-29 23:59:59.123456', "
                       "'2024-01-01 00:00:00', 'ab', 'h\xC3\xA9llo', 'a\\nb', 'ab', 0x00ff, "
                       "0x616263, 'b', 'x,y', '{\"a\": [1, 2.50]}', ST_GeomFromText('POINT(1 "
                       "2)')); insert into t_my_types (i) values (null)");
    static const char fields[] =
        "\"fields\":[{\"name\":\"ti\",\"type\":\"tinyint\"},{\"name\":\"si\",\"type\":"
        "\"smallint unsigned\"},{\"name\":\"mi\",\"type\":\"mediumint\"},{\"name\":\"i\","
        "\"type\":\"int\"},{\"name\":\"bi\",\"type\":\"bigint\"},{\"name\":\"bu\",\"type\":"
        "\"bigint unsigned\"},{\"name\":\"f\",\"type\":\"float\"},{\"name\":\"d\",\"type\":"
        "\"double\"},{\"name\":\"de\",\"type\":\"decimal\"},{\"name\":\"b\",\"type\":\"bit\"},"
        "{\"name\":\"y\",\"type\":\"year\"},{\"name\":\"dt\",\"type\":\"date\"},{\"name\":"
        "\"tm\",\"type\":\"time\"},{\"name\":\"dtt\",\"type\":\"datetime\"},{\"name\":\"ts\","
        "\"type\":\"timestamp\"},{\"name\":\"c\",\"type\":\"char\"},{\"name\":\"vc\",\"type\":"
        "\"varchar\"},{\"name\":\"tx\",\"type\":\"text\"},{\"name\":\"bin\",\"type\":"
        "\"binary\"},{\"name\":\"vb\",\"type\":\"varbinary\"},{\"name\":\"bl\",\"type\":"
        "\"blob\"},{\"name\":\"e\",\"type\":\"enum\"},{\"name\":\"st\",\"type\":\"set\"},"
        "{\"name\":\"j\",\"type\":\"json\"},{\"name\":\"g\",\"type\":\"geometry\"}],";
    static const char rows[] =
        "\"rows\":[[-128,65535,-8388608,2147483647,-9223372036854775808,18446744073709551615,"
        "0.1,0.1,\"12.300\",21,2024,\"2024-02-29\",\"-838:59:59.500\",\"2024-02-29 "
        "23:59:59.123456\",\"2024-01-01 00:00:00\",\"ab\",\"h\xC3\xA9llo\",\"a\\nb\",\"YWIA\","
        "\"AP8=\",\"YWJj\",\"b\",\"x,y\",{\"a\":[1,2.50]},\"AQEAAAAAAAAAAADwPwAAAAAAAABA\"],"
        "[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,"
        "null,null,null,null,null,null,null,null,null]]";
    txscope_conn_t *c = th_connect(&d);
    const char *sqls[] = {
        "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select * from t_my_types order by i is "
        "null\",\"autocommit\":true}",
        "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select * from t_my_types where i = ? or ? "
        "order by i is null\",\"params\":[2147483647,true],\"autocommit\":true}",
    };
    for (int k = 0; k < 2; k++) {
        cJSON *r = th_call_raw(c, "%s", sqls[k]);
        const char *line = txscope_last_line(c);
        ck_assert_msg(strstr(line, fields) && strstr(line, rows), "%s path: %s",
                      k ? "prepared" : "text", line);
        th_expect_ok(r, "types");
    }
    /* Parameters by their JSON kind: a bigint stays exact, true is 1, JSON is text. */
    cJSON *r = th_call_raw(c, "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select ? + 1, ?, ?, "
                              "?\",\"params\":[9223372036854775806,true,{\"k\":[1]},null],"
                              "\"autocommit\":true}");
    ck_assert_msg(
        strstr(txscope_last_line(c), "\"rows\":[[9223372036854775807,1,\"{\\\"k\\\":[1]}\",null]]"),
        "%s", txscope_last_line(c));
    th_expect_ok(r, "params");
    /* MariaDB's own types keep their names; booleans are TINYINT's 1. */
    r = th_call_raw(c, "{\"op\":\"query\",\"ctx\":\"t\",\"sql\":\"select cast('::1' as inet6) a, "
                       "cast(? as uuid) b, true c\",\"params\":[\"123e4567-e89b-12d3-a456-"
                       "426614174000\"],\"autocommit\":true}");
    ck_assert_msg(
        strstr(txscope_last_line(c),
               "\"fields\":[{\"name\":\"a\",\"type\":\"inet6\"},{\"name\":\"b\",\"type\":"
               "\"uuid\"},{\"name\":\"c\",\"type\":\"int\"}],\"rows\":[[\"::1\",\"123e4567-"
               "e89b-12d3-a456-426614174000\",1]]"),
        "%s", txscope_last_line(c));
    th_expect_ok(r, "mariadb types");
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* A deadlock: MySQL rolls the victim's whole transaction back, savepoints included. The
 * session is failed; rollback_to finds no savepoint on the server; rollback ends it. */
START_TEST(deadlock_victim_is_failed_and_rolls_back)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_dead");
    th_side_exec(side, "insert into t_my_dead values (1), (2)");
    txscope_conn_t *c = th_connect(&d);
    th_expect_ok(query(c, "a", "update t_my_dead set id = id where id = 1"), "a locks 1");
    th_expect_ok(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"a\",\"name\":\"sp\"}"), "a sp");
    th_expect_ok(query(c, "b", "update t_my_dead set id = id where id = 2"), "b locks 2");
    th_expect_ok(th_call(c, "{\"op\":\"savepoint\",\"ctx\":\"b\",\"name\":\"sp\"}"), "b sp");
    int64_t ida = th_send(c, "{\"op\":\"query\",\"ctx\":\"a\",\"sql\":\"update t_my_dead set id = "
                             "id where id = 2\"}");
    th_sleep_ms(200); /* a waits for b's lock */
    int64_t idb = th_send(c, "{\"op\":\"query\",\"ctx\":\"b\",\"sql\":\"update t_my_dead set id = "
                             "id where id = 1\"}");
    cJSON *ra = NULL, *rb = NULL;
    for (int k = 0; k < 2; k++) {
        cJSON *r = txscope_recv(c, T_TIMEOUT);
        ck_assert_ptr_nonnull(r);
        int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "id"));
        if (id == ida)
            ra = r;
        else if (id == idb)
            rb = r;
    }
    ck_assert_ptr_nonnull(ra);
    ck_assert_ptr_nonnull(rb);
    /* One of the two is the victim; the other got its lock. */
    bool a_died = !txscope_reply_ok(ra);
    cJSON *victim = a_died ? ra : rb, *winner = a_died ? rb : ra;
    const char *vctx = a_died ? "a" : "b", *wctx = a_died ? "b" : "a";
    ck_assert_str_eq(txscope_reply_tx_state(victim), "failed");
    th_expect_code(victim, "40001", "deadlock");
    th_expect_ok(winner, "winner");
    cJSON *r = th_call(c, "{\"op\":\"rollback_to\",\"ctx\":\"%s\",\"name\":\"sp\"}", vctx);
    ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
    th_expect_code(r, "42000", "savepoint gone with the transaction");
    th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"%s\"}", vctx), "victim rollback");
    th_expect_ok(th_call(c, "{\"op\":\"commit\",\"ctx\":\"%s\"}", wctx), "winner commit");
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

/* Transaction control the daemon cannot read (dynamic SQL, a procedure that commits)
 * still cannot slip past it: the server is seen out of its transaction, the request
 * gets 08007, the session is failed (nothing runs in autocommit after it), and the
 * outcome is unknown. */
START_TEST(hidden_commit_is_caught)
{
    th_daemon_t d;
    th_daemon_start(&d, NULL);
    th_side_t *side = th_side();
    th_side_make_table(side, "t_my_hidden");
    th_side_exec(side, "drop procedure if exists p_my_commits; create procedure "
                       "p_my_commits() begin commit; end");
    txscope_conn_t *c = th_connect(&d);
    th_expect_code(query(c, "s", "SET STATEMENT max_statement_time=100 FOR COMMIT"), "0A000",
                   "set statement for commit");
    const char *hidden[] = {"execute immediate 'commit'", "call p_my_commits()"};
    for (int k = 0; k < 2; k++) {
        char ctx[16];
        snprintf(ctx, sizeof ctx, "h%d", k);
        th_side_exec(side, "delete from t_my_hidden");
        th_expect_ok(query(c, ctx, "insert into t_my_hidden values (1)"), "insert");
        cJSON *r = query(c, ctx, hidden[k]);
        ck_assert_str_eq(txscope_reply_tx_state(r), "failed");
        th_expect_code(r, "08007", hidden[k]);
        th_expect_code(query(c, ctx, "insert into t_my_hidden values (2)"), "25P02", "after");
        th_expect_ok(th_call(c, "{\"op\":\"rollback\",\"ctx\":\"%s\"}", ctx), "rollback");
        r = th_call(c, "{\"op\":\"outcome\",\"ctx\":\"%s\"}", ctx);
        ck_assert_str_eq(cJSON_GetObjectItem(r, "outcome")->valuestring, "unknown");
        cJSON_Delete(r);
        /* The hidden COMMIT did commit row 1; row 2 never ran. */
        ck_assert_int_eq(th_side_long(side, "select group_concat(id) from t_my_hidden"), 1);
    }
    ck_assert_int_eq(th_side_backends(side, &d, TH_IN_TX), 0);
    txscope_close(c);
    th_side_close(side);
    ck_assert_int_eq(th_daemon_stop(&d), 0);
}
END_TEST

Suite *suite_mysql(void)
{
    Suite *s = suite_create("mysql");
    TCase *tcs[2];
    th_tcases(s, tcs, 60);
    tcase_add_test(tcs[TH_MYSQL], failed_statement_then_commit_is_refused_not_partial);
    tcase_add_test(tcs[TH_MYSQL], killed_client_sleep_is_killed_and_nothing_left_open);
    tcase_add_test(tcs[TH_MYSQL], session_state_does_not_reach_the_next_user);
    tcase_add_test(tcs[TH_MYSQL], ddl_in_transaction_is_refused);
    tcase_add_test(tcs[TH_MYSQL], ddl_in_transaction_allowed_commits_first);
    tcase_add_test(tcs[TH_MYSQL], begin_options_apply);
    tcase_add_test(tcs[TH_MYSQL], types_map_to_json);
    tcase_add_test(tcs[TH_MYSQL], deadlock_victim_is_failed_and_rolls_back);
    tcase_add_test(tcs[TH_MYSQL], hidden_commit_is_caught);
    return s;
}
