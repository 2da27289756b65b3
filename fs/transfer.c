/* Moving bytes for the FUSE side: pushes of staged copies, reads through
 * the block cache with the pull's lock and registration, and retries. */
#include "fs/relayfs.h"
#include "relay/names.h"

#include <errno.h>
#include <string.h>

static void pull_hash_reset_locked(struct fs_node *node);
static const char *expected_checksum(struct relayfs *fs,
				     const struct fs_node *node);

static char *cache_key(const char *path, const char *version)
{
	return g_strconcat(path, "\n", version, NULL);
}

int fs_push_locked(struct relayfs *fs, struct fs_node *node)
{
	struct cache_staged *s = node->staged;
	g_autofree char *checksum = NULL;
	g_autofree char *version = NULL;
	g_autofree char *why = NULL;
	int ret;

	if (node->write_error || !s || !s->dirty || node->deleted)
		fs_stream_stop_locked(node);
	if (node->write_error)
		return node->write_error; /* never pushed half-written */
	if (!s || !s->dirty || node->deleted)
		return 0;
	ret = cache_staged_checksum(s, &checksum);
	if (ret < 0)
		fs_stream_stop_locked(node);
	/* one message for a failed push: the backend's words go in it */
	relay_failures_gather();
	if (ret == 0) {
		fs_moving_start(node, FS_MOVING_PUSH, s->size);
		relay_progress_watch(&node->moving_done);
		if (node->stream)
			ret = fs_stream_push_locked(fs, node, checksum);
		else
			ret = relay_push(fs->relay, s->relay_path, s->fd,
					 s->size, s->mtime, checksum);
		relay_progress_watch(NULL);
		fs_moving_stop(node);
	}
	atomic_store(&node->push_error, ret);
	if (ret < 0)
		fs_push_failed(fs, node);
	else
		atomic_store(&node->push_due, 0);
	why = relay_failures_take(ret < 0);
	if (ret == 0)
		fs_listing_update(fs, s->relay_path,
				  relay_file_pushed(fs->relay, s->relay_path,
						    s->size, s->mtime));
	if (ret < 0) {
		fs_log_file(G_LOG_LEVEL_WARNING, s->relay_path, ret,
			    "push of %s failed: %s; its staged copy %s is kept "
			    "and will be pushed again", s->relay_path,
			    why ? why : g_strerror(-ret), s->file);
		return ret;
	}
	s->dirty = false;
	version = relay_version_key(s->size, s->mtime, checksum);
	g_free(node->staged_key);
	node->staged_key = cache_key(s->relay_path, version);
	return 0;
}

void fs_drop_failed_copy_locked(struct fs_node *node)
{
	if (!node->staged || !node->write_error)
		return;
	g_message("the copy of %s is removed: a write to it failed (%s), and "
		  "the relay keeps its previous version", node->path,
		  g_strerror(-node->write_error));
	cache_staged_discard(node->staged);
	node->staged = NULL;
	fs_node_staged_changed_locked(node);
}

void fs_close_writer_locked(struct relayfs *fs, struct fs_node *node)
{
	fs_drop_failed_copy_locked(node);
	if (!node->staged)
		return;
	if (node->deleted) {
		cache_staged_discard(node->staged);
		node->staged = NULL;
		fs_node_staged_changed_locked(node);
		return;
	}
	cache_staged_set_closed(node->staged);
	if (fs_push_deferred(fs, node))
		return; /* writeback: the retry thread pushes it when due */
	if (node->staged->dirty && relay_unanswered(fs->relay))
		return; /* the close just failed for it: the retry thread */
	if (fs_push_locked(fs, node) < 0)
		return; /* stays staged: the retry thread pushes it */
	if (node->staged_key)
		cache_staged_commit(fs->cache, node->staged, node->staged_key);
	else
		cache_staged_discard(node->staged);
	node->staged = NULL;
	fs_node_staged_changed_locked(node);
}

/* The copy holds f's version: where it goes in the cache if unchanged. */
static void set_staged_key(struct fs_node *node, const struct relay_file *f)
{
	g_autofree char *version = relay_file_version(f);

	g_free(node->staged_key);
	node->staged_key = cache_key(node->path, version);
}

