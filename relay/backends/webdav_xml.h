/* Parsing of WebDAV PROPFIND answers (207 Multi-Status, RFC 4918) with
 * libxml2, matching elements by the DAV: namespace URI, never by prefix. */
#ifndef RELAY_BACKENDS_WEBDAV_XML_H
#define RELAY_BACKENDS_WEBDAV_XML_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* The body of a PROPFIND asking for every property webdav_parse_multistatus
 * reads. */
extern const char webdav_propfind_body[];
/* The body of a PROPFIND asking for the RFC 4331 quota properties. */
extern const char webdav_propfind_quota_body[];
/* The body of a LOCK asking for an exclusive write lock. */
extern const char webdav_lockinfo_body[];

/* One <response> of a multistatus: the properties it reported with a 2xx
 * status (a property reported missing is absent here). */
struct webdav_resource {
	char *href;  /* as sent, still percent-encoded, trimmed */
	bool is_dir; /* resourcetype holds a collection */
	bool has_size;
	uint64_t size; /* getcontentlength */
	int64_t mtime; /* getlastmodified; 0 when absent */
	char *etag;    /* getetag without a weak "W/" mark, or NULL */
	bool has_quota_available, has_quota_used;
	uint64_t quota_available, quota_used; /* RFC 4331 */
};

void webdav_resource_free(struct webdav_resource *res);

/* Parses a multistatus document and appends one struct webdav_resource *
 * per <response> that has an href and is not itself an error (out's free
 * func must be webdav_resource_free). Returns 0, or -EIO with *why set to
 * a sentence (g_free it) when body is not a DAV: multistatus document. */
int webdav_parse_multistatus(const char *body, size_t len, GPtrArray *out,
			     char **why);

#endif
