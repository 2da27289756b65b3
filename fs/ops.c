/* The FUSE operation table: each operation translates its arguments, calls
 * the relay or the cache, and returns 0 or a negative errno. */
#include "fs/relayfs.h"
#include "relay/names.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

struct relayfs *relayfs_get(void)
{
	return fuse_get_context()->private_data;
}

/* One open file description: its node, whether it may write, and the
 * process that opened it (whose close is the one that pushes). */
struct fs_handle {
	struct fs_node *node;
	bool writer;
	bool wrote;	/* written through since its last push */
	/* its owner closed it, and nothing was written through it since:
	 * only its release(2) is still to come (node->handles_done) */
	bool done;
	pid_t owner;
};

/* The process (thread group) of a thread: FUSE tells the thread. */
static pid_t process_of(pid_t tid)
{
	g_autofree char *file = g_strdup_printf("/proc/%d/status", (int)tid);
	g_autofree char *text = NULL;
	const char *line;

	if (!g_file_get_contents(file, &text, NULL, NULL))
		return tid;
	line = strstr(text, "\nTgid:");
	return line ? (pid_t)strtol(line + 6, NULL, 10) : tid;
}

static struct fs_handle *handle_of(struct fuse_file_info *fi)
{
	return fi ? (struct fs_handle *)(uintptr_t)fi->fh : NULL;
}

static struct fs_node *handle_node(struct fuse_file_info *fi)
{
	return handle_of(fi) ? handle_of(fi)->node : NULL;
}

/* A user may create only names that are not special, and short enough
 * for their placeholder's name. */
static int check_new_name(const char *path)
{
	const char *name = relay_path_basename(path);

	if (strlen(name) > RELAY_NAME_MAX)
		return -ENAMETOOLONG;
	return relay_name_is_valid(name) ? 0 : -EINVAL;
}

/* libfuse's name for a file unlinked while open: .fuse_hiddenXXXXXXXXYYYYYYYY */
static bool is_hidden_name(const char *rpath)
{
	const char *name = relay_path_basename(rpath);
	size_t len = strlen(name);

	if (!g_str_has_prefix(name, ".fuse_hidden") || len != 12 + 16)
		return false;
	for (size_t i = 12; i < len; i++)
		if (!g_ascii_isxdigit(name[i]))
			return false;
	return true;
}

static void *relayfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct relayfs *fs = relayfs_get();
	double timeout = fs->cfg->dir_cache ? 1.0 : 0.0;

	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* writes of 1 MiB, not 128 KiB: an eighth of the requests (and of
	 * their round trips through the kernel) for a large copy */
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	/* an unlinked open file is renamed to a hidden name (hide_unlinked)
	 * so that fstat still finds it */
	cfg->hard_remove = 0;
	cfg->nullpath_ok = 0; /* readdir needs its path */
	cfg->entry_timeout = timeout;
	cfg->attr_timeout = timeout;
	cfg->negative_timeout = 0;
	fs_retry_start(fs);
	return fs;
}

static void close_handle(struct relayfs *fs, struct fs_handle *handle);

/* The kernel sends release(2) asynchronously and drops those still queued
 * when the mount goes away: close what they would have closed. */
static void close_lost_handles(struct relayfs *fs)
{
	g_autoptr(GPtrArray) lost = g_ptr_array_new();
	GHashTableIter it;
	gpointer handle;

	g_mutex_lock(&fs->nodes_mutex);
	g_hash_table_iter_init(&it, fs->handles);
	while (g_hash_table_iter_next(&it, &handle, NULL))
		g_ptr_array_add(lost, handle);
	g_mutex_unlock(&fs->nodes_mutex);
	for (guint i = 0; i < lost->len; i++)
		close_handle(fs, lost->pdata[i]);
}

static void relayfs_destroy(void *data)
{
	close_lost_handles(data);
	fs_retry_stop(data);
	fs_writeback_stop(data);
	fs_pull_finish_stop(data);
	relay_lock_settle_all(((struct relayfs *)data)->relay);
}

/* Attributes of a staged copy (being written or waiting to be pushed). */
static bool staged_stat(struct relayfs *fs, struct fs_node *node,
			struct stat *st)
{
	bool staged;

