/* The block cache on disk: cache_dir/blocks/<hash of key>/ holds `data`
 * (sparse, the file's size) and `present` (one byte a block) and `key`.
 * Lock order (fs/lock_order.h): cache->mutex, then item->mutex; neither is
 * held while a block is fetched. */
#include "cache/blocks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <linux/falloc.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cache {
	char *dir;
	uint64_t block_size;
	_Atomic uint64_t max_size;	/* lowered when the disk fills */
	GMutex mutex;
	GHashTable *items;	/* key -> struct cache_item * (live ones) */
	_Atomic gint64 used;	/* bytes of blocks on disk (an estimate) */
	atomic_bool said_full;	/* the disk-full note was logged */
};

struct cache_item {
	struct cache *cache;
	char *key;
	char *dir;
	uint64_t size;
	uint64_t nblocks;
	int fd;			/* data, read-write */
	int present_fd;		/* presence map, one byte a block */
	guint8 *present;
	guint8 *fetching;
	gint64 *used_at;	/* per block: last fetched or read, monotonic */
	guint32 *evictions;	/* per block: times evicted, so that a read
				 * can tell its bytes were not punched out */
	uint64_t keep_until;	/* blocks from keep_from up to here are the
				 * next a pull hashes: never evicted */
	uint64_t keep_from;	/* blocks from here wait to be hashed: the
				 * last ones evicted */
	GMutex mutex;
	GCond changed;
	int refs;		/* under cache->mutex */
};

int cache_open(const char *dir, uint64_t block_size, uint64_t max_size,
	       struct cache **out)
{
	g_autofree char *blocks = g_build_filename(dir, "blocks", NULL);
	g_autofree char *staging = g_build_filename(dir, "staging", NULL);
	struct cache *c;

	*out = NULL;
	if (g_mkdir_with_parents(blocks, 0700) < 0 ||
	    g_mkdir_with_parents(staging, 0700) < 0) {
		int err = errno;

		g_warning("cache: cannot create %s: %s", dir, g_strerror(err));
		return -err;
	}
	c = g_new0(struct cache, 1);
	c->dir = g_strdup(dir);
	c->block_size = block_size;
	c->max_size = max_size;
	g_mutex_init(&c->mutex);
	c->items = g_hash_table_new(g_str_hash, g_str_equal);
	cache_trim(c);
	*out = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	g_hash_table_destroy(c->items);
	g_mutex_clear(&c->mutex);
	g_free(c->dir);
	g_free(c);
}

uint64_t cache_block_size(const struct cache *c)
{
	return c->block_size;
}

const char *cache_dir(const struct cache *c)
{
	return c->dir;
}

uint64_t cache_used(struct cache *c)
{
	return (uint64_t)MAX(0, atomic_load_explicit(&c->used, memory_order_relaxed));
}

static char *item_dir(struct cache *c, const char *key)
{
	g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256,
							       key, -1);

	return g_build_filename(c->dir, "blocks", hash, NULL);
}

/* Does the item's folder hold this key at this size? */
static bool item_matches(const char *dir, const char *key, uint64_t size)
{
	g_autofree char *key_file = g_build_filename(dir, "key", NULL);
	g_autofree char *expected = g_strdup_printf("%s\n%" G_GUINT64_FORMAT,
						    key, size);
	g_autofree char *stored = NULL;

	if (!g_file_get_contents(key_file, &stored, NULL, NULL))
		return false;
	return strcmp(stored, expected) == 0;
}

static int item_reset(struct cache_item *item)
{
	g_autofree char *key_file = g_build_filename(item->dir, "key", NULL);
	g_autofree char *text = g_strdup_printf("%s\n%" G_GUINT64_FORMAT,
						item->key, item->size);

	memset(item->present, 0, item->nblocks);
	if (ftruncate(item->fd, 0) < 0 ||
	    ftruncate(item->fd, item->size) < 0 ||
	    ftruncate(item->present_fd, 0) < 0 ||
	    ftruncate(item->present_fd, item->nblocks) < 0)
		return -errno;
	/* a full disk may not take the key: the blocks then work for this
	 * mount, and the next one starts the version afresh */
	if (!g_file_set_contents(key_file, text, -1, NULL))
		g_unlink(key_file);
	return 0;
}

/* Remove a version's folder (it holds files only). */
static int rm_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *file = g_build_filename(dir, name, NULL);

		g_unlink(file);
	}
	if (d)
		g_dir_close(d);
	return g_rmdir(dir);
}

