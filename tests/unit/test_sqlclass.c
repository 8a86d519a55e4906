/* test_sqlclass.c - recognising transaction control and implicitly committing SQL. */
#include <check.h>
#include <string.h>

#include "protocol/sqlclass.h"

static const char *ddl_what(const char *sql)
{
    const char *w = "unset";
    bool commits = txs_sql_commits_implicitly(sql, strlen(sql), &w);
    ck_assert_msg(commits == (w != NULL), "result and name disagree for: %s", sql);
    return w;
}

#define COMMITS(sql, name)                                                                         \
    do {                                                                                           \
        const char *w_ = ddl_what(sql);                                                            \
        ck_assert_msg(w_ &&strcmp(w_, name) == 0, "%s: expected %s, got %s", sql, name,            \
                      w_ ? w_ : "(none)");                                                         \
    } while (0)

#define NO_COMMIT(sql)                                                                             \
    do {                                                                                           \
        const char *w_ = ddl_what(sql);                                                            \
        ck_assert_msg(w_ == NULL, "%s: taken as %s", sql, w_);                                     \
    } while (0)

START_TEST(test_mysql_implicit_commit)
{
    COMMITS("create table t (id int)", "CREATE");
    COMMITS("  CREATE OR REPLACE TABLE t (id int)", "CREATE");
    COMMITS("create index i on t(a)", "CREATE");
    COMMITS("create user u", "CREATE");
    COMMITS("ALTER TABLE t ADD c int", "ALTER");
    COMMITS("drop table t", "DROP");
    COMMITS("drop view v", "DROP");
    COMMITS("rename table a to b", "RENAME");
    COMMITS("truncate t", "TRUNCATE");
    COMMITS("grant select on *.* to u", "GRANT");
    COMMITS("revoke select on *.* from u", "REVOKE");
    COMMITS("lock tables t write", "LOCK");
    COMMITS("unlock tables", "UNLOCK");
    COMMITS("analyze table t", "ANALYZE");
    COMMITS("check table t", "CHECK");
    COMMITS("optimize table t", "OPTIMIZE");
    COMMITS("repair table t", "REPAIR");
    COMMITS("flush privileges", "FLUSH");
    COMMITS("load index into cache t", "LOAD");
    COMMITS("cache index t in c", "CACHE");
    COMMITS("set password = password('x')", "SET PASSWORD");
    COMMITS("install plugin p soname 'p.so'", "INSTALL");
    /* Comments are skipped the MySQL way; an executable comment is code. */
    COMMITS("-- note\n# note\n/* note */ create table t (id int)", "CREATE");
    COMMITS("/*!50000 create table t (id int) */", "CREATE");
    COMMITS("/*M!100000 drop table t */", "DROP");
    /* Temporary tables do not commit; neither do plain statements. */
    NO_COMMIT("create temporary table t (id int)");
    NO_COMMIT("CREATE OR REPLACE TEMPORARY TABLE t (id int)");
    NO_COMMIT("drop temporary table if exists t");
    NO_COMMIT("load data infile 'x' into table t");
    NO_COMMIT("select 1");
    NO_COMMIT("insert into created values (1)");
    NO_COMMIT("update t set x = 'drop table t'");
    NO_COMMIT("/* create table t */ select 1");
    NO_COMMIT("set @x = 1");
    NO_COMMIT("");
    NO_COMMIT("   ");
    ck_assert(!txs_sql_commits_implicitly("create table t", 3, NULL)); /* "cre": length wins */
}
END_TEST

Suite *suite_sqlclass(void);

/* The name it is refused under, or NULL when it is allowed. */
static const char *what(const char *sql)
{
    const char *w = "unset";
    bool refused = txs_sql_is_tx_control(sql, strlen(sql), &w);
    ck_assert_msg(refused == (w != NULL), "result and name disagree for: %s", sql);
    return w;
}

#define REFUSED(sql, name)                                                                         \
    do {                                                                                           \
        const char *w_ = what(sql);                                                                \
        ck_assert_msg(w_ &&strcmp(w_, name) == 0, "%s: expected %s, got %s", sql, name,            \
                      w_ ? w_ : "(allowed)");                                                      \
    } while (0)