	g_mutex_lock(&node->mutex);
	staged = node->staged != NULL;
	if (staged) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_uid = getuid();
		st->st_gid = getgid();
		st->st_size = node->staged->size;
		st->st_blocks = (st->st_size + 511) / 512;
		st->st_blksize = cache_block_size(fs->cache);
		st->st_mtime = st->st_atime = st->st_ctime =
			node->staged->mtime;
	}
	g_mutex_unlock(&node->mutex);
	return staged;
}

/* Attributes of an open file: its staged copy, or the version opened
 * (which may be gone from the relay once this very pull completed). */
static bool handle_stat(struct relayfs *fs, struct fs_node *node,
			struct stat *st)
{
	bool known;

	if (staged_stat(fs, node, st))
		return true;
	g_mutex_lock(&node->mutex);
	known = node->file != NULL;
	if (known)
		fs_file_stat(fs, node->file, st);
	g_mutex_unlock(&node->mutex);
	return known;
}

static int relayfs_getattr(const char *path, struct stat *st,
			   struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	const char *rpath = fs_relay_path(path);
	struct fs_node *node;

	if (handle_node(fi) && handle_stat(fs, handle_node(fi), st))
		return 0;
	if (!path)
		return -ENOENT;
	if (rpath[0] == '\0') {
		fs_dir_stat(fs, st);
		return 0;
	}
	node = is_hidden_name(rpath) ? fs_node_get_hidden(fs, rpath) : NULL;
	if (node) {
		bool known = handle_stat(fs, node, st);

		fs_node_put(fs, node, false);
		return known ? 0 : -ENOENT;
	}
	node = fs_node_get(fs, rpath, false, false);
	if (node) {
		bool staged = staged_stat(fs, node, st);

		fs_node_put(fs, node, false);
		if (staged)
			return 0;
	}
	return fs_lookup_stat(fs, rpath, st);
}

static int relayfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
			   off_t offset, struct fuse_file_info *fi,
			   enum fuse_readdir_flags flags)
{
	struct relayfs *fs = relayfs_get();
	const char *dir = fs_relay_path(path);
	g_autoptr(GHashTable) listing = NULL;
	g_autoptr(GPtrArray) staged = NULL;
	GHashTableIter it;
	gpointer value;
	struct stat st;
	int ret = fs_listing(fs, dir, &listing);

	if (ret < 0)
		return ret;
	fs_dir_stat(fs, &st);
	filler(buf, ".", &st, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	g_hash_table_iter_init(&it, listing);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		const struct relay_file *f = value;

		if (!relay_file_visible(f))
			continue;
		fs_file_stat(fs, f, &st);
		filler(buf, f->name, &st, 0, FUSE_FILL_DIR_PLUS);
	}
	staged = fs_nodes_staged_in(fs, dir);
	for (guint i = 0; i < staged->len; i++) {
		const struct relay_file *f = g_hash_table_lookup(
			listing, staged->pdata[i]);

		if (!f || !relay_file_visible(f))
			filler(buf, staged->pdata[i], NULL, 0, 0);
	}
	return 0;
}

/* Open for writing: a staged copy, with the relay's content unless the
 * file is truncated or new. */
static int open_writer(struct relayfs *fs, struct fs_node *node, int flags,
		       bool create)
{
	int ret = 0;

	g_mutex_lock(&node->mutex);
	if (!node->staged)
		node->write_error = 0; /* a failed copy's: a new writing */
	if (!node->staged)
		ret = fs_stage_locked(fs, node, !(flags & O_TRUNC) && !create);
	else if (flags & O_TRUNC) {
		fs_stream_stop_locked(node);
		ret = cache_staged_truncate(node->staged, 0);
	}
	g_mutex_unlock(&node->mutex);
	return ret;
}

static int open_reader(struct relayfs *fs, struct fs_node *node)
{
	int opens = fs_node_lock(fs, node);
	int ret = 0;

	if (!node->staged && (!node->item || opens == 1 || node->stale))
		ret = fs_open_version_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	return ret;
}

