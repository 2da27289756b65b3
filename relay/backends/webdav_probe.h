/* What a WebDAV server really does where the relay protocol depends on it
 * (exclusive creation, conditions, listings), learned once by a probe. */
#ifndef RELAY_BACKENDS_WEBDAV_PROBE_H
#define RELAY_BACKENDS_WEBDAV_PROBE_H

#include <glib.h>
#include <stdbool.h>

#include "relay/backend.h"

/* The answers of one probe; false where the probe could not tell. */
struct webdav_facts {
	bool writable;	      /* the probe could make its folder at all */
	bool mkcol_refuses;   /* MKCOL on an existing collection: 405 */
	bool lock_exclusive;  /* a second exclusive LOCK of a path: 423 */
	bool create_refuses;  /* PUT If-None-Match: * on a file: 412 */
	bool put_if_match;    /* PUT If-Match with a wrong tag: 412 */
	bool delete_if_match; /* DELETE If-Match with a wrong tag: 412 */
	bool lists_dotfiles;  /* a Depth 1 PROPFIND shows ".name" */
	bool etags_listed;    /* a PROPFIND gives getetag */
	bool etags_stable;    /* GET's ETag is the one PROPFIND gave */
	bool ranges;	      /* a Range gets 206 */
	bool cut_put_keeps;   /* a chunked PUT cut off: the old content */
};

/* How relayfs makes a mutex exclusive on this server. */
enum webdav_mutex_step {
	WEBDAV_MUTEX_NONE,  /* it cannot: locks are advisory */
	WEBDAV_MUTEX_MKCOL, /* MKCOL of a folder, refused once it exists */
	WEBDAV_MUTEX_LOCK,  /* an exclusive WebDAV LOCK */
};

/* One request's answer, for the probe. */
struct webdav_answer {
	long status;
	char etag[160];
	char lock_token[256];
	GString *body; /* the answer's body (owned by the caller) */
};

struct webdav;

/* Send one request (webdav.c): headers NULL-terminated (or NULL), body
 * sent as a PUT's content when put, else as the request's body (or
 * none). 0 with ans filled whatever the status; -errno when no answer. */
int webdav_exchange(struct webdav *wd, const char *method, const char *path,
		    bool collection, const char *const *headers,
		    const char *body, bool put, struct webdav_answer *ans);

/* A PUT of what source hands over, chunked (webdav.c). */
int webdav_stream(struct webdav *wd, const char *path,
		  backend_source_fn source, void *ctx);

/* Probe the server in a folder of its own (made and removed again, a
 * dozen requests). 0, or -errno when a request got no answer or a server
 * error: then facts hold what was found before, and are not to be kept. */
int webdav_facts_probe(struct webdav *wd, struct webdav_facts *facts);
/* The facts kept in file for this url and Server header; false when the
 * file has none for them (another server, another URL, no file). */
bool webdav_facts_load(const char *file, const char *url, const char *server,
		       struct webdav_facts *facts);
/* Keep facts in file; says why in a warning when it cannot. */
void webdav_facts_save(const char *file, const char *url, const char *server,
		       const struct webdav_facts *facts);
/* The mutex step the facts allow, and in *why (g_free) one sentence
 * saying what was chosen and why, and what else the facts change. */
enum webdav_mutex_step webdav_facts_choose(const struct webdav_facts *facts,
					   char **why);

#endif
