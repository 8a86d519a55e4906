/* test_cli_format.c - the txscope command's tables, command tags and error lines. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "clients/c/cli/format.c"

Suite *suite_cli_format(void);

/* Parses reply, runs the printer on it and returns what it wrote (caller frees). */
static char *printed(void (*print)(FILE *, const cJSON *), const char *reply)
{
    cJSON *r = cJSON_Parse(reply);
    ck_assert_ptr_nonnull(r);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    print(f, r);
    fclose(f);
    cJSON_Delete(r);
    return text;
}

static void expect_result(const char *reply, const char *want)
{
    char *got = printed(txs_cli_print_result, reply);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_table_like_psql)
{
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"rowCount\":2,"
                  "\"fields\":[{\"name\":\"id\",\"type\":\"int4\"},{\"name\":\"note\","
                  "\"type\":\"text\"}],\"rows\":[[1,\"a\"],[22,null]]}",
                  " id | note\n"
                  "----+------\n"
                  "  1 | a\n"
                  " 22 |\n"
                  "(2 rows)\n\n");
}
END_TEST

START_TEST(test_header_centred_and_values_wider)
{
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"fields\":[{\"name\":\"n\",\"type\":"
                  "\"text\"},{\"name\":\"b\",\"type\":\"bool\"}],\"rows\":[[\"hello\",true]]}",
                  "   n   | b\n"
                  "-------+---\n"
                  " hello | t\n"
                  "(1 row)\n\n");
}
END_TEST

START_TEST(test_no_rows)
{
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"rowCount\":0,"
                  "\"fields\":[{\"name\":\"x\",\"type\":\"text\"}],\"rows\":[]}",
                  " x\n"
                  "---\n"
                  "(0 rows)\n\n");
}
END_TEST

START_TEST(test_rows_not_an_array)
{
    /* A reply whose "rows" is an object holds no rows; its members must not be printed
     * (nor written past the cells counted for the rows array). */
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"fields\":[{\"name\":\"a\"},"
                  "{\"name\":\"b\"}],\"rows\":{\"x\":[1,2],\"y\":[3,4]}}",
                  " a | b\n"
                  "---+---\n"
                  "(0 rows)\n\n");
}
END_TEST

START_TEST(test_numbers_align_right_by_value)
{
    /* A type the formatter does not know, but every value is a number. */
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"fields\":[{\"name\":\"count\","
                  "\"type\":\"mystery\"}],\"rows\":[[5],[1234567]]}",
                  "  count\n"
                  "---------\n"
                  "       5\n"
                  " 1234567\n"
                  "(2 rows)\n\n");
}
END_TEST

START_TEST(test_utf8_and_multi_line_cells)
{
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"fields\":[{\"name\":\"a\",\"type\":"
                  "\"text\"},{\"name\":\"b\",\"type\":\"text\"}],"
                  "\"rows\":[[\"caf\xc3\xa9\",\"x\\ny\"]]}",
                  "  a   | b\n"
                  "------+---\n"
                  " caf\xc3\xa9 | x+\n"
                  "      | y\n"
                  "(1 row)\n\n");
}
END_TEST

START_TEST(test_command_tags)
{
    expect_result("{\"ok\":true,\"command\":\"INSERT\",\"rowCount\":3}", "INSERT 3\n");
    expect_result("{\"ok\":true,\"command\":\"UPDATE\",\"rowCount\":0}", "UPDATE 0\n");
    expect_result("{\"ok\":true,\"command\":\"CREATE TABLE\",\"rowCount\":0}", "CREATE TABLE\n");
    expect_result("{\"ok\":true,\"command\":\"INSERT 0 1\",\"rowCount\":1}", "INSERT 0 1\n");
    expect_result("{\"ok\":true,\"command\":\"INSERT\",\"rowCount\":1,\"lastInsertId\":42}",
                  "INSERT 1 (last insert id 42)\n");
    /* The daemon sends fields and rows for every statement. */
    expect_result("{\"ok\":true,\"command\":\"CREATE TABLE\",\"rowCount\":0,\"fields\":[],"
                  "\"rows\":[]}",
                  "CREATE TABLE\n");
    expect_result("{\"ok\":true,\"command\":\"UPDATE\",\"rowCount\":1,\"fields\":[],\"rows\":[]}",
                  "UPDATE 1\n");
    expect_result("{\"ok\":true,\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[],"
                  "\"rows\":[[]]}",
                  "--\n(1 row)\n\n");
    expect_result("{\"ok\":true,\"command\":\"DELETE\",\"rowCount\":0,"
                  "\"fields\":[{\"name\":\"id\",\"type\":\"int8\"}],\"rows\":[]}",
                  " id\n"
                  "----\n"
                  "(0 rows)\n\n"
                  "DELETE 0\n");
    /* An op reply (begin, commit) has no command: nothing is printed. */
    expect_result("{\"ok\":true,\"tx\":{\"state\":\"open\",\"depth\":1}}", "");
}
END_TEST