#define ALLOWED(sql)                                                                               \
    do {                                                                                           \
        const char *w_ = what(sql);                                                                \
        ck_assert_msg(w_ == NULL, "%s: refused as %s", sql, w_);                                   \
    } while (0)

START_TEST(test_postgresql_tx_control)
{
    REFUSED("BEGIN", "BEGIN");
    REFUSED("begin", "BEGIN");
    REFUSED("BEGIN WORK", "BEGIN");
    REFUSED("BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN");
    REFUSED("BEGIN;", "BEGIN");
    REFUSED("START TRANSACTION", "START TRANSACTION");
    REFUSED("start transaction read only", "START TRANSACTION");
    REFUSED("COMMIT", "COMMIT");
    REFUSED("COMMIT;", "COMMIT");
    REFUSED("Commit", "COMMIT");
    REFUSED("COMMIT AND CHAIN", "COMMIT");
    REFUSED("END", "END");
    REFUSED("end transaction", "END");
    REFUSED("ROLLBACK", "ROLLBACK");
    REFUSED("ABORT", "ABORT");
    REFUSED("SAVEPOINT a", "SAVEPOINT");
    REFUSED("RELEASE SAVEPOINT a", "RELEASE SAVEPOINT");
    REFUSED("RELEASE a", "RELEASE SAVEPOINT");
    REFUSED("ROLLBACK TO SAVEPOINT a", "ROLLBACK TO SAVEPOINT");
    REFUSED("ROLLBACK WORK TO a", "ROLLBACK TO SAVEPOINT");
    REFUSED("rollback transaction to savepoint a", "ROLLBACK TO SAVEPOINT");
    REFUSED("PREPARE TRANSACTION 'x'", "PREPARE TRANSACTION");
    REFUSED("COMMIT PREPARED 'x'", "COMMIT PREPARED");
    REFUSED("ROLLBACK PREPARED 'x'", "ROLLBACK PREPARED");
    REFUSED("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET TRANSACTION");
    REFUSED("SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", "SET TRANSACTION");
    REFUSED("SET LOCAL TRANSACTION READ ONLY", "SET TRANSACTION");
    REFUSED("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SET SESSION CHARACTERISTICS");
    REFUSED("set session characteristics as transaction read only", "SET SESSION CHARACTERISTICS");
}
END_TEST

START_TEST(test_mysql_tx_control)
{
    /* MariaDB's SET STATEMENT ... FOR runs the statement after FOR. */
    REFUSED("SET STATEMENT max_statement_time=100 FOR COMMIT", "COMMIT");
    REFUSED("set statement a=1, b='x' for start transaction", "START TRANSACTION");
    ALLOWED("SET STATEMENT max_statement_time=100 FOR SELECT 1");
    REFUSED("XA START 'x'", "XA");
    REFUSED("xa commit 'x'", "XA");
    REFUSED("SET autocommit = 0", "SET AUTOCOMMIT");
    REFUSED("SET AUTOCOMMIT=1", "SET AUTOCOMMIT");
    REFUSED("SET @@autocommit=0", "SET AUTOCOMMIT");
    REFUSED("SET @@session.autocommit = OFF", "SET AUTOCOMMIT");
    REFUSED("SET SESSION autocommit = 0", "SET AUTOCOMMIT");
    REFUSED("SET sql_mode = '', autocommit = 0", "SET AUTOCOMMIT");
    REFUSED("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", "SET TRANSACTION");
    REFUSED("SET GLOBAL TRANSACTION READ ONLY", "SET TRANSACTION");
    REFUSED("START TRANSACTION WITH CONSISTENT SNAPSHOT", "START TRANSACTION");
    REFUSED("BEGIN WORK", "BEGIN");
    /* MySQL comments: '#' to end of line, and executable comments run as code. */
    REFUSED("# note\nCOMMIT", "COMMIT");
    REFUSED("/*!40101 COMMIT */", "COMMIT");
    REFUSED("/*!*/ COMMIT", "COMMIT");
    REFUSED("/*M!100000 ROLLBACK */", "ROLLBACK");
}
END_TEST

