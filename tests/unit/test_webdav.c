/* Unit tests of the WebDAV backend: a fake, hostile server in a thread,
 * the multistatus parser alone, and a server nobody runs. */
#include "tests/support/backend_test.h"
#include "relay/backends/webdav_xml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utime.h>

static void test_unreachable(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t salen = sizeof(sa);
	struct backend_options opt = {0};
	char *url;
	void *st = NULL;
	gint64 t0;

	/* a port nobody listens on */
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &salen);
	close(fd);
	url = g_strdup_printf("webdav://127.0.0.1:%d/dav", ntohs(sa.sin_port));
	opt.url = url;
	t0 = g_get_monotonic_time();
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EIO);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
	assert_warned("webdav: http://127.0.0.1:");
	g_free(url);
	assert_no_warnings();
}


/* ---- a fake, hostile server in a thread ---- */

/* Answers one request: a whole HTTP response, or NULL to stall (say
 * nothing until the client hangs up). */
typedef GString *(*respond_fn)(int port, const char *method, const char *path,
			       const char *head);

struct fake {
	int fd, port;
	GThread *thread;
	gint stop;
	respond_fn respond;
	GMutex lock;
	GPtrArray *heads; /* the request heads received */
};

static GString *reply(int status, const char *reason, const char *headers,
		      const char *body, size_t body_len)
{
	GString *r = g_string_new(NULL);

	g_string_printf(r,
			"HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n%s\r\n",
			status, reason, body_len, headers ? headers : "");
	g_string_append_len(r, body, (gssize)body_len);
	return r;
}

/* Reads one request head (and drops its body); NULL at EOF. */
static char *read_request(int fd)
{
	GString *in = g_string_new(NULL);
	char buf[4096], *end, *cl;
	long body;

	for (;;) {
		ssize_t n;

		end = strstr(in->str, "\r\n\r\n");
		if (end)
			break;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0) {
			g_string_free(in, TRUE);
			return NULL;
		}
		g_string_append_len(in, buf, n);
	}
	cl = strcasestr(in->str, "\r\nContent-Length:");
	body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
	body -= (long)(in->len - (size_t)(end + 4 - in->str));
	while (body > 0) {
		ssize_t n = recv(fd, buf, MIN(sizeof(buf), (size_t)body), 0);

		if (n <= 0)
			break;
		body -= n;
	}
	g_string_truncate(in, (gsize)(end - in->str));
	return g_string_free(in, FALSE);
}

static void serve_one(struct fake *f, int fd)
{
	char *head = read_request(fd);
	char method[16] = "", path[2048] = "";
	GString *r;
	char c;

	if (!head)
		return;
	sscanf(head, "%15s %2047s", method, path);
	g_mutex_lock(&f->lock);
	g_ptr_array_add(f->heads, g_strdup(head));
	g_mutex_unlock(&f->lock);
	r = f->respond(f->port, method, path, head);
	if (r)
		send(fd, r->str, r->len, MSG_NOSIGNAL);
	else
		while (recv(fd, &c, 1, 0) > 0)
			; /* stall until the client gives up */
	if (r)
		g_string_free(r, TRUE);
	g_free(head);
}

static gpointer fake_run(gpointer arg)
{
	struct fake *f = arg;

	while (!g_atomic_int_get(&f->stop)) {
		struct pollfd p = {.fd = f->fd, .events = POLLIN};
		int c;

		if (poll(&p, 1, 50) <= 0)
			continue;
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		serve_one(f, c);
		close(c);
	}
	return NULL;
}

static struct fake *fake_start(respond_fn respond)
{
	struct fake *f = g_new0(struct fake, 1);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	f->fd = socket(AF_INET, SOCK_STREAM, 0);
	g_assert_cmpint(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
	g_assert_cmpint(listen(f->fd, 16), ==, 0);
	getsockname(f->fd, (struct sockaddr *)&sa, &len);
	f->port = ntohs(sa.sin_port);
	f->respond = respond;
	f->heads = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&f->lock);
	f->thread = g_thread_new("fake-dav", fake_run, f);
	return f;
}