struct stage_sink {
	struct cache_staged *staged;
	uint64_t offset;
};

static int stage_sink_write(void *ctx, const void *data, size_t len)
{
	struct stage_sink *ss = ctx;
	ssize_t n = cache_staged_write(ss->staged, data, len, ss->offset);

	if (n < 0)
		return n;
	ss->offset += n;
	return 0;
}

/* Fill s with path's content: a get under a read lock (taken beside it). */
static int stage_fetch(struct relayfs *fs, const char *path,
		       const char *etag, struct cache_staged *s)
{
	struct stage_sink ss = { s, 0 };
	bool locked;
	int ret = relay_get_under_lock(fs->relay, path, 0, UINT64_MAX, etag,
				       stage_sink_write, &ss, &locked);
	int rel = locked ? relay_lock_release(fs->relay, path) : 0;

	return ret < 0 ? ret : rel;
}

int fs_stage_locked(struct relayfs *fs, struct fs_node *node, bool fetch)
{
	struct relay_file *f = NULL;
	struct cache_staged *s;
	int ret = 0;

	if (node->staged)
		return 0;
	fs_pull_finish_now_locked(fs, node); /* the write's lock is next */
	if (fetch) {
		ret = fs_lookup(fs, node->path, &f);
		if (ret == 0 && f->is_dir)
			ret = -EISDIR;
	}
	if (ret == 0)
		ret = cache_staged_create(fs->cache, node->path, fs->hash_kind,
					  &s);
	if (ret == 0 && fetch) {
		ret = stage_fetch(fs, node->path, f->etag, s);
		if (ret == 0)
			ret = cache_staged_set_mtime(s, relay_file_mtime(f));
		if (ret == 0)
			ret = cache_staged_set_clean(s);
		if (ret < 0)
			cache_staged_discard(s);
	}
	if (ret == 0 && fetch)
		set_staged_key(node, f);
	if (ret == 0) {
		node->staged = s;
		fs_node_staged_changed_locked(node);
	}
	relay_file_free(f);
	return ret;
}

static bool pulled_already(struct relayfs *fs, const struct relay_file *f)
{
	const struct relay_placeholder *ph = f->placeholder;
	const char *me = relay_params(fs->relay)->client;

	if (!f->has_placeholder)
		return true; /* nothing to register in */
	if (!ph)
		return false;
	return g_strcmp0(ph->pusher, me) == 0 ||
	       relay_placeholder_has_puller(ph, me);
}

int fs_open_version_locked(struct relayfs *fs, struct fs_node *node)
{
	struct relay_file *f;
	g_autofree char *version = NULL;
	g_autofree char *key = NULL;
	struct cache_item *item;
	int ret = fs_lookup(fs, node->path, &f);

	if (ret < 0)
		return ret;
	if (f->is_dir) {
		relay_file_free(f);
		return -EISDIR;
	}
	version = relay_file_version(f);
	key = cache_key(node->path, version);
	if (node->item && node->file) {
		g_autofree char *current = relay_file_version(node->file);

		if (strcmp(version, current) == 0) {
			relay_file_free(f);
			return 0;
		}
	}
	/* the new item first: other readers keep the old one if it fails */
	item = cache_item_get(fs->cache, key, f->size);
	if (!item) {
		relay_file_free(f);
		return -EIO;
	}
	fs_close_reader_locked(fs, node);
	fs_pull_finish_now_locked(fs, node); /* of the version it had */
	if (node->item)
		cache_item_unref(node->item);
	relay_file_free(node->file);
	node->file = f;
	node->item = item;
	node->pull_done = pulled_already(fs, f);
	node->pull_checked = false;
	node->pull_error = 0;
	node->stale = false;
	pull_hash_reset_locked(node);
	/* what the pull's hash needs first is kept from the first fetch on,
	 * before a hasher job has run */
	if (!node->pull_done && expected_checksum(fs, node))
		cache_item_keep_from(item, 0, fs->cfg->transfers + 2);
	return 0;
}

