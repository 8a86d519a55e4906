/* test_json.c - the strict JSON parser behind request decoding. */
#include <check.h>
#include <stdbool.h>
#include <string.h>

#include "protocol/errors.h"
#include "protocol/json_scan.h"

Suite *suite_json(void);

static int parse(const char *s, txs_json_doc_t *d)
{
    return txs_json_parse(s, strlen(s), d);
}

static bool ok(const char *s)
{
    txs_json_doc_t d;
    int rc = parse(s, &d);
    txs_json_doc_free(&d);
    return rc == TXS_OK;
}

START_TEST(test_tokens)
{
    const char *s = " {\"a\": [1, -2.5e3, \"x\"], \"b\": {}, \"c\": null, \"d\": true} ";
    txs_json_doc_t d;
    ck_assert_int_eq(parse(s, &d), TXS_OK);
    /* object, "a", [, 1, -2.5e3, "x", "b", {}, "c", null, "d", true */
    ck_assert_uint_eq(d.ntoks, 12);
    ck_assert_int_eq(d.toks[0].kind, TXS_JSON_OBJECT);
    ck_assert_uint_eq(d.toks[0].count, 4);
    ck_assert_uint_eq(d.toks[0].size, 11);
    ck_assert_uint_eq(d.toks[0].start, 1);
    ck_assert_uint_eq(d.toks[0].len, strlen(s) - 2);
    ck_assert_int_eq(d.toks[2].kind, TXS_JSON_ARRAY);
    ck_assert_uint_eq(d.toks[2].count, 3);
    ck_assert_uint_eq(d.toks[2].size, 3);
    ck_assert_int_eq(d.toks[4].kind, TXS_JSON_NUMBER);
    ck_assert(memcmp(s + d.toks[4].start, "-2.5e3", d.toks[4].len) == 0);
    ck_assert_uint_eq(d.toks[4].len, 6);
    /* Sibling links skip whole subtrees. */
    ck_assert_uint_eq(txs_json_next(&d, 2), 6);
    ck_assert_int_eq(d.toks[7].kind, TXS_JSON_OBJECT);
    ck_assert_uint_eq(d.toks[7].count, 0);
    ck_assert_uint_eq(d.toks[7].len, 2);
    ck_assert_int_eq(d.toks[9].kind, TXS_JSON_NULL);
    ck_assert_int_eq(d.toks[11].kind, TXS_JSON_TRUE);
    txs_json_doc_free(&d);
}
END_TEST

START_TEST(test_many_tokens_and_depth)
{
    /* Past the inline token array, and deep nesting without recursion. */
    enum { N = 5000 };
    static char s[2 * N + 2];
    for (int i = 0; i < N; i++) {
        s[i] = '[';
        s[N + i] = ']';
    }
    s[2 * N] = '\0';
    txs_json_doc_t d;
    ck_assert_int_eq(parse(s, &d), TXS_OK);
    ck_assert_uint_eq(d.ntoks, N);
    ck_assert_uint_eq(d.toks[0].size, N - 1);
    ck_assert_uint_eq(d.toks[N - 1].size, 0);
    ck_assert_uint_eq(d.toks[N - 2].count, 1);
    txs_json_doc_free(&d);
    s[2 * N - 1] = '\0'; /* one ] short */
    ck_assert(!ok(s));
}
END_TEST

