/* http_get.h - a blocking HTTP/1.1 GET to the daemon's admin listener, for tests. */
#ifndef TXS_TESTS_HTTP_GET_H
#define TXS_TESTS_HTTP_GET_H

/* GET path from 127.0.0.1:port with "Connection: close"; returns the status code (and
 * the body in *body, NUL-terminated, caller frees; may be NULL), or -1 when nothing
 * answered within timeout_ms (connect refused, no reply, or not HTTP). */
int th_http_get(int port, const char *path, char **body, int timeout_ms);

#endif
