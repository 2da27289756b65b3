/* The local-directory backend: a relay that is a folder on this machine (or
 * a network drive mounted here). Small files are replaced atomically. */
#include "relay/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

struct local_state {
	int root_fd;
	char *root;
};

static const char *rel(const char *path)
{
	return path[0] ? path : ".";
}

static const char *last_segment(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int fail(const char *op, const char *path, int err)
{
	if (err != ENOENT && err != EEXIST && err != ENOTEMPTY)
		backend_failed("local: %s %s: %s", op, rel(path),
			       g_strerror(err));
	return -err;
}

static int local_open(const struct backend_options *opt, void **state)
{
	const char *path = opt->url;
	struct local_state *st;
	int fd;

	if (g_str_has_prefix(path, "file://"))
		path += strlen("file://");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		g_warning("local: relay directory %s: %s", path,
			  g_strerror(err));
		return -err;
	}
	st = g_new0(struct local_state, 1);
	st->root_fd = fd;
	st->root = g_strdup(path);
	*state = st;
	return 0;
}

static void local_close(void *state)
{
	struct local_state *st = state;

	close(st->root_fd);
	g_free(st->root);
	g_free(st);
}

static void fill_entry(struct backend_entry *e, const char *name,
		       const struct stat *sb)
{
	e->name = g_strdup(name);
	e->is_dir = S_ISDIR(sb->st_mode);
	e->size = e->is_dir ? 0 : (uint64_t)sb->st_size;
	e->mtime = sb->st_mtim.tv_sec;
	e->etag = g_strdup_printf("%lx-%lx-%lx", (unsigned long)sb->st_ino,
				  (unsigned long)sb->st_size,
				  (unsigned long)(sb->st_mtim.tv_sec * 1000000000L +
						  sb->st_mtim.tv_nsec));
}

static int local_list(void *state, const char *dir, GPtrArray *entries)
{
	struct local_state *st = state;
	int fd = openat(st->root_fd, rel(dir), O_RDONLY | O_DIRECTORY |
			O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return fail("list", dir, errno);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return fail("list", dir, errno);
	}
	while ((de = readdir(d)) != NULL) {
		struct stat sb;
		struct backend_entry *e;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* vanished meanwhile */
		if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
			continue; /* symlinks, devices: not relay content */
		e = g_new0(struct backend_entry, 1);
		fill_entry(e, de->d_name, &sb);
		g_ptr_array_add(entries, e);
	}
	closedir(d);
	return 0;
}

static int local_stat(void *state, const char *path,
		      struct backend_entry *entry)
{
	struct local_state *st = state;
	struct stat sb;