static int open_node(const char *path, struct fuse_file_info *fi,
		     bool create)
{
	struct relayfs *fs = relayfs_get();
	const char *rpath = fs_relay_path(path);
	/* open(O_CREAT|O_RDONLY) creates an empty file too */
	bool writer = (fi->flags & O_ACCMODE) != O_RDONLY || create;
	struct fs_handle *handle;
	struct fs_node *node;
	int ret;

	ret = create ? check_new_name(rpath) : 0;
	if (ret < 0)
		return ret;
	node = fs_node_get(fs, rpath, true, true);
	ret = writer ? open_writer(fs, node, fi->flags, create) :
		       open_reader(fs, node);
	if (ret < 0) {
		fs_node_put(fs, node, true);
		return ret;
	}
	handle = g_new0(struct fs_handle, 1);
	handle->node = node;
	handle->writer = writer;
	handle->owner = process_of(fuse_get_context()->pid);
	g_mutex_lock(&fs->nodes_mutex);
	g_hash_table_add(fs->handles, handle);
	g_mutex_unlock(&fs->nodes_mutex);
	fi->fh = (uintptr_t)handle;
	return 0;
}

static int relayfs_open(const char *path, struct fuse_file_info *fi)
{
	return open_node(path, fi, false);
}

static int relayfs_create(const char *path, mode_t mode,
			  struct fuse_file_info *fi)
{
	return open_node(path, fi, true);
}

static int relayfs_read(const char *path, char *buf, size_t size,
			off_t offset, struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	struct fs_node *node = handle_node(fi);
	ssize_t n = 0;
	bool from_relay;

	g_mutex_lock(&node->mutex);
	from_relay = !node->staged;
	if (node->staged)
		n = cache_staged_read(node->staged, buf, size, offset);
	else if (!node->item)
		n = fs_open_version_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	if (n < 0 || !from_relay)
		return n;
	return fs_read_relay(fs, node, buf, size, offset);
}

static int relayfs_write(const char *path, const char *buf, size_t size,
			 off_t offset, struct fuse_file_info *fi)
{
	struct fs_node *node = handle_node(fi);
	uint64_t before = 0;
	ssize_t n = -EBADF;

	g_mutex_lock(&node->mutex);
	if (node->write_error) {
		n = node->write_error;
	} else if (node->staged) {
		before = node->staged->size;
		n = cache_staged_write(node->staged, buf, size, offset);
	}
	if (handle_of(fi)->done) { /* written again after a close */
		handle_of(fi)->done = false;
		node->handles_done--;
	}
	fs_stream_follow_locked(relayfs_get(), node, offset, n, before);
	if (n < 0 && n != -EBADF && !node->write_error) {
		node->write_error = (int)n;
		fs_log_file(G_LOG_LEVEL_WARNING, node->path, (int)n,
			    "write to the copy of %s failed: %s; this version "
			    "will not be pushed", node->path,
			    g_strerror((int)-n));
	}
	g_mutex_unlock(&node->mutex);
	handle_of(fi)->wrote = true;
	return n;
}

/* close(2): the last close of a written file pushes it and returns the
 * push's error; the staged copy stays on failure. With writeback, it
 * returns once the copy is safe on disk, and the push comes later. */
static int relayfs_flush(const char *path, struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	struct fs_handle *handle = handle_of(fi);
	struct fs_node *node = handle->node;
	int ret = 0;

	/* a child that inherited the descriptor closing it: not the end of
	 * the writing (the release pushes) */
	if (process_of(fuse_get_context()->pid) != handle->owner)
		return 0;
	/* a duplicate closed before anything was written through it, as a
	 * shell redirection does (`echo hi > f`): the writing goes on
	 * through another descriptor, whose close pushes once */
	if (handle->writer && !handle->wrote)
		return 0;
	fs_node_lock(fs, node);
	if (!handle->done) {
		handle->done = true;
		node->handles_done++;
	}
	if (fs_node_in_use_locked(node) > 0) {
		g_mutex_unlock(&node->mutex); /* another handle still open */
		return 0;
	}
	if (handle->writer && fs->cfg->writeback_ms && !node->write_error) {
		ret = fs_defer_push_locked(fs, node);
		handle->wrote = false;
	} else if (handle->writer) {
		if (node->staged && !node->write_error)
			cache_staged_set_closed(node->staged);
		ret = fs_push_locked(fs, node);
		handle->wrote = ret < 0;
		/* its space is free once close returns */
		fs_drop_failed_copy_locked(node);
	} else
		ret = node->pull_error; /* what reads could not report */
	/* release(2) comes later and asynchronously: end the pull now */
	fs_close_reader_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	return ret;
}

