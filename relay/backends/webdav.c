/* The WebDAV backend (RFC 4918 over libcurl) for webdav://, webdavs://,
 * http:// and https:// relays such as Apache mod_dav or Nextcloud. */
#include "relay/backend.h"
#include "relay/backends/transport.h"
#include "relay/backends/webdav_probe.h"
#include "relay/backends/webdav_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>

enum {
	MAX_PROPFIND = 256 << 20, /* bytes of a PROPFIND answer */
	STATFS_BLOCK = 4096,
};

enum op {
	OP_OPEN,
	OP_LIST,
	OP_STAT,
	OP_STATFS,
	OP_GET,
	OP_PUT,
	OP_PUT_DATA,
	OP_PUT_IF,
	OP_CREATE,
	OP_REMOVE,
	OP_REMOVE_ONCE,	/* DELETE of a lock: never sent twice */
	OP_RENAME,
	OP_MKDIR,
	OP_MUTEX,	/* MKCOL that must be ours alone */
	OP_MUTEX_LOCK,	/* LOCK that must be ours alone */
	OP_UNLOCK,	/* of a mutex whose path may be gone already */
	OP_RMDIR,
	OP_MUTEX_REMOVE,
	OP_PROBE	/* any answer is the result: nothing is mapped */
};

/* Everything is read-only after open but lock_tokens, under tokens_mutex
 * (a leaf: nothing is taken under it). */
struct webdav {
	char *origin;		  /* "https://host[:port]", never credentials */
	char *base_path;	  /* percent-encoded, no trailing '/', or "" */
	char *display;		  /* origin + base_path, for messages */
	char *host;		  /* as in origin, to match absolute hrefs */
	long port;		  /* explicit or the scheme's default */
	GPtrArray *base_segments; /* decoded segments of base_path */
	char *user;
	char *password; /* never logged */
	long io_timeout;
	struct transport *transport;
	char *server;		   /* its Server header, "" when it sends none */
	struct webdav_facts facts; /* what the probe found it does */
	enum webdav_mutex_step mutex_step;
	GMutex tokens_mutex;
	GHashTable *lock_tokens; /* mutex path -> "<token>" of our LOCK */
};

/* One backend call: its transfer (transport.h), and what WebDAV reads of
 * the answers. */
struct request {
	struct transfer t;
	struct webdav *wd;
	enum op op;
	char *target;		 /* the encoded server path, for messages */
	const char *expect_etag; /* GET: the version asked for, or NULL */
	char etag[160];		 /* the answer's ETag, without W/ */
	char server[128];	 /* the answer's Server header */
	char lock_token[256];	 /* the answer's Lock-Token header */
};

static const char *const webdav_schemes[] = {"webdav", "webdavs", "http",
					     "https", NULL};

/* ---- reporting and the status mapping ---- */


/* Says why rq failed (with hint, may be NULL) and returns err. */
static int report(const struct request *rq, int err, const char *hint)
{
	char *words = transfer_describe(&rq->t);
	if (rq->op == OP_OPEN)
		backend_failed("webdav: %s: %s%s%s", rq->wd->display, words,
			       hint ? "; " : "", hint ? hint : "");
	else
		backend_failed("webdav: %s %s: %s%s%s", rq->t.method,
			       rq->target, words, hint ? "; " : "",
			       hint ? hint : "");
	g_free(words);
	return err;
}

static const char *transport_hint(CURLcode code)
{
	if (code == CURLE_PEER_FAILED_VERIFICATION)
		return "use cacert=FILE or insecure";
	if (code == CURLE_SSL_CACERT_BADFILE)
		return "check the cacert= file";
	return NULL;
}

static const char *refused_hint(const struct request *rq)
{
	if (rq->t.status == 403)
		return "the server refused access with these credentials";
	if (!rq->wd->user)
		return "the server wants credentials: give user= and "
		       "password_file=, or a ~/.netrc entry";
	return "the server refused the credentials";
}

/* The one place where an answer becomes 0 or a negative errno; logs the
 * failures other than ENOENT and EEXIST. */
static int map_result(const struct request *rq)
{
	bool parent_op = rq->op == OP_MKDIR || rq->op == OP_MUTEX ||
			 rq->op == OP_PUT ||
			 rq->op == OP_PUT_DATA || rq->op == OP_CREATE ||
			 rq->op == OP_PUT_IF ||
			 rq->op == OP_RENAME;
	/* a repeated DELETE finding nothing: the earlier one did it */
	bool deleted =
	    rq->t.maybe_done && (rq->op == OP_REMOVE || rq->op == OP_RMDIR ||
			       rq->op == OP_MUTEX_REMOVE);
	int transport_err =
	    rq->t.code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;

	if (rq->t.local_err)
		return rq->t.local_err;
	if (rq->t.done)
		return 0;
	if (rq->t.code != CURLE_OK)
		return report(rq, transport_err, transport_hint(rq->t.code));
	if (rq->op == OP_PROBE)
		return 0;
	switch (rq->t.status) {
	case 200:
	case 201:
	case 202:
	case 204:
	case 206:
	case 207:
		return 0;
	case 403:
		/* maybe a lost race (the caller looks): Apache says 403 when
		 * the file went away between its stat and its open, or when
		 * another MKCOL won inside mkdir(2) */
		if (rq->op == OP_MUTEX || rq->op == OP_GET)
			return -EACCES;
		return report(rq, -EACCES, refused_hint(rq));
	case 301:
	case 308:
	case 400:
		/* a collection moved without its '/' (tried again): nginx
		 * refuses, lighttpd redirects */
		if (rq->op == OP_RENAME && !g_str_has_suffix(rq->target, "/"))
			return -EIO;
		return report(rq, -EIO, NULL);
	case 401:
		return report(rq, -EACCES, refused_hint(rq));
	case 404:
		if (rq->op == OP_OPEN)
			return report(rq, -ENOENT, "no such collection");
		return deleted ? 0 : -ENOENT;
	case 405:
		if (rq->op == OP_MUTEX)
			return rq->t.maybe_done ? report(rq, -EIO, "an earlier "
				"attempt may have made it") : -EEXIST;
		if (rq->op != OP_MKDIR)
			return report(rq, -EIO, NULL);
		return rq->t.maybe_done ? 0 : -EEXIST;
	case 409:
		if (rq->op == OP_UNLOCK)
			return 0; /* the lock went with the path (lighttpd) */
		/* the parent collection is missing */
		return parent_op ? -ENOENT : report(rq, -EIO, NULL);
	case 412:
		if (rq->op == OP_CREATE)
			return -EEXIST;
		if (rq->op == OP_PUT_IF || rq->op == OP_MUTEX_REMOVE)
			return -ESTALE; /* changed since it was listed */
		return report(rq, -EBUSY, "the file is locked");
	case 416: /* a range starting at or after the end */
		return rq->op == OP_GET ? 0 : report(rq, -EIO, NULL);
	case 423:
		if (rq->op == OP_MUTEX_LOCK)
			return rq->t.maybe_done ? report(rq, -EIO, "an earlier "
				"attempt may have taken it") : -EEXIST;
		if (rq->op == OP_MUTEX_REMOVE)
			return -ESTALE; /* held again: not stale */
		return report(rq, -EBUSY, "the file is locked");
	case 507:
		return report(rq, -EDQUOT, "the server is out of space");
	default:
		return report(rq, -EIO, NULL);
	}
}