/* ---- eviction: least recently used versions go first, never one
 * that is open ---- */

static void touch_item(const char *dir)
{
	g_autofree char *key_file = g_build_filename(dir, "key", NULL);

	utimensat(AT_FDCWD, key_file, NULL, 0);
}

struct cached_version {
	char *dir;
	gint64 last_use;
	uint64_t bytes;
};

static gint by_last_use(gconstpointer a, gconstpointer b)
{
	const struct cached_version *x = *(struct cached_version *const *)a;
	const struct cached_version *y = *(struct cached_version *const *)b;

	return x->last_use < y->last_use ? -1 : x->last_use > y->last_use;
}

static void cached_version_free(gpointer p)
{
	struct cached_version *v = p;

	g_free(v->dir);
	g_free(v);
}

/* Every version on disk with its size and last use; *total their sum. */
static GPtrArray *scan_versions(struct cache *c, uint64_t *total)
{
	g_autofree char *blocks = g_build_filename(c->dir, "blocks", NULL);
	GPtrArray *found = g_ptr_array_new_with_free_func(cached_version_free);
	GDir *d = g_dir_open(blocks, 0, NULL);
	const char *name;

	*total = 0;
	while (d && (name = g_dir_read_name(d)) != NULL) {
		struct cached_version *v = g_new0(struct cached_version, 1);
		g_autofree char *data = NULL, *key = NULL;
		struct stat sb, kb;

		v->dir = g_build_filename(blocks, name, NULL);
		data = g_build_filename(v->dir, "data", NULL);
		key = g_build_filename(v->dir, "key", NULL);
		if (stat(data, &sb) == 0)
			v->bytes = (uint64_t)sb.st_blocks * 512;
		if (stat(key, &kb) == 0)
			v->last_use = kb.st_mtim.tv_sec * G_GINT64_CONSTANT(1000000000) +
				      kb.st_mtim.tv_nsec;
		*total += v->bytes;
		g_ptr_array_add(found, v);
	}
	if (d)
		g_dir_close(d);
	return found;
}

/* Is the version in dir open? (cache->mutex held) */
static bool in_use_locked(struct cache *c, const char *dir)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, c->items);
	while (g_hash_table_iter_next(&it, NULL, &value))
		if (strcmp(((struct cache_item *)value)->dir, dir) == 0)
			return true;
	return false;
}

/* A block of an open version that eviction may punch out. */
struct cached_block {
	struct cache_item *item;
	uint64_t block;
	bool awaited;	/* at or past the item's keep_from */
	gint64 used_at;
};

static gint by_block_use(gconstpointer a, gconstpointer b)
{
	const struct cached_block *x = a, *y = b;

	if (x->awaited != y->awaited)
		return x->awaited ? 1 : -1;
	return x->used_at < y->used_at ? -1 : x->used_at > y->used_at;
}

/* The present blocks of the open versions that nobody is fetching
 * (cache->mutex held; takes each item's). */
static GArray *open_blocks_locked(struct cache *c)
{
	GArray *blocks = g_array_new(FALSE, FALSE, sizeof(struct cached_block));
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, c->items);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct cache_item *item = value;

		g_mutex_lock(&item->mutex);
		for (uint64_t i = 0; i < item->nblocks; i++) {
			struct cached_block b = { item, i, false,
						  item->used_at[i] };

			if (!item->present[i] || item->fetching[i])
				continue;
			b.awaited = i >= item->keep_from;
			if (b.awaited && i < item->keep_until)
				continue; /* in flight, for the pull */
			g_array_append_val(blocks, b);
		}
		g_mutex_unlock(&item->mutex);
	}
	g_array_sort(blocks, by_block_use);
	return blocks;
}

/* Punch one block out of an open version; its bytes on disk
 * (cache->mutex held; takes the item's). */
static uint64_t evict_block_locked(struct cache_item *item, uint64_t i)
{
	uint64_t bs = item->cache->block_size;
	uint64_t len = MIN((i + 1) * bs, item->size) - i * bs;
	guint8 absent = 0;

	g_mutex_lock(&item->mutex);
	if (!item->present[i] || item->fetching[i]) {
		g_mutex_unlock(&item->mutex);
		return 0;
	}
	item->present[i] = 0;
	item->evictions[i]++;
	if (pwrite(item->present_fd, &absent, 1, i) < 0)
		g_warning("cache: recording blocks of %s: %s", item->dir,
			  g_strerror(errno));
	g_mutex_unlock(&item->mutex);
	/* readers check the eviction count after reading: no lock needed */
	if (fallocate(item->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(i * bs), (off_t)len) < 0)
		return 0;
	return len;
}

