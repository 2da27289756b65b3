/* A checksum that follows a file written in order: a pool thread hashes the
 * bytes already written, off the writer's path, so that the writes cost
 * only their copy and the push finds the checksum (nearly) done. */
#ifndef CACHE_FOLLOW_HASH_H
#define CACHE_FOLLOW_HASH_H

#include <stdint.h>

#include "cache/checksum.h"

struct cache_follow_hash;

/* Follows fd's bytes from 0; NULL for CACHE_HASH_NONE. fd stays the
 * caller's, open until cache_follow_hash_finish or _free. */
struct cache_follow_hash *cache_follow_hash_new(int fd, enum cache_hash kind);
/* The bytes [0, end) are written: hashed in the background once enough
 * of them wait. Called by one writer at a time, with end never lower. */
void cache_follow_hash_advance(struct cache_follow_hash *f, uint64_t end);
/* The checksum of bytes [0, end): waits for the background thread, hashes
 * what it left, frees f. 0, or a negative errno (f freed too). */
int cache_follow_hash_finish(struct cache_follow_hash *f, uint64_t end,
			     char **hex);
/* Stop following (the writes went out of order): waits, frees f. */
void cache_follow_hash_free(struct cache_follow_hash *f);

#endif
