/* Attributes from listings: each directory listed at most once per
 * dir_cache seconds, files found by name in the cached listing. */
#include "fs/relayfs.h"
#include "relay/names.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

const char *fs_relay_path(const char *path)
{
	while (path && *path == '/')
		path++;
	return path ? path : "";
}

int fs_listing(struct relayfs *fs, const char *dir, GHashTable **out)
{
	g_autoptr(GPtrArray) files = NULL;
	GHashTable *by_name;
	int ret;

	*out = cache_meta_get(fs->meta, dir);
	if (*out)
		return 0;
	if (relay_unanswered(fs->relay)) {
		/* no need to wait for it again: the last listing serves */
		*out = cache_meta_get_stale(fs->meta, dir);
		if (*out)
			return 0;
	}
	ret = relay_list(fs->relay, dir, &files);
	if (ret == -EIO || ret == -ETIMEDOUT) {
		/* the relay is out of reach: the last listing, however old,
		 * lets files be found and written (pushed when it is back) */
		*out = cache_meta_get_stale(fs->meta, dir);
		if (*out)
			return 0;
	}
	if (ret < 0)
		return ret;
	by_name = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					(GDestroyNotify)relay_file_free);
	for (guint i = 0; i < files->len; i++) {
		struct relay_file *f = files->pdata[i];

		files->pdata[i] = NULL;
		g_hash_table_replace(by_name, f->name, f);
	}
	cache_meta_put(fs->meta, dir, by_name);
	*out = by_name;
	return 0;
}

/* The visible entry of path in a listing (a borrowed pointer), held in
 * *listing: -ENOENT when there is none. */
static int find_visible(struct relayfs *fs, const char *path,
			GHashTable **listing, const struct relay_file **out)
{
	g_autofree char *dir = relay_path_dirname(path);
	const char *name = relay_path_basename(path);
	int ret;

	*out = NULL;
	if (relay_name_is_special(name))
		return -ENOENT;
	ret = fs_listing(fs, dir, listing);
	if (ret < 0)
		return ret == -ENOTDIR ? -ENOENT : ret;
	*out = g_hash_table_lookup(*listing, name);
	if (!*out || !relay_file_visible(*out))
		return -ENOENT;
	return 0;
}

int fs_lookup(struct relayfs *fs, const char *path, struct relay_file **out)
{
	g_autoptr(GHashTable) listing = NULL;
	const struct relay_file *f;
	int ret = find_visible(fs, path, &listing, &f);

	*out = ret == 0 ? relay_file_copy(f) : NULL;
	return ret;
}

int fs_lookup_stat(struct relayfs *fs, const char *path, struct stat *st)
{
	g_autoptr(GHashTable) listing = NULL;
	const struct relay_file *f;
	int ret = find_visible(fs, path, &listing, &f);

	if (ret == 0)
		fs_file_stat(fs, f, st);
	return ret;
}

void fs_listing_update(struct relayfs *fs, const char *path,
		       struct relay_file *f)
{
	g_autofree char *dir = relay_path_dirname(path);
	g_autoptr(GHashTable) old = cache_meta_get(fs->meta, dir);
	g_autoptr(GHashTable) copy = NULL;
	GHashTableIter it;
	gpointer value;

	if (!old) {
		relay_file_free(f);
		return; /* not listed, or no longer fresh: nothing to update */
	}
	copy = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
				     (GDestroyNotify)relay_file_free);
	g_hash_table_iter_init(&it, old);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct relay_file *e = value;

		if (strcmp(e->name, relay_path_basename(path)) != 0)
			g_hash_table_insert(copy, e->name, relay_file_ref(e));
	}
	if (f) {
		/* named as path is now (a file read under its old name may
		 * have been renamed since) */
		g_free(f->name);
		f->name = g_strdup(relay_path_basename(path));
		g_hash_table_replace(copy, f->name, f);
	}
	cache_meta_replace(fs->meta, dir, old, copy);
}

void fs_invalidate_parent(struct relayfs *fs, const char *path)
{
	g_autofree char *dir = relay_path_dirname(path);

	cache_meta_invalidate(fs->meta, dir);
}

void fs_dir_stat(struct relayfs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = cache_block_size(fs->cache);
	st->st_mtime = st->st_atime = st->st_ctime = fs->started;
}

void fs_file_stat(struct relayfs *fs, const struct relay_file *f,
		  struct stat *st)
{
	if (f->is_dir) {
		fs_dir_stat(fs, st);
		st->st_mtime = st->st_atime = st->st_ctime = f->mtime;
		return;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = f->size;
	st->st_blocks = (f->size + 511) / 512;
	st->st_blksize = cache_block_size(fs->cache);
	st->st_mtime = st->st_atime = st->st_ctime = relay_file_mtime(f);
}
