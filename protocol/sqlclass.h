/* sqlclass.h - what kind of statement a piece of SQL is, from its leading keywords. */
#ifndef TXS_PROTOCOL_SQLCLASS_H
#define TXS_PROTOCOL_SQLCLASS_H

#include <stdbool.h>
#include <stddef.h>

/* True when the statement is transaction control that the daemon must own:
 * BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE,
 * SET TRANSACTION, SET SESSION CHARACTERISTICS AS TRANSACTION, PREPARE TRANSACTION,
 * COMMIT/ROLLBACK PREPARED, XA ..., SET autocommit (MySQL). Leading whitespace and
 * comments (-- to end of line, nested C-style) are skipped; keywords are matched
 * case-insensitively as whole words. When `what` is not NULL it receives a short
 * upper-case name of the statement ("BEGIN", "SAVEPOINT", ...). */
bool txs_sql_is_tx_control(const char *sql, size_t len, const char **what);

/* True when the statement may be a COPY FROM STDIN, which a PostgreSQL pipeline cannot
 * carry (the server would read the statements after it as COPY data): its first word,
 * read with PostgreSQL's comment rules, is COPY, and "stdin" appears anywhere after it,
 * in any case. Loose on purpose: a COPY TO STDOUT that mentions stdin is taken too. */
bool txs_sql_is_copy_from_stdin(const char *sql, size_t len);

/* True when MySQL commits the open transaction before running the statement (and
 * after): DDL (CREATE, ALTER, DROP, RENAME, TRUNCATE; not CREATE/DROP TEMPORARY TABLE),
 * GRANT, REVOKE, SET PASSWORD, LOCK/UNLOCK TABLES, ANALYZE/CHECK/OPTIMIZE/REPAIR TABLE,
 * CACHE INDEX, LOAD INDEX, FLUSH, RESET, INSTALL/UNINSTALL. Read with MySQL's comment
 * rules (executable comments are code). `what`, when not NULL, gets the statement's
 * first word ("CREATE") or NULL. */
bool txs_sql_commits_implicitly(const char *sql, size_t len, const char **what);

/* True when the statement's first word, read with PostgreSQL's comment rules, is one of
 * `words` (upper-case keywords, NULL-terminated), as a whole word: "select1" is not
 * SELECT. */
bool txs_sql_first_word_in(const char *sql, size_t len, const char *const *words);

/* Where the block comment that opens at sql[pos] ends: just past its close, or len when
 * it is not closed. `nested`: PostgreSQL's reading, where each inner opener
 * needs a close of its own; else MySQL's, where the first close ends it. */
size_t txs_sql_block_comment_end(const char *sql, size_t len, size_t pos, bool nested);

#endif