/* node's read lock was taken for it, on path (the relay notes it in the
 * lock journal); one taken beside another fetch's is given back. */
static void read_lock_taken_locked(struct relayfs *fs, struct fs_node *node,
				   const char *path)
{
	if (strcmp(node->path, path) != 0 &&
	    relay_lock_held(fs->relay, path)) {
		/* taken after a rename moved the node: not its lock */
		relay_lock_release(fs->relay, path);
		return;
	}
	if (node->read_locked) {
		relay_lock_release(fs->relay, node->path); /* a count only */
		return;
	}
	/* (a rename since moved our acquisition to node's new path) */
	node->read_locked = true;
	if (node->file)
		fs_moving_start(node, FS_MOVING_PULL, node->file->size);
}

static int take_read_lock_locked(struct relayfs *fs, struct fs_node *node)
{
	int ret = relay_lock_acquire(fs->relay, node->path, RELAY_LOCK_READ);

	if (ret == 0)
		read_lock_taken_locked(fs, node, node->path);
	return ret;
}

/* Who fetches blocks: the filesystem, the node, and what was true of it
 * when the read began (the node may be renamed or reopened meanwhile). */
struct fetcher {
	struct relayfs *fs;
	struct fs_node *node;
	struct cache_item *item;	/* a reference */
	char *path;
	char *etag;
	bool ahead;	/* read-ahead: fetch only while the pull holds its
			 * lock, never take it (the reader may have gone) */
};

static void fetcher_init_locked(struct fetcher *fetcher, struct relayfs *fs,
				struct fs_node *node)
{
	fetcher->fs = fs;
	fetcher->node = node;
	fetcher->item = cache_item_ref(node->item);
	fetcher->path = g_strdup(node->path);
	fetcher->etag = g_strdup(node->file->etag);
	fetcher->ahead = false;
}

static void fetcher_clear(struct fetcher *fetcher)
{
	cache_item_unref(fetcher->item);
	g_free(fetcher->path);
	g_free(fetcher->etag);
}

/* A fetch's bytes on their way to the cache, counted for `relayfs
 * status` (moving_done). */
struct counted_sink {
	struct fs_node *node;
	cache_sink_fn sink;
	void *ctx;
};

static int counted_sink_write(void *ctx, const void *data, size_t len)
{
	struct counted_sink *c = ctx;

	atomic_fetch_add(&c->node->moving_done, len);
	return c->sink(c->ctx, data, len);
}

/* A read-ahead's bytes, while the pull still holds its lock: once the
 * reader has closed the file, the rest of the window is not wanted. */
static int ahead_sink_write(void *ctx, const void *data, size_t len)
{
	struct counted_sink *c = ctx;
	/* without the node's mutex, which a reader may hold while it copies */
	bool wanted = atomic_load(&c->node->read_locked);

	return wanted ? counted_sink_write(ctx, data, len) : -ECANCELED;
}

/* The first fetch of a pull takes the file's read lock. */
static int fetch_under_read_lock(void *ctx, uint64_t offset, uint64_t length,
			      cache_sink_fn sink, void *sink_ctx)
{
	struct fetcher *fetcher = ctx;
	struct fs_node *node = fetcher->node;
	struct relayfs *fs = fetcher->fs;
	struct counted_sink wrapped = {node, sink, sink_ctx};
	bool need_lock, locked;
	int ret;

	g_mutex_lock(&node->mutex);
	need_lock = !node->read_locked;
	g_mutex_unlock(&node->mutex);
	if (need_lock && fetcher->ahead)
		return -EAGAIN;
	if (need_lock) {
		/* the lock and the pinned fetch side by side */
		ret = relay_get_under_lock(fs->relay, fetcher->path, offset,
					   length, fetcher->etag,
					   counted_sink_write, &wrapped,
					   &locked);
		g_mutex_lock(&node->mutex);
		if (locked)
			read_lock_taken_locked(fs, node, fetcher->path);
		g_mutex_unlock(&node->mutex);
	} else {
		ret = relay_get(fs->relay, fetcher->path, offset, length,
				fetcher->etag, fetcher->ahead ?
				ahead_sink_write : counted_sink_write,
				&wrapped);
	}
	if (ret == -ENOENT || ret == -ESTALE) {
		/* removed by another puller, or replaced by a new version,
		 * since the listing: the next open sees what is there now */
		g_mutex_lock(&node->mutex);
		node->stale = true;
		g_mutex_unlock(&node->mutex);
		fs_invalidate_parent(fs, fetcher->path);
		return -ESTALE;
	}
	return ret;
}

