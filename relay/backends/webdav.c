/* The WebDAV backend (RFC 4918 over libcurl) for webdav://, webdavs://,
 * http:// and https:// relays such as Apache mod_dav or Nextcloud. */
#include "relay/backend.h"
#include "relay/backends/http.h"
#include "relay/backends/webdav_probe.h"
#include "relay/backends/webdav_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>

#ifndef RELAYFS_VERSION
#define RELAYFS_VERSION "dev"
#endif

enum {
	MAX_ATTEMPTS = 3,	  /* for requests that may be repeated */
	BACKOFF_MS = 250,	  /* then 4 times more each retry */
	MAX_PROPFIND = 256 << 20, /* bytes of a PROPFIND answer */
	MAX_ERROR_BODY = 4096,	  /* bytes of an error page kept */
	BUFFER_SIZE = 256 << 10,  /* curl's receive and send buffers */
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

/* Everything is read-only after open but digest, which is atomic, and
 * lock_tokens, under tokens_mutex (a leaf: nothing is taken under it). */
struct webdav {
	char *origin;		  /* "https://host[:port]", never credentials */
	char *base_path;	  /* percent-encoded, no trailing '/', or "" */
	char *display;		  /* origin + base_path, for messages */
	char *host;		  /* as in origin, to match absolute hrefs */
	long port;		  /* explicit or the scheme's default */
	GPtrArray *base_segments; /* decoded segments of base_path */
	char *user;
	char *password; /* never logged */
	char *cacert;
	bool insecure;
	long connect_timeout, io_timeout;
	_Atomic int digest; /* the server asked for Digest auth */
	struct http_pool *pool;
	char *server;		   /* its Server header, "" when it sends none */
	struct webdav_facts facts; /* what the probe found it does */
	enum webdav_mutex_step mutex_step;
	GMutex tokens_mutex;
	GHashTable *lock_tokens; /* mutex path -> "<token>" of our LOCK */
};

/* One backend call: its request, repeated on transient failures. */
struct request {
	struct webdav *wd;
	enum op op;
	const char *method;
	char *target; /* the encoded server path, for messages */
	char *url;
	struct curl_slist *headers;
	const char *post; /* a PROPFIND body */
	int fd;		  /* upload from fd when >= 0, else from data */
	const void *data;
	uint64_t size, sent;
	bool upload;
	GString *body;	      /* a PROPFIND answer, or the error page */
	backend_sink_fn sink; /* GET: where the bytes go */
	const char *expect_etag; /* GET: the version asked for, or NULL */
	char etag[160];		 /* the answer's ETag, without W/ */
	char server[128];	 /* the answer's Server header */
	int64_t last_modified;	 /* its Last-Modified, or -1 */
	int64_t total_size;	 /* the whole file's size it tells, or -1 */
	char lock_token[256];	 /* the answer's Lock-Token header */
	void *ctx;
	uint64_t offset, remaining; /* GET: still wanted; UINT64_MAX: all */
	uint64_t skip;		    /* GET: bytes of a 200 answer to drop */
	bool started, done;	    /* GET: sink fed in this attempt, all got */
	int local_err;		    /* a sink's errno, or a logged failure */
	bool maybe_done; /* an earlier attempt may have taken effect */
	bool used_digest;
	CURL *handle;  /* during an attempt */
	CURLcode code; /* of the last attempt */
	long status;
	char reason[96];
	int64_t range_start; /* of Content-Range, or -1 */
	bool digest_challenge;
	char errbuf[CURL_ERROR_SIZE];
};

static const char *const webdav_schemes[] = {"webdav", "webdavs", "http",
					     "https", NULL};

/* ---- reporting and the status mapping ---- */

/* The answer in words: "503 Service Unavailable", or curl's reason. */
static char *describe(const struct request *rq)
{
	if (rq->code == CURLE_OK)
		return g_strdup_printf("%ld %s", rq->status, rq->reason);
	if (rq->errbuf[0])
		return g_strdup(rq->errbuf);
	return g_strdup(curl_easy_strerror(rq->code));
}

/* Says why rq failed (with hint, may be NULL) and returns err. */
static int report(const struct request *rq, int err, const char *hint)
{
	char *words = describe(rq);
	if (rq->op == OP_OPEN)
		backend_failed("webdav: %s: %s%s%s", rq->wd->display, words,
			       hint ? "; " : "", hint ? hint : "");
	else
		backend_failed("webdav: %s %s: %s%s%s", rq->method,
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
	if (rq->status == 403)
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
	    rq->maybe_done && (rq->op == OP_REMOVE || rq->op == OP_RMDIR ||
			       rq->op == OP_MUTEX_REMOVE);
	int transport_err =
	    rq->code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;

	if (rq->local_err)
		return rq->local_err;
	if (rq->done)
		return 0;
	if (rq->code != CURLE_OK)
		return report(rq, transport_err, transport_hint(rq->code));
	if (rq->op == OP_PROBE)
		return 0;
	switch (rq->status) {
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
			return rq->maybe_done ? report(rq, -EIO, "an earlier "
				"attempt may have made it") : -EEXIST;
		if (rq->op != OP_MKDIR)
			return report(rq, -EIO, NULL);
		return rq->maybe_done ? 0 : -EEXIST;
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
			return rq->maybe_done ? report(rq, -EIO, "an earlier "
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

/* ---- curl callbacks ---- */

static void header_status(struct request *rq, const char *line, size_t len)
{
	const char *sp = memchr(line, ' ', len);
	size_t n = 0;

	rq->range_start = -1;
	rq->etag[0] = '\0';
	rq->server[0] = '\0';
	rq->lock_token[0] = '\0';
	rq->last_modified = rq->total_size = -1;
	rq->digest_challenge = false;
	rq->reason[0] = '\0';
	sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) : NULL;
	if (!sp)
		return;
	for (sp++; sp < line + len && n + 1 < sizeof(rq->reason); sp++)
		if (g_ascii_isprint(*sp))
			rq->reason[n++] = *sp;
	rq->reason[n] = '\0';
}

/* Keep an ETag header's value, trimmed, without a weak mark (Apache's is
 * weak while the file is under a second old; it names one version). */
static void header_etag(struct request *rq, const char *value, size_t len)
{
	g_autofree char *text = g_strstrip(g_strndup(value, len));
	const char *tag = g_str_has_prefix(text, "W/") ? text + 2 : text;

	g_strlcpy(rq->etag, tag, sizeof(rq->etag));
}

/* Keep a header's value, trimmed, printable ASCII only. */
static void header_copy(char *out, size_t size, const char *value,
			size_t len)
{
	size_t n = 0;

	while (len && g_ascii_isspace(*value))
		value++, len--;
	while (len && g_ascii_isspace(value[len - 1]))
		len--;
	for (size_t i = 0; i < len && n + 1 < size; i++)
		if (g_ascii_isprint(value[i]))
			out[n++] = value[i];
	out[n] = '\0';
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct request *rq = arg;
	size_t len = size * nitems;
	char *text;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		header_status(rq, line, len);
		return len;
	}
	text = g_ascii_strdown(line, (gssize)len);
	if (g_str_has_prefix(text, "content-range:")) {
		const char *bytes = strstr(text, "bytes ");
		const char *total = strchr(text, '/');

		if (bytes && g_ascii_isdigit(bytes[6]))
			rq->range_start = g_ascii_strtoll(bytes + 6, NULL, 10);
		if (total && g_ascii_isdigit(total[1]))
			rq->total_size = g_ascii_strtoll(total + 1, NULL, 10);
	} else if (g_str_has_prefix(text, "content-length:")) {
		if (rq->total_size < 0 && rq->range_start < 0)
			rq->total_size = g_ascii_strtoll(text + 15, NULL, 10);
	} else if (g_str_has_prefix(text, "last-modified:")) {
		g_autofree char *date = g_strstrip(g_strdup(text + 14));
		time_t t = curl_getdate(date, NULL);

		rq->last_modified = t == (time_t)-1 ? -1 : (int64_t)t;
	} else if (g_str_has_prefix(text, "etag:")) {
		header_etag(rq, line + 5, len - 5);
	} else if (g_str_has_prefix(text, "server:")) {
		header_copy(rq->server, sizeof(rq->server), line + 7, len - 7);
	} else if (g_str_has_prefix(text, "lock-token:")) {
		header_copy(rq->lock_token, sizeof(rq->lock_token), line + 11,
			    len - 11);
	} else if (g_str_has_prefix(text, "www-authenticate:") &&
		   strstr(text, "digest")) {
		rq->digest_challenge = true;
	}
	g_free(text);
	return len;
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

/* Is the answer another version than the one asked for? */
static bool answer_replaced(const struct request *rq, long status)
{
	g_autofree char *stamp = NULL;

	if (!rq->expect_etag)
		return false;
	if (!g_str_has_prefix(rq->expect_etag, STAMP_PREFIX))
		return rq->etag[0] && strcmp(rq->etag, rq->expect_etag) != 0;
	if (rq->total_size < 0)
		return false; /* it does not tell */
	if (rq->last_modified < 0) { /* the size alone */
		g_autofree char *size = g_strdup_printf("-%" PRId64 "\"",
							rq->total_size);

		return !g_str_has_suffix(rq->expect_etag, size);
	}
	stamp = stamp_of(rq->last_modified, (uint64_t)rq->total_size);
	return strcmp(stamp, rq->expect_etag) != 0;
}

/* First bytes of a 200/206 answer to a GET: where do they start? */
static int get_start(struct request *rq, long status)
{
	rq->started = true;
	if (answer_replaced(rq, status))
		return -ESTALE; /* replaced since it was listed */
	if (status == 200) {
		rq->skip = rq->offset; /* the server ignored Range */
		return 0;
	}
	rq->skip = 0;
	if (rq->range_start != (int64_t)rq->offset) {
		backend_failed("webdav: GET %s: asked for bytes from %" PRIu64
			  ", got a range from %" PRId64,
			  rq->target, rq->offset, rq->range_start);
		return -EIO;
	}
	return 0;
}

static size_t get_write(struct request *rq, const char *p, size_t len)
{
	long status = 0;
	size_t drop, give;
	int err;

	curl_easy_getinfo(rq->handle, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 && status != 206) {
		if (rq->body->len < MAX_ERROR_BODY)
			g_string_append_len(rq->body, p, (gssize)len);
		return len;
	}
	err = rq->started ? 0 : get_start(rq, status);
	if (err) {
		rq->local_err = err;
		return 0;
	}
	drop = (size_t)MIN((uint64_t)len, rq->skip);
	rq->skip -= drop;
	give = (size_t)MIN((uint64_t)(len - drop), rq->remaining);
	err = give ? rq->sink(rq->ctx, p + drop, give) : 0;
	if (err) {
		rq->local_err = err;
		return 0;
	}
	rq->offset += give;
	if (rq->remaining != UINT64_MAX)
		rq->remaining -= give;
	if (rq->remaining == 0 && (status == 200 || drop + give < len)) {
		rq->done = true; /* stop a server sending too much */
		return 0;
	}
	return len;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct request *rq = arg;
	size_t len = size * nmemb;

	if (rq->op == OP_GET)
		return get_write(rq, p, len);
	if (!rq->post) { /* an error page or a bodiless answer */
		if (rq->body->len < MAX_ERROR_BODY)
			g_string_append_len(rq->body, p, (gssize)len);
		return len;
	}
	if (rq->body->len + len > MAX_PROPFIND) {
		backend_failed("webdav: PROPFIND %s: the answer is larger than "
			  "%d MiB",
			  rq->target, MAX_PROPFIND >> 20);
		rq->local_err = -EIO;
		return 0;
	}
	g_string_append_len(rq->body, p, (gssize)len);
	return len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct request *rq = arg;
	size_t want =
	    (size_t)MIN((uint64_t)(size * nitems), rq->size - rq->sent);
	ssize_t got;

	if (want == 0)
		return 0;
	if (rq->fd < 0) {
		memcpy(buf, (const char *)rq->data + rq->sent, want);
		rq->sent += want;
		return want;
	}
	do
		got = pread(rq->fd, buf, want, (off_t)rq->sent);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		rq->local_err = got < 0 ? -errno : -EIO;
		backend_failed("webdav: PUT %s: reading the local file at %" PRIu64
			  ": %s",
			  rq->target, rq->sent,
			  got < 0 ? g_strerror(errno) : "it got shorter");
		return CURL_READFUNC_ABORT;
	}
	rq->sent += (uint64_t)got;
	return (size_t)got;
}

static int seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct request *rq = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > rq->size)
		return CURL_SEEKFUNC_CANTSEEK;
	rq->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- handles and requests ---- */

/* The pool's setup: the options every request shares. */
static void setup_handle(CURL *h, void *arg)
{
	const struct webdav *wd = arg;

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "relayfs/" RELAYFS_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, wd->connect_timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, wd->io_timeout);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)BUFFER_SIZE);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)BUFFER_SIZE);
	curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (wd->user)
		curl_easy_setopt(h, CURLOPT_USERNAME, wd->user);
	if (wd->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, wd->password);
	if (wd->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, wd->cacert);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, wd->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, wd->insecure ? 0L : 2L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
}

