/* The journals: one small file an entry under cache_dir/locks (a lock,
 * holding its path) or cache_dir/pulls (a pull, a key file), named by a
 * hash of the path and written with an fsync. */
#include "cache/journal.h"
#include "cache/file_error.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

static char *entry_file(struct cache *c, const char *folder,
			const char *path)
{
	g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
							       path, -1);

	return g_build_filename(cache_dir(c), folder, hash, NULL);
}

static int entry_write(struct cache *c, const char *folder, const char *path,
		       const char *text, gssize len)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), folder, NULL);
	g_autofree char *file = entry_file(c, folder, path);
	g_autoptr(GError) error = NULL;

	if (g_mkdir_with_parents(dir, 0700) < 0 ||
	    !g_file_set_contents(file, text, len, &error)) {
		int err = error ? cache_errno_of(error) : -errno;

		g_warning("cache: journal %s: %s", file,
			  error ? error->message : g_strerror(-err));
		return err;
	}
	return 0;
}

int cache_journal_add(struct cache *c, const char *path)
{
	return entry_write(c, "locks", path, path, -1);
}

void cache_journal_remove(struct cache *c, const char *path)
{
	g_autofree char *file = entry_file(c, "locks", path);

	g_unlink(file);
}

/* Reads one entry's file into out; false when it is unreadable or torn
 * by a crash before its fsync (the file is then removed). */
typedef bool (*entry_read_fn)(const char *file, GPtrArray *out);

static GPtrArray *entries_read(struct cache *c, const char *folder,
			       entry_read_fn read_one, GDestroyNotify free_fn)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), folder, NULL);
	GPtrArray *out = g_ptr_array_new_with_free_func(free_fn);
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *file = NULL;

		/* an entry is named by a bare hash; "hash.XXXXXX" is one
		 * being written (g_file_set_contents), not ours to judge */
		if (strchr(name, '.'))
			continue;
		file = g_build_filename(dir, name, NULL);
		if (!read_one(file, out))
			g_unlink(file);
	}
	if (d)
		g_dir_close(d);
	return out;
}

static bool lock_read(const char *file, GPtrArray *out)
{
	char *path = NULL;

	if (!g_file_get_contents(file, &path, NULL, NULL))
		return false;
	g_ptr_array_add(out, path);
	return true;
}

GPtrArray *cache_journal_list(struct cache *c)
{
	return entries_read(c, "locks", lock_read, g_free);
}

int cache_journal_pull_add(struct cache *c, const char *path,
			   const char *version)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *text = NULL;
	gsize len;

	g_key_file_set_string(kf, "pull", "path", path);
	g_key_file_set_string(kf, "pull", "version", version);
	text = g_key_file_to_data(kf, &len, NULL);
	return entry_write(c, "pulls", path, text, (gssize)len);
}

void cache_journal_pull_remove(struct cache *c, const char *path)
{
	g_autofree char *file = entry_file(c, "pulls", path);

	g_unlink(file);
}

static void pull_free(gpointer data)
{
	struct cache_journal_pull *p = data;

	g_free(p->path);
	g_free(p->version);
	g_free(p);
}

static bool pull_read(const char *file, GPtrArray *out)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	struct cache_journal_pull p = {NULL, NULL};

	if (g_key_file_load_from_file(kf, file, G_KEY_FILE_NONE, NULL)) {
		p.path = g_key_file_get_string(kf, "pull", "path", NULL);
		p.version = g_key_file_get_string(kf, "pull", "version", NULL);
	}
	if (p.path && p.version) {
		g_ptr_array_add(out, g_memdup2(&p, sizeof(p)));
		return true;
	}
	g_free(p.path);
	g_free(p.version);
	return false;
}

GPtrArray *cache_journal_pulls(struct cache *c)
{
	return entries_read(c, "pulls", pull_read, pull_free);
}
