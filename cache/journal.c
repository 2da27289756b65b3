/* The lock journal: one small file a lock under cache_dir/locks, named by
 * a hash of the path and holding the path, written with an fsync. */
#include "cache/journal.h"
#include "cache/file_error.h"

#include <errno.h>
#include <glib/gstdio.h>

static char *entry_file(struct cache *c, const char *path)
{
	g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
							       path, -1);

	return g_build_filename(cache_dir(c), "locks", hash, NULL);
}

int cache_journal_add(struct cache *c, const char *path)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), "locks", NULL);
	g_autofree char *file = entry_file(c, path);
	g_autoptr(GError) error = NULL;

	if (g_mkdir_with_parents(dir, 0700) < 0 ||
	    !g_file_set_contents(file, path, -1, &error)) {
		int err = error ? cache_errno_of(error) : -errno;

		g_warning("cache: journal %s: %s", file,
			  error ? error->message : g_strerror(-err));
		return err;
	}
	return 0;
}

void cache_journal_remove(struct cache *c, const char *path)
{
	g_autofree char *file = entry_file(c, path);

	g_unlink(file);
}

GPtrArray *cache_journal_list(struct cache *c)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), "locks", NULL);
	GPtrArray *paths = g_ptr_array_new_with_free_func(g_free);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *file = g_build_filename(dir, name, NULL);
		char *path = NULL;

		if (g_file_get_contents(file, &path, NULL, NULL))
			g_ptr_array_add(paths, path);
		else
			g_unlink(file);
	}
	if (d)
		g_dir_close(d);
	return paths;
}