static void fake_stop(struct fake *f)
{
	g_atomic_int_set(&f->stop, 1);
	g_thread_join(f->thread);
	close(f->fd);
	g_ptr_array_free(f->heads, TRUE);
	g_mutex_clear(&f->lock);
	g_free(f);
}

/* The request heads received so far (then forgotten). */
static GPtrArray *fake_heads(struct fake *f)
{
	GPtrArray *heads;

	g_mutex_lock(&f->lock);
	heads = f->heads;
	f->heads = g_ptr_array_new_with_free_func(g_free);
	g_mutex_unlock(&f->lock);
	return heads;
}

static void *fake_open(struct fake *f, unsigned io_timeout)
{
	char *url = g_strdup_printf("webdav://127.0.0.1:%d/dav", f->port);
	g_autofree char *http = g_strdup_printf("http://127.0.0.1:%d/dav",
						f->port);
	/* the fake does as Apache does: no probe */
	g_autofree char *facts = facts_file_like_apache(http, "");
	struct backend_options opt = {.url = url, .io_timeout = io_timeout,
				      .facts_file = facts};
	void *st = open_ok(&opt);

	g_unlink(facts);
	g_free(url);
	g_ptr_array_unref(fake_heads(f));
	return st;
}

#define MS_HEAD                                                                \
	"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"                         \
	"<D:multistatus xmlns:D=\"DAV:\">\n"
#define MS_TAIL "</D:multistatus>\n"
#define MS_DIR(href)                                                           \
	"<D:response><D:href>" href "</D:href><D:propstat><D:prop>"            \
	"<D:resourcetype><D:collection/></D:resourcetype></D:prop>"            \
	"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n"
#define MS_FILE(href, size)                                                    \
	"<D:response><D:href>" href "</D:href><D:propstat><D:prop>"            \
	"<D:resourcetype/><D:getcontentlength>" size                           \
	"</D:getcontentlength><D:getetag>\"e1\"</D:getetag>"                   \
	"<D:getlastmodified>Wed, 25 Nov 2026 20:06:06 GMT"                     \
	"</D:getlastmodified></D:prop>"                                        \
	"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\n"

static GString *multistatus(const char *body)
{
	return reply(207, "Multi-Status",
		     "Content-Type: application/xml; charset=utf-8\r\n", body,
		     strlen(body));
}

static GString *respond_hostile(int port, const char *method, const char *path,
				const char *head)
{
	char *abs_good = g_strdup_printf(
	    MS_FILE("http://127.0.0.1:%d/dav/good-abs", "2"), port);
	char *body = g_strconcat(
	    MS_HEAD, MS_DIR("/dav/"), MS_FILE("/dav/good%20one", "5"), abs_good,
	    MS_DIR("/dav/sub/"), MS_FILE("/dav/a%2Fb", "1"),
	    MS_FILE("/dav/nul%00x", "1"), MS_DIR("/dav/."), MS_DIR("/dav/.."),
	    MS_FILE("/dav/%2E%2E", "1"),
	    MS_FILE("http://evil.example.com/dav/evil", "1"),
	    MS_FILE("http://127.0.0.1:1/dav/evilport", "1"),
	    MS_FILE("/other/x", "1"), MS_FILE("/dav/sub/deep", "1"),
	    MS_FILE("/dav/line%0Abreak", "1"), MS_FILE("/dav/line\nraw", "1"),
	    MS_FILE("/dav/bad%FFutf8", "1"), MS_FILE("/dav/bad%zz", "1"),
	    MS_FILE("relative", "1"), MS_FILE("/dav/good%20one", "5"), MS_TAIL,
	    NULL);
	GString *r = multistatus(body);

	g_free(body);
	g_free(abs_good);
	return r;
}