	if (fstatat(st->root_fd, rel(path), &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return fail("stat", path, errno);
	fill_entry(entry, last_segment(path), &sb);
	return 0;
}

/* Is the file open on fd still the version etag names? */
static bool same_version(int fd, const char *path, const char *etag)
{
	struct backend_entry now = { 0 };
	struct stat sb;
	bool same;

	if (!etag || fstat(fd, &sb) < 0)
		return true;
	fill_entry(&now, last_segment(path), &sb);
	same = strcmp(now.etag, etag) == 0;
	backend_entry_clear(&now);
	return same;
}

static int local_get(void *state, const char *path, uint64_t offset,
		     uint64_t length, const char *etag, backend_sink_fn sink,
		     void *ctx)
{
	struct local_state *st = state;
	size_t bufsize = 1 << 18;
	g_autofree char *buf = g_malloc(bufsize);
	int fd = openat(st->root_fd, path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return fail("get", path, errno);
	if (!same_version(fd, path, etag)) {
		close(fd);
		return -ESTALE; /* replaced since it was listed */
	}
	while (length > 0) {
		size_t want = length < bufsize ? length : bufsize;
		ssize_t n = pread(fd, buf, want, offset);

		if (n < 0) {
			ret = fail("get", path, errno);
			break;
		}
		if (n == 0)
			break;
		ret = sink(ctx, buf, n);
		if (ret < 0)
			break;
		offset += n;
		length -= n;
	}
	close(fd);
	return ret;
}

/* A temporary name beside path that every relay client takes for a lock
 * of a file that does not exist, so it is never shown as content. */
static char *temp_path(const char *path)
{
	const char *base = last_segment(path);
	g_autofree char *dir = g_strndup(path, base - path);

	return g_strdup_printf("%s.%s.tmp%08x.lock", dir, base,
			       g_random_int());
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int copy_fd(int out, int in, uint64_t size)
{
	off_t off = 0;

	while ((uint64_t)off < size) {
		ssize_t n = copy_file_range(in, &off, out, NULL, size - off, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
			      errno == EINVAL || errno == EOPNOTSUPP))
			n = sendfile(out, in, &off, size - off);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the staged file shrank */
		backend_progress_add((uint64_t)n);
	}
	return 0;
}

/* Write a temporary file with data or fd's content, then link or rename it
 * into place, so no reader ever sees half of it. */
static int write_atomic(struct local_state *st, const char *op,
			const char *path, const void *data, size_t len,
			int in_fd, bool exclusive)
{
	g_autofree char *tmp = temp_path(path);
	int fd = openat(st->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL |
			O_CLOEXEC, 0644);
	int ret;

	if (fd < 0)
		return fail(op, path, errno);
	ret = in_fd >= 0 ? copy_fd(fd, in_fd, len) : write_all(fd, data, len);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && exclusive &&
	    linkat(st->root_fd, tmp, st->root_fd, path, 0) < 0)
		ret = -errno;
	if (ret == 0 && !exclusive &&
	    renameat(st->root_fd, tmp, st->root_fd, path) < 0)
		ret = -errno;
	if (ret < 0 || exclusive)
		unlinkat(st->root_fd, tmp, 0);
	return ret < 0 ? fail(op, path, -ret) : 0;
}

static int local_put(void *state, const char *path, int fd, uint64_t size)
{
	return write_atomic(state, "put", path, NULL, size, fd, false);
}

static int local_put_data(void *state, const char *path, const void *data,
			  size_t len)
{
	return write_atomic(state, "put", path, data, len, -1, false);
}

/* 0 while path is the version etag names, -ESTALE when it changed since
 * it was listed, or why it cannot be looked at (op names the call). */
static int check_version(struct local_state *st, const char *op,
			 const char *path, const char *etag)
{
	struct backend_entry now = { 0 };
	struct stat sb;
	bool same;

	if (fstatat(st->root_fd, path, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(op, path, errno);
	fill_entry(&now, last_segment(path), &sb);
	same = strcmp(now.etag, etag) == 0;
	backend_entry_clear(&now);
	return same ? 0 : -ESTALE;
}

static int local_put_data_if(void *state, const char *path, const void *data,
			     size_t len, const char *etag)
{
	int ret = check_version(state, "put", path, etag);

	if (ret < 0)
		return ret;
	return write_atomic(state, "put", path, data, len, -1, false);
}

static int local_create_excl(void *state, const char *path, const void *data,
			     size_t len)
{
	return write_atomic(state, "create", path, data, len, -1, true);
}

static int local_remove(void *state, const char *path)
{
	struct local_state *st = state;

	if (unlinkat(st->root_fd, path, 0) < 0)
		return fail("remove", path, errno);
	return 0;
}

static int local_rename(void *state, const char *from, const char *to)
{
	struct local_state *st = state;

	if (renameat(st->root_fd, from, st->root_fd, to) < 0)
		return fail("rename", from, errno);
	return 0;
}

static int local_mkdir(void *state, const char *path)
{
	struct local_state *st = state;

	if (mkdirat(st->root_fd, path, 0755) < 0)
		return fail("mkdir", path, errno);
	return 0;
}

static int local_rmdir(void *state, const char *path)
{
	struct local_state *st = state;

	if (unlinkat(st->root_fd, path, AT_REMOVEDIR) < 0)
		return fail("rmdir", path, errno);
	return 0;
}

/* The check and the rmdir are two steps: a mutex is broken only after it
 * stood unchanged for a long while, so nobody is between them. */
static int local_mutex_remove(void *state, const char *path, const char *etag)
{
	int ret = etag ? check_version(state, "rmdir", path, etag) : 0;

	return ret < 0 ? ret : local_rmdir(state, path);
}

static int local_statfs(void *state, struct statvfs *out)
{
	struct local_state *st = state;

	if (fstatvfs(st->root_fd, out) < 0)
		return fail("statfs", "", errno);
	return 0;
}

static const char *const local_schemes[] = { "file", NULL };

const struct backend_ops backend_local = {
	.name = "local",
	.schemes = local_schemes,
	.caps = BACKEND_CAN_CREATE_EXCL | BACKEND_CAN_RENAME |
		BACKEND_ATOMIC_PUT | BACKEND_EXCLUSIVE_MUTEX |
		BACKEND_LISTS_DOTFILES,
	.open = local_open,
	.close = local_close,
	.list = local_list,
	.stat = local_stat,
	.get = local_get,
	.put = local_put,
	.put_data = local_put_data,
	.put_data_if = local_put_data_if,
	.create_excl = local_create_excl,
	.remove = local_remove,
	.rename = local_rename,
	.mkdir = local_mkdir,
	.mutex_create = local_mkdir,
	.rmdir = local_rmdir,
	.mutex_remove = local_mutex_remove,
	.statfs = local_statfs,
};