/* ---- what WebDAV reads of an answer ---- */

/* A header's value, trimmed, printable ASCII only, into out. */
static void header_copy(const struct transfer *t, const char *name,
			char *out, size_t size)
{
	const char *value = transfer_header(t, name);
	size_t n = 0, len;

	out[0] = '\0';
	if (!value)
		return;
	while (g_ascii_isspace(*value))
		value++;
	len = strlen(value);
	while (len && g_ascii_isspace(value[len - 1]))
		len--;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		if (g_ascii_isprint(value[i]))
			out[n++] = value[i];
	out[n] = '\0';
}

/* The ETag without a weak mark (Apache's is weak while the file is under
 * a second old; it names one version), the Server and Lock-Token. */
static void read_headers(struct request *rq)
{
	char etag[sizeof(rq->etag)];

	header_copy(&rq->t, "ETag", etag, sizeof(etag));
	g_strlcpy(rq->etag, g_str_has_prefix(etag, "W/") ? etag + 2 : etag,
		  sizeof(rq->etag));
	header_copy(&rq->t, "Server", rq->server, sizeof(rq->server));
	header_copy(&rq->t, "Lock-Token", rq->lock_token,
		    sizeof(rq->lock_token));
}

static void on_answer(struct transfer *t)
{
	read_headers(t->owner);
}

/* Content-Range "bytes A-B/T": A (and T into *total when given). */
static int64_t range_start(const struct transfer *t, int64_t *total)
{
	const char *v = transfer_header(t, "Content-Range");
	const char *slash;

	*total = -1;
	if (!v || !g_str_has_prefix(v, "bytes ") || !g_ascii_isdigit(v[6]))
		return -1;
	slash = strchr(v, '/');
	if (slash && g_ascii_isdigit(slash[1]))
		*total = g_ascii_strtoll(slash + 1, NULL, 10);
	return g_ascii_strtoll(v + 6, NULL, 10);
}


/* Where a server's GET does not give the ETag its listing gave (nginx
 * lists none, lighttpd's GET sends none), a file's tag is made of its
 * mtime and size, which a GET's Last-Modified and length tell again. */
#define STAMP_PREFIX "\"relayfs-stamp-"

static char *stamp_of(int64_t mtime, uint64_t size)
{
	return g_strdup_printf(STAMP_PREFIX "%" PRId64 "-%" PRIu64 "\"", mtime,
			       size);
}

/* Is the answer another version than the one asked for? total: the
 * file's size the answer tells, or -1. */
static bool answer_replaced(const struct request *rq, int64_t total)
{
	g_autofree char *stamp = NULL;
	const char *modified;
	time_t mtime;

	if (!rq->expect_etag)
		return false;
	if (!g_str_has_prefix(rq->expect_etag, STAMP_PREFIX))
		return rq->etag[0] && strcmp(rq->etag, rq->expect_etag) != 0;
	if (total < 0)
		return false; /* it does not tell */
	modified = transfer_header(&rq->t, "Last-Modified");
	mtime = modified ? curl_getdate(modified, NULL) : (time_t)-1;
	if (mtime == (time_t)-1) { /* the size alone */
		g_autofree char *size = g_strdup_printf("-%" PRId64 "\"",
							total);

		return !g_str_has_suffix(rq->expect_etag, size);
	}
	stamp = stamp_of((int64_t)mtime, (uint64_t)total);
	return strcmp(stamp, rq->expect_etag) != 0;
}

/* First bytes of a 200/206 answer to a GET: which version, and where do
 * they start? */
static int on_start(struct transfer *t)
{
	struct request *rq = t->owner;
	int64_t total = -1, start = range_start(t, &total);
	curl_off_t length = -1;

	read_headers(rq);
	if (t->status == 0)
		curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &t->status);
	if (start < 0) { /* a 200: the whole file */
		curl_easy_getinfo(t->handle,
				  CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
		total = length;
	}
	if (answer_replaced(rq, total))
		return -ESTALE; /* replaced since it was listed */
	if (t->status == 200) {
		t->skip = t->offset; /* the server ignored Range */
		t->whole = true;
		return 0;
	}
	t->skip = 0;
	if (start != (int64_t)t->offset) {
		backend_failed("webdav: GET %s: asked for bytes from %" PRIu64
			       ", got a range from %" PRId64,
			       rq->target, t->offset, start);
		return -EIO;
	}
	return 0;
}


/* ---- requests ---- */