static void test_hostile_listing(void)
{
	struct fake *f = fake_start(respond_hostile);
	void *st = fake_open(f, 0);
	struct backend b = {.ops = &backend_webdav, .state = st};
	GPtrArray *entries = NULL;
	const struct backend_entry *e;
	/* the backend's, about hrefs; then the dispatcher's, about names */
	static const char *const skipped[] = {
	    "nul%00x\": its name holds a NUL byte",
	    "/dav/%2E%2E\": it is listed twice", /* ".." already */
	    "evil.example.com/dav/evil\": it is not a URL on this server",
	    "127.0.0.1:1/dav/evilport\": it is not a URL on this server",
	    "/other/x\": it is outside the collection",
	    "/dav/sub/deep\": it is outside the collection",
	    "bad%zz\": it has a malformed %-escape",
	    "\"relative\": it is not a URL on this server",
	    "good%20one\": it is listed twice",
	    "webdav: listing of '': skipping \"line\\nraw\": it holds a "
	    "control character",
	    "skipping \"line\\nbreak\": it holds a control character",
	    "skipping \"bad\\377utf8\": it is not valid UTF-8",
	    "skipping \"..\": it is . or ..",
	    "skipping \".\": it is . or ..",
	    "skipping \"a/b\": it holds a '/'",
	};

	g_assert_cmpint(backend_list(&b, "", &entries), ==, 0);
	g_assert_cmpuint(entries->len, ==, 3);
	e = find(entries, "good one");
	g_assert_true(e && !e->is_dir && e->size == 5);
	g_assert_cmpstr(e->etag, ==, "\"e1\"");
	g_assert_cmpint(e->mtime, ==, 1795637166);
	g_assert_nonnull(find(entries, "good-abs"));
	e = find(entries, "sub");
	g_assert_true(e && e->is_dir);
	g_ptr_array_unref(entries);
	for (size_t i = 0; i < G_N_ELEMENTS(skipped); i++)
		assert_warned(skipped[i]);
	assert_no_warnings();
	backend_webdav.close(st);
	fake_stop(f);
}

/* The server's answers by path, for the error and protocol tests. */
static gint flaky_count;

