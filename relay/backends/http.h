/* HTTP plumbing for the WebDAV backend: libcurl's one-time setup, a pool of
 * reusable easy handles (so connections are kept alive), URL path codecs. */
#ifndef RELAY_BACKENDS_HTTP_H
#define RELAY_BACKENDS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

/* Initialise libcurl (and libxml2) once per process; thread-safe.
 * Returns 0, or -EIO when libcurl cannot be initialised. */
int http_global_init(void);

/* Called once for each easy handle the pool creates, to set the options
 * that stay the same for every request. */
typedef void (*http_setup_fn)(CURL *handle, void *ctx);

struct http_pool;

/* A pool of at most max (>= 1) easy handles, created on demand. */
struct http_pool *http_pool_new(unsigned max, http_setup_fn setup, void *ctx);
/* Frees every handle; none may be borrowed any more. */
void http_pool_free(struct http_pool *pool);
/* Borrows a handle, waiting while max are borrowed; the most recently
 * returned one first, as its connection is the likeliest to be alive.
 * NULL only when libcurl cannot create a handle. */
CURL *http_pool_acquire(struct http_pool *pool);
void http_pool_release(struct http_pool *pool, CURL *handle);

/* Percent-encodes every byte of each '/'-separated segment of path except
 * RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~), keeping the '/'s. */
char *http_encode_path(const char *path);
/* Decodes the %XX escapes of s[0..len) into a NUL-terminated copy whose
 * length (it may hold NUL bytes) goes to *out_len. NULL when an escape is
 * malformed. */
char *http_decode(const char *s, size_t len, size_t *out_len);

#endif