/* The server path of a relay path: collections get a trailing '/'. */
static char *target_of(const struct webdav *wd, const char *path,
		       bool collection)
{
	char *enc, *target;

	if (!*path)
		return g_strconcat(wd->base_path, "/", NULL);
	enc = g_uri_escape_string(path, "/", FALSE);
	target =
	    g_strconcat(wd->base_path, "/", enc, collection ? "/" : "", NULL);
	g_free(enc);
	return target;
}

static bool may_retry(const struct transfer *t);

static const struct transfer_hooks hooks = {
	.on_start = on_start,
	.may_retry = may_retry,
	.on_answer = on_answer,
};

static void request_init(struct request *rq, struct webdav *wd, enum op op,
			 const char *method, const char *path, bool collection)
{
	memset(rq, 0, sizeof(*rq));
	rq->wd = wd;
	rq->op = op;
	rq->target = target_of(wd, path, collection);
	transfer_init(&rq->t, wd->transport, &hooks, rq, method,
		      g_strconcat(wd->origin, rq->target, NULL), rq->target);
}

static void request_clear(struct request *rq)
{
	transfer_clear(&rq->t);
	g_free(rq->target);
}

static void add_header(struct request *rq, const char *header)
{
	transfer_add_header(&rq->t, header);
}

/* May the request be sent again after this answer? A create_excl or a
 * MOVE only when it surely never reached the server. */
static bool may_retry(const struct transfer *t)
{
	const struct request *rq = t->owner;

	/* a repeated conditional PUT would find its own change: -ESTALE */
	bool idempotent = rq->op != OP_CREATE && rq->op != OP_RENAME &&
			  rq->op != OP_PUT_IF && rq->op != OP_MUTEX &&
			  rq->op != OP_MUTEX_LOCK && rq->op != OP_PROBE &&
			  rq->op != OP_MUTEX_REMOVE && rq->op != OP_REMOVE_ONCE;

	if (rq->t.local_err || rq->t.done)
		return false;
	/* 423: rclone serve locks a path for the time of each request on
	 * it, so a PUT just after another client's DELETE may find it */
	if (rq->t.code == CURLE_OK)
		return idempotent &&
		       ((rq->t.status >= 500 && rq->t.status != 501 &&
			 rq->t.status != 505 && rq->t.status != 507) ||
			rq->t.status == 423);
	if (transfer_connect_failed(t))
		return true;
	return idempotent &&
	       (rq->t.code == CURLE_SEND_ERROR || rq->t.code == CURLE_RECV_ERROR ||
		rq->t.code == CURLE_GOT_NOTHING ||
		rq->t.code == CURLE_PARTIAL_FILE || rq->t.code == CURLE_HTTP2 ||
		rq->t.code == CURLE_HTTP2_STREAM ||
		rq->t.code == CURLE_SSL_CONNECT_ERROR);
}

/* Sends rq (transport.c retries it where may_retry allows); returns 0 or
 * the errno the answer maps to. */
static int perform(struct request *rq)
{
	int err = transfer_perform(&rq->t);

	return err ? err : map_result(rq);
}


/* ---- hrefs of a PROPFIND answer ---- */

enum href_kind { HREF_SELF, HREF_CHILD, HREF_BAD };

/* The decoded, non-empty segments of a '/'-separated string. */
static GPtrArray *split_path(const char *path, bool decode)
{
	GPtrArray *segs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	char **parts = g_strsplit(path, "/", -1);

	for (char **p = parts; *p; p++) {
		GBytes *seg = decode ? g_uri_unescape_bytes(*p, -1, NULL, NULL) :
				       g_bytes_new(*p, strlen(*p));

		if (!seg) { /* a malformed %-escape */
			g_ptr_array_free(segs, TRUE);
			segs = NULL;
			break;
		}
		if (g_bytes_get_size(seg))
			g_ptr_array_add(segs, seg);
		else
			g_bytes_unref(seg);
	}
	g_strfreev(parts);
	return segs;
}

/* The decoded segments of the collection holding the relay path. */
static GPtrArray *segments_of(const struct webdav *wd, const char *path)
{
	GPtrArray *segs = split_path(path, false);

	for (unsigned i = 0; i < wd->base_segments->len; i++)
		g_ptr_array_insert(segs, (int)i,
				   g_bytes_ref(wd->base_segments->pdata[i]));
	return segs;
}

/* The path of an href, or NULL (*why says why) when it is on another
 * server or cannot be read. */
static char *href_path(const struct webdav *wd, const char *href,
		       const char **why)
{
	CURLU *u;
	char *host = NULL, *port = NULL, *path = NULL, *out = NULL;

	if (href[0] == '/')
		return g_strndup(href, strcspn(href, "?#"));
	*why = "it is not a URL on this server";
	if (!strstr(href, "://"))
		return NULL;
	u = curl_url();
	if (curl_url_set(u, CURLUPART_URL, href,
			 CURLU_PATH_AS_IS | CURLU_NON_SUPPORT_SCHEME |
			     CURLU_ALLOW_SPACE) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0))
		goto out;
	if (g_ascii_strcasecmp(host, wd->host) == 0 &&
	    g_ascii_strtoll(port, NULL, 10) == wd->port)
		out = g_strdup(path);
out:
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return out;
}

/* Where href points from the collection whose segments are coll: itself,
 * a child (*name gets its decoded name) or elsewhere (*why says why). */
static enum href_kind classify(const struct webdav *wd, const GPtrArray *coll,
			       const char *href, GBytes **name,
			       const char **why)
{
	char *path = href_path(wd, href, why);
	GPtrArray *segs = path ? split_path(path, true) : NULL;
	enum href_kind kind = HREF_BAD;
	unsigned i;

	if (path && !segs)
		*why = "it has a malformed %-escape";
	g_free(path);
	if (!segs)
		return HREF_BAD;
	for (i = 0; i < coll->len && i < segs->len; i++)
		if (!g_bytes_equal(coll->pdata[i], segs->pdata[i]))
			break;
	*why = "it is outside the collection";
	if (i == coll->len && segs->len == coll->len) {
		kind = HREF_SELF;
	} else if (i == coll->len && segs->len == coll->len + 1) {
		*name = g_bytes_ref(segs->pdata[i]);
		kind = HREF_CHILD;
	}
	g_ptr_array_free(segs, TRUE);
	return kind;
}

