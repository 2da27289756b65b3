/* Staged copies: files being written through the mount live in
 * cache_dir/staging until pushed, each with a small fsynced journal record,
 * so that a crash or a failed push loses nothing. */
#ifndef CACHE_STAGING_H
#define CACHE_STAGING_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cache/blocks.h"
#include "cache/checksum.h"
#include "cache/follow_hash.h"

struct cache_staged {
	char *relay_path;	/* where it goes on the relay */
	char *file;		/* the staged copy */
	char *record;		/* its journal record */
	int fd;
	int64_t mtime;		/* seconds: the placeholder's timestamp */
	bool dirty;		/* changed since the last push */
	/* its writer closed it: a finished file (one a crash cut short
	 * before its close is not pushed by the next mount) */
	bool closed;
	uint64_t size;
	/* the checksum of bytes [0, size), followed while every write
	 * extends the file (NULL: a pass over the file at push time) */
	struct cache_follow_hash *follow;
	/* every write so far extended the copy, from its creation on */
	bool in_order;
	enum cache_hash hash_kind;
};

/* A new, empty staged copy for relay_path (journal record written). */
int cache_staged_create(struct cache *c, const char *relay_path,
			enum cache_hash kind, struct cache_staged **out);
ssize_t cache_staged_write(struct cache_staged *s, const char *buf,
			   size_t size, uint64_t offset);
ssize_t cache_staged_read(struct cache_staged *s, char *buf, size_t size,
			  uint64_t offset);
int cache_staged_truncate(struct cache_staged *s, uint64_t size);
/* The copy holds the relay's content as fetched, nothing of ours: not to
 * be pushed unless written to (journal updated). */
int cache_staged_set_clean(struct cache_staged *s);
/* Set the timestamp that goes into the placeholder (journal updated). */
int cache_staged_set_mtime(struct cache_staged *s, int64_t mtime);
/* The writer closed it: a finished file, to be pushed (journal updated).
 * A later write opens it again. */
int cache_staged_set_closed(struct cache_staged *s);
/* Follow a rename of the file before it was pushed. */
int cache_staged_set_path(struct cache_staged *s, const char *relay_path);
/* The content's checksum: from the running hash if every write came in
 * order, else one pass over the file. NULL with CACHE_HASH_NONE. */
int cache_staged_checksum(struct cache_staged *s, char **hex);
/* Pushed: the copy becomes the cached item key, the record goes. */
int cache_staged_commit(struct cache *c, struct cache_staged *s,
			const char *key);
/* Throw it away (the file was deleted before it was pushed). */
void cache_staged_discard(struct cache_staged *s);
/* Free the struct, keeping the file and record for a later push. */
void cache_staged_free(struct cache_staged *s);
/* Staged copies a previous mount left behind closed (not yet pushed),
 * opened. Copies a crash cut short while they were being written are
 * moved to cache_dir/interrupted, with a warning naming each: they are
 * not finished files, and only the user knows what to do with them. */
GPtrArray *cache_staged_pending(struct cache *c, enum cache_hash kind);

#endif
