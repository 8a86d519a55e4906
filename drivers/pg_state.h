/* pg_state.h - which PostgreSQL statements may leave session state behind. Pure code. */
#ifndef TXS_DRIVERS_PG_STATE_H
#define TXS_DRIVERS_PG_STATE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the statement may change session state that outlives its transaction, so that
 * the connection needs a DISCARD ALL before its next user. Read with PostgreSQL's rules
 * for comments (--, nested C-style), strings ('..', E'..', $tag$..$tag$) and quoted
 * identifiers (read as words). True when:
 * - the first word is SET not followed by LOCAL, TRANSACTION or CONSTRAINTS; or RESET,
 *   LISTEN, PREPARE, DECLARE, LOAD, DISCARD; or SELECT with a word INTO after it; or
 *   UPDATE with a word pg_settings after it (an UPDATE of pg_settings calls set_config);
 * - any word is temp, temporary, pg_temp (temporary objects), pg_advisory_lock,
 *   pg_advisory_lock_shared, pg_try_advisory_lock, pg_try_advisory_lock_shared (session
 *   advisory locks), set_config, dblink_connect or dblink_connect_u.
 * Conservative: a false positive costs one DISCARD ALL. Not seen: what a function, a
 * procedure (CALL) or a DO block does inside its body, e.g. a SET or a temporary table
 * there, and sequences' currval/lastval. A backslash in a plain string is read both
 * ways (standard_conforming_strings on and off) and either reading can say true. */
bool txs_pg_changes_session(const char *sql, size_t len);

#endif
