/* test_mysql_dsn.c - MySQL dsns taken apart: URIs, sockets, percent-decoding, refusals. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/mysql_dsn.h"

Suite *suite_mysql_dsn(void);

static txs_mysql_dsn_t d;
static char err[256];

static void ok(const char *dsn)
{
    ck_assert_msg(txs_mysql_dsn_parse(dsn, &d, err, sizeof err) == 0, "%s: %s", dsn, err);
}

/* Refused with a message that contains `want`, holding nothing. */
static void bad(const char *dsn, const char *want)
{
    ck_assert_msg(txs_mysql_dsn_parse(dsn, &d, err, sizeof err) == -1, "%s accepted", dsn);
    ck_assert_msg(strstr(err, want), "%s: message \"%s\" lacks \"%s\"", dsn, err, want);
    ck_assert_ptr_null(d.host);
    ck_assert_ptr_null(d.socket);
    ck_assert_ptr_null(d.user);
    ck_assert_ptr_null(d.password);
    ck_assert_ptr_null(d.db);
    txs_mysql_dsn_free(&d); /* harmless */
}

#define ck_str_or_null(got, want)                                                                  \
    do {                                                                                           \
        if (want)                                                                                  \
            ck_assert_str_eq(got, want);                                                           \
        else                                                                                       \
            ck_assert_ptr_null(got);                                                               \
    } while (0)

static void expect(const char *host, const char *sock, unsigned port, const char *user,
                   const char *pw, const char *db)
{
    ck_str_or_null(d.host, host);
    ck_str_or_null(d.socket, sock);
    ck_assert_uint_eq(d.port, port);
    ck_str_or_null(d.user, user);
    ck_str_or_null(d.password, pw);
    ck_str_or_null(d.db, db);
    txs_mysql_dsn_free(&d);
    ck_assert_ptr_null(d.host);
}

START_TEST(full_uri)
{
    ok("mysql://txs:secret@127.0.0.1:3307/shop");
    expect("127.0.0.1", NULL, 3307, "txs", "secret", "shop");
    ok("MariaDB://app@db.example.com/main");
    expect("db.example.com", NULL, 3306, "app", NULL, "main");
    ok("mysql://u:p@[::1]:4000/d");
    expect("::1", NULL, 4000, "u", "p", "d");
    ok("mysql://u@[fe80::1%25eth0]/d");
    expect("fe80::1%eth0", NULL, 3306, "u", NULL, "d");
}
END_TEST

START_TEST(parts_are_optional)
{
    ok("mysql://");
    expect(NULL, NULL, 3306, NULL, NULL, NULL);
    ok("mysql://host");
    expect("host", NULL, 3306, NULL, NULL, NULL);
    ok("mysql://host/");
    expect("host", NULL, 3306, NULL, NULL, NULL);
    ok("mysql://u:@host/db"); /* an empty password is a password */
    expect("host", NULL, 3306, "u", "", "db");
    ok("mysql://:pw@/db"); /* no user: the OS user; no host: localhost */
    expect(NULL, NULL, 3306, NULL, "pw", "db");
    /* localhost is MySQL's unix socket, where a port would be ignored: refused. */
    bad("mysql://localhost:3310", "use 127.0.0.1 for TCP");
    bad("mysql://u@:3310/db", "use 127.0.0.1 for TCP");
    ok("mysql://127.0.0.1:3310");
    expect("127.0.0.1", NULL, 3310, NULL, NULL, NULL);
}
END_TEST

START_TEST(percent_decoding)
{
    ok("mysql://us%40er:p%3Aa%2Fss%25@h/d%20b");
    expect("h", NULL, 3306, "us@er", "p:a/ss%", "d b");
    ok("mysql://u:p@ss@h/db"); /* the last @ ends the user part */
    expect("h", NULL, 3306, "u", "p@ss", "db");
    ok("mysql://u:a+b@h/db"); /* + is not a space in a URI */
    expect("h", NULL, 3306, "u", "a+b", "db");
    ok("mysql://%C3%A9l%C3%A8ve@h/b%C3%A9");
    expect("h", NULL, 3306, "\xc3\xa9l\xc3\xa8ve", NULL, "b\xc3\xa9");
    bad("mysql://u:p%2@h/db", "percent-encoding in the password");
    bad("mysql://u%zz@h/db", "percent-encoding in the user");
    bad("mysql://u@h/d%0", "percent-encoding in the database");
    bad("mysql://u@h/d%00b", "percent-encoding in the database"); /* no NUL in a C string */
    bad("mysql://u@h%/d", "percent-encoding in the host");
}
END_TEST

