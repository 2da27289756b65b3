/* Parsing of WebDAV PROPFIND answers (207 Multi-Status, RFC 4918) with
 * libxml2, matching elements by the DAV: namespace URI, never by prefix. */
#include "relay/backends/webdav_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <limits.h>
#include <string.h>

#define XML_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"

const char webdav_propfind_body[] =
    XML_HEAD "<D:propfind xmlns:D=\"DAV:\"><D:prop>"
	     "<D:resourcetype/><D:getcontentlength/><D:getlastmodified/>"
	     "<D:getetag/></D:prop></D:propfind>\n";

const char webdav_propfind_quota_body[] =
    XML_HEAD "<D:propfind xmlns:D=\"DAV:\"><D:prop>"
	     "<D:quota-available-bytes/><D:quota-used-bytes/>"
	     "</D:prop></D:propfind>\n";

const char webdav_lockinfo_body[] =
    XML_HEAD "<D:lockinfo xmlns:D=\"DAV:\">"
	     "<D:lockscope><D:exclusive/></D:lockscope>"
	     "<D:locktype><D:write/></D:locktype>"
	     "<D:owner>relayfs</D:owner></D:lockinfo>\n";

void webdav_resource_free(struct webdav_resource *res)
{
	if (!res)
		return;
	g_free(res->href);
	g_free(res->etag);
	g_free(res);
}

static bool is_dav(const xmlNode *node, const char *local)
{
	return node && node->type == XML_ELEMENT_NODE && node->ns &&
	       node->ns->href &&
	       strcmp((const char *)node->ns->href, "DAV:") == 0 &&
	       strcmp((const char *)node->name, local) == 0;
}

static const xmlNode *dav_child(const xmlNode *parent, const char *local)
{
	for (const xmlNode *n = parent->children; n; n = n->next)
		if (is_dav(n, local))
			return n;
	return NULL;
}

/* The element's text, trimmed of surrounding white space. */
static char *text_of(const xmlNode *node)
{
	xmlChar *raw = xmlNodeGetContent(node);
	char *text = g_strstrip(g_strdup(raw ? (const char *)raw : ""));

	xmlFree(raw);
	return text;
}

static bool parse_u64(const xmlNode *node, uint64_t *out)
{
	char *text = text_of(node);
	guint64 value = 0;
	bool ok =
	    g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &value, NULL);

	g_free(text);
	if (ok)
		*out = value;
	return ok;
}

/* True when parent has no <status> or a 2xx one ("HTTP/1.1 200 OK"). */
static bool status_ok(const xmlNode *parent)
{
	const xmlNode *status = dav_child(parent, "status");
	char *text, *space;
	bool ok;

	if (!status)
		return true;
	text = text_of(status);
	space = strchr(text, ' ');
	ok = space && space[1] == '2' && g_ascii_isdigit(space[2]) &&
	     g_ascii_isdigit(space[3]) && !g_ascii_isdigit(space[4]);
	g_free(text);
	return ok;
}

static void read_etag(struct webdav_resource *res, const xmlNode *node)
{
	char *text = text_of(node);

	/* Apache marks an ETag weak while the file is less than a second
	 * old, then strong: both name one version. */
	if (g_str_has_prefix(text, "W/"))
		memmove(text, text + 2, strlen(text + 2) + 1);
	g_free(res->etag);
	res->etag = NULL;
	if (*text)
		res->etag = text;
	else
		g_free(text);
}

static void read_prop(struct webdav_resource *res, const xmlNode *prop)
{
	for (const xmlNode *n = prop->children; n; n = n->next) {
		if (is_dav(n, "resourcetype")) {
			res->is_dir = dav_child(n, "collection") != NULL;
		} else if (is_dav(n, "getcontentlength")) {
			res->has_size = parse_u64(n, &res->size);
		} else if (is_dav(n, "getlastmodified")) {
			char *text = text_of(n);
			time_t t = curl_getdate(text, NULL);

			res->mtime = t == -1 ? 0 : (int64_t)t;
			g_free(text);
		} else if (is_dav(n, "getetag")) {
			read_etag(res, n);
		} else if (is_dav(n, "quota-available-bytes")) {
			res->has_quota_available =
			    parse_u64(n, &res->quota_available);
		} else if (is_dav(n, "quota-used-bytes")) {
			res->has_quota_used = parse_u64(n, &res->quota_used);
		}
	}
}

static struct webdav_resource *read_response(const xmlNode *response)
{
	const xmlNode *href = dav_child(response, "href");
	struct webdav_resource *res;

	if (!href || !status_ok(response))
		return NULL;
	res = g_new0(struct webdav_resource, 1);
	res->href = text_of(href);
	for (const xmlNode *n = response->children; n; n = n->next) {
		const xmlNode *prop;

		if (!is_dav(n, "propstat") || !status_ok(n))
			continue;
		prop = dav_child(n, "prop");
		if (prop)
			read_prop(res, prop);
	}
	return res;
}

static char *parse_error(xmlParserCtxt *ctxt)
{
	const xmlError *err = xmlCtxtGetLastError(ctxt);
	char *msg = g_strdup(err && err->message ? err->message : "unknown");

	return g_strstrip(msg);
}

int webdav_parse_multistatus(const char *body, size_t len, GPtrArray *out,
			     char **why)
{
	xmlParserCtxt *ctxt = NULL;
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int err = -EIO;

	if (len > INT_MAX) {
		*why = g_strdup("its answer is too large");
		return -EIO;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		*why = g_strdup("out of memory");
		return -ENOMEM;
	}
	doc = xmlCtxtReadMemory(ctxt, body, (int)len, "multistatus.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	if (!doc) {
		char *msg = parse_error(ctxt);

		*why = g_strdup_printf("its answer is not XML (%s)", msg);
		g_free(msg);
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!is_dav(root, "multistatus")) {
		*why = g_strdup("its answer is not a DAV: multistatus");
		goto out;
	}
	for (const xmlNode *n = root->children; n; n = n->next) {
		struct webdav_resource *res;

		if (!is_dav(n, "response"))
			continue;
		res = read_response(n);
		if (res)
			g_ptr_array_add(out, res);
	}
	err = 0;
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return err;
}
