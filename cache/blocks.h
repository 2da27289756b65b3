/* The block cache: each version of a file's content kept on disk by blocks,
 * with which blocks are present, shared by every reader of that version. */
#ifndef CACHE_BLOCKS_H
#define CACHE_BLOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cache;
struct cache_item;

/* Receives fetched bytes in order; 0 or a negative errno. */
typedef int (*cache_sink_fn)(void *ctx, const void *data, size_t len);
/* Fetches bytes [offset, offset+length) of the item's file through sink:
 * how the cache asks the layer above for missing blocks. */
typedef int (*cache_fetch_fn)(void *ctx, uint64_t offset, uint64_t length,
			      cache_sink_fn sink, void *sink_ctx);

/* Open (create) the cache folder dir with its blocks/ and staging/. */
int cache_open(const char *dir, uint64_t block_size, uint64_t max_size,
	       struct cache **out);
void cache_close(struct cache *c);
uint64_t cache_block_size(const struct cache *c);
/* Evict the least recently used versions that no file has open until the
 * blocks fit in max_size, then blocks of open versions, least recently
 * used first (those a pull still has to hash last). Called by the cache
 * itself as blocks arrive: the blocks stay within max_size plus those
 * being fetched. */
void cache_trim(struct cache *c);
const char *cache_dir(const struct cache *c);
/* Bytes of blocks on disk, as last counted. */
uint64_t cache_used(struct cache *c);
/* The bound on them (cache_size, lowered when the disk filled). */
uint64_t cache_max_size(struct cache *c);

/* The item holding version `key` (a file's path and version) of a file of
 * size bytes; items are shared and reference counted. */
struct cache_item *cache_item_get(struct cache *c, const char *key,
				  uint64_t size);
void cache_item_unref(struct cache_item *item);
struct cache_item *cache_item_ref(struct cache_item *item);
uint64_t cache_item_size(const struct cache_item *item);
bool cache_item_complete(struct cache_item *item);
/* true when [offset, offset+length) is present. */
bool cache_item_has(struct cache_item *item, uint64_t offset,
		    uint64_t length);

/* Read into buf, fetching missing blocks through fetch first (adjacent
 * missing blocks in one call; a block another reader is fetching is
 * waited for, not fetched twice). When the cache's disk is full even
 * after eviction, the bytes come straight from fetch, not cached.
 * Returns bytes read or a negative errno. */
ssize_t cache_item_read(struct cache_item *item, char *buf, size_t size,
			uint64_t offset, cache_fetch_fn fetch, void *ctx);
/* Read what is cached of [offset, offset+size) without fetching:
 * -EAGAIN when a block of it is not present (or was evicted meanwhile). */
ssize_t cache_item_read_cached(struct cache_item *item, char *buf,
			       size_t size, uint64_t offset);
/* A pull still has to hash the blocks from offset on, in order: the
 * first `window` of them (those in flight) are never evicted, the others
 * last. Once it moves on, a cache over its bound is trimmed. */
void cache_item_keep_from(struct cache_item *item, uint64_t offset,
			  unsigned window);
/* Read-ahead: fetch the blocks of [first, last] that are neither present
 * nor being fetched by someone else, without waiting for others. */
int cache_item_prefetch(struct cache_item *item, uint64_t first,
			uint64_t last, cache_fetch_fn fetch, void *ctx);
/* Streaming read-ahead, in two steps: claim at once (in the reader's
 * thread) the first run of blocks of [*first, *last] that are neither
 * present nor being fetched, so that readers of them wait for it (false
 * when there is none; *first and *last become the run's); then fetch the
 * claimed run, in one request, from any thread: each block is present as
 * soon as it is whole, and what did not come is unclaimed. */
bool cache_item_claim(struct cache_item *item, uint64_t *first,
		      uint64_t *last);
int cache_item_fetch_claimed(struct cache_item *item, uint64_t first,
			     uint64_t last, cache_fetch_fn fetch, void *ctx);
/* A read-only descriptor of the item's data (for hashing); do not close. */
int cache_item_fd(struct cache_item *item);
/* Forget every block (the content did not match its checksum). */
void cache_item_discard(struct cache_item *item);

/* Move file (size bytes) into the cache as the complete item key. */
int cache_item_adopt(struct cache *c, const char *key, const char *file,
		     uint64_t size);

#endif