void cache_trim(struct cache *c)
{
	uint64_t total;
	g_autoptr(GPtrArray) versions = NULL;
	g_autoptr(GArray) blocks = NULL;

	g_mutex_lock(&c->mutex);
	versions = scan_versions(c, &total);
	g_ptr_array_sort(versions, by_last_use);
	for (guint i = 0; i < versions->len && total > c->max_size; i++) {
		struct cached_version *v = versions->pdata[i];

		if (in_use_locked(c, v->dir))
			continue;
		if (rm_tree(v->dir) == 0)
			total -= MIN(total, v->bytes);
	}
	/* still over: blocks of the open versions, least recently used
	 * first, those a pull still has to hash last */
	if (total > c->max_size)
		blocks = open_blocks_locked(c);
	for (guint i = 0; blocks && i < blocks->len && total > c->max_size;
	     i++) {
		struct cached_block *b = &g_array_index(blocks,
							struct cached_block, i);

		uint64_t freed = evict_block_locked(b->item, b->block);

		total -= MIN(total, freed); /* MIN evaluates twice */
	}
	atomic_store_explicit(&c->used, (gint64)total, memory_order_relaxed);
	g_mutex_unlock(&c->mutex);
}

/* The disk held no more than the cache's blocks now (but at least
 * floor): make that the bound. */
static void cache_limit_to_used(struct cache *c, uint64_t floor)
{
	uint64_t used = cache_used(c);
	uint64_t max = atomic_load(&c->max_size);

	if (used < max)
		atomic_store(&c->max_size, MAX(floor, used));
}

/* Count bytes newly stored; past cache_size, evict. */
uint64_t cache_max_size(struct cache *c)
{
	return atomic_load(&c->max_size);
}

static void account(struct cache *c, uint64_t bytes)
{
	gint64 used = atomic_fetch_add_explicit(&c->used, (gint64)bytes,
						 memory_order_relaxed) + (gint64)bytes;

	if ((uint64_t)used > c->max_size)
		cache_trim(c);
}

static void item_free(struct cache_item *item)
{
	if (item->fd >= 0)
		close(item->fd);
	if (item->present_fd >= 0)
		close(item->present_fd);
	g_free(item->present);
	g_free(item->fetching);
	g_free(item->used_at);
	g_free(item->evictions);
	g_mutex_clear(&item->mutex);
	g_cond_clear(&item->changed);
	g_free(item->key);
	g_free(item->dir);
	g_free(item);
}