static GString *respond_errors(int port, const char *method, const char *path,
			       const char *head)
{
	static const char big[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	if (strcmp(method, "PROPFIND") == 0 && strcmp(path, "/dav/") == 0 &&
	    strstr(head, "Depth: 0"))
		return multistatus(
		    MS_HEAD
		    "<D:response><D:href>/dav/</D:href><D:propstat>"
		    "<D:prop><D:resourcetype><D:collection/>"
		    "</D:resourcetype><D:quota-available-bytes>40960"
		    "</D:quota-available-bytes><D:quota-used-bytes>8192"
		    "</D:quota-used-bytes></D:prop><D:status>HTTP/1.1 200 "
		    "OK</D:status></D:propstat></D:response>" MS_TAIL);
	if (strcmp(path, "/dav/unavailable") == 0 ||
	    strcmp(path, "/dav/unavailable/") == 0)
		return reply(503, "Service Unavailable", NULL, "", 0);
	if (strcmp(path, "/dav/flaky") == 0 &&
	    g_atomic_int_add(&flaky_count, 1) == 0)
		return reply(502, "Bad Gateway", NULL, "", 0);
	if (strcmp(path, "/dav/full") == 0)
		return reply(507, "Insufficient Storage", NULL, "", 0);
	if (strcmp(path, "/dav/locked") == 0)
		return reply(423, "Locked", NULL, "", 0);
	if (strcmp(path, "/dav/precond") == 0)
		return reply(412, "Precondition Failed", NULL, "", 0);
	if (strcmp(path, "/dav/forbidden") == 0)
		return reply(403, "Forbidden", NULL, "", 0);
	if (strcmp(path, "/dav/moved") == 0)
		return reply(301, "Moved Permanently",
			     "Location: http://elsewhere/\r\n", "", 0);
	if (strcmp(path, "/dav/slow") == 0)
		return NULL;
	if (strcmp(path, "/dav/norange") == 0) /* ignores Range */
		return reply(200, "OK", NULL, big, strlen(big));
	if (strcmp(path, "/dav/notdav") == 0)
		return reply(200, "OK", NULL, "<html/>", 7);
	if (strcmp(path, "/dav/garbage") == 0)
		return multistatus("<D:multistatus xmlns:D=\"DAV:\"><D:resp");
	return reply(201, "Created", NULL, "", 0);
}

static int fetch_status(void *st, const char *path)
{
	int err;

	g_byte_array_unref(fetch(st, path, 0, UINT64_MAX, &err));
	return err;
}

static void test_retries(void)
{
	struct fake *f = fake_start(respond_errors);
	void *st = fake_open(f, 0);
	struct statvfs sv;
	GPtrArray *heads;

	g_assert_cmpint(backend_webdav.statfs(st, &sv), ==, 0);
	g_assert_cmpuint(sv.f_frsize * sv.f_bavail, ==, 40960);
	g_assert_cmpuint(sv.f_frsize * sv.f_blocks, ==, 40960 + 8192);
	heads = fake_heads(f);
	g_assert_cmpuint(heads->len, ==, 1);
	g_ptr_array_unref(heads);

	/* idempotent requests are tried 3 times, then EIO */
	g_assert_cmpint(fetch_status(st, "unavailable"), ==, -EIO);
	assert_warned("webdav: GET /dav/unavailable: 503 Service Unavailable");
	g_assert_cmpint(backend_webdav.put_data(st, "flaky", "x", 1), ==, 0);
	heads = fake_heads(f);
	g_assert_cmpuint(heads->len, ==, 3 + 2);
	g_ptr_array_unref(heads);
	/* a create_excl, a MOVE, a lock's DELETE or a mutex's MKCOL is
	 * never sent twice */
	g_assert_cmpint(backend_webdav.create_excl(st, "unavailable", "x", 1),
			==, -EIO);
	assert_warned("webdav: PUT /dav/unavailable: 503");
	g_assert_cmpint(backend_webdav.rename(st, "unavailable", "y"), ==,
			-EIO);
	assert_warned("webdav: MOVE /dav/unavailable: 503");
	g_assert_cmpint(backend_webdav.remove_once(st, "unavailable"), ==,
			-EIO);
	assert_warned("webdav: DELETE /dav/unavailable: 503");
	g_assert_cmpint(backend_webdav.mutex_create(st, "unavailable"), ==,
			-EIO);
	assert_warned("webdav: MKCOL /dav/unavailable/: 503");
	heads = fake_heads(f);
	g_assert_cmpuint(heads->len, ==, 4);
	g_ptr_array_unref(heads);
	assert_no_warnings();
	backend_webdav.close(st);
	fake_stop(f);
}

static void test_statuses(void)
{
	struct fake *f = fake_start(respond_errors);
	void *st = fake_open(f, 1);
	struct backend_entry e;
	gint64 t0;

	g_assert_cmpint(backend_webdav.put_data(st, "full", "x", 1), ==,
			-EDQUOT);
	assert_warned("507 Insufficient Storage; the server is out of space");
	g_assert_cmpint(backend_webdav.put_data(st, "locked", "x", 1), ==,
			-EBUSY);
	assert_warned("423 Locked");
	g_assert_cmpint(backend_webdav.put_data(st, "precond", "x", 1), ==,
			-EBUSY);
	assert_warned("412 Precondition Failed");
	g_assert_cmpint(backend_webdav.create_excl(st, "precond", "x", 1), ==,
			-EEXIST);
	g_assert_cmpint(backend_webdav.remove(st, "forbidden"), ==, -EACCES);
	assert_warned("403 Forbidden");
	g_assert_cmpint(fetch_status(st, "moved"), ==, -EIO);
	assert_warned("301 Moved Permanently");
	g_assert_cmpint(backend_webdav.stat(st, "notdav", &e), ==, -EIO);
	assert_warned("expected 207 Multi-Status");
	g_assert_cmpint(backend_webdav.stat(st, "garbage", &e), ==, -EIO);
	assert_warned("its answer is not XML");
	t0 = g_get_monotonic_time();
	g_assert_cmpint(fetch_status(st, "slow"), ==, -ETIMEDOUT);
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 4 * G_USEC_PER_SEC);
	assert_warned("webdav: GET /dav/slow: ");
	g_ptr_array_unref(fake_heads(f));
	assert_no_warnings();
	backend_webdav.close(st);
	fake_stop(f);
}