START_TEST(test_strict_grammar)
{
    ck_assert(ok("0"));
    ck_assert(ok("-0.0e+0"));
    ck_assert(ok("1E-7"));
    ck_assert(ok("\"\""));
    ck_assert(ok("[]"));
    ck_assert(ok("{ }"));
    ck_assert(ok("[null,true,false]"));
    ck_assert(!ok(""));
    ck_assert(!ok("   "));
    ck_assert(!ok("01"));
    ck_assert(!ok("1."));
    ck_assert(!ok(".5"));
    ck_assert(!ok("+1"));
    ck_assert(!ok("-"));
    ck_assert(!ok("1e"));
    ck_assert(!ok("1e+"));
    ck_assert(!ok("0x10"));
    ck_assert(!ok("NaN"));
    ck_assert(!ok("Infinity"));
    ck_assert(!ok("tru"));
    ck_assert(!ok("truex"));
    ck_assert(!ok("nul"));
    ck_assert(!ok("[1,]"));
    ck_assert(!ok("[,1]"));
    ck_assert(!ok("[1 2]"));
    ck_assert(!ok("{\"a\" 1}"));
    ck_assert(!ok("{\"a\":}"));
    ck_assert(!ok("{\"a\":1,}"));
    ck_assert(!ok("{a:1}"));
    ck_assert(!ok("{1:1}"));
    ck_assert(!ok("[1}"));
    ck_assert(!ok("{\"a\":1]"));
    ck_assert(!ok("{} {}"));
    ck_assert(!ok("{}x"));
    ck_assert(!ok("[1]]"));
    ck_assert(!ok("'a'"));
    /* Whitespace is exactly space, tab, CR, LF. */
    ck_assert(ok(" \t\r\n[ 1 ]\n"));
    ck_assert(!ok("\x01[1]"));
    ck_assert(!ok("[1]\x0b"));
    txs_json_doc_t d;
    ck_assert_int_eq(txs_json_parse("[1]\0", 4, &d), TXS_EPROTO);
    txs_json_doc_free(&d);
}
END_TEST

START_TEST(test_strings)
{
    ck_assert(ok("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""));
    ck_assert(ok("\"\\u00e9\\uD83D\\uDE00\""));
    ck_assert(!ok("\"abc"));
    ck_assert(!ok("\"a\\\""));
    ck_assert(!ok("\"\\x41\""));
    ck_assert(!ok("\"\\u12\""));
    ck_assert(!ok("\"\\u12G4\""));
    ck_assert(!ok("\"tab\there\"")); /* raw control character */
    ck_assert(!ok("\"\\uD83D\""));   /* lone high surrogate */
    ck_assert(!ok("\"\\uD83Dx\""));
    ck_assert(!ok("\"\\uD83D\\u0041\"")); /* high surrogate, then not a low one */
    ck_assert(!ok("\"\\uDE00\""));        /* lone low surrogate */

    const char *s = "[\"plain\", \"a\\nb\\u00e9\\uD83D\\uDE00\\\"\", \"x\\u0000y\"]";
    txs_json_doc_t d;
    ck_assert_int_eq(parse(s, &d), TXS_OK);
    char out[64];
    size_t n = txs_json_unescape(s, &d.toks[1], out);
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(out, "plain", 5) == 0);
    ck_assert(!d.toks[1].escaped);
    ck_assert(d.toks[2].escaped);
    ck_assert(!d.toks[2].has_nul);
    n = txs_json_unescape(s, &d.toks[2], out);
    ck_assert_uint_eq(n, 10);
    ck_assert(memcmp(out, "a\nb\xC3\xA9\xF0\x9F\x98\x80\"", 10) == 0);
    ck_assert(d.toks[3].has_nul);
    n = txs_json_unescape(s, &d.toks[3], out);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(out, "x\0y", 3) == 0);
    txs_json_doc_free(&d);
}
END_TEST

START_TEST(test_compact_to_memory)
{
    const char *s = "{ \"k\" : [ 1.10 , \"a b\" , { } ] }";
    char out[64];
    size_t n = txs_json_compact(s, strlen(s), out);
    ck_assert_uint_eq(n, strlen("{\"k\":[1.10,\"a b\",{}]}"));
    ck_assert(memcmp(out, "{\"k\":[1.10,\"a b\",{}]}", n) == 0);
}
END_TEST

Suite *suite_json(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_tokens);
    tcase_add_test(tc, test_many_tokens_and_depth);
    tcase_add_test(tc, test_strict_grammar);
    tcase_add_test(tc, test_strings);
    tcase_add_test(tc, test_compact_to_memory);
    suite_add_tcase(s, tc);
    return s;
}