/* The checksum a pull must match, or NULL when there is none to check. */
static const char *expected_checksum(struct relayfs *fs,
				     const struct fs_node *node)
{
	const struct relay_placeholder *ph = node->file->placeholder;

	if (!ph || !ph->checksum || fs->hash_kind == CACHE_HASH_NONE)
		return NULL;
	return ph->checksum;
}

/* How many blocks one read-ahead request streams: a quarter of the cache
 * (those in flight are not evicted), at least `transfers`. */
static uint64_t readahead_window(struct relayfs *fs)
{
	uint64_t bs = cache_block_size(fs->cache);

	return MAX((uint64_t)fs->cfg->transfers,
		   cache_max_size(fs->cache) / 4 / bs);
}

/* Hash item's bytes from *at on that have arrived, in order: false when
 * one was evicted before it could be (a full pass is needed then). */
static bool hash_arrived(struct cache_item *item, struct cache_hasher *h,
			 uint64_t *at, uint64_t size, uint64_t bs)
{
	char buf[1 << 16];

	while (*at < size) {
		/* within one block: present, and not evicted meanwhile */
		uint64_t in_block = bs - *at % bs;
		size_t want = MIN(MIN(sizeof(buf), size - *at), in_block);
		ssize_t n = cache_item_read_cached(item, buf, want, *at);

		if (n == -EAGAIN)
			return true; /* not here yet (or fetched again later) */
		if (n <= 0)
			return false;
		cache_hasher_update(h, buf, n);
		*at += n;
	}
	return true;
}

/* Hash the blocks that have arrived in order since the last call: the
 * pull's checksum overlaps its transfer (read-ahead keeps fetching) and,
 * with node's mutex let go meanwhile (let_go), the other readers' copies.
 * One thread hashes at a time; the others go on. */
static void pull_hash_ahead_locked(struct relayfs *fs, struct fs_node *node,
				   bool let_go)
{
	const char *checksum = expected_checksum(fs, node);
	uint64_t at = node->pull_hashed;
	unsigned gen = node->pull_hash_gen;
	struct cache_hasher *h;
	struct cache_item *item;
	bool ok;

	if (node->pull_done || node->pull_checked || node->pull_error ||
	    !checksum || at == UINT64_MAX || node->pull_hashing)
		return;
	if (!node->pull_hasher)
		node->pull_hasher = cache_hasher_new(cache_hash_of_hex(checksum));
	h = node->pull_hasher;
	item = cache_item_ref(node->item);
	node->pull_hashing = true;
	if (let_go)
		g_mutex_unlock(&node->mutex);
	ok = hash_arrived(item, h, &at, node->file->size,
			  cache_block_size(fs->cache));
	if (let_go)
		g_mutex_lock(&node->mutex);
	node->pull_hashing = false;
	g_cond_broadcast(&node->hash_cond);
	if (gen != node->pull_hash_gen) {
		cache_hasher_free(h); /* reset meanwhile: nobody's now */
	} else {
		node->pull_hashed = ok ? at : UINT64_MAX; /* or a full pass */
		/* what is still to hash is evicted last */
		if (ok)
			cache_item_keep_from(item, at, fs->cfg->transfers + 2);
	}
	cache_item_unref(item);
}

/* A hasher job: what has arrived of node's pull goes through its hash
 * off the reader's path (the read's reply does not wait for it). */
void fs_pull_hash_job(gpointer data, gpointer user_data)
{
	struct relayfs *fs = user_data;
	struct fs_node *node = data;

	g_mutex_lock(&node->mutex);
	node->pull_hash_queued = false;
	pull_hash_ahead_locked(fs, node, true);
	g_mutex_unlock(&node->mutex);
	fs_node_put(fs, node, false);
}