START_TEST(test_returning_and_batch)
{
    expect_result("{\"ok\":true,\"command\":\"INSERT\",\"rowCount\":1,"
                  "\"fields\":[{\"name\":\"id\",\"type\":\"int8\"}],\"rows\":[[7]]}",
                  " id\n"
                  "----\n"
                  "  7\n"
                  "(1 row)\n\n"
                  "INSERT 1\n");
    expect_result("{\"ok\":true,\"results\":[{\"command\":\"DELETE\",\"rowCount\":2},"
                  "{\"command\":\"SELECT\",\"rowCount\":1,\"fields\":[{\"name\":\"v\","
                  "\"type\":\"text\"}],\"rows\":[[\"z\"]]}]}",
                  "DELETE 2\n"
                  " v\n"
                  "---\n"
                  " z\n"
                  "(1 row)\n\n");
}
END_TEST

START_TEST(test_value_text)
{
    cJSON *v = cJSON_Parse("[null,true,false,\"s\",12,-3,1.5,{\"k\":[1,\"x\"]}]");
    const char *want[] = {"", "t", "f", "s", "12", "-3", "1.5", "{\"k\":[1,\"x\"]}"};
    for (int i = 0; i < 8; i++) {
        char *got = txs_cli_value_text(cJSON_GetArrayItem(v, i));
        ck_assert_str_eq(got, want[i]);
        free(got);
    }
    cJSON_Delete(v);
}
END_TEST

START_TEST(test_exact_number_text_wins)
{
    /* libtxscope stores each number's text in valuestring; a double would lose digits. */
    cJSON *v = cJSON_Parse("{\"big\":9223372036854775807,\"in\":[12345678901234567]}");
    cJSON *big = cJSON_GetObjectItem(v, "big");
    big->valuestring = cJSON_malloc(sizeof "9223372036854775807");
    strcpy(big->valuestring, "9223372036854775807");
    cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(v, "in"), 0);
    in->valuestring = cJSON_malloc(sizeof "12345678901234567");
    strcpy(in->valuestring, "12345678901234567");
    char *a = txs_cli_value_text(big);
    ck_assert_str_eq(a, "9223372036854775807");
    char *b = txs_cli_value_text(cJSON_GetObjectItem(v, "in"));
    ck_assert_str_eq(b, "[12345678901234567]");
    /* Printing embedded JSON leaves the tree as it was. */
    ck_assert(cJSON_IsNumber(in));
    free(a);
    free(b);
    cJSON_Delete(v);
}
END_TEST

START_TEST(test_error_lines)
{
    char *got = printed(txs_cli_print_error,
                        "{\"ok\":false,\"error\":{\"code\":\"23505\",\"message\":\"duplicate "
                        "key\",\"detail\":\"Key (id)=(1) already exists.\",\"hint\":\"Pick "
                        "another.\",\"source\":\"db\"}}");
    ck_assert_str_eq(got, "ERROR:  23505 duplicate key\n"
                          "DETAIL:  Key (id)=(1) already exists.\n"
                          "HINT:  Pick another.\n");
    free(got);
    got = printed(txs_cli_print_error,
                  "{\"ok\":false,\"error\":{\"code\":\"25P02\",\"message\":\"roll back first\"}}");
    ck_assert_str_eq(got, "ERROR:  25P02 roll back first\n");
    free(got);
    got = printed(txs_cli_print_error, "{\"ok\":false}");
    ck_assert_str_eq(got, "ERROR:  ????? the request failed\n");
    free(got);
}
END_TEST

START_TEST(test_text_width)
{
    ck_assert_uint_eq(txs_cli_text_width("abc", 3), 3);
    ck_assert_uint_eq(txs_cli_text_width("\xc3\xa9t\xc3\xa9", 5), 3);
    ck_assert_uint_eq(txs_cli_text_width("\xe2\x82\xac", 3), 1);
}
END_TEST

Suite *suite_cli_format(void)
{
    Suite *s = suite_create("cli_format");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table_like_psql);
    tcase_add_test(tc, test_header_centred_and_values_wider);
    tcase_add_test(tc, test_no_rows);
    tcase_add_test(tc, test_rows_not_an_array);
    tcase_add_test(tc, test_numbers_align_right_by_value);
    tcase_add_test(tc, test_utf8_and_multi_line_cells);
    tcase_add_test(tc, test_command_tags);
    tcase_add_test(tc, test_returning_and_batch);
    tcase_add_test(tc, test_value_text);
    tcase_add_test(tc, test_exact_number_text_wins);
    tcase_add_test(tc, test_error_lines);
    tcase_add_test(tc, test_text_width);
    suite_add_tcase(s, tc);
    return s;
}
