/* Content checksums with OpenSSL's EVP digests: incremental, or one pass
 * over a file. */
#include "cache/checksum.h"

#include <errno.h>
#include <glib.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>

struct cache_hasher {
	EVP_MD_CTX *ctx;
};

struct cache_hasher *cache_hasher_new(enum cache_hash kind)
{
	struct cache_hasher *h;
	const EVP_MD *md;

	if (kind == CACHE_HASH_NONE)
		return NULL;
	md = kind == CACHE_HASH_SHA256 ? EVP_sha256() : EVP_sha512();
	h = g_new0(struct cache_hasher, 1);
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, md, NULL))
		g_error("checksum: cannot initialise an EVP digest");
	return h;
}

void cache_hasher_update(struct cache_hasher *h, const void *data,
			 size_t len)
{
	if (h)
		EVP_DigestUpdate(h->ctx, data, len);
}

void cache_hasher_free(struct cache_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	g_free(h);
}

char *cache_hasher_finish(struct cache_hasher *h)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *hex;

	if (!h)
		return NULL;
	EVP_DigestFinal_ex(h->ctx, md, &len);
	hex = g_malloc(len * 2 + 1);
	for (unsigned int i = 0; i < len; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	hex[len * 2] = '\0';
	cache_hasher_free(h);
	return hex;
}

int cache_hasher_update_fd(struct cache_hasher *h, int fd, uint64_t from,
			   uint64_t to)
{
	size_t bufsize = 1 << 20;
	g_autofree char *buf = g_malloc(MIN(bufsize, MAX(to - from, 1)));

	while (from < to) {
		size_t want = MIN(bufsize, to - from);
		ssize_t n = pread(fd, buf, want, from);

		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		cache_hasher_update(h, buf, n);
		from += n;
	}
	return 0;
}

int cache_hash_fd(int fd, uint64_t size, enum cache_hash kind, char **hex)
{
	struct cache_hasher *h = cache_hasher_new(kind);
	int ret = h ? cache_hasher_update_fd(h, fd, 0, size) : 0;

	*hex = NULL;
	if (ret < 0) {
		cache_hasher_free(h);
		return ret;
	}
	*hex = cache_hasher_finish(h);
	return 0;
}

enum cache_hash cache_hash_of_hex(const char *hex)
{
	if (hex && strlen(hex) == 64)
		return CACHE_HASH_SHA256;
	return CACHE_HASH_SHA512;
}