/* Wait until no thread hashes node's pull with its mutex let go. */
static void pull_hash_wait_locked(struct fs_node *node)
{
	while (node->pull_hashing)
		g_cond_wait(&node->hash_cond, &node->mutex);
}

/* Bytes a read got past the cache (its disk full) go through the pull's
 * hash from the reader's buffer, when they are the next ones in order. */
static void pull_hash_direct_locked(struct relayfs *fs, struct fs_node *node,
				    const char *buf, size_t len,
				    uint64_t offset)
{
	const char *checksum = expected_checksum(fs, node);

	if (node->pull_done || !checksum || len == 0 ||
	    cache_item_has(node->item, offset, len))
		return;
	pull_hash_wait_locked(node); /* its bytes come after the hasher's */
	if (node->pull_done || node->pull_hashed != offset)
		return;
	if (!node->pull_hasher)
		node->pull_hasher = cache_hasher_new(cache_hash_of_hex(checksum));
	cache_hasher_update(node->pull_hasher, buf, len);
	node->pull_hashed += len;
}

/* After a read that reached `end`: the hash catches up in this thread
 * once the reads have reached the file's end (the check needs it, and
 * the kernel's reads may come out of order: the last one to come checks)
 * or when it lags by more than half a read-ahead window (the blocks still
 * to hash are evicted last, so the cache holds them), else in a hasher
 * job. A reader faster than the hash thus never waits for it but at the
 * end, where the hash has had the whole transfer to catch up. */
static void pull_hash_follow_locked(struct relayfs *fs, struct fs_node *node,
				    uint64_t end)
{
	uint64_t bs = cache_block_size(fs->cache);
	uint64_t lag = MAX((uint64_t)fs->cfg->transfers + 2,
			   readahead_window(fs)) * bs / 2;

	if (node->pull_done || node->pull_hashed == UINT64_MAX ||
	    !expected_checksum(fs, node))
		return;
	if (end >= node->file->size || node->seq_next >= node->file->size ||
	    end > node->pull_hashed + lag) {
		pull_hash_wait_locked(node);
		pull_hash_ahead_locked(fs, node, true);
	} else if (!node->pull_hash_queued && !node->pull_hashing) {
		node->pull_hash_queued = true;
		fs_node_ref(fs, node); /* see fs/lock_order.h: queuing */
		g_thread_pool_push(fs->hashers, node, NULL);
	}
}

static void pull_hash_reset_locked(struct fs_node *node)
{
	if (!node->pull_hashing) /* else the hashing thread drops it */
		cache_hasher_free(node->pull_hasher);
	node->pull_hasher = NULL;
	node->pull_hashed = 0;
	node->pull_hash_gen++;
}

static int verify_checksum(struct relayfs *fs, struct fs_node *node)
{
	const char *checksum = expected_checksum(fs, node);
	g_autofree char *hex = NULL;
	int ret = 0;

	if (!checksum)
		return 0;
	pull_hash_ahead_locked(fs, node, false); /* the rest, mutex held */
	if (node->pull_hasher && node->pull_hashed == node->file->size) {
		hex = cache_hasher_finish(node->pull_hasher);
		node->pull_hasher = NULL;
	} else if (!cache_item_complete(node->item)) {
		/* blocks evicted before they could be hashed in order: this
		 * pull cannot be verified, so it registers nothing */
		pull_hash_reset_locked(node);
		return -EAGAIN;
	} else {
		ret = cache_hash_fd(cache_item_fd(node->item), node->file->size,
				    cache_hash_of_hex(checksum), &hex);
	}
	pull_hash_reset_locked(node);
	if (ret == 0 && g_ascii_strcasecmp(hex, checksum) != 0) {
		fs_log_file(G_LOG_LEVEL_WARNING, node->path, EIO,
			    "pull of %s: content does not match its "
			    "placeholder's checksum; not registered",
			    node->path);
		relay_placeholder_forget(fs->relay, node->path);
		cache_item_discard(node->item);
		ret = -EIO;
	}
	return ret;
}