/* The server path of a relay path: collections get a trailing '/'. */
static char *target_of(const struct webdav *wd, const char *path,
		       bool collection)
{
	char *enc, *target;

	if (!*path)
		return g_strconcat(wd->base_path, "/", NULL);
	enc = http_encode_path(path);
	target =
	    g_strconcat(wd->base_path, "/", enc, collection ? "/" : "", NULL);
	g_free(enc);
	return target;
}

static void request_init(struct request *rq, struct webdav *wd, enum op op,
			 const char *method, const char *path, bool collection)
{
	memset(rq, 0, sizeof(*rq));
	rq->wd = wd;
	rq->op = op;
	rq->method = method;
	rq->fd = -1;
	rq->target = target_of(wd, path, collection);
	rq->url = g_strconcat(wd->origin, rq->target, NULL);
	rq->body = g_string_new(NULL);
	rq->remaining = UINT64_MAX;
	/* no "Expect: 100-continue" round trip before a body */
	rq->headers = curl_slist_append(NULL, "Expect:");
}

static void request_clear(struct request *rq)
{
	curl_slist_free_all(rq->headers);
	g_string_free(rq->body, TRUE);
	g_free(rq->url);
	g_free(rq->target);
}

static void add_header(struct request *rq, const char *header)
{
	rq->headers = curl_slist_append(rq->headers, header);
}

