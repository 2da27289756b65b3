/* Staged copies and their journal records (cache_dir/staging/<id> and
 * <id>.record, a GLib key file written atomically and fsynced). */
#include "cache/staging.h"
#include "cache/file_error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_record(struct cache_staged *s)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	gsize len;

	g_key_file_set_string(kf, "staged", "path", s->relay_path);
	g_key_file_set_int64(kf, "staged", "mtime", s->mtime);
	/* a copy fetched to be changed holds nothing of ours until then */
	g_key_file_set_boolean(kf, "staged", "changed", s->dirty);
	g_key_file_set_boolean(kf, "staged", "closed", s->closed);
	text = g_key_file_to_data(kf, &len, NULL);
	/* g_file_set_contents fsyncs before its rename */
	if (!g_file_set_contents(s->record, text, len, &error)) {
		g_warning("cache: journal %s: %s", s->record, error->message);
		return cache_errno_of(error);
	}
	return 0;
}

static struct cache_staged *staged_new(const char *file, const char *path,
				       enum cache_hash kind)
{
	struct cache_staged *s = g_new0(struct cache_staged, 1);

	s->file = g_strdup(file);
	s->record = g_strconcat(file, ".record", NULL);
	s->relay_path = g_strdup(path);
	s->hash_kind = kind;
	s->fd = -1;
	return s;
}

int cache_staged_create(struct cache *c, const char *relay_path,
			enum cache_hash kind, struct cache_staged **out)
{
	g_autofree char *tmpl = g_build_filename(cache_dir(c), "staging",
						 "XXXXXX", NULL);
	int fd = g_mkstemp_full(tmpl, O_RDWR | O_CLOEXEC, 0600);
	struct cache_staged *s;
	int ret;

	*out = NULL;
	if (fd < 0) {
		ret = -errno;
		g_warning("cache: creating a staged copy in %s: %s",
			  cache_dir(c), g_strerror(-ret));
		return ret;
	}
	s = staged_new(tmpl, relay_path, kind);
	s->fd = fd;
	s->mtime = g_get_real_time() / G_USEC_PER_SEC;
	s->follow = cache_follow_hash_new(fd, kind);
	s->in_order = true;
	s->dirty = true;
	ret = write_record(s);
	if (ret < 0) {
		cache_staged_discard(s);
		return ret;
	}
	*out = s;
	return 0;
}

/* The first change to a clean or closed copy: it now holds data of ours,
 * and is being written. */
static int mark_changed(struct cache_staged *s)
{
	if (s->dirty && !s->closed)
		return 0;
	s->dirty = true;
	s->closed = false;
	return write_record(s);
}

ssize_t cache_staged_write(struct cache_staged *s, const char *buf,
			   size_t size, uint64_t offset)
{
	ssize_t n = pwrite(s->fd, buf, size, offset);
	int ret;

	if (n < 0)
		return -errno;
	s->mtime = g_get_real_time() / G_USEC_PER_SEC; /* as any write does */
	ret = mark_changed(s);
	if (ret < 0)
		return ret;
	if (offset != s->size)
		s->in_order = false;
	if (s->follow && offset == s->size) {
		cache_follow_hash_advance(s->follow, offset + n);
	} else if (s->follow) {
		/* out of order: the checksum takes a pass at push time */
		cache_follow_hash_free(s->follow);
		s->follow = NULL;
	}
	s->size = MAX(s->size, offset + n);
	return n;
}

ssize_t cache_staged_read(struct cache_staged *s, char *buf, size_t size,
			  uint64_t offset)
{
	ssize_t n = pread(s->fd, buf, size, offset);

	return n < 0 ? -errno : n;
}

int cache_staged_truncate(struct cache_staged *s, uint64_t size)
{
	int ret;

	if (ftruncate(s->fd, size) < 0)
		return -errno;
	if (size != s->size) {
		s->in_order = false;
		/* the followed hash no longer ends where the file does */
		cache_follow_hash_free(s->follow);
		s->follow = NULL;
	}
	s->size = size;
	s->mtime = g_get_real_time() / G_USEC_PER_SEC;
	ret = mark_changed(s);
	return ret < 0 ? ret : 0;
}

int cache_staged_set_clean(struct cache_staged *s)
{
	s->dirty = false;
	return write_record(s);
}

int cache_staged_set_closed(struct cache_staged *s)
{
	if (s->closed)
		return 0;
	s->closed = true;
	return write_record(s);
}

int cache_staged_set_mtime(struct cache_staged *s, int64_t mtime)
{
	s->mtime = mtime;
	return write_record(s);
}

