/* HTTP plumbing for the WebDAV backend: libcurl's one-time setup, a pool of
 * reusable easy handles (so connections are kept alive), URL path codecs. */
#include "relay/backends/http.h"

#include <errno.h>
#include <glib.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <string.h>

/* Lock order (fs/lock_order.h): pool->lock is a leaf, never held while
 * calling out (curl_easy_init excepted, which takes no other lock). */
struct http_pool {
	GMutex lock;
	GCond returned;
	GPtrArray *idle;  /* handles ready for use, most recent last */
	unsigned created; /* idle + borrowed */
	unsigned max;
	http_setup_fn setup;
	void *ctx;
};

static gpointer global_init_once(gpointer unused)
{
	/* OpenSSL's exit-time cleanup assumes every thread has stopped, but
	 * GLib's pool threads (which did TLS) may still be exiting then and
	 * free their OpenSSL state at the same time: double frees at
	 * unmount (openssl/openssl#6214). The process is ending anyway. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return GINT_TO_POINTER(-EIO);
	return GINT_TO_POINTER(0);
}

int http_global_init(void)
{
	static GOnce once = G_ONCE_INIT;

	return GPOINTER_TO_INT(g_once(&once, global_init_once, NULL));
}

struct http_pool *http_pool_new(unsigned max, http_setup_fn setup, void *ctx)
{
	struct http_pool *pool = g_new0(struct http_pool, 1);

	g_mutex_init(&pool->lock);
	g_cond_init(&pool->returned);
	pool->idle = g_ptr_array_new();
	pool->max = max ? max : 1;
	pool->setup = setup;
	pool->ctx = ctx;
	return pool;
}

void http_pool_free(struct http_pool *pool)
{
	if (!pool)
		return;
	g_warn_if_fail(pool->idle->len == pool->created);
	for (unsigned i = 0; i < pool->idle->len; i++)
		curl_easy_cleanup(pool->idle->pdata[i]);
	g_ptr_array_free(pool->idle, TRUE);
	g_cond_clear(&pool->returned);
	g_mutex_clear(&pool->lock);
	g_free(pool);
}

CURL *http_pool_acquire(struct http_pool *pool)
{
	CURL *handle = NULL;

	g_mutex_lock(&pool->lock);
	while (pool->idle->len == 0 && pool->created >= pool->max)
		g_cond_wait(&pool->returned, &pool->lock);
	if (pool->idle->len > 0) {
		handle =
		    g_ptr_array_steal_index(pool->idle, pool->idle->len - 1);
		g_mutex_unlock(&pool->lock);
		return handle;
	}
	pool->created++;
	g_mutex_unlock(&pool->lock);

	handle = curl_easy_init();
	if (handle) {
		pool->setup(handle, pool->ctx);
		return handle;
	}
	g_mutex_lock(&pool->lock);
	pool->created--;
	g_cond_signal(&pool->returned);
	g_mutex_unlock(&pool->lock);
	return NULL;
}

void http_pool_release(struct http_pool *pool, CURL *handle)
{
	g_mutex_lock(&pool->lock);
	g_ptr_array_add(pool->idle, handle);
	g_cond_signal(&pool->returned);
	g_mutex_unlock(&pool->lock);
}

static bool unreserved(unsigned char c)
{
	return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

char *http_encode_path(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	GString *out = g_string_sized_new(strlen(path) + 16);

	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (*p == '/' || unreserved(*p)) {
			g_string_append_c(out, (char)*p);
			continue;
		}
		g_string_append_c(out, '%');
		g_string_append_c(out, hex[*p >> 4]);
		g_string_append_c(out, hex[*p & 15]);
	}
	return g_string_free(out, FALSE);
}

char *http_decode(const char *s, size_t len, size_t *out_len)
{
	char *out = g_malloc(len + 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len || !g_ascii_isxdigit(s[i + 1]) ||
		    !g_ascii_isxdigit(s[i + 2])) {
			g_free(out);
			return NULL;
		}
		out[n++] = (char)(g_ascii_xdigit_value(s[i + 1]) * 16 +
				  g_ascii_xdigit_value(s[i + 2]));
		i += 2;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}
