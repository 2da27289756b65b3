/* What the tests of a backend share: warnings captured from GLib's log
 * and checked, and short ways to fetch, list and open. */
#ifndef TESTS_SUPPORT_BACKEND_TEST_H
#define TESTS_SUPPORT_BACKEND_TEST_H

#include "relay/backend.h"
#include "relay/backends/registry.h"

#include <ftw.h>
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

extern GMutex log_lock;
extern GPtrArray *warnings; /* of char *, since the last check */

void log_handler(const char *domain, GLogLevelFlags level,
			const char *msg, gpointer unused);
void assert_warned(const char *needle);
void assert_no_warnings(void);
void entry_free(gpointer p);
int sink_append(void *ctx, const void *data, size_t len);
GByteArray *fetch(void *st, const char *path, uint64_t off, uint64_t len,
			 int *err);
void assert_get(void *st, const char *path, uint64_t off, uint64_t len,
		       const void *want, size_t want_len);
GPtrArray *list(void *st, const char *dir, int want_err);
const struct backend_entry *find(GPtrArray *entries, const char *name);
void *open_ok(struct backend_options *opt);
void rm_rf(const char *path);
char *slurp(const char *path, gsize *len);
/* A facts file (webdav_probe.h) saying the server at url, whose Server
 * header is server, does what Apache does: opening it sends no probe.
 * g_free the path, unlink the file. */
char *facts_file_like_apache(const char *url, const char *server);

#endif