/* Why a decoded name cannot be a file name here, or NULL if it can. */
/* A name no C string can hold; the dispatcher judges the rest. */
static const char *unsafe_name(GBytes *name)
{
	size_t len;
	const char *s = g_bytes_get_data(name, &len);

	if (memchr(s, '\0', len))
		return "its name holds a NUL byte";
	return NULL;
}

static void warn_skip(const char *target, const char *href, const char *why)
{
	char *shown = g_strescape(href, NULL);

	if (strlen(shown) > 200)
		strcpy(shown + 195, "...");
	g_warning("webdav: PROPFIND %s: skipping \"%s\": %s", target, shown,
		  why);
	g_free(shown);
}

/* ---- operations ---- */

/* PROPFIND (Depth 0 or 1, asking what body asks) path; appends the
 * answer's struct webdav_resource * to out; its Server header to *server
 * when server is not NULL. */
/* How often a PROPFIND whose 207 answer does not parse is sent again:
 * rclone serve sometimes ends a listing with more than one document when
 * a file goes away while it writes it. */
#define GARBLED_TRIES 3

static int propfind(struct webdav *wd, enum op op, const char *path, int depth,
		    const char *body, GPtrArray *out, char **server)
{
	guint before = out->len;
	struct request rq;
	char *why = NULL;
	int err;

	for (int tries = 1;; tries++) {
		request_init(&rq, wd, op, "PROPFIND", path, false);
		add_header(&rq, depth ? "Depth: 1" : "Depth: 0");
		add_header(&rq,
			   "Content-Type: application/xml; charset=utf-8");
		rq.t.post = body;
		rq.t.max_body = MAX_PROPFIND;
		err = perform(&rq);
		if (!err && rq.t.status != 207)
			err = report(&rq, -EIO,
				     "not a WebDAV answer "
				     "(expected 207 Multi-Status)");
		if (!err)
			err = webdav_parse_multistatus(rq.t.body->str,
						       rq.t.body->len, out,
						       &why);
		if (!why || tries == GARBLED_TRIES)
			break;
		g_message("webdav: PROPFIND %s: %s; asking again", rq.target,
			  why);
		g_clear_pointer(&why, g_free);
		g_ptr_array_set_size(out, before);
		request_clear(&rq);
	}
	if (server)
		*server = g_strdup(rq.server);
	if (why) {
		report(&rq, err, why);
		g_free(why);
	}
	request_clear(&rq);
	return err;
}

/* The resource of a Depth 0 answer that describes path itself. */
static int propfind_self(struct webdav *wd, enum op op, const char *path,
			 const char *body, struct webdav_resource **self,
			 char **server)
{
	GPtrArray *res = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)webdav_resource_free);
	GPtrArray *coll = segments_of(wd, path);
	int err = propfind(wd, op, path, 0, body, res, server);

	for (unsigned i = 0; !err && i < res->len && !*self; i++) {
		struct webdav_resource *r = res->pdata[i];
		GBytes *name = NULL;
		const char *why;

		if (classify(wd, coll, r->href, &name, &why) == HREF_SELF)
			*self = g_ptr_array_steal_index(res, i);
		if (name)
			g_bytes_unref(name);
	}
	if (!err && !*self) {
		char *target = target_of(wd, path, false);

		g_warning("webdav: PROPFIND %s: the answer does not describe "
			  "it (do the server's hrefs match the relay URL?)",
			  op == OP_OPEN ? wd->display : target);
		g_free(target);
		err = -EIO;
	}
	g_ptr_array_free(coll, TRUE);
	g_ptr_array_free(res, TRUE);
	return err;
}

/* The tag of a listed resource: its ETag where GET gives it too, else a
 * stamp for a file (a folder's ETag serves a mutex's stale check). */
static char *tag_of(const struct webdav *wd, const struct webdav_resource *r)
{
	if (r->etag && (wd->facts.etags_stable || r->is_dir))
		return g_strdup(r->etag);
	if (r->is_dir || !r->has_size || r->mtime <= 0)
		return NULL; /* nothing to pin a read with */
	return stamp_of(r->mtime, r->size);
}

static struct backend_entry *entry_new(const struct webdav *wd, GBytes *name,
				       const struct webdav_resource *r)
{
	struct backend_entry *e = g_new0(struct backend_entry, 1);
	size_t len;
	const char *s = g_bytes_get_data(name, &len);

	e->name = g_strndup(s, len);
	e->is_dir = r->is_dir;
	e->size = r->is_dir ? 0 : r->size;
	e->mtime = r->mtime;
	e->etag = tag_of(wd, r);
	return e;
}

static void entry_free(gpointer p)
{
	struct backend_entry *e = p;

	g_free(e->name);
	g_free(e->etag);
	g_free(e);
}

/* Turns the resources of a Depth 1 answer on dir into entries (skipping
 * unsafe or foreign ones with a warning); -ENOTDIR when dir is a file. */