/* The pull ends: its read lock goes, unless the finishers have it. */
static void release_read_lock_locked(struct relayfs *fs, struct fs_node *node)
{
	if (node->finish_pending)
		return;
	if (node->read_locked) /* no reader waits for the deletion */
		relay_lock_release_aside(fs->relay, node->path, NULL);
	node->read_locked = false;
	fs_moving_stop(node);
}

/* Every block is local: check them, once; the registration waits for
 * the reader's close (fs_close_reader_locked). */
static int check_pull_locked(struct relayfs *fs, struct fs_node *node)
{
	int ret;

	pull_hash_wait_locked(node); /* another reader's hashing first */
	if (node->pull_error) { /* checked and refused already */
		release_read_lock_locked(fs, node);
		return node->pull_error;
	}
	if (node->pull_checked)
		return 0;
	ret = verify_checksum(fs, node);
	if (ret == -EAGAIN) {
		g_warning("pull of %s not registered: blocks of it left the "
			  "cache before they could be checked in order",
			  node->path);
		release_read_lock_locked(fs, node);
		return 0;
	}
	if (ret < 0) {
		node->pull_error = ret;
		release_read_lock_locked(fs, node);
		return ret;
	}
	node->pull_checked = true;
	fs_moving_stop(node);
	return 0;
}

int fs_register_pull_locked(struct relayfs *fs, struct fs_node *node)
{
	bool removed = false;
	int ret = node->read_locked ? 0 : take_read_lock_locked(fs, node);

	if (ret == 0)
		ret = relay_register_pull(fs->relay, node->path,
					  node->file->placeholder, &removed);
	if (ret < 0) {
		fs_log_file(G_LOG_LEVEL_WARNING, node->path, ret,
			    "pull of %s: registration failed: %s; tried again "
			    "later", node->path, g_strerror(-ret));
		node->pull_done = false;
		fs_invalidate_parent(fs, node->path);
	} else {
		fs_listing_update(fs, node->path, removed ? NULL :
				  relay_file_registered(fs->relay, node->path,
							node->file));
	}
	release_read_lock_locked(fs, node);
	return ret;
}

/* Blocks to fetch ahead of a sequential reader, in one request. */
struct readahead_job {
	struct fetcher fetcher;
	uint64_t block, last;
};

void fs_readahead_job(gpointer data, gpointer user_data)
{
	struct readahead_job *job = data;
	struct fs_node *node = job->fetcher.node;

	job->fetcher.ahead = true;
	cache_item_fetch_claimed(job->fetcher.item, job->block, job->last,
				 fetch_under_read_lock, &job->fetcher);
	fetcher_clear(&job->fetcher);
	fs_node_put(user_data, node, false);
	g_free(job);
}

/* Once a reader goes past the first block of a sequential run, the blocks
 * from the one it reads on come in one streaming request (a window of
 * them: readahead_window), the next window asked for once the reader is
 * half way through this one. Called before each read, so that the read
 * waits for the stream instead of fetching its block alone. The kernel
 * sends a sequential reader's reads several at a time, and they may come
 * out of order: a read that starts in the run, or at most a block past
 * it, continues it. A partial read (head, file) never gets past a block:
 * it fetches only what it asks. */
static void read_ahead(struct relayfs *fs, struct fs_node *node,
		       uint64_t offset, size_t n)
{
	uint64_t bs = cache_block_size(fs->cache);
	uint64_t window = readahead_window(fs);
	struct readahead_job *job = NULL;
	uint64_t current, first, last, nblocks;

	g_mutex_lock(&node->mutex);
	nblocks = (cache_item_size(node->item) + bs - 1) / bs;
	if (offset >= node->seq_start && offset <= node->seq_next + bs) {
		node->seq_next = MAX(node->seq_next, offset + n);
	} else {
		node->seq_start = offset;
		node->seq_next = offset + n;
	}
	current = offset / bs;
	first = MAX(current, node->ahead_next);
	last = MIN(current + window - 1, nblocks - 1);
	if (node->seq_next - node->seq_start > bs && node->read_locked &&
	    first <= last && first <= current + (window + 1) / 2) {
		node->ahead_next = last + 1;
		if (cache_item_claim(node->item, &first, &last)) {
			job = g_new0(struct readahead_job, 1);
			fetcher_init_locked(&job->fetcher, fs, node);
			job->block = first;
			job->last = last;
		}
	}
	g_mutex_unlock(&node->mutex);
	if (job) {
		fs_node_ref(fs, node);
		g_thread_pool_push(fs->readahead, job, NULL);
	}
}