/* Sets what differs between requests; every such option, every time. */
static void prepare(CURL *h, struct request *rq, const char *range)
{
	rq->used_digest = atomic_load(&rq->wd->digest) != 0;
	curl_easy_setopt(h, CURLOPT_URL, rq->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, rq->errbuf);
	curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, rq->upload ? 1L : 0L);
	if (rq->upload)
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)rq->size);
	if (rq->post) { /* after UPLOAD, which resets the method */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(rq->post));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->post);
	}
	/* GET and PUT (UPLOAD) are curl's own; the others are named */
	if (strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "PUT") == 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, rq->headers);
	curl_easy_setopt(h, CURLOPT_RANGE, range);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH,
			 rq->used_digest ? CURLAUTH_DIGEST : CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rq);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
	curl_easy_setopt(h, CURLOPT_READDATA, rq);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, rq);
}

/* "bytes=A-B" for what a GET still wants, or NULL for all of it. */
static char *range_of(const struct request *rq)
{
	if (rq->op != OP_GET ||
	    (rq->offset == 0 && rq->remaining == UINT64_MAX))
		return NULL;
	if (rq->remaining == UINT64_MAX ||
	    rq->remaining - 1 > UINT64_MAX - 1 - rq->offset)
		return g_strdup_printf("%" PRIu64 "-", rq->offset);
	return g_strdup_printf("%" PRIu64 "-%" PRIu64, rq->offset,
			       rq->offset + rq->remaining - 1);
}