static int collect_entries(const struct webdav *wd, const char *dir,
			   GPtrArray *res, GPtrArray *out)
{
	GPtrArray *coll = segments_of(wd, dir);
	GHashTable *seen = g_hash_table_new_full(
	    g_bytes_hash, g_bytes_equal, (GDestroyNotify)g_bytes_unref, NULL);
	char *target = target_of(wd, dir, false);
	int err = 0;

	for (unsigned i = 0; !err && i < res->len; i++) {
		const struct webdav_resource *r = res->pdata[i];
		GBytes *name = NULL;
		const char *why = NULL;
		enum href_kind kind = classify(wd, coll, r->href, &name, &why);

		if (kind == HREF_SELF) {
			err = r->is_dir ? 0 : -ENOTDIR;
			continue;
		}
		if (kind == HREF_CHILD) {
			why = unsafe_name(name);
			if (!why && g_hash_table_contains(seen, name))
				why = "it is listed twice";
		}
		if (why) {
			warn_skip(target, r->href, why);
			if (name)
				g_bytes_unref(name);
			continue;
		}
		g_ptr_array_add(out, entry_new(wd, name, r));
		g_hash_table_add(seen, name);
	}
	g_hash_table_destroy(seen);
	g_ptr_array_free(coll, TRUE);
	g_free(target);
	return err;
}

static int webdav_list(void *state, const char *dir, GPtrArray *entries)
{
	GPtrArray *res = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)webdav_resource_free);
	GPtrArray *found = g_ptr_array_new_with_free_func(entry_free);
	int err = propfind(state, OP_LIST, dir, 1, webdav_propfind_body, res,
			   NULL);

	if (!err)
		err = collect_entries(state, dir, res, found);
	for (unsigned i = 0; !err && i < found->len; i++)
		g_ptr_array_add(entries, found->pdata[i]);
	if (!err)
		g_ptr_array_set_free_func(found, NULL);
	g_ptr_array_free(found, TRUE);
	g_ptr_array_free(res, TRUE);
	return err;
}

static int webdav_stat(void *state, const char *path,
		       struct backend_entry *entry)
{
	struct webdav_resource *self = NULL;
	const char *slash = strrchr(path, '/');
	int err =
	    propfind_self(state, OP_STAT, path, webdav_propfind_body, &self,
			  NULL);

	if (err)
		return err;
	memset(entry, 0, sizeof(*entry));
	entry->name = g_strdup(slash ? slash + 1 : path);
	entry->is_dir = self->is_dir;
	entry->size = self->is_dir ? 0 : self->size;
	entry->mtime = self->mtime;
	entry->etag = tag_of(state, self);
	webdav_resource_free(self);
	return 0;
}

static int webdav_statfs(void *state, struct statvfs *st)
{
	struct webdav_resource *self = NULL;
	int err = propfind_self(state, OP_STATFS, "",
				webdav_propfind_quota_body, &self, NULL);
	uint64_t avail, used;

	if (err)
		return err;
	if (!self->has_quota_available) {
		webdav_resource_free(self);
		return -ENOSYS;
	}
	avail = self->quota_available / STATFS_BLOCK;
	used = self->has_quota_used ? self->quota_used / STATFS_BLOCK : 0;
	memset(st, 0, sizeof(*st));
	st->f_bsize = st->f_frsize = STATFS_BLOCK;
	st->f_blocks = (fsblkcnt_t)(avail + used);
	st->f_bfree = st->f_bavail = (fsblkcnt_t)avail;
	st->f_namemax = 255;
	webdav_resource_free(self);
	return 0;
}

/* How often a 403 from Apache for a resource that changed under it (a
 * file deleted or replaced while it opened it; a folder another MKCOL made
 * inside mkdir(2)) is tried again: a refusal is a 403 that stays. */
#define RACED_TRIES 5

static int webdav_get(void *state, const char *path, uint64_t offset,
		      uint64_t length, const char *etag, backend_sink_fn sink,
		      void *ctx)
{
	struct webdav *wd = state;
	struct request rq;
	int err;

	if (length == 0)
		return 0;
	for (int tries = 1;; tries++) {
		struct backend_entry e = { 0 };
		bool gone;

		request_init(&rq, state, OP_GET, "GET", path, false);
		rq.t.sink = sink;
		rq.t.ctx = ctx;
		/* a version check only where GET tells the listed ETag, or
		 * the mtime and size a stamp was made of */
		if (etag && (wd->facts.etags_stable ||
			     g_str_has_prefix(etag, STAMP_PREFIX)))
			rq.expect_etag = g_str_has_prefix(etag, "W/") ?
					 etag + 2 : etag;
		rq.t.offset = offset;
		rq.t.remaining = length;
		err = perform(&rq);
		/* once bytes went to the sink, never send them again */
		if (err != -EACCES || rq.t.offset != offset ||
		    tries == RACED_TRIES)
			break;
		gone = webdav_stat(state, path, &e) == -ENOENT;
		backend_entry_clear(&e);
		if (gone) {
			err = -ENOENT; /* deleted while Apache opened it */
			break;
		}
		request_clear(&rq); /* there again: try once more */
	}
	if (err == -EACCES)
		report(&rq, err, refused_hint(&rq));
	request_clear(&rq);
	return err;
}

/* PUT of size bytes from fd (when >= 0) or data; OP_PUT_IF only while
 * the server's ETag is etag. */
