/* format.h - the CLI's output, pure: psql-like tables, command tags and error lines. */
#ifndef TXS_CLI_FORMAT_H
#define TXS_CLI_FORMAT_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Writes a successful query or batch reply: an aligned table with "(N rows)" for results
 * with fields, the command tag ("INSERT 1", "CREATE TABLE") otherwise. */
void txs_cli_print_result(FILE *out, const cJSON *reply);

/* Writes a failed reply's error: "ERROR:  CODE message", then "DETAIL:  ..." and
 * "HINT:  ..." lines when the reply has them. */
void txs_cli_print_error(FILE *out, const cJSON *reply);

/* A value as a table cell: "" for null, t/f for booleans, numbers with their exact text
 * when the item carries it in valuestring, strings as they are, JSON as compact text.
 * The caller frees the result. */
char *txs_cli_value_text(const cJSON *v);

/* The columns a terminal gives the first len bytes of s (one per UTF-8 character). */
size_t txs_cli_text_width(const char *s, size_t len);

#endif