/* The handle goes back to the pool pointing at nothing of rq's (which
 * lives on a stack): curl may still write an error while it closes a
 * connection later, even from curl_easy_cleanup. */
static void forget_request(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_READDATA, NULL);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, NULL);
}

static int attempt(struct request *rq)
{
	CURL *h = http_pool_acquire(rq->wd->pool);
	char *range = range_of(rq);

	if (!h) {
		g_free(range);
		backend_failed("webdav: %s %s: libcurl cannot make a handle",
			  rq->method, rq->target);
		return -ENOMEM;
	}
	rq->handle = h;
	rq->sent = 0;
	rq->started = false;
	rq->status = 0;
	rq->reason[0] = rq->errbuf[0] = '\0';
	rq->range_start = -1;
	g_string_truncate(rq->body, 0);
	prepare(h, rq, range);
	rq->code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
	rq->handle = NULL;
	forget_request(h);
	http_pool_release(rq->wd->pool, h);
	g_free(range);
	return 0;
}

static bool connect_failed(CURLcode code)
{
	return code == CURLE_COULDNT_CONNECT ||
	       code == CURLE_COULDNT_RESOLVE_HOST ||
	       code == CURLE_COULDNT_RESOLVE_PROXY;
}

/* May the request be sent again after this answer? A create_excl or a
 * MOVE only when it surely never reached the server. */