static int upload(struct webdav *wd, enum op op, const char *path, int fd,
		  const void *data, uint64_t size, const char *etag)
{
	g_autofree char *if_match = NULL;
	struct request rq;
	int err;

	request_init(&rq, wd, op, "PUT", path, false);
	rq.t.upload = true;
	rq.t.fd = fd;
	rq.t.data = data;
	rq.t.size = size;
	if (op == OP_CREATE)
		add_header(&rq, "If-None-Match: *");
	if (op == OP_PUT_IF) {
		if_match = g_strdup_printf("If-Match: %s", etag);
		add_header(&rq, if_match);
	}
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

static int webdav_put(void *state, const char *path, int fd, uint64_t size)
{
	return upload(state, OP_PUT, path, fd, NULL, size, NULL);
}

/* A PUT of unknown length (chunked). */
int webdav_stream(struct webdav *wd, const char *path,
		  backend_source_fn source, void *ctx)
{
	struct request rq;
	int err;

	request_init(&rq, wd, OP_PUT, "PUT", path, false);
	rq.t.upload = true;
	rq.t.fd = -1;
	rq.t.source = source;
	rq.t.source_ctx = ctx;
	rq.t.size = UINT64_MAX;
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

/* Where the probe found that a cut PUT leaves the old content (Apache and
 * nginx store the body aside and move it into place once whole). */
static int webdav_put_stream(void *state, const char *path,
			     backend_source_fn source, void *ctx)
{
	struct webdav *wd = state;

	if (!wd->facts.cut_put_keeps)
		return -ENOSYS;
	return webdav_stream(wd, path, source, ctx);
}

static int webdav_put_data(void *state, const char *path, const void *data,
			   size_t len)
{
	return upload(state, OP_PUT_DATA, path, -1, data, len, NULL);
}

static int webdav_put_data_if(void *state, const char *path,
			      const void *data, size_t len, const char *etag)
{
	struct webdav *wd = state;

	if (!wd->facts.put_if_match || !wd->facts.etags_stable)
		return -ENOSYS; /* it would overwrite whatever is there, or
				 * the tag is a stamp the server never saw */
	if (strpbrk(etag, "\r\n"))
		return -ESTALE; /* never let a listing inject a header */
	return upload(state, OP_PUT_IF, path, -1, data, len, etag);
}

static int webdav_create_excl(void *state, const char *path, const void *data,
			      size_t len)
{
	struct webdav *wd = state;

	if (!wd->facts.create_refuses)
		return -ENOSYS; /* its 201 or 204 would prove nothing */
	return upload(state, OP_CREATE, path, -1, data, len, NULL);
}

/* A request without a body whose answer only has a status. */
static int simple(struct webdav *wd, enum op op, const char *method,
		  const char *path, bool collection, const char *header)
{
	struct request rq;
	int err;

	request_init(&rq, wd, op, method, path, collection);
	if (header)
		add_header(&rq, header);
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

static int webdav_remove(void *state, const char *path)
{
	return simple(state, OP_REMOVE, "DELETE", path, false, NULL);
}

static int webdav_remove_once(void *state, const char *path)
{
	return simple(state, OP_REMOVE_ONCE, "DELETE", path, false, NULL);
}

static int webdav_mkdir(void *state, const char *path)
{
	return simple(state, OP_MKDIR, "MKCOL", path, true, NULL);
}

/* Apache answers 403 to the MKCOLs that lost the race inside mkdir(2)
 * (405 to those that found the folder made): a 403 is a refusal only when
 * the folder is not there, again and again. */
static int mutex_by_mkcol(void *state, const char *path)
{
	int err = -EACCES;

	/* the winner may have removed it again before we look */
	for (int tries = 0; err == -EACCES && tries < RACED_TRIES; tries++) {
		struct backend_entry e = { 0 };

		err = simple(state, OP_MUTEX, "MKCOL", path, true, NULL);
		if (err == -EACCES && webdav_stat(state, path, &e) == 0 &&
		    e.is_dir)
			err = -EEXIST;
		backend_entry_clear(&e);
	}
	if (err == -EACCES)
		backend_failed("webdav: MKCOL %s: 403 Forbidden; the server refused "
			  "access with these credentials", path);
	return err;
}

/* A LOCK of path taken alone: an exclusive write lock the server keeps
 * for timeout seconds at most; its token is kept to delete and unlock. */
static int mutex_by_lock(struct webdav *wd, const char *path)
{
	g_autofree char *timeout = g_strdup_printf(
	    "Timeout: Second-%ld", 2 * wd->io_timeout + 10);
	struct request rq;
	int err;

	request_init(&rq, wd, OP_MUTEX_LOCK, "LOCK", path, false);
	add_header(&rq, "Depth: 0");
	add_header(&rq, timeout);
	add_header(&rq, "Content-Type: application/xml; charset=utf-8");
	rq.t.post = webdav_lockinfo_body;
	err = perform(&rq);
	if (err == 0 && !rq.lock_token[0])
		err = report(&rq, -EIO, "a LOCK answer without a Lock-Token");
	if (err == 0) {
		g_mutex_lock(&wd->tokens_mutex);
		g_hash_table_replace(wd->lock_tokens, g_strdup(path),
				     g_strdup(rq.lock_token));
		g_mutex_unlock(&wd->tokens_mutex);
	}
	request_clear(&rq);
	return err;
}

static int webdav_mutex_create(void *state, const char *path)
{
	struct webdav *wd = state;

	if (wd->mutex_step == WEBDAV_MUTEX_LOCK)
		return mutex_by_lock(wd, path);
	return mutex_by_mkcol(state, path);
}

/* One MOVE; collection: both paths with a trailing '/'. */
static int move(struct webdav *wd, const char *from, const char *to,
		bool collection, long *status)
{
	g_autofree char *dest = target_of(wd, to, collection);
	g_autofree char *header = g_strconcat("Destination: ", wd->origin,
					      dest, NULL);
	struct request rq;
	int err;

	request_init(&rq, wd, OP_RENAME, "MOVE", from, collection);
	add_header(&rq, header);
	add_header(&rq, "Overwrite: T");
	err = perform(&rq);
	*status = rq.t.status;
	request_clear(&rq);
	return err;
}

/* nginx refuses (400) to MOVE a collection named without its '/',
 * lighttpd redirects (301, 308) to the name with it. */
static int webdav_rename(void *state, const char *from, const char *to)
{
	long status = 0;
	int err = move(state, from, to, false, &status);

	if (err == -EIO && (status == 400 || status == 301 || status == 308))
		err = move(state, from, to, true, &status);
	return err;
}

/* DELETE of a collection removes its content too: look first. Another
 * client may add a file between the two requests; no WebDAV request can
 * say "only if empty". */
static int webdav_rmdir(void *state, const char *path)
{
	struct webdav *wd = state;
	GPtrArray *res = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)webdav_resource_free);
	GPtrArray *coll = segments_of(wd, path);
	int err = propfind(wd, OP_RMDIR, path, 1, webdav_propfind_body, res,
			   NULL);

	for (unsigned i = 0; !err && i < res->len; i++) {
		const struct webdav_resource *r = res->pdata[i];
		GBytes *name = NULL;
		const char *why;

		if (classify(wd, coll, r->href, &name, &why) != HREF_SELF)
			err = -ENOTEMPTY;
		else if (!r->is_dir)
			err = -ENOTDIR;
		if (name)
			g_bytes_unref(name);
	}
	g_ptr_array_free(coll, TRUE);
	g_ptr_array_free(res, TRUE);
	return err ? err : simple(wd, OP_RMDIR, "DELETE", path, true, NULL);
}

/* Our LOCK mutex: DELETE it with our token, then UNLOCK (the server
 * keeps a lock on a deleted path); one seen stale: DELETE it without a
 * token, which a server refuses (423) while somebody holds it. */
static int unlock_mutex(struct webdav *wd, const char *path, const char *etag)
{
	g_autofree char *token = NULL, *key = NULL;
	g_autofree char *if_token = NULL, *lock_token = NULL;
	int err, unlock_err;

	if (etag)
		return simple(wd, OP_MUTEX_REMOVE, "DELETE", path, false, NULL);
	g_mutex_lock(&wd->tokens_mutex);
	g_hash_table_steal_extended(wd->lock_tokens, path, (gpointer *)&key,
				    (gpointer *)&token);
	g_mutex_unlock(&wd->tokens_mutex);
	if (!token)
		return simple(wd, OP_MUTEX_REMOVE, "DELETE", path, false, NULL);
	if_token = g_strdup_printf("If: (%s)", token);
	lock_token = g_strdup_printf("Lock-Token: %s", token);
	err = simple(wd, OP_MUTEX_REMOVE, "DELETE", path, false, if_token);
	unlock_err = simple(wd, OP_UNLOCK, "UNLOCK", path, false, lock_token);
	return err ? err : unlock_err == -ENOENT ? 0 : unlock_err;
}

/* One DELETE of an (empty) collection, with If-Match when etag is known
 * and the server heeds it: 412 means it is another version now. */
static int webdav_mutex_remove(void *state, const char *path, const char *etag)
{
	struct webdav *wd = state;
	g_autofree char *if_match = NULL;

	if (etag && strpbrk(etag, "\r\n"))
		return -ESTALE; /* never let a listing inject a header */
	if (wd->mutex_step == WEBDAV_MUTEX_LOCK)
		return unlock_mutex(wd, path, etag);
	if (etag && wd->facts.delete_if_match)
		if_match = g_strdup_printf("If-Match: %s", etag);
	return simple(state, OP_MUTEX_REMOVE, "DELETE", path, true, if_match);
}

int webdav_exchange(struct webdav *wd, const char *method, const char *path,
		    bool collection, const char *const *headers,
		    const char *body, bool put, struct webdav_answer *ans)
{
	struct request rq;
	int err;

	request_init(&rq, wd, OP_PROBE, method, path, collection);
	for (; headers && *headers; headers++)
		add_header(&rq, *headers);
	if (put) {
		rq.t.upload = true;
		rq.t.data = body;
		rq.t.size = strlen(body);
	} else {
		rq.t.post = body;
		rq.t.max_body = MAX_PROPFIND;
	}
	err = perform(&rq);
	ans->status = rq.t.status;
	g_strlcpy(ans->etag, rq.etag, sizeof(ans->etag));
	g_strlcpy(ans->lock_token, rq.lock_token, sizeof(ans->lock_token));
	if (ans->body)
		g_string_append_len(ans->body, rq.t.body->str,
				    (gssize)rq.t.body->len);
	request_clear(&rq);
	return err;
}

static unsigned webdav_caps_of(void *state)
{
	const struct webdav *wd = state;
	unsigned caps = BACKEND_CAN_RENAME;

	if (wd->mutex_step != WEBDAV_MUTEX_NONE)
		caps |= BACKEND_EXCLUSIVE_MUTEX;
	if (wd->mutex_step == WEBDAV_MUTEX_LOCK)
		caps |= BACKEND_MUTEX_OUTLIVES_HOLDER;
	if (wd->facts.lists_dotfiles)
		caps |= BACKEND_LISTS_DOTFILES;
	if (wd->facts.cut_put_keeps)
		caps |= BACKEND_CAN_STREAM;
	return caps;
}

/* What the server does: from the facts file when it knows this server,
 * else by a probe; then the mutex step, said once. */
static int learn_server(struct webdav *wd, const char *facts_file)
{
	g_autofree char *why = NULL;
	int err;

	if (!webdav_facts_load(facts_file, wd->display, wd->server,
			       &wd->facts)) {
		err = webdav_facts_probe(wd, &wd->facts);
		if (err)
			g_message("webdav: %s: the probe of the server did not "
				  "finish (%s): what it found is not kept, "
				  "and the next mount probes again",
				  wd->display, g_strerror(-err));
		else
			webdav_facts_save(facts_file, wd->display, wd->server,
					  &wd->facts);
	}
	wd->mutex_step = webdav_facts_choose(&wd->facts, &why);
	g_message("webdav: %s (%s): %s", wd->display,
		  wd->server[0] ? wd->server : "no Server header", why);
	return 0;
}

/* ---- open and close ---- */

static void webdav_close(void *state)
{
	struct webdav *wd = state;

	if (!wd)
		return;
	transport_free(wd->transport);
	if (wd->lock_tokens)
		g_hash_table_destroy(wd->lock_tokens);
	g_mutex_clear(&wd->tokens_mutex);
	g_free(wd->server);
	if (wd->password)
		explicit_bzero(wd->password, strlen(wd->password));
	g_free(wd->password);
	g_free(wd->user);
	if (wd->base_segments)
		g_ptr_array_free(wd->base_segments, TRUE);
	g_free(wd->host);
	g_free(wd->display);
	g_free(wd->base_path);
	g_free(wd->origin);
	g_free(wd);
}

/* "webdav://h/p" -> "http://h/p" (the same for webdavs, http, https). */
static char *http_url_of(const char *url)
{
	const char *sep = url ? strstr(url, "://") : NULL;
	size_t n = sep ? (size_t)(sep - url) : 0;

	if (n == 6 && g_ascii_strncasecmp(url, "webdav", 6) == 0)
		return g_strconcat("http", sep, NULL);
	if (n == 7 && g_ascii_strncasecmp(url, "webdavs", 7) == 0)
		return g_strconcat("https", sep, NULL);
	if ((n == 4 && g_ascii_strncasecmp(url, "http", 4) == 0) ||
	    (n == 5 && g_ascii_strncasecmp(url, "https", 5) == 0))
		return g_strdup(url);
	return NULL;
}

/* The base path: decoded segments, and their canonical encoding. */
static int set_base_path(struct webdav *wd, const char *raw)
{
	GString *enc = g_string_new(NULL);
	int err = 0;

	wd->base_segments = split_path(raw, true);
	if (!wd->base_segments)
		err = -EINVAL;
	for (unsigned i = 0; !err && i < wd->base_segments->len; i++) {
		size_t len;
		const char *s =
		    g_bytes_get_data(wd->base_segments->pdata[i], &len);
		char *e;

		if (memchr(s, '/', len) || memchr(s, '\0', len)) {
			err = -EINVAL;
			break;
		}
		e = g_uri_escape_string(s, NULL, FALSE);
		g_string_append_printf(enc, "/%s", e);
		g_free(e);
	}
	wd->base_path = g_string_free(enc, FALSE);
	return err;
}

/* Fills origin, host, port, base path and display from opt->url. */
static int parse_url(struct webdav *wd, const char *url)
{
	char *http_url = http_url_of(url);
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *dport = NULL, *query = NULL, *fragment = NULL;
	int err = -EINVAL;

	if (!http_url || curl_url_set(u, CURLUPART_URL, http_url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PORT, &dport, CURLU_DEFAULT_PORT) ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0)) {
		g_warning(
		    "webdav: the relay URL is not a webdav://, webdavs://,"
		    " http:// or https:// URL");
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
	/* credentials in the URL count when the options give none */
	transport_url_credentials(u, &wd->user, &wd->password);
	wd->host = g_strdup(host);
	wd->port = (long)g_ascii_strtoll(dport, NULL, 10);
	wd->origin = g_strconcat(scheme, "://", host, port ? ":" : "",
				 port ? port : "", NULL);
	err = set_base_path(wd, path);
	wd->display = g_strconcat(wd->origin, wd->base_path, NULL);
	if (err || query || fragment) {
		g_warning("webdav: %s: a relay URL has a plain path (no "
			  "?query, #fragment, %%2F or %%00)",
			  wd->display);
		err = -EINVAL;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(dport);
	curl_free(path);
	curl_free(query);
	curl_free(fragment);
	curl_url_cleanup(u);
	g_free(http_url);
	return err;
}

/* The root must answer a PROPFIND and be a collection; its answer names
 * the server. */
static int check_root(struct webdav *wd)
{
	struct webdav_resource *self = NULL;
	int err = propfind_self(wd, OP_OPEN, "", webdav_propfind_body, &self,
				&wd->server);

	if (!err && !self->is_dir) {
		g_warning("webdav: %s: not a collection (a folder)",
			  wd->display);
		err = -ENOTDIR;
	}
	webdav_resource_free(self);
	return err;
}

static int webdav_open(const struct backend_options *opt, void **state)
{
	struct webdav *wd;
	int err = transport_global_init();

	if (err) {
		g_warning("webdav: libcurl cannot be initialised");
		return err;
	}
	wd = g_new0(struct webdav, 1);
	wd->user = g_strdup(opt->user);
	wd->password = g_strdup(opt->password);
	wd->io_timeout = opt->io_timeout ? opt->io_timeout : 30;
	g_mutex_init(&wd->tokens_mutex);
	wd->lock_tokens = g_hash_table_new_full(g_str_hash, g_str_equal,
						g_free, g_free);
	err = parse_url(wd, opt->url);
	if (!err) {
		struct transport_settings set = {
		    .protocols = "http,https",
		    .user = wd->user, /* from opt, else from the URL */
		    .password = wd->password,
		    .cacert = opt->cacert,
		    .insecure = opt->insecure,
		    .connect_timeout =
			opt->connect_timeout ? opt->connect_timeout : 10,
		    .io_timeout = wd->io_timeout,
		    .transfers = opt->transfers,
		};

		wd->transport = transport_new(&set);
		err = check_root(wd);
	}
	if (!err)
		err = learn_server(wd, opt->facts_file);
	if (err) {
		webdav_close(wd);
		return err;
	}
	*state = wd;
	return 0;
}

const struct backend_ops backend_webdav = {
    .name = "webdav",
    .schemes = webdav_schemes,
    /* No server's PUT is atomic here: no BACKEND_ATOMIC_PUT; nor is
     * Apache's PUT with If-None-Match (two creators can both get 201):
     * the mutex is MKCOL or LOCK, as the probe finds the server
     * (webdav_probe.c, tests/integration/test_server_races.py) */
    .caps = BACKEND_CAN_RENAME,
    .caps_of = webdav_caps_of,
    .open = webdav_open,
    .close = webdav_close,
    .list = webdav_list,
    .stat = webdav_stat,
    .get = webdav_get,
    .put = webdav_put,
    .put_data = webdav_put_data,
    .put_data_if = webdav_put_data_if,
    .create_excl = webdav_create_excl,
    .put_stream = webdav_put_stream,
    .remove = webdav_remove,
    .remove_once = webdav_remove_once,
    .rename = webdav_rename,
    .mkdir = webdav_mkdir,
    .mutex_create = webdav_mutex_create,
    .rmdir = webdav_rmdir,
    .mutex_remove = webdav_mutex_remove,
    .statfs = webdav_statfs,
};