int cache_staged_set_path(struct cache_staged *s, const char *relay_path)
{
	g_free(s->relay_path);
	s->relay_path = g_strdup(relay_path);
	return write_record(s);
}

int cache_staged_checksum(struct cache_staged *s, char **hex)
{
	if (s->hash_kind == CACHE_HASH_NONE) {
		*hex = NULL;
		return 0;
	}
	if (s->follow) {
		struct cache_follow_hash *f = s->follow;

		s->follow = NULL;
		return cache_follow_hash_finish(f, s->size, hex);
	}
	return cache_hash_fd(s->fd, s->size, s->hash_kind, hex);
}

static void staged_close(struct cache_staged *s)
{
	cache_follow_hash_free(s->follow); /* before its fd goes */
	if (s->fd >= 0)
		close(s->fd);
	g_free(s->relay_path);
	g_free(s->file);
	g_free(s->record);
	g_free(s);
}

int cache_staged_commit(struct cache *c, struct cache_staged *s,
			const char *key)
{
	int ret = cache_item_adopt(c, key, s->file, s->size);

	if (ret < 0) {
		g_warning("cache: keeping %s as cached blocks: %s", s->file,
			  g_strerror(-ret));
		g_unlink(s->file);
	}
	g_unlink(s->record);
	staged_close(s);
	return 0;
}

void cache_staged_discard(struct cache_staged *s)
{
	g_unlink(s->file);
	g_unlink(s->record);
	staged_close(s);
}

void cache_staged_free(struct cache_staged *s)
{
	if (s)
		staged_close(s);
}

static struct cache_staged *staged_reopen(const char *file,
					  enum cache_hash kind)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *record = g_strconcat(file, ".record", NULL);
	g_autofree char *path = NULL;
	struct cache_staged *s;
	struct stat sb;

	if (!g_key_file_load_from_file(kf, record, G_KEY_FILE_NONE, NULL))
		return NULL;
	path = g_key_file_get_string(kf, "staged", "path", NULL);
	if (!path)
		return NULL;
	s = staged_new(file, path, kind);
	s->mtime = g_key_file_get_int64(kf, "staged", "mtime", NULL);
	s->dirty = !g_key_file_has_key(kf, "staged", "changed", NULL) ||
		   g_key_file_get_boolean(kf, "staged", "changed", NULL);
	/* records from before "closed" was kept: finished, as then */
	s->closed = !g_key_file_has_key(kf, "staged", "closed", NULL) ||
		    g_key_file_get_boolean(kf, "staged", "closed", NULL);
	s->fd = open(file, O_RDWR | O_CLOEXEC);
	if (s->fd < 0 || fstat(s->fd, &sb) < 0) {
		g_warning("cache: staged copy %s of %s is gone", file, path);
		g_unlink(record);
		staged_close(s);
		return NULL;
	}
	s->size = sb.st_size;
	return s;
}

/* A copy whose writer never closed it (a crash): kept aside, not pushed. */
static void set_aside(struct cache *c, struct cache_staged *s)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), "interrupted",
						NULL);
	g_autofree char *base = g_path_get_basename(s->relay_path);
	g_autofree char *name = g_strdup_printf("%s.%s", base,
					       strrchr(s->file, '/') + 1);
	g_autofree char *to = g_build_filename(dir, name, NULL);

	if (g_mkdir_with_parents(dir, 0700) == 0 && g_rename(s->file, to) == 0)
		g_warning("%s was being written when relayfs stopped: that "
			  "copy is not a finished file and is not pushed; it "
			  "is kept as %s", s->relay_path, to);
	else
		g_warning("%s was being written when relayfs stopped: that "
			  "copy is not pushed, and could not be kept as %s: %s",
			  s->relay_path, to, g_strerror(errno));
	g_unlink(s->record);
	staged_close(s);
}

GPtrArray *cache_staged_pending(struct cache *c, enum cache_hash kind)
{
	g_autofree char *dir = g_build_filename(cache_dir(c), "staging", NULL);
	GPtrArray *found = g_ptr_array_new();
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *file = NULL;
		struct cache_staged *s;

		if (g_str_has_suffix(name, ".record") ||
		    strstr(name, ".record."))
			continue;
		file = g_build_filename(dir, name, NULL);
		s = staged_reopen(file, kind);
		if (s && s->dirty && !s->closed)
			set_aside(c, s);
		else if (s)
			g_ptr_array_add(found, s);
		else if (!g_file_test(file, G_FILE_TEST_IS_DIR))
			g_unlink(file); /* no record: never got data */
	}
	if (d)
		g_dir_close(d);
	return found;
}