static int item_open_files(struct cache_item *item)
{
	g_autofree char *data = g_build_filename(item->dir, "data", NULL);
	g_autofree char *present = g_build_filename(item->dir, "present",
						    NULL);
	bool matches = item_matches(item->dir, item->key, item->size);

	if (g_mkdir_with_parents(item->dir, 0700) < 0)
		return -errno;
	item->fd = open(data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	item->present_fd = open(present, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (item->fd < 0 || item->present_fd < 0)
		return -errno;
	if (!matches)
		return item_reset(item);
	if (pread(item->present_fd, item->present, item->nblocks, 0) < 0)
		return -errno;
	for (uint64_t i = 0; i < item->nblocks; i++)
		item->present[i] = item->present[i] == 1;
	return 0;
}

static struct cache_item *item_load(struct cache *c, const char *key,
				    uint64_t size)
{
	struct cache_item *item = g_new0(struct cache_item, 1);
	int ret;

	item->cache = c;
	item->key = g_strdup(key);
	item->dir = item_dir(c, key);
	item->size = size;
	item->nblocks = (size + c->block_size - 1) / c->block_size;
	item->present = g_malloc0(item->nblocks + 1);
	item->fetching = g_malloc0(item->nblocks + 1);
	item->used_at = g_new0(gint64, item->nblocks + 1);
	item->evictions = g_new0(guint32, item->nblocks + 1);
	item->keep_from = UINT64_MAX;
	item->fd = item->present_fd = -1;
	g_mutex_init(&item->mutex);
	g_cond_init(&item->changed);
	ret = item_open_files(item);
	if (ret == 0)
		touch_item(item->dir); /* its last use, for eviction */
	if (ret < 0) {
		g_warning("cache: opening %s: %s", item->dir, g_strerror(-ret));
		item_free(item);
		return NULL;
	}
	return item;
}

struct cache_item *cache_item_get(struct cache *c, const char *key,
				  uint64_t size)
{
	struct cache_item *item;

	g_mutex_lock(&c->mutex);
	item = g_hash_table_lookup(c->items, key);
	if (item && item->size != size)
		item = NULL; /* a stale entry still open elsewhere */
	if (!item) {
		item = item_load(c, key, size);
		if (item)
			g_hash_table_replace(c->items, item->key, item);
	}
	if (item)
		item->refs++;
	g_mutex_unlock(&c->mutex);
	return item;
}

struct cache_item *cache_item_ref(struct cache_item *item)
{
	g_mutex_lock(&item->cache->mutex);
	item->refs++;
	g_mutex_unlock(&item->cache->mutex);
	return item;
}

void cache_item_unref(struct cache_item *item)
{
	struct cache *c;

	if (!item)
		return;
	c = item->cache;
	g_mutex_lock(&c->mutex);
	if (--item->refs > 0) {
		g_mutex_unlock(&c->mutex);
		return;
	}
	if (g_hash_table_lookup(c->items, item->key) == item)
		g_hash_table_remove(c->items, item->key);
	g_mutex_unlock(&c->mutex);
	item_free(item);
}

uint64_t cache_item_size(const struct cache_item *item)
{
	return item->size;
}

int cache_item_fd(struct cache_item *item)
{
	return item->fd;
}

/* Are blocks [first, last] present? (item->mutex held) */
static bool range_present_locked(struct cache_item *item, uint64_t first,
				 uint64_t last)
{
	for (uint64_t i = first; i <= last && i < item->nblocks; i++)
		if (!item->present[i])
			return false;
	return true;
}

bool cache_item_complete(struct cache_item *item)
{
	bool all;

	g_mutex_lock(&item->mutex);
	all = item->nblocks == 0 ||
	      range_present_locked(item, 0, item->nblocks - 1);
	g_mutex_unlock(&item->mutex);
	return all;
}

bool cache_item_has(struct cache_item *item, uint64_t offset,
		    uint64_t length)
{
	uint64_t bs = item->cache->block_size;
	bool all;

	if (length == 0 || offset >= item->size)
		return true;
	length = MIN(length, item->size - offset);
	g_mutex_lock(&item->mutex);
	all = range_present_locked(item, offset / bs,
				   (offset + length - 1) / bs);
	g_mutex_unlock(&item->mutex);
	return all;
}

void cache_item_discard(struct cache_item *item)
{
	g_mutex_lock(&item->mutex);
	item_reset(item);
	g_mutex_unlock(&item->mutex);
}

/* Where fetched bytes of a run of blocks go: each block is present (and
 * its readers woken) as soon as its last byte is written, so one request
 * may stream a long run. */
struct block_sink {
	struct cache_item *item;
	uint64_t offset;	/* next byte's place in the data file */
	uint64_t end;		/* first byte past the run */
	uint64_t next_block;	/* the first block of the run not yet whole */
};

static void mark_present_locked(struct cache_item *item, uint64_t first,
				uint64_t last);

/* The blocks that bytes up to bs->offset completed: present, no longer
 * fetching; their bytes counted. */
static void blocks_arrived(struct block_sink *bs)
{
	struct cache_item *item = bs->item;
	uint64_t size = item->cache->block_size, first = bs->next_block;
	uint64_t bytes;

	while (MIN((bs->next_block + 1) * size, item->size) <= bs->offset &&
	       bs->next_block * size < bs->end)
		bs->next_block++;
	if (bs->next_block == first)
		return;
	g_mutex_lock(&item->mutex);
	mark_present_locked(item, first, bs->next_block - 1);
	memset(item->fetching + first, 0, bs->next_block - first);
	g_cond_broadcast(&item->changed);
	g_mutex_unlock(&item->mutex);
	bytes = MIN(bs->next_block * size, item->size) - first * size;
	account(item->cache, bytes); /* not under item->mutex */
}

static int block_sink_write(void *ctx, const void *data, size_t len)
{
	struct block_sink *bs = ctx;
	const char *p = data;

	len = MIN(len, bs->end - bs->offset);
	while (len > 0) {
		ssize_t n = pwrite(bs->item->fd, p, len, bs->offset);

		if (n < 0)
			return -errno;
		p += n;
		len -= n;
		bs->offset += n;
	}
	blocks_arrived(bs);
	return 0;
}

/* Blocks [first, last] arrived (item->mutex held). */
static void mark_present_locked(struct cache_item *item, uint64_t first,
				uint64_t last)
{
	gint64 now = g_get_monotonic_time();

	memset(item->present + first, 1, last - first + 1);
	for (uint64_t i = first; i <= last; i++)
		item->used_at[i] = now;
	if (pwrite(item->present_fd, item->present + first,
		   last - first + 1, first) < 0)
		g_warning("cache: recording blocks of %s: %s", item->dir,
			  g_strerror(errno));
}

/* Fetch blocks [first, last] (marked fetching by the caller, which
 * clears the mark of those from *arrived on: the blocks before it came
 * whole, and are present). */
static int fetch_run(struct cache_item *item, uint64_t first, uint64_t last,
		     cache_fetch_fn fetch, void *ctx, uint64_t *arrived)
{
	uint64_t bs = item->cache->block_size;
	struct block_sink sink = { item, first * bs,
				   MIN((last + 1) * bs, item->size), first };
	uint64_t start = sink.offset;
	int ret = fetch(ctx, start, sink.end - start, block_sink_write, &sink);

	if (ret == 0 && sink.offset != sink.end)
		ret = -EIO; /* the file is shorter than its listing said */
	*arrived = sink.next_block;
	return ret;
}

/* Make blocks [first, last] present, sharing fetches with other readers. */
static int ensure_blocks(struct cache_item *item, uint64_t first,
			 uint64_t last, bool wait, cache_fetch_fn fetch,
			 void *ctx)
{
	uint64_t arrived;
	int ret = 0;

	g_mutex_lock(&item->mutex);
	for (uint64_t i = first; i <= last && ret == 0;) {
		uint64_t j = i;

		if (item->present[i]) {
			i++;
			continue;
		}
		if (item->fetching[i] && !wait) {
			i++;
			continue;
		}
		if (item->fetching[i]) {
			g_cond_wait(&item->changed, &item->mutex);
			continue;
		}
		while (j + 1 <= last && !item->present[j + 1] &&
		       !item->fetching[j + 1])
			j++;
		memset(item->fetching + i, 1, j - i + 1);
		g_mutex_unlock(&item->mutex);
		ret = fetch_run(item, i, j, fetch, ctx, &arrived);
		g_mutex_lock(&item->mutex);
		if (arrived <= j)
			memset(item->fetching + arrived, 0, j - arrived + 1);
		g_cond_broadcast(&item->changed);
		i = j + 1;
	}
	g_mutex_unlock(&item->mutex);
	return ret;
}

/* The sum of the eviction counts of blocks [first, last], when they are
 * all present (else -1): unchanged after a pread, the bytes read are
 * the blocks' own, not a hole punched meanwhile. */
static gint64 present_stamp(struct cache_item *item, uint64_t first,
			    uint64_t last, bool touch)
{
	gint64 now = g_get_monotonic_time();
	gint64 stamp = 0;

	g_mutex_lock(&item->mutex);
	for (uint64_t i = first; i <= last && stamp >= 0; i++) {
		if (!item->present[i])
			stamp = -1;
		else
			stamp += item->evictions[i];
		if (touch)
			item->used_at[i] = now;
	}
	g_mutex_unlock(&item->mutex);
	return stamp;
}

/* pread of present blocks: -EAGAIN when some were evicted before or
 * during it. */
static ssize_t read_present(struct cache_item *item, char *buf, size_t size,
			    uint64_t offset, bool touch)
{
	uint64_t bs = item->cache->block_size;
	uint64_t first = offset / bs, last = (offset + size - 1) / bs;
	gint64 before = present_stamp(item, first, last, touch);
	ssize_t n;

	if (before < 0)
		return -EAGAIN;
	n = pread(item->fd, buf, size, offset);
	if (n < 0)
		return -errno;
	return present_stamp(item, first, last, false) == before ? n : -EAGAIN;
}

/* Where a read that the cache's disk cannot hold goes: straight to the
 * reader's buffer. */
struct direct_sink {
	char *buf;
	size_t len, got;
};

static int direct_sink_write(void *ctx, const void *data, size_t len)
{
	struct direct_sink *ds = ctx;

	len = MIN(len, ds->len - ds->got);
	memcpy(ds->buf + ds->got, data, len);
	ds->got += len;
	return 0;
}

ssize_t cache_item_read(struct cache_item *item, char *buf, size_t size,
			uint64_t offset, cache_fetch_fn fetch, void *ctx)
{
	uint64_t bs = item->cache->block_size;
	struct direct_sink ds = { buf, 0, 0 };
	bool trimmed = false;
	ssize_t n;
	int ret;

	if (offset >= item->size || size == 0)
		return 0;
	size = MIN(size, item->size - offset);
	/* a cache too small for the blocks in flight may evict a block
	 * before it is read: after a few tries, read past the cache */
	for (int tries = 0; tries < 4; tries++) {
		ret = ensure_blocks(item, offset / bs,
				    (offset + size - 1) / bs, true, fetch, ctx);
		if (ret == -ENOSPC && !trimmed) {
			/* the disk is full: keep to what it held, make room,
			 * then try again */
			cache_limit_to_used(item->cache, 2 * bs);
			cache_trim(item->cache);
			trimmed = true;
			continue;
		}
		if (ret == -ENOSPC)
			break;
		if (ret < 0)
			return ret;
		n = read_present(item, buf, size, offset, true);
		if (n != -EAGAIN)
			return n; /* else evicted meanwhile: fetch again */
	}
	if (ret == -ENOSPC &&
	    !atomic_exchange(&item->cache->said_full, true))
		g_message("cache: the disk of %s is full: reads that do not "
			  "fit go past the cache", item->cache->dir);
	/* no room even so: straight from the relay, not cached */
	ds.len = size;
	ret = fetch(ctx, offset, size, direct_sink_write, &ds);
	return ret < 0 ? ret : (ssize_t)ds.got;
}

ssize_t cache_item_read_cached(struct cache_item *item, char *buf,
			       size_t size, uint64_t offset)
{
	if (offset >= item->size || size == 0)
		return 0;
	return read_present(item, buf, MIN(size, item->size - offset), offset,
			    false);
}

void cache_item_keep_from(struct cache_item *item, uint64_t offset,
			  unsigned window)
{
	struct cache *c = item->cache;
	bool moved;

	g_mutex_lock(&item->mutex);
	moved = item->keep_from != offset / c->block_size;
	item->keep_from = offset / c->block_size;
	item->keep_until = item->keep_from + window;
	g_mutex_unlock(&item->mutex);
	/* the blocks the hash is done with may go now, if over the bound */
	if (moved && (uint64_t)atomic_load(&c->used) > atomic_load(&c->max_size))
		cache_trim(c);
}

int cache_item_prefetch(struct cache_item *item, uint64_t first,
			uint64_t last, cache_fetch_fn fetch, void *ctx)
{
	if (first >= item->nblocks)
		return 0;
	return ensure_blocks(item, first, MIN(last, item->nblocks - 1), false,
			     fetch, ctx);
}

bool cache_item_claim(struct cache_item *item, uint64_t *first,
		      uint64_t *last)
{
	uint64_t i = *first, j;

	if (*first >= item->nblocks)
		return false;
	*last = MIN(*last, item->nblocks - 1);
	g_mutex_lock(&item->mutex);
	while (i <= *last && (item->present[i] || item->fetching[i]))
		i++;
	for (j = i; j + 1 <= *last && !item->present[j + 1] &&
		    !item->fetching[j + 1];
	     j++)
		;
	if (i <= *last)
		memset(item->fetching + i, 1, j - i + 1);
	g_mutex_unlock(&item->mutex);
	if (i > *last)
		return false;
	*first = i;
	*last = j;
	return true;
}

int cache_item_fetch_claimed(struct cache_item *item, uint64_t first,
			     uint64_t last, cache_fetch_fn fetch, void *ctx)
{
	uint64_t arrived;
	int ret = fetch_run(item, first, last, fetch, ctx, &arrived);

	g_mutex_lock(&item->mutex);
	if (arrived <= last)
		memset(item->fetching + arrived, 0, last - arrived + 1);
	g_cond_broadcast(&item->changed);
	g_mutex_unlock(&item->mutex);
	return ret;
}

int cache_item_adopt(struct cache *c, const char *key, const char *file,
		     uint64_t size)
{
	struct cache_item *item = cache_item_get(c, key, size);
	g_autofree char *data = NULL;
	int ret = 0;

	if (!item)
		return -EIO;
	data = g_build_filename(item->dir, "data", NULL);
	g_mutex_lock(&item->mutex);
	if (rename(file, data) < 0) {
		ret = -errno;
	} else {
		close(item->fd);
		item->fd = open(data, O_RDWR | O_CLOEXEC);
		if (item->fd < 0)
			ret = -errno;
		else if (item->nblocks > 0)
			mark_present_locked(item, 0, item->nblocks - 1);
	}
	g_mutex_unlock(&item->mutex);
	cache_item_unref(item);
	if (ret == 0)
		account(c, size);
	return ret;
}