/* fsync(2) of a folder: the registrations of pulls and the unlocks of
 * pushes closed before it are on the relay once it returns (the error of
 * a registration that failed meanwhile, if any). */
static int relayfs_fsyncdir(const char *path, int datasync,
			    struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	int ret;

	(void)path;
	(void)datasync;
	(void)fi;
	ret = fs_pull_finish_wait(fs);
	relay_lock_settle_all(fs->relay);
	return ret;
}

static int relayfs_fsync(const char *path, int datasync,
			 struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	struct fs_node *node = handle_node(fi);
	int ret;

	g_mutex_lock(&node->mutex);
	ret = fs_push_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	return ret;
}

/* The end of an open file description: the last one of a node ends its
 * writing (pushing what flush did not) and its pull. */
static void close_handle(struct relayfs *fs, struct fs_handle *handle)
{
	struct fs_node *node = handle->node;
	int opens;

	g_mutex_lock(&fs->nodes_mutex);
	g_hash_table_remove(fs->handles, handle);
	g_mutex_unlock(&fs->nodes_mutex);
	opens = fs_node_lock(fs, node);
	if (opens == 1) {
		fs_close_writer_locked(fs, node);
		fs_close_reader_locked(fs, node);
	}
	g_mutex_unlock(&node->mutex);
	/* no longer open, then no longer done: a flush meanwhile never
	 * counts this handle as one still in use (relayfs_flush) */
	fs_node_closed(fs, node);
	if (handle->done) {
		g_mutex_lock(&node->mutex);
		node->handles_done--;
		g_mutex_unlock(&node->mutex);
	}
	fs_node_put(fs, node, false);
	g_free(handle);
}

static int relayfs_release(const char *path, struct fuse_file_info *fi)
{
	close_handle(relayfs_get(), handle_of(fi));
	return 0;
}

/* The node of path (if any) marked unlinked, so that nothing of it is
 * pushed; a reference. *had tells whether it had a staged copy. */
static struct fs_node *mark_unlinked(struct relayfs *fs, const char *rpath,
				     bool *had)
{
	struct fs_node *node = fs_node_get(fs, rpath, false, false);

	*had = node && fs_node_mark_deleted(node);
	return node;
}

/* The relay's side of unlinking rpath; had_staged: this mount had a copy
 * of it, maybe never pushed. */
static int unlink_on_relay(struct relayfs *fs, const char *rpath,
			   bool had_staged)
{
	struct relay_file *f;
	int ret = fs_lookup(fs, rpath, &f);

	if (ret == -ENOENT && had_staged) {
		/* never pushed; a failed push may have kept its lock */
		if (relay_lock_held(fs->relay, rpath))
			relay_delete(fs->relay, rpath, NULL);
		return 0;
	}
	if (ret < 0)
		return ret;
	ret = f->is_dir ? -EISDIR :
			  relay_delete(fs->relay, rpath,
				       (const char *const *)f->messages);
	relay_file_free(f);
	fs_invalidate_parent(fs, rpath);
	return ret;
}

static int relayfs_unlink(const char *path)
{
	struct relayfs *fs = relayfs_get();
	const char *rpath = fs_relay_path(path);
	struct fs_node *node;
	bool had_staged;

	if (is_hidden_name(rpath)) {
		/* the last close of a file unlinked while open */
		node = fs_node_unhide(fs, rpath);
		if (node)
			fs_node_put(fs, node, false);
		return 0;
	}
	fs_pull_finish_path(fs, rpath); /* before its lock is the delete's */
	node = mark_unlinked(fs, rpath, &had_staged);
	if (node) {
		fs_node_orphan(fs, node);
		fs_node_put(fs, node, false);
	}
	return unlink_on_relay(fs, rpath, had_staged);
}

/* Fetch whatever an open reader's version still lacks, so that it can be
 * read to its end once the relay no longer has it. */
static int read_rest(struct relayfs *fs, struct fs_node *node)
{
	size_t bs = cache_block_size(fs->cache);
	g_autofree char *buf = g_malloc(bs);
	uint64_t size, off;
	ssize_t n = 0;

	g_mutex_lock(&node->mutex);
	size = node->file && !node->staged ? node->file->size : 0;
	g_mutex_unlock(&node->mutex);
	for (off = 0; off < size; off += (uint64_t)n) {
		n = fs_read_relay(fs, node, buf, bs, (off_t)off);
		if (n <= 0)
			break;
	}
	return n < 0 ? (int)n : 0;
}