ssize_t fs_read_relay(struct relayfs *fs, struct fs_node *node, char *buf,
		      size_t size, off_t offset)
{
	struct fetcher fetcher;
	ssize_t n;
	bool hit, complete;

	g_mutex_lock(&node->mutex);
	n = node->pull_error;
	if (n == 0)
		fetcher_init_locked(&fetcher, fs, node);
	g_mutex_unlock(&node->mutex);
	if (n < 0)
		return n;
	hit = cache_item_has(fetcher.item, offset, size);
	atomic_fetch_add_explicit(hit ? &fs->cache_hits : &fs->cache_misses, 1,
			   memory_order_relaxed);
	if (!hit)
		read_ahead(fs, node, offset, size);
	n = cache_item_read(fetcher.item, buf, size, offset,
			    fetch_under_read_lock, &fetcher);
	complete = n >= 0 && cache_item_complete(fetcher.item);
	if (hit && n > 0)
		read_ahead(fs, node, offset, n);
	if (n < 0) {
		fetcher_clear(&fetcher);
		return n;
	}
	g_mutex_lock(&node->mutex);
	if (fetcher.item == node->item && !complete) {
		pull_hash_direct_locked(fs, node, buf, (size_t)n,
					(uint64_t)offset);
		pull_hash_follow_locked(fs, node, (uint64_t)offset + n);
		/* every byte went through the hash in order, though some
		 * blocks were evicted since (a file larger than the cache) */
		complete = node->pull_hashed == node->file->size;
	}
	if (fetcher.item != node->item) {
		/* reopened as another version meanwhile: its own reads go on */
	} else if (!complete) {
		/* more to come */
	} else if (node->pull_done) {
		release_read_lock_locked(fs, node); /* nothing left to fetch */
	} else {
		int ret = check_pull_locked(fs, node);

		if (ret < 0)
			n = ret;
	}
	g_mutex_unlock(&node->mutex);
	fetcher_clear(&fetcher);
	return n;
}

void fs_close_reader_locked(struct relayfs *fs, struct fs_node *node)
{
	if (node->item && !node->pull_done &&
	    (cache_item_complete(node->item) ||
	     node->pull_hashed == node->file->size))
		check_pull_locked(fs, node);
	if (node->pull_checked && !node->pull_done && !node->pull_error) {
		node->pull_checked = false;
		fs_pull_finish_defer_locked(fs, node);
		return;
	}
	release_read_lock_locked(fs, node);
}

/* Push what is pending and due; returns when the next copy resting
 * (with writeback) is due, or G_MAXINT64. */
static gint64 retry_pending(struct relayfs *fs)
{
	g_autoptr(GPtrArray) pending = fs_nodes_pending(fs);
	gint64 next_due = G_MAXINT64;

	for (guint i = 0; i < pending->len; i++) {
		struct fs_node *node = pending->pdata[i];

		if (fs_push_deferred(fs, node)) {
			/* resting still: a later round pushes it */
			next_due = MIN(next_due, atomic_load(&node->push_due));
		} else if (!fs_writeback_submit(fs, node)) {
			if (fs_node_lock(fs, node) == 0)
				fs_close_writer_locked(fs, node);
			g_mutex_unlock(&node->mutex);
		}
		fs_node_put(fs, node, false);
	}
	return next_due;
}

unsigned fs_retry_interval(void)
{
	const char *env = g_getenv("RELAYFS_RETRY_SECONDS");
	guint64 seconds = 30;

	if (env)
		g_ascii_string_to_unsigned(env, 10, 1, 3600, &seconds, NULL);
	return seconds;
}