START_TEST(unix_sockets)
{
    ok("/run/mysqld/mysqld.sock");
    expect(NULL, "/run/mysqld/mysqld.sock", 3306, NULL, NULL, NULL);
    ok("mysql://u:p@%2Frun%2Fmysqld%2Fmysqld.sock/db");
    expect(NULL, "/run/mysqld/mysqld.sock", 3306, "u", "p", "db");
    ok("mysql://u:p@/db?socket=/tmp/my%20sock");
    expect(NULL, "/tmp/my sock", 3306, "u", "p", "db");
    ok("mysql://u:p@localhost/db?socket=%2Ftmp%2Fs");
    expect("localhost", "/tmp/s", 3306, "u", "p", "db");
    ok("mysql://u@h/db?"); /* an empty query */
    expect("h", NULL, 3306, "u", NULL, "db");
    bad("mysql://u@otherhost/db?socket=/tmp/s", "both host otherhost and a unix socket");
    bad("mysql://u@localhost:3307/db?socket=/tmp/s", "both a port and a unix socket");
    bad("mysql://u@%2Ftmp%2Fs:3307/db", "both a port and a unix socket");
    bad("mysql://u@%2Ftmp%2Fa/db?socket=/tmp/b", "two unix sockets");
    bad("mysql://u@/db?socket=relative/path", "absolute path");
    bad("mysql://u@/db?socket", "needs a value");
}
END_TEST

START_TEST(unknown_options_are_refused)
{
    bad("mysql://u@h/db?sslmode=require", "unknown option \"sslmode\" in the dsn");
    bad("mysql://u@h/db?socket=/s&x=1", "unknown option \"x\"");
    bad("mysql://u@h/db?charset", "unknown option \"charset\"");
}
END_TEST

START_TEST(bad_ports)
{
    bad("mysql://u@h:/db", "bad port \"\"");
    bad("mysql://u@h:0/db", "bad port \"0\"");
    bad("mysql://u@h:65536/db", "bad port \"65536\"");
    bad("mysql://u@h:99999999999999999999/db", "bad port");
    bad("mysql://u@h:33a/db", "bad port \"33a\"");
    bad("mysql://u@[::1]x/db", "unexpected text after ]");
    bad("mysql://u@[::1/db", "missing ]");
    ok("mysql://u@h:65535/db");
    expect("h", NULL, 65535, "u", NULL, "db");
}
END_TEST

START_TEST(not_a_mysql_dsn)
{
    bad("host=127.0.0.1 user=txs", "mysql://user:password@host:port/database");
    bad("postgresql://u@h/db", "a MySQL dsn is");
    bad("", "a MySQL dsn is");
    bad("relative/socket.sock", "a MySQL dsn is");
    /* no password in any message */
    bad("mysql://u:hunter2@h:1x/db", "bad port");
    ck_assert_ptr_null(strstr(err, "hunter2"));
}
END_TEST

Suite *suite_mysql_dsn(void)
{
    Suite *s = suite_create("mysql_dsn");
    TCase *tc = tcase_create("mysql_dsn");
    tcase_add_test(tc, full_uri);
    tcase_add_test(tc, parts_are_optional);
    tcase_add_test(tc, percent_decoding);
    tcase_add_test(tc, unix_sockets);
    tcase_add_test(tc, unknown_options_are_refused);
    tcase_add_test(tc, bad_ports);
    tcase_add_test(tc, not_a_mysql_dsn);
    suite_add_tcase(s, tc);
    return s;
}