/* unlink(2) of an open file: libfuse renames it to a hidden name instead
 * (hard_remove off), and unlinks that at its last close. The relay loses
 * the file now; the open handles go on with it under the hidden name
 * (fstat, and read and write on its copy), and nothing is pushed. */
static int hide_unlinked(struct relayfs *fs, const char *rfrom,
			 const char *rhidden)
{
	bool had_staged;
	struct fs_node *node = mark_unlinked(fs, rfrom, &had_staged);
	bool reader = node && !had_staged;
	int ret = reader ? read_rest(fs, node) : 0;

	if (reader && ret == 0) {
		g_mutex_lock(&node->mutex);
		fs_pull_register_now_locked(fs, node); /* read: registered */
		g_mutex_unlock(&node->mutex);
	}
	if (ret == 0)
		ret = unlink_on_relay(fs, rfrom, had_staged);
	if (ret == -ENOENT && reader)
		ret = 0; /* the pull read_rest completed took it off the relay */
	if (!node)
		return ret;
	if (ret < 0) {
		g_mutex_lock(&node->mutex);
		node->deleted = false; /* not unlinked after all */
		fs_node_staged_changed_locked(node);
		g_mutex_unlock(&node->mutex);
		fs_node_put(fs, node, false);
		return ret;
	}
	fs_node_hide(fs, node, rhidden);
	return 0;
}

/* Before a rename: push what the file has staged, so that the relay
 * moves its latest version. */
static int push_staged(struct relayfs *fs, const char *from)
{
	struct fs_node *node = fs_node_get(fs, from, false, false);
	int ret;

	if (!node)
		return 0;
	g_mutex_lock(&node->mutex);
	ret = fs_push_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	fs_node_put(fs, node, false);
	return ret;
}

/* After a rename: the renamed file's node (open handles, staged copy)
 * follows it, and the node of the file it replaced is unlinked: a copy of
 * that file still waiting to be pushed is superseded, never pushed. */
static void nodes_follow_rename(struct relayfs *fs, const char *from,
				const char *to, struct fs_node *replaced)
{
	struct fs_node *node = fs_node_get(fs, from, false, false);

	if (replaced) {
		bool had = fs_node_mark_deleted(replaced);

		fs_node_orphan(fs, replaced);
		if (had)
			g_message("%s replaced by the rename of %s: its copy "
				  "not pushed yet is dropped", to, from);
	}
	if (!node)
		return;
	g_mutex_lock(&node->mutex);
	fs_stream_stop_locked(node); /* it went to the old path */
	if (node->staged)
		cache_staged_set_path(node->staged, to);
	g_mutex_unlock(&node->mutex);
	fs_node_move(fs, node, to);
	fs_node_put(fs, node, false);
}

static int rename_target_check(struct relayfs *fs, const char *to,
			       bool from_is_dir, unsigned int flags)
{
	struct relay_file *t;
	int ret = fs_lookup(fs, to, &t);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (flags & RENAME_NOREPLACE)
		ret = -EEXIST;
	else if (t->is_dir && !from_is_dir)
		ret = -EISDIR;
	else if (!t->is_dir && from_is_dir)
		ret = -ENOTDIR;
	relay_file_free(t);
	return ret;
}

static int relayfs_rename(const char *from, const char *to,
			  unsigned int flags)
{
	struct relayfs *fs = relayfs_get();
	const char *rfrom = fs_relay_path(from);
	const char *rto = fs_relay_path(to);
	struct fs_node *replaced;
	struct relay_file *f;
	bool is_dir;
	int ret = (flags & ~RENAME_NOREPLACE) ? -EINVAL : check_new_name(rto);

	/* registrations pending go first, under the names they were read at */
	fs_pull_finish_path(fs, rfrom);
	fs_pull_finish_path(fs, rto);
	if (ret == 0 && is_hidden_name(rto))
		return hide_unlinked(fs, rfrom, rto);

	if (ret == 0)
		ret = push_staged(fs, rfrom);
	if (ret == 0)
		ret = fs_lookup(fs, rfrom, &f);
	if (ret < 0)
		return ret;
	is_dir = f->is_dir;
	relay_file_free(f);
	ret = rename_target_check(fs, rto, is_dir, flags);
	replaced = ret == 0 && !is_dir ? fs_node_get(fs, rto, false, false) :
					 NULL;
	if (ret == 0)
		ret = relay_rename(fs->relay, rfrom, rto, is_dir);
	if (ret == 0 && is_dir)
		fs_nodes_move_dir(fs, rfrom, rto);
	else if (ret == 0)
		nodes_follow_rename(fs, rfrom, rto, replaced);
	if (replaced)
		fs_node_put(fs, replaced, false);
	fs_invalidate_parent(fs, rfrom);
	fs_invalidate_parent(fs, rto);
	if (is_dir)
		cache_meta_invalidate(fs->meta, rfrom);
	return ret;
}