START_TEST(test_comments_and_space)
{
    REFUSED("  /* c */ -- x\n  begin", "BEGIN");
    REFUSED("\t\r\n\f COMMIT", "COMMIT");
    REFUSED("--\nCOMMIT", "COMMIT");
    /* PostgreSQL nests block comments. */
    REFUSED("/* a /* b */ c */ BEGIN", "BEGIN");
    /* MySQL does not: to PostgreSQL this is all comment, but MySQL runs the COMMIT. */
    REFUSED("/* a /* b */ COMMIT -- */", "COMMIT");
    ALLOWED("/* BEGIN */ SELECT 1");
    ALLOWED("-- COMMIT\nSELECT 1");
    ALLOWED("/* a /* COMMIT */ b */ SELECT 1");
    ALLOWED("/* unterminated BEGIN");
    ALLOWED("-- COMMIT");
    ALLOWED("");
    ALLOWED("   ");
}
END_TEST

START_TEST(test_not_tx_control)
{
    ALLOWED("SELECT 'BEGIN'");
    ALLOWED("select * from begin_log");
    ALLOWED("begin_x");
    ALLOWED("BEGINNING");
    ALLOWED("commits");
    ALLOWED("\"begin\"");
    ALLOWED("UPDATE t SET transaction = 1");
    ALLOWED("SET search_path = x");
    ALLOWED("SET LOCAL search_path = x");
    ALLOWED("SET LOCAL statement_timeout = '5s'");
    ALLOWED("SET SESSION sql_mode = ''");
    ALLOWED("SET transaction_isolation = 'serializable'");
    ALLOWED("CREATE TABLE commits(id int)");
    ALLOWED("DO $$BEGIN PERFORM 1; END$$");
    ALLOWED("CALL do_work()");
    ALLOWED("START REPLICA");
    ALLOWED("PREPARE q AS SELECT 1");
    ALLOWED("INSERT INTO savepoint_log VALUES (1)");
    ALLOWED("WITH x AS (SELECT 1) SELECT * FROM x");
    ALLOWED("(SELECT 1)");
}
END_TEST

START_TEST(test_length_and_null_what)
{
    /* Only len bytes are read. */
    ck_assert(!txs_sql_is_tx_control("BEGINNING", 3, NULL));
    ck_assert(txs_sql_is_tx_control("ENDING", 3, NULL));
    ck_assert(txs_sql_is_tx_control("COMMITTED", 6, NULL));
    const char *w = "x";
    ck_assert(!txs_sql_is_tx_control("SELECT 1", 8, &w));
    ck_assert_ptr_null(w);
}
END_TEST

static bool copy_stdin(const char *sql)
{
    return txs_sql_is_copy_from_stdin(sql, strlen(sql));
}

START_TEST(test_copy_from_stdin)
{
    ck_assert(copy_stdin("COPY t FROM STDIN"));
    ck_assert(copy_stdin("  -- load\n/* a /* nested */ one */ copy t(a, b) from stdin with csv"));
    ck_assert(copy_stdin("Copy t From StdIn;"));
    /* Loose on purpose: any later "stdin" counts, even in a COPY TO STDOUT. */
    ck_assert(copy_stdin("copy (select 'stdin') to stdout"));
    ck_assert(!copy_stdin("copy t to stdout"));
    ck_assert(!copy_stdin("copyx from stdin"));
    ck_assert(!copy_stdin("select 'copy t from stdin'"));
    ck_assert(!copy_stdin("/* copy t from stdin */ select 1"));
    ck_assert(!copy_stdin("copy t from stdi"));
    ck_assert(!txs_sql_is_copy_from_stdin("copy t from stdin", 15)); /* only len bytes */
    /* PostgreSQL's comment rules: '#' starts no comment there. */
    ck_assert(!copy_stdin("# x\ncopy t from stdin"));
}
END_TEST

Suite *suite_sqlclass(void)
{
    Suite *s = suite_create("sqlclass");
    TCase *tc = tcase_create("classify");
    tcase_add_test(tc, test_postgresql_tx_control);
    tcase_add_test(tc, test_mysql_tx_control);
    tcase_add_test(tc, test_comments_and_space);
    tcase_add_test(tc, test_not_tx_control);
    tcase_add_test(tc, test_length_and_null_what);
    tcase_add_test(tc, test_copy_from_stdin);
    tcase_add_test(tc, test_mysql_implicit_commit);
    suite_add_tcase(s, tc);
    return s;
}
