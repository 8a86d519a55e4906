/* test_cli_input.c - the txscope command's statement splitter and command parser. */
#include <check.h>
#include <stdlib.h>

#include "clients/c/cli/input.c"

Suite *suite_cli_input(void);

/* Feeds the lines and checks that exactly the expected statements come out. */
static void expect_statements(const char *const *lines, const char *const *want)
{
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    for (size_t i = 0; lines[i] != NULL; i++)
        txs_cli_input_feed(&in, lines[i]);
    size_t n = 0;
    char *stmt;
    while ((stmt = txs_cli_input_next(&in)) != NULL) {
        ck_assert_ptr_nonnull(want[n]);
        ck_assert_str_eq(stmt, want[n]);
        free(stmt);
        n++;
    }
    ck_assert_ptr_null(want[n]);
    txs_cli_input_free(&in);
}

START_TEST(test_statement_ends_at_semicolon)
{
    expect_statements((const char *[]){"select 1;", NULL}, (const char *[]){"select 1", NULL});
    expect_statements((const char *[]){"  select 1 ;  ", NULL}, (const char *[]){"select 1", NULL});
}
END_TEST

START_TEST(test_multi_line_statement)
{
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    ck_assert(!txs_cli_input_pending(&in));
    txs_cli_input_feed(&in, "insert into t");
    ck_assert(txs_cli_input_pending(&in));
    ck_assert_ptr_null(txs_cli_input_next(&in));
    txs_cli_input_feed(&in, "  values (1);");
    ck_assert(!txs_cli_input_pending(&in));
    char *stmt = txs_cli_input_next(&in);
    ck_assert_str_eq(stmt, "insert into t\n  values (1)");
    free(stmt);
    txs_cli_input_free(&in);
}
END_TEST

START_TEST(test_several_statements_on_a_line)
{
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    txs_cli_input_feed(&in, "select 1; select 2; select");
    char *a = txs_cli_input_next(&in), *b = txs_cli_input_next(&in);
    ck_assert_str_eq(a, "select 1");
    ck_assert_str_eq(b, "select 2");
    ck_assert_ptr_null(txs_cli_input_next(&in));
    ck_assert(txs_cli_input_pending(&in));
    txs_cli_input_feed(&in, "3;");
    char *c = txs_cli_input_next(&in);
    ck_assert_str_eq(c, "select\n3");
    free(a);
    free(b);
    free(c);
    txs_cli_input_free(&in);
}
END_TEST

START_TEST(test_semicolon_inside_quotes_and_comments)
{
    expect_statements((const char *[]){"select 'a;b', \"c;d\";", NULL},
                      (const char *[]){"select 'a;b', \"c;d\"", NULL});
    expect_statements((const char *[]){"select 'it''s;';", NULL},
                      (const char *[]){"select 'it''s;'", NULL});
    expect_statements((const char *[]){"select E'\\';', 'x\\';", NULL},
                      (const char *[]){"select E'\\';', 'x\\'", NULL});
    expect_statements((const char *[]){"select 'multi;", "line;';", NULL},
                      (const char *[]){"select 'multi;\nline;'", NULL});
    expect_statements((const char *[]){"create function f() returns int as $$", "begin;",
                                       "  return 1;", "end $$ language plpgsql;", NULL},
                      (const char *[]){"create function f() returns int as $$\nbegin;\n  "
                                       "return 1;\nend $$ language plpgsql",
                                       NULL});
    expect_statements((const char *[]){"select $fn$ $$; $fn$;", NULL},
                      (const char *[]){"select $fn$ $$; $fn$", NULL});
    expect_statements((const char *[]){"select /* a; /* nested; */ b; */ 1;", NULL},
                      (const char *[]){"select /* a; /* nested; */ b; */ 1", NULL});
    /* $1 is a parameter, not a dollar quote. */
    expect_statements((const char *[]){"select $1; select 2;", NULL},
                      (const char *[]){"select $1", "select 2", NULL});
}
END_TEST

START_TEST(test_line_comments_and_empty_statements)
{
    expect_statements((const char *[]){"-- just a comment", "select 1; -- done; really", ";;",
                                       "select 2 -- no end here", ";", NULL},
                      (const char *[]){"select 1", "select 2", NULL});
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    txs_cli_input_feed(&in, "-- a comment alone");
    txs_cli_input_feed(&in, "   ");
    ck_assert(!txs_cli_input_pending(&in));
    txs_cli_input_feed(&in, "/* open");
    ck_assert(txs_cli_input_pending(&in));
    txs_cli_input_free(&in);
}
END_TEST

START_TEST(test_flush_and_reset)
{
    txs_cli_input_t in;
    txs_cli_input_init(&in);
    ck_assert_ptr_null(txs_cli_input_flush(&in));
    txs_cli_input_feed(&in, "select 'unterminated");
    txs_cli_input_reset(&in);
    ck_assert(!txs_cli_input_pending(&in));
    txs_cli_input_feed(&in, "select 1;");
    char *a = txs_cli_input_next(&in);
    ck_assert_str_eq(a, "select 1");
    txs_cli_input_feed(&in, "select 2");
    char *b = txs_cli_input_flush(&in);
    ck_assert_str_eq(b, "select 2");
    ck_assert(!txs_cli_input_pending(&in));
    free(a);
    free(b);
    txs_cli_input_free(&in);
}
END_TEST