static bool retryable(const struct request *rq)
{
	/* a repeated conditional PUT would find its own change: -ESTALE */
	bool idempotent = rq->op != OP_CREATE && rq->op != OP_RENAME &&
			  rq->op != OP_PUT_IF && rq->op != OP_MUTEX &&
			  rq->op != OP_MUTEX_LOCK && rq->op != OP_PROBE &&
			  rq->op != OP_MUTEX_REMOVE && rq->op != OP_REMOVE_ONCE;

	if (rq->local_err || rq->done)
		return false;
	/* 423: rclone serve locks a path for the time of each request on
	 * it, so a PUT just after another client's DELETE may find it */
	if (rq->code == CURLE_OK)
		return idempotent &&
		       ((rq->status >= 500 && rq->status != 501 &&
			 rq->status != 505 && rq->status != 507) ||
			rq->status == 423);
	if (connect_failed(rq->code))
		return true;
	return idempotent &&
	       (rq->code == CURLE_SEND_ERROR || rq->code == CURLE_RECV_ERROR ||
		rq->code == CURLE_GOT_NOTHING ||
		rq->code == CURLE_PARTIAL_FILE || rq->code == CURLE_HTTP2 ||
		rq->code == CURLE_HTTP2_STREAM ||
		rq->code == CURLE_SSL_CONNECT_ERROR);
}

/* Sends rq, again after a Digest challenge and (backing off) after
 * transient failures; returns 0 or the errno the answer maps to. */