static void test_range_ignored(void)
{
	struct fake *f = fake_start(respond_errors);
	void *st = fake_open(f, 0);
	static const char big[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	assert_get(st, "norange", 10, 5, "abcde", 5);
	assert_get(st, "norange", 30, 100, "uvwxyz", 6);
	assert_get(st, "norange", 0, 3, "012", 3);
	assert_get(st, "norange", 1, UINT64_MAX, big + 1, strlen(big) - 1);
	assert_get(st, "norange", 100, 5, "", 0);
	g_ptr_array_unref(fake_heads(f));
	assert_no_warnings();
	backend_webdav.close(st);
	fake_stop(f);
}

static bool has_header(const char *head, const char *header)
{
	char *line = g_strconcat("\r\n", header, "\r\n", NULL);
	char *copy = g_strconcat(head, "\r\n", NULL);
	bool found = strstr(copy, line) != NULL;

	g_free(line);
	g_free(copy);
	return found;
}

/* What goes on the wire: encoded paths, headers, no Expect. */
static void test_wire(void)
{
	struct fake *f = fake_start(respond_errors);
	void *st = fake_open(f, 0);
	GPtrArray *h;
	char *dest = g_strdup_printf("Destination: http://127.0.0.1:%d/dav/"
				     "to%%20%%C3%%A9%%3F%%23%%25%%2B",
				     f->port);

	backend_webdav.put_data(st, "a b/c#d?e%f+g&h\"i'", "x", 1);
	backend_webdav.create_excl(st, ".l.lock", "x", 1);
	backend_webdav.rename(st, "from", "to \xc3\xa9?#%+");
	backend_webdav.mkdir(st, "new dir");
	h = fake_heads(f);
	g_assert_cmpuint(h->len, ==, 4);
	g_assert_true(g_str_has_prefix(
	    h->pdata[0],
	    "PUT /dav/a%20b/c%23d%3Fe%25f%2Bg%26h%22i%27 HTTP/1.1\r\n"));
	g_assert_true(has_header(h->pdata[0], "Content-Length: 1"));
	g_assert_null(strcasestr(h->pdata[0], "Expect:"));
	g_assert_null(strcasestr(h->pdata[0], "Authorization:"));
	g_assert_null(strcasestr(h->pdata[0], "If-None-Match"));
	g_assert_true(has_header(h->pdata[1], "If-None-Match: *"));
	g_assert_true(g_str_has_prefix(h->pdata[2], "MOVE /dav/from "));
	g_assert_true(has_header(h->pdata[2], dest));
	g_assert_true(has_header(h->pdata[2], "Overwrite: T"));
	g_assert_true(g_str_has_prefix(h->pdata[3], "MKCOL /dav/new%20dir/ "));
	g_ptr_array_unref(h);
	g_ptr_array_unref(list(st, "sub dir", -EIO)); /* not a multistatus */
	assert_warned("PROPFIND /dav/sub%20dir: 201 Created");
	h = fake_heads(f);
	g_assert_true(
	    g_str_has_prefix(h->pdata[0], "PROPFIND /dav/sub%20dir HTTP/1.1"));
	g_assert_true(has_header(h->pdata[0], "Depth: 1"));
	g_assert_true(has_header(h->pdata[0], "Content-Type: application/xml; "
					      "charset=utf-8"));
	g_ptr_array_unref(h);
	g_free(dest);
	assert_no_warnings();
	backend_webdav.close(st);
	fake_stop(f);
}

/* ---- the multistatus parser alone ---- */

static GPtrArray *parse(const char *xml, int want_err)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)webdav_resource_free);
	char *why = NULL;

	g_assert_cmpint(webdav_parse_multistatus(xml, strlen(xml), out, &why),
			==, want_err);
	g_assert_true((why != NULL) == (want_err != 0));
	g_free(why);
	return out;
}