START_TEST(test_transaction_words)
{
    txs_cli_cmd_t c;
    txs_cli_parse_statement("begin", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert_ptr_null(c.begin.isolation);
    ck_assert_int_eq(c.begin.read_only, -1);
    txs_cli_parse_statement("  BEGIN; ", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    txs_cli_parse_statement("Begin Transaction Isolation Level Repeatable Read, Read Only;", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert_str_eq(c.begin.isolation, "repeatable read");
    ck_assert_int_eq(c.begin.read_only, 1);
    txs_cli_parse_statement("start transaction isolation level serializable deferrable", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert_str_eq(c.begin.isolation, "serializable");
    ck_assert_int_eq(c.begin.deferrable, 1);
    txs_cli_parse_statement("commit work;", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_COMMIT);
    txs_cli_parse_statement("ROLLBACK", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_ROLLBACK);
    txs_cli_parse_statement("abort transaction", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_ROLLBACK);
    txs_cli_parse_statement("rollback to savepoint SP1", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_ROLLBACK_TO);
    ck_assert_str_eq(c.arg, "sp1");
    txs_cli_parse_statement("rollback work to \"Sp 2\"", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_ROLLBACK_TO);
    ck_assert_str_eq(c.arg, "Sp 2");
    txs_cli_parse_statement("savepoint a", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_SAVEPOINT);
    ck_assert_str_eq(c.arg, "a");
    txs_cli_parse_statement("release savepoint b;", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_RELEASE);
    ck_assert_str_eq(c.arg, "b");
    txs_cli_parse_statement("release c", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_RELEASE);
    ck_assert_str_eq(c.arg, "c");
}
END_TEST

START_TEST(test_other_statements_are_sql)
{
    txs_cli_cmd_t c;
    const char *sql[] = {"select 1",
                         "commit and chain",
                         "begin; select 1",
                         "savepoint",
                         "beginning",
                         "rollback to",
                         "insert into begin values (1)",
                         "\"begin\"",
                         "release a b",
                         "commit prepared 'x'"};
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        txs_cli_parse_statement(sql[i], &c);
        ck_assert_msg(c.kind == TXS_CLI_SQL, "%s: kind %d", sql[i], c.kind);
    }
    txs_cli_parse_statement("begin isolation level chaotic", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BAD);
    ck_assert_ptr_nonnull(strstr(c.error, "isolation level"));
    txs_cli_parse_statement("begin sideways", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BAD);
    ck_assert_ptr_nonnull(strstr(c.error, "sideways"));
}
END_TEST

START_TEST(test_meta_commands)
{
    txs_cli_cmd_t c;
    ck_assert(txs_cli_is_meta("  \\q"));
    ck_assert(!txs_cli_is_meta("select '\\q'"));
    txs_cli_parse_meta("\\begin serializable read only", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert_str_eq(c.begin.isolation, "serializable");
    ck_assert_int_eq(c.begin.read_only, 1);
    ck_assert_int_eq(c.begin.deferrable, -1);
    txs_cli_parse_meta("\\begin isolation level read committed read write not deferrable", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert_str_eq(c.begin.isolation, "read committed");
    ck_assert_int_eq(c.begin.read_only, 0);
    ck_assert_int_eq(c.begin.deferrable, 0);
    txs_cli_parse_meta("\\begin nested", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);
    ck_assert(c.begin.nested && !c.begin.join);
    txs_cli_parse_meta("\\begin nested join", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BAD);
    txs_cli_parse_meta("\\begin", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BEGIN);

    struct {
        const char *line;
        txs_cli_kind_t kind;
    } plain[] = {{"\\commit", TXS_CLI_COMMIT},  {"\\rollback ", TXS_CLI_ROLLBACK},
                 {"\\status", TXS_CLI_STATUS},  {"\\end", TXS_CLI_END},
                 {"\\json", TXS_CLI_JSON},      {"\\q", TXS_CLI_QUIT},
                 {"\\?", TXS_CLI_HELP},         {"\\r", TXS_CLI_RESET},
                 {"\\commit now", TXS_CLI_BAD}, {"\\nope", TXS_CLI_BAD},
                 {"\\Q", TXS_CLI_BAD}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        txs_cli_parse_meta(plain[i].line, &c);
        ck_assert_msg(c.kind == plain[i].kind, "%s: kind %d", plain[i].line, c.kind);
    }
    txs_cli_parse_meta("\\nope", &c);
    ck_assert_ptr_nonnull(strstr(c.error, "\\nope"));
}
END_TEST

START_TEST(test_ctx_command)
{
    txs_cli_cmd_t c;
    txs_cli_parse_meta("\\ctx  request-42 ", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_CTX);
    ck_assert_str_eq(c.arg, "request-42");
    txs_cli_parse_meta("\\ctx", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_CTX);
    ck_assert_str_eq(c.arg, "");
    char line[200] = "\\ctx ";
    memset(line + 5, 'x', 129);
    line[5 + 129] = '\0';
    txs_cli_parse_meta(line, &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BAD);
    line[5 + 128] = '\0';
    txs_cli_parse_meta(line, &c);
    ck_assert_int_eq(c.kind, TXS_CLI_CTX);
    ck_assert_uint_eq(strlen(c.arg), 128);
    txs_cli_parse_meta("\\ctx caf\xc3\xa9", &c);
    ck_assert_int_eq(c.kind, TXS_CLI_BAD);
}
END_TEST

Suite *suite_cli_input(void)
{
    Suite *s = suite_create("cli_input");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_statement_ends_at_semicolon);
    tcase_add_test(tc, test_multi_line_statement);
    tcase_add_test(tc, test_several_statements_on_a_line);
    tcase_add_test(tc, test_semicolon_inside_quotes_and_comments);
    tcase_add_test(tc, test_line_comments_and_empty_statements);
    tcase_add_test(tc, test_flush_and_reset);
    tcase_add_test(tc, test_transaction_words);
    tcase_add_test(tc, test_other_statements_are_sql);
    tcase_add_test(tc, test_meta_commands);
    tcase_add_test(tc, test_ctx_command);
    suite_add_tcase(s, tc);
    return s;
}