static int perform(struct request *rq)
{
	unsigned delay = BACKOFF_MS;

	for (int n = 1;; n++) {
		int err = attempt(rq);
		char *words;

		if (err)
			return err;
		if (rq->status == 401 && rq->digest_challenge &&
		    !rq->used_digest && !rq->local_err) {
			atomic_store(&rq->wd->digest, 1);
			n--;
			continue;
		}
		if (n >= MAX_ATTEMPTS || !retryable(rq))
			break;
		words = describe(rq);
		g_message("webdav: %s %s: %s; trying again in %u ms",
			  rq->method, rq->target, words, delay);
		g_free(words);
		g_usleep(delay * 1000UL);
		delay *= 4;
		if (!connect_failed(rq->code))
			rq->maybe_done = true;
	}
	return map_result(rq);
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
		size_t len = strlen(*p);
		char *dec = decode ? http_decode(*p, len, &len) : g_strdup(*p);

		if (!dec) {
			g_ptr_array_free(segs, TRUE);
			segs = NULL;
			break;
		}
		if (len)
			g_ptr_array_add(segs, g_bytes_new_take(dec, len));
		else
			g_free(dec);
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
static int propfind(struct webdav *wd, enum op op, const char *path, int depth,
		    const char *body, GPtrArray *out, char **server)
{
	struct request rq;
	char *why = NULL;
	int err;

	request_init(&rq, wd, op, "PROPFIND", path, false);
	add_header(&rq, depth ? "Depth: 1" : "Depth: 0");
	add_header(&rq, "Content-Type: application/xml; charset=utf-8");
	rq.post = body;
	err = perform(&rq);
	if (server)
		*server = g_strdup(rq.server);
	if (!err && rq.status != 207)
		err = report(&rq, -EIO,
			     "not a WebDAV answer "
			     "(expected 207 Multi-Status)");
	if (!err)
		err = webdav_parse_multistatus(rq.body->str, rq.body->len, out,
					       &why);
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
	return r->is_dir ? NULL : stamp_of(r->mtime, r->size);
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
		rq.sink = sink;
		rq.ctx = ctx;
		/* a version check only where GET tells the listed ETag, or
		 * the mtime and size a stamp was made of */
		if (etag && (wd->facts.etags_stable ||
			     g_str_has_prefix(etag, STAMP_PREFIX)))
			rq.expect_etag = g_str_has_prefix(etag, "W/") ?
					 etag + 2 : etag;
		rq.offset = offset;
		rq.remaining = length;
		err = perform(&rq);
		if (err != -EACCES || rq.started || tries == RACED_TRIES)
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
	rq.upload = true;
	rq.fd = fd;
	rq.data = data;
	rq.size = size;
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
	rq.post = webdav_lockinfo_body;
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
	*status = rq.status;
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
	g_autofree char *token = NULL;
	g_autofree char *if_token = NULL, *lock_token = NULL;
	int err, unlock_err;

	if (etag)
		return simple(wd, OP_MUTEX_REMOVE, "DELETE", path, false, NULL);
	g_mutex_lock(&wd->tokens_mutex);
	g_hash_table_steal_extended(wd->lock_tokens, path, NULL,
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
		rq.upload = true;
		rq.data = body;
		rq.size = strlen(body);
	} else {
		rq.post = body;
	}
	err = perform(&rq);
	ans->status = rq.status;
	g_strlcpy(ans->etag, rq.etag, sizeof(ans->etag));
	g_strlcpy(ans->lock_token, rq.lock_token, sizeof(ans->lock_token));
	if (ans->body)
		g_string_append_len(ans->body, rq.body->str,
				    (gssize)rq.body->len);
	request_clear(&rq);
	return err;
}

static unsigned webdav_caps_of(void *state)
{
	const struct webdav *wd = state;
	unsigned caps = BACKEND_CAN_RENAME;

	if (wd->mutex_step != WEBDAV_MUTEX_NONE)
		caps |= BACKEND_EXCLUSIVE_MUTEX;
	if (wd->facts.lists_dotfiles)
		caps |= BACKEND_LISTS_DOTFILES;
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
			return err;
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
	http_pool_free(wd->pool);
	if (wd->lock_tokens)
		g_hash_table_destroy(wd->lock_tokens);
	g_mutex_clear(&wd->tokens_mutex);
	g_free(wd->server);
	if (wd->password)
		explicit_bzero(wd->password, strlen(wd->password));
	g_free(wd->password);
	g_free(wd->user);
	g_free(wd->cacert);
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
		e = http_encode_path(s);
		g_string_append_printf(enc, "/%s", e);
		g_free(e);
	}
	wd->base_path = g_string_free(enc, FALSE);
	return err;
}

/* Credentials in the URL count when the options give none. */
static void take_url_credentials(struct webdav *wd, CURLU *u)
{
	char *user = NULL, *password = NULL;

	if (!wd->user &&
	    curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) == 0)
		wd->user = g_strdup(user);
	if (!wd->password && curl_url_get(u, CURLUPART_PASSWORD, &password,
					  CURLU_URLDECODE) == 0) {
		wd->password = g_strdup(password);
		explicit_bzero(password, strlen(password));
	}
	curl_free(user);
	curl_free(password);
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
	take_url_credentials(wd, u);
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
	int err = http_global_init();

	if (err) {
		g_warning("webdav: libcurl cannot be initialised");
		return err;
	}
	wd = g_new0(struct webdav, 1);
	wd->user = g_strdup(opt->user);
	wd->password = g_strdup(opt->password);
	wd->cacert = g_strdup(opt->cacert);
	wd->insecure = opt->insecure;
	wd->connect_timeout = opt->connect_timeout ? opt->connect_timeout : 10;
	wd->io_timeout = opt->io_timeout ? opt->io_timeout : 30;
	g_mutex_init(&wd->tokens_mutex);
	wd->lock_tokens = g_hash_table_new_full(g_str_hash, g_str_equal,
						g_free, g_free);
	err = parse_url(wd, opt->url);
	if (!err) {
		wd->pool = http_pool_new(opt->transfers ? opt->transfers : 4,
					 setup_handle, wd);
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
    .remove = webdav_remove,
    .remove_once = webdav_remove_once,
    .rename = webdav_rename,
    .mkdir = webdav_mkdir,
    .mutex_create = webdav_mutex_create,
    .rmdir = webdav_rmdir,
    .mutex_remove = webdav_mutex_remove,
    .statfs = webdav_statfs,
};