static int relayfs_mkdir(const char *path, mode_t mode)
{
	struct relayfs *fs = relayfs_get();
	const char *rpath = fs_relay_path(path);
	int ret = check_new_name(rpath);

	if (ret == 0)
		ret = relay_mkdir(fs->relay, rpath);
	fs_invalidate_parent(fs, rpath);
	return ret;
}

static int relayfs_rmdir(const char *path)
{
	struct relayfs *fs = relayfs_get();
	const char *rpath = fs_relay_path(path);
	int ret = relay_rmdir(fs->relay, rpath);

	fs_invalidate_parent(fs, rpath);
	cache_meta_invalidate(fs->meta, rpath);
	return ret;
}

static int relay_file_exists(struct relayfs *fs, const char *rpath)
{
	struct relay_file *f;
	int ret = fs_lookup(fs, rpath, &f);

	if (ret == 0 && f->is_dir)
		ret = -EISDIR;
	relay_file_free(f);
	return ret;
}

/* A change by name (truncate, touch) is complete when it returns, even
 * while a handle is open (whose release(2) may still be on its way):
 * push now; commit the staged copy if nothing has it open. */
static int push_now_locked(struct relayfs *fs, struct fs_node *node,
			   int opens)
{
	int ret = fs_push_locked(fs, node);

	if (ret == 0 && opens == 0)
		fs_close_writer_locked(fs, node);
	return ret;
}

static int relayfs_truncate(const char *path, off_t size,
			    struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	struct fs_node *node = handle_node(fi);
	bool by_path = node == NULL;
	int opens;
	int ret;

	if (by_path)
		node = fs_node_get(fs, fs_relay_path(path), true, false);
	opens = fs_node_lock(fs, node);
	ret = node->staged ? 0 : relay_file_exists(fs, node->path);
	if (ret == 0)
		ret = fs_stage_locked(fs, node, size > 0);
	if (ret == 0) {
		fs_stream_stop_locked(node);
		ret = cache_staged_truncate(node->staged, size);
	}
	if (ret == 0 && by_path)
		ret = push_now_locked(fs, node, opens);
	g_mutex_unlock(&node->mutex);
	if (by_path)
		fs_node_put(fs, node, false);
	return ret;
}

static int64_t requested_mtime(const struct timespec tv[2])
{
	if (!tv || tv[1].tv_nsec == UTIME_NOW)
		return g_get_real_time() / G_USEC_PER_SEC;
	return tv[1].tv_sec;
}

/* utimens on a pushed file: only its pusher may change the timestamp. */
static int set_relay_mtime(struct relayfs *fs, const char *rpath,
			   int64_t mtime)
{
	const char *me = relay_params(fs->relay)->client;
	struct relay_file *f;
	int ret;

	if (rpath[0] == '\0')
		return 0; /* the root: accepted, nothing stored */
	ret = fs_lookup(fs, rpath, &f);
	if (ret < 0)
		return ret;
	if (f->is_dir)
		ret = 0; /* directories have no placeholder: accepted */
	else if (!f->placeholder || g_strcmp0(f->placeholder->pusher, me))
		ret = -EPERM;
	else if (relay_file_mtime(f) != mtime)
		ret = relay_set_timestamp(fs->relay, rpath, mtime);
	relay_file_free(f);
	fs_invalidate_parent(fs, rpath);
	return ret;
}

static int relayfs_utimens(const char *path, const struct timespec tv[2],
			   struct fuse_file_info *fi)
{
	struct relayfs *fs = relayfs_get();
	struct fs_node *node = handle_node(fi);
	int64_t mtime = requested_mtime(tv);
	bool staged = false;
	int ret = 0;