/* Locks of ours left on the relay that nothing holds: by an earlier mount
 * (a crash), or by a request that went unanswered. */
static void repair_locks(struct relayfs *fs)
{
	g_autoptr(GPtrArray) paths = cache_journal_list(fs->cache);

	for (guint i = 0; i < paths->len; i++)
		relay_lock_repair(fs->relay, paths->pdata[i]);
}

/* Each round pushes what is pending and due; a round comes every retry
 * interval (which also repairs our locks), and with writeback when the
 * next resting copy is due, or writeback seconds on (a copy closed
 * meanwhile is due after that), to start each push once its copy has
 * rested. */
static gpointer retry_main(gpointer data)
{
	struct relayfs *fs = data;
	gint64 interval = (gint64)fs_retry_interval() * G_USEC_PER_SEC;
	gint64 now = g_get_monotonic_time(), next_repair = now + interval;
	gint64 rest = (gint64)fs->cfg->writeback_ms * 1000;
	gint64 wake, next_due = G_MAXINT64;
	bool first = true;

	relay_thread_background(true); /* retries and repairs */
	g_mutex_lock(&fs->retry_mutex);
	while (!fs->stopping) {
		g_mutex_unlock(&fs->retry_mutex);
		/* a relay that just left a request unanswered would hold up
		 * the files retried (and their readers) for a timeout each */
		if (!relay_unanswered(fs->relay)) {
			if (!first && now >= next_repair)
				repair_locks(fs); /* fs_retry_start did it */
			next_due = retry_pending(fs);
			fs_pull_finish_replay(fs);
		}
		first = false;
		now = g_get_monotonic_time();
		if (now >= next_repair)
			next_repair = now + interval;
		atomic_store(&fs->retry_next, next_repair);
		wake = next_repair;
		if (rest > 0)
			wake = MIN(wake, MIN(next_due, now + rest));
		g_mutex_lock(&fs->retry_mutex);
		if (!fs->stopping)
			g_cond_wait_until(&fs->retry_cond, &fs->retry_mutex,
					  wake);
		now = g_get_monotonic_time();
	}
	g_mutex_unlock(&fs->retry_mutex);
	return NULL;
}

void fs_retry_start(struct relayfs *fs)
{
	g_autoptr(GPtrArray) left = cache_staged_pending(fs->cache,
							 fs->hash_kind);
	g_autoptr(GPtrArray) journaled = cache_journal_list(fs->cache);

	/* what the journal names was left by an earlier mount that stopped */
	for (guint i = 0; i < journaled->len; i++)
		relay_lock_left_by_earlier_mount(fs->relay,
						 journaled->pdata[i]);
	/* a lock kept for a copy found here is held again for its push
	 * (PROTOCOL.md, Repair: push it again from step 2), not released */
	for (guint i = 0; i < left->len; i++)
		relay_lock_adopt(fs->relay,
				 ((struct cache_staged *)left->pdata[i])->relay_path);
	repair_locks(fs);
	for (guint i = 0; i < left->len; i++) {
		struct cache_staged *s = left->pdata[i];
		struct fs_node *node = fs_node_get(fs, s->relay_path, true,
						   false);

		g_message("found %s staged by an earlier mount; pushing it",
			  s->relay_path);
		g_mutex_lock(&node->mutex);
		if (node->staged)
			cache_staged_free(node->staged);
		node->staged = s;
		fs_node_staged_changed_locked(node);
		g_mutex_unlock(&node->mutex);
		fs_node_put(fs, node, false);
	}
	fs_writeback_start(fs);
	fs->retry_thread = g_thread_new("relayfs-retry", retry_main, fs);
}

void fs_retry_stop(struct relayfs *fs)
{
	g_mutex_lock(&fs->retry_mutex);
	fs->stopping = true;
	g_cond_signal(&fs->retry_cond);
	g_mutex_unlock(&fs->retry_mutex);
	if (fs->retry_thread)
		g_thread_join(fs->retry_thread);
	fs->retry_thread = NULL;
}