static void test_xml_prefixes(void)
{
	static const char *const docs[] = {
	    /* Apache: lp1: declared on the response */
	    "<D:multistatus xmlns:D=\"DAV:\"><D:response xmlns:lp1=\"DAV:\">"
	    "<D:href>/x</D:href><D:propstat><D:prop><lp1:resourcetype/>"
	    "<lp1:getcontentlength>3</lp1:getcontentlength>"
	    "<lp1:getetag>W/\"3-abc\"</lp1:getetag></D:prop><D:status>"
	    "HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
	    "</D:multistatus>",
	    /* lower-case d: (Nextcloud/sabre) */
	    "<?xml version=\"1.0\"?><d:multistatus xmlns:d=\"DAV:\">"
	    "<d:response><d:href>/x</d:href><d:propstat><d:prop>"
	    "<d:getcontentlength>3</d:getcontentlength><d:getetag>"
	    "\"3-abc\"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK"
	    "</d:status></d:propstat></d:response></d:multistatus>",
	    /* a default namespace */
	    "<multistatus xmlns=\"DAV:\"><response><href> /x </href>"
	    "<propstat><prop><getcontentlength>3</getcontentlength>"
	    "<getetag>\"3-abc\"</getetag></prop><status>HTTP/1.1 200 OK"
	    "</status></propstat></response></multistatus>",
	    /* decoys in another namespace under the usual prefix */
	    "<D:multistatus xmlns:D=\"DAV:\" xmlns:X=\"urn:x\"><D:response>"
	    "<X:href>/wrong</X:href><D:href>/x</D:href><D:propstat>"
	    "<D:prop xmlns:D=\"urn:not-dav\"><D:getcontentlength>99"
	    "</D:getcontentlength></D:prop></D:propstat><D:propstat><D:prop>"
	    "<X:getcontentlength>98</X:getcontentlength><D:getcontentlength>"
	    "3</D:getcontentlength><D:getetag>\"3-abc\"</D:getetag></D:prop>"
	    "</D:propstat><D:propstat><D:prop><D:getcontentlength/><D:getetag/>"
	    "</D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"
	    "</D:response></D:multistatus>",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
		GPtrArray *out = parse(docs[i], 0);
		const struct webdav_resource *r;

		g_assert_cmpuint(out->len, ==, 1);
		r = out->pdata[0];
		g_assert_cmpstr(r->href, ==, "/x");
		g_assert_false(r->is_dir);
		g_assert_true(r->has_size);
		g_assert_cmpuint(r->size, ==, 3);
		g_assert_cmpstr(r->etag, ==, "\"3-abc\"");
		g_ptr_array_unref(out);
	}
}

static void test_xml_bad(void)
{
	GPtrArray *out;

	g_ptr_array_unref(parse("", -EIO));
	g_ptr_array_unref(parse("not xml", -EIO));
	g_ptr_array_unref(parse("<multistatus><response/></multistatus>",
				-EIO)); /* no DAV: namespace */
	g_ptr_array_unref(
	    parse("<D:multistatus xmlns:D=\"DAV:\"><D:response>", -EIO));
	/* an external entity is not loaded; a 404 response is dropped;
	 * a bad length is ignored */
	out = parse("<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY e SYSTEM "
		    "\"file:///etc/passwd\">]><D:multistatus xmlns:D=\"DAV:\">"
		    "<D:response><D:href>/a&e;</D:href><D:propstat><D:prop>"
		    "<D:getcontentlength>-1</D:getcontentlength></D:prop>"
		    "</D:propstat></D:response><D:response><D:href>/gone"
		    "</D:href><D:status>HTTP/1.1 404 Not Found</D:status>"
		    "</D:response><D:response/></D:multistatus>",
		    0);
	g_assert_cmpuint(out->len, ==, 1);
	g_assert_null(
	    strstr(((struct webdav_resource *)out->pdata[0])->href, "root:"));
	g_assert_false(((struct webdav_resource *)out->pdata[0])->has_size);
	g_ptr_array_unref(out);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_default_handler(log_handler, NULL);
	/* warnings are expected and checked (assert_warned); criticals
	 * still abort (g_test_log_set_fatal_handler is reset per test) */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	signal(SIGPIPE, SIG_IGN);

	g_test_add_func("/webdav/xml/prefixes", test_xml_prefixes);
	g_test_add_func("/webdav/xml/bad", test_xml_bad);
	g_test_add_func("/webdav/fake/hostile-listing", test_hostile_listing);
	g_test_add_func("/webdav/fake/retries", test_retries);
	g_test_add_func("/webdav/fake/statuses", test_statuses);
	g_test_add_func("/webdav/fake/range-ignored", test_range_ignored);
	g_test_add_func("/webdav/fake/wire", test_wire);
	g_test_add_func("/webdav/unreachable", test_unreachable);
	return g_test_run();
}