	if (tv && tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	if (!node && path)
		node = fs_node_get(fs, fs_relay_path(path), false, false);
	if (node) {
		int opens = fs_node_lock(fs, node);

		staged = node->staged != NULL;
		if (staged && node->staged->mtime != mtime) {
			ret = cache_staged_set_mtime(node->staged, mtime);
			node->staged->dirty = true;
		}
		if (staged && ret == 0 && !handle_node(fi))
			ret = push_now_locked(fs, node, opens);
		g_mutex_unlock(&node->mutex);
		if (!handle_node(fi))
			fs_node_put(fs, node, false);
	}
	if (staged || !path)
		return ret;
	return set_relay_mtime(fs, fs_relay_path(path), mtime);
}

static int relayfs_chmod(const char *path, mode_t mode,
			 struct fuse_file_info *fi)
{
	return 0; /* accepted, nothing stored: the relay keeps no modes */
}

static int relayfs_chown(const char *path, uid_t uid, gid_t gid,
			 struct fuse_file_info *fi)
{
	return 0;
}

static int relayfs_symlink(const char *target, const char *path)
{
	return -EPERM;
}

static int relayfs_link(const char *from, const char *to)
{
	return -EPERM;
}

static int relayfs_mknod(const char *path, mode_t mode, dev_t rdev)
{
	return -EPERM;
}

static int relayfs_statfs(const char *path, struct statvfs *st)
{
	struct relayfs *fs = relayfs_get();
	uint64_t bs = cache_block_size(fs->cache);
	struct statvfs backend;
	uint64_t total = 1ULL << 50, avail = 1ULL << 50;
	int ret = relay_statfs(fs->relay, &backend);

	if (ret < 0 && ret != -ENOSYS)
		return ret;
	if (ret == 0) {
		total = (uint64_t)backend.f_blocks * backend.f_frsize;
		avail = (uint64_t)backend.f_bavail * backend.f_frsize;
	}
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = bs;
	st->f_blocks = total / bs;
	st->f_bfree = st->f_bavail = avail / bs;
	st->f_files = ret == 0 ? backend.f_files : 1000000;
	st->f_ffree = st->f_favail = ret == 0 ? backend.f_ffree : 1000000;
	st->f_namemax = RELAY_NAME_MAX;
	return 0;
}

static int relayfs_getxattr(const char *path, const char *name, char *value,
			    size_t size)
{
	return fs_getxattr(relayfs_get(), fs_relay_path(path), name, value,
			   size);
}

static int relayfs_listxattr(const char *path, char *list, size_t size)
{
	return fs_listxattr(relayfs_get(), fs_relay_path(path), list, size);
}

static int relayfs_setxattr(const char *path, const char *name,
			    const char *value, size_t size, int flags)
{
	return g_str_has_prefix(name, "user.relay.") ? -EPERM : -ENOTSUP;
}

static int relayfs_removexattr(const char *path, const char *name)
{
	return g_str_has_prefix(name, "user.relay.") ? -EPERM : -ENOTSUP;
}

const struct fuse_operations relayfs_operations = {
	.init = relayfs_init,
	.destroy = relayfs_destroy,
	.getattr = relayfs_getattr,
	.readdir = relayfs_readdir,
	.open = relayfs_open,
	.create = relayfs_create,
	.read = relayfs_read,
	.write = relayfs_write,
	.flush = relayfs_flush,
	.fsync = relayfs_fsync,
	.fsyncdir = relayfs_fsyncdir,
	.release = relayfs_release,
	.unlink = relayfs_unlink,
	.rename = relayfs_rename,
	.mkdir = relayfs_mkdir,
	.rmdir = relayfs_rmdir,
	.truncate = relayfs_truncate,
	.utimens = relayfs_utimens,
	.chmod = relayfs_chmod,
	.chown = relayfs_chown,
	.symlink = relayfs_symlink,
	.link = relayfs_link,
	.mknod = relayfs_mknod,
	.statfs = relayfs_statfs,
	.getxattr = relayfs_getxattr,
	.listxattr = relayfs_listxattr,
	.setxattr = relayfs_setxattr,
	.removexattr = relayfs_removexattr,
};
