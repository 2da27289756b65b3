/* What the tests of a backend share: warnings captured from GLib's log
 * and checked, and short ways to fetch, list and open. */
#include "tests/support/backend_test.h"
#include "relay/backends/webdav_probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- captured log ---- */

GMutex log_lock;
GPtrArray *warnings; /* of char *, since the last check */

void log_handler(const char *domain, GLogLevelFlags level,
			const char *msg, gpointer unused)
{
	if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) {
		g_mutex_lock(&log_lock);
		g_ptr_array_add(warnings, g_strdup(msg));
		g_mutex_unlock(&log_lock);
	}
	if (g_test_verbose() ||
	    (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)))
		g_printerr("[log] %s\n", msg);
}

/* Removes the first captured warning holding each needle, in order. */
void assert_warned(const char *needle)
{
	bool found = false;

	g_mutex_lock(&log_lock);
	for (unsigned i = 0; i < warnings->len && !found; i++) {
		if (strstr(warnings->pdata[i], needle)) {
			g_ptr_array_remove_index(warnings, i);
			found = true;
		}
	}
	g_mutex_unlock(&log_lock);
	if (!found)
		g_error("no warning holding \"%s\"", needle);
}

void assert_no_warnings(void)
{
	g_mutex_lock(&log_lock);
	for (unsigned i = 0; i < warnings->len; i++)
		g_printerr("unexpected warning: %s\n",
			   (char *)warnings->pdata[i]);
	g_assert_cmpuint(warnings->len, ==, 0);
	g_mutex_unlock(&log_lock);
}

/* ---- helpers ---- */

void entry_free(gpointer p)
{
	struct backend_entry *e = p;

	g_free(e->name);
	g_free(e->etag);
	g_free(e);
}

int sink_append(void *ctx, const void *data, size_t len)
{
	g_byte_array_append(ctx, data, (guint)len);
	return 0;
}

GByteArray *fetch(void *st, const char *path, uint64_t off, uint64_t len,
			 int *err)
{
	GByteArray *got = g_byte_array_new();

	*err = backend_webdav.get(st, path, off, len, NULL, sink_append,
				  got);
	return got;
}

void assert_get(void *st, const char *path, uint64_t off, uint64_t len,
		       const void *want, size_t want_len)
{
	int err;
	GByteArray *got = fetch(st, path, off, len, &err);

	g_assert_cmpint(err, ==, 0);
	g_assert_cmpmem(got->data, got->len, want, want_len);
	g_byte_array_unref(got);
}

GPtrArray *list(void *st, const char *dir, int want_err)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func(entry_free);

	g_assert_cmpint(backend_webdav.list(st, dir, entries), ==, want_err);
	return entries;
}

const struct backend_entry *find(GPtrArray *entries, const char *name)
{
	for (unsigned i = 0; i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];

		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

void *open_ok(struct backend_options *opt)
{
	void *st = NULL;

	g_assert_cmpint(backend_webdav.open(opt, &st), ==, 0);
	g_assert_nonnull(st);
	return st;
}

static int remove_cb(const char *path, const struct stat *sb, int flag,
		     struct FTW *ftw)
{
	return remove(path);
}

void rm_rf(const char *path)
{
	nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

char *slurp(const char *path, gsize *len)
{
	char *data = NULL;

	if (!g_file_get_contents(path, &data, len, NULL))
		return NULL;
	return data;
}


char *facts_file_like_apache(const char *url, const char *server)
{
	struct webdav_facts facts = {
	    .writable = true,	    .mkcol_refuses = true,
	    .lock_exclusive = false, .create_refuses = true,
	    .put_if_match = true,   .delete_if_match = true,
	    .lists_dotfiles = true, .etags_listed = true,
	    .etags_stable = true,   .ranges = true,
	};
	char *path = NULL;
	int fd = g_file_open_tmp("relayfs-facts-XXXXXX.ini", &path, NULL);

	g_assert_cmpint(fd, >=, 0);
	close(fd);
	webdav_facts_save(path, url, server, &facts);
	return path;
}
