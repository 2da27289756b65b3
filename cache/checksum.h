/* Content checksums with OpenSSL's EVP (twice GLib's speed for sha512),
 * updated as sequential data arrives or computed over a file in one pass. */
#ifndef CACHE_CHECKSUM_H
#define CACHE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

enum cache_hash { CACHE_HASH_SHA512 = 0, CACHE_HASH_SHA256, CACHE_HASH_NONE };

struct cache_hasher;

/* NULL for CACHE_HASH_NONE. */
struct cache_hasher *cache_hasher_new(enum cache_hash kind);
void cache_hasher_update(struct cache_hasher *h, const void *data,
			 size_t len);
/* Lowercase hex of what was fed; frees h. */
char *cache_hasher_finish(struct cache_hasher *h);
void cache_hasher_free(struct cache_hasher *h);

/* Feed h with fd's bytes [from, to): 0, or a negative errno (-EIO when
 * the file ends before to). */
int cache_hasher_update_fd(struct cache_hasher *h, int fd, uint64_t from,
			   uint64_t to);
/* Hex checksum of fd's first size bytes, or NULL for CACHE_HASH_NONE;
 * returns 0 or a negative errno. */
int cache_hash_fd(int fd, uint64_t size, enum cache_hash kind, char **hex);
/* The kind a placeholder's checksum was made with, by its length. */
enum cache_hash cache_hash_of_hex(const char *hex);

#endif
