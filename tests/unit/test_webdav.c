/* Tests of the WebDAV backend against a real Apache mod_dav (started by
 * tests/integration/servers.py) and a hostile fake server in a thread. */
#include "relay/backend.h"
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

/* ---- captured log ---- */

static GMutex log_lock;
static GPtrArray *warnings; /* of char *, since the last check */

static void log_handler(const char *domain, GLogLevelFlags level,
			const char *msg, gpointer unused)
{
	if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) {
		g_mutex_lock(&log_lock);
		g_ptr_array_add(warnings, g_strdup(msg));
		g_mutex_unlock(&log_lock);
	}
	if (g_test_verbose() ||
	    (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)))
		g_printerr("[log] %s\n", msg);
}

/* Removes the first captured warning holding each needle, in order. */
static void assert_warned(const char *needle)
{
	bool found = false;

	g_mutex_lock(&log_lock);
	for (unsigned i = 0; i < warnings->len && !found; i++) {
		if (strstr(warnings->pdata[i], needle)) {
			g_ptr_array_remove_index(warnings, i);
			found = true;
		}
	}
	g_mutex_unlock(&log_lock);
	if (!found)
		g_error("no warning holding \"%s\"", needle);
}

static void assert_no_warnings(void)
{
	g_mutex_lock(&log_lock);
	for (unsigned i = 0; i < warnings->len; i++)
		g_printerr("unexpected warning: %s\n",
			   (char *)warnings->pdata[i]);
	g_assert_cmpuint(warnings->len, ==, 0);
	g_mutex_unlock(&log_lock);
}

/* ---- helpers ---- */

static void entry_free(gpointer p)
{
	struct backend_entry *e = p;

	g_free(e->name);
	g_free(e->etag);
	g_free(e);
}

static int sink_append(void *ctx, const void *data, size_t len)
{
	g_byte_array_append(ctx, data, (guint)len);
	return 0;
}

static GByteArray *fetch(void *st, const char *path, uint64_t off, uint64_t len,
			 int *err)
{
	GByteArray *got = g_byte_array_new();

	*err = backend_webdav.get(st, path, off, len, NULL, sink_append,
				  got);
	return got;
}

static void assert_get(void *st, const char *path, uint64_t off, uint64_t len,
		       const void *want, size_t want_len)
{
	int err;
	GByteArray *got = fetch(st, path, off, len, &err);

	g_assert_cmpint(err, ==, 0);
	g_assert_cmpmem(got->data, got->len, want, want_len);
	g_byte_array_unref(got);
}

static GPtrArray *list(void *st, const char *dir, int want_err)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func(entry_free);

	g_assert_cmpint(backend_webdav.list(st, dir, entries), ==, want_err);
	return entries;
}

static const struct backend_entry *find(GPtrArray *entries, const char *name)
{
	for (unsigned i = 0; i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];

		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

static void *open_ok(struct backend_options *opt)
{
	void *st = NULL;

	g_assert_cmpint(backend_webdav.open(opt, &st), ==, 0);
	g_assert_nonnull(st);
	return st;
}

static int remove_cb(const char *path, const struct stat *sb, int flag,
		     struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path, gsize *len)
{
	char *data = NULL;

	if (!g_file_get_contents(path, &data, len, NULL))
		return NULL;
	return data;
}

/* ---- Apache through servers.py ---- */

struct apache {
	GPid pid;
	int in_fd;
	char *root, *url, *cacert, *log, *connlog;
};

static char *source_root(void)
{
	const char *env = g_getenv("RELAYFS_SOURCE");
	char *a, *b, *c;

	if (env)
		return g_strdup(env);
	a = g_path_get_dirname(__FILE__); /* tests/unit */
	b = g_path_get_dirname(a);
	c = g_path_get_dirname(b);
	g_free(a);
	g_free(b);
	return c;
}

static void apache_read_info(struct apache *a, int out_fd)
{
	FILE *out = fdopen(out_fd, "r");
	char line[4096];

	g_assert_nonnull(out);
	while (fgets(line, sizeof(line), out)) {
		g_strchomp(line);
		if (strcmp(line, "ready") == 0)
			break;
		if (g_str_has_prefix(line, "url="))
			a->url = g_strdup(line + 4);
		else if (g_str_has_prefix(line, "cacert="))
			a->cacert = g_strdup(line + 7);
		else if (g_str_has_prefix(line, "log="))
			a->log = g_strdup(line + 4);
		else if (g_str_has_prefix(line, "connlog="))
			a->connlog = g_strdup(line + 8);
	}
	fclose(out);
	if (!a->url || !a->log)
		g_error("servers.py did not start Apache");
}

static struct apache *apache_start(gboolean tls, const char *user,
				   const char *password, gboolean digest)
{
	struct apache *a = g_new0(struct apache, 1);
	char *src = source_root();
	char *script =
	    g_build_filename(src, "tests", "integration", "servers.py", NULL);
	GPtrArray *argv = g_ptr_array_new();
	GError *error = NULL;
	int out_fd;

	a->root = g_dir_make_tmp("relayfs-webdav-XXXXXX", NULL);
	g_ptr_array_add(argv, (char *)"/usr/bin/python3");
	g_ptr_array_add(argv, script);
	g_ptr_array_add(argv, (char *)"serve");
	g_ptr_array_add(argv, a->root);
	g_ptr_array_add(argv, (char *)"--watch-stdin");
	if (tls)
		g_ptr_array_add(argv, (char *)"--tls");
	if (digest)
		g_ptr_array_add(argv, (char *)"--digest");
	if (user) {
		g_ptr_array_add(argv, (char *)"--user");
		g_ptr_array_add(argv, (char *)user);
		g_ptr_array_add(argv, (char *)"--password");
		g_ptr_array_add(argv, (char *)password);
	}
	g_ptr_array_add(argv, NULL);
	if (!g_spawn_async_with_pipes(
		NULL, (char **)argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
		NULL, NULL, &a->pid, &a->in_fd, &out_fd, NULL, &error))
		g_error("cannot run servers.py: %s", error->message);
	apache_read_info(a, out_fd);
	g_ptr_array_free(argv, TRUE);
	g_free(script);
	g_free(src);
	return a;
}

static void apache_stop(struct apache *a)
{
	int status;

	close(a->in_fd); /* servers.py stops Apache at EOF */
	waitpid(a->pid, &status, 0);
	g_spawn_close_pid(a->pid);
	rm_rf(a->root);
	g_free(a->root);
	g_free(a->url);
	g_free(a->cacert);
	g_free(a->log);
	g_free(a->connlog);
	g_free(a);
}

/* The lines of an Apache log, once it has stopped growing (Apache logs
 * a request just after answering it). */
static char **log_read(const char *path)
{
	char *text = NULL;
	gsize len = 0, last = (gsize)-1;
	char **lines;

	for (int quiet = 0; quiet < 5;) {
		g_free(text);
		text = slurp(path, &len);
		quiet = len == last ? quiet + 1 : 0;
		last = len;
		g_usleep(10000);
	}
	g_strchomp(text);
	lines = *text ? g_strsplit(text, "\n", -1) : g_new0(char *, 1);
	g_free(text);
	return lines;
}

static void log_clear(struct apache *a)
{
	g_strfreev(log_read(a->log));
	g_assert_cmpint(truncate(a->log, 0), ==, 0);
	g_assert_cmpint(truncate(a->connlog, 0), ==, 0);
}

/* Asserts the access log holds exactly the requests given ("METHOD PATH
 * STATUS", NULL-terminated), then clears it. */
static void assert_requests(struct apache *a, ...)
{
	char **lines = log_read(a->log);
	va_list ap;

	if (g_test_verbose())
		for (char **l = lines; *l; l++)
			g_printerr("[access] %s\n", *l);
	unsigned n = 0;
	const char *want;

	va_start(ap, a);
	while ((want = va_arg(ap, const char *))) {
		char *line = lines[n] ? g_strdup(lines[n]) : NULL;
		char *sp = line ? strrchr(line, ' ') : NULL;

		if (sp)
			*sp = '\0'; /* drop %B */
		g_assert_cmpstr(line, ==, want);
		g_free(line);
		n++;
	}
	va_end(ap);
	if (lines[n])
		g_error("unexpected request: %s", lines[n]);
	g_strfreev(lines);
	log_clear(a);
}

static unsigned count_lines(const char *path)
{
	char **lines = log_read(path);
	unsigned n = g_strv_length(lines);

	g_strfreev(lines);
	return n;
}

/* New TCP connections since the log was cleared (%k == 0). */
static unsigned new_connections(struct apache *a)
{
	char **lines = log_read(a->connlog);
	unsigned n = 0;

	for (char **l = lines; *l; l++)
		n += g_str_has_prefix(*l, "0 ");
	g_strfreev(lines);
	return n;
}

static struct apache *plain; /* shared by the tests without TLS/auth */

static void *open_plain(void)
{
	struct backend_options opt = {.url = plain->url, .transfers = 4};
	void *st = open_ok(&opt);

	log_clear(plain);
	return st;
}

static char *on_disk(const char *name)
{
	return g_build_filename(plain->root, name, NULL);
}

/* ---- tests against Apache ---- */

static void test_open(void)
{
	struct backend_options opt = {.url = plain->url};
	char *url = g_strdup_printf("webdav%s/", plain->url + 4);
	void *st = NULL;

	g_assert_cmpint(backend_webdav.caps, ==,
			BACKEND_CAN_RENAME | BACKEND_EXCLUSIVE_MUTEX);
	log_clear(plain);
	st = open_ok(&opt); /* one PROPFIND Depth: 0 on the root */
	assert_requests(plain, "PROPFIND /dav/ 207", NULL);
	backend_webdav.close(st);

	opt.url = url; /* webdav:// and a trailing '/' */
	st = open_ok(&opt);
	backend_webdav.close(st);
	g_free(url);

	url = g_strconcat(plain->url, "/missing", NULL);
	opt.url = url;
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -ENOENT);
	assert_warned("/dav/missing: 404 Not Found; no such collection");
	g_free(url);

	opt.url = "ftp://127.0.0.1/x";
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EINVAL);
	assert_warned("not a webdav://");
	url = g_strconcat(plain->url, "?q=1", NULL);
	opt.url = url;
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EINVAL);
	assert_warned("plain path");
	g_free(url);
	log_clear(plain);
	assert_no_warnings();
}

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

static void test_files(void)
{
	void *st = open_plain();
	struct backend_entry e = {0};
	char *path, *disk;
	gsize len;

	g_assert_cmpint(
	    backend_webdav.put_data(st, "hello.txt", "hello world", 11), ==, 0);
	assert_requests(plain, "PUT /dav/hello.txt 201", NULL);
	g_assert_cmpint(
	    backend_webdav.put_data(st, "hello.txt", "Hello world!", 12), ==,
	    0);
	assert_requests(plain, "PUT /dav/hello.txt 204", NULL);
	g_assert_cmpint(backend_webdav.stat(st, "hello.txt", &e), ==, 0);
	g_assert_cmpstr(e.name, ==, "hello.txt");
	g_assert_false(e.is_dir);
	g_assert_cmpuint(e.size, ==, 12);
	g_assert_cmpint(e.mtime, >, g_get_real_time() / G_USEC_PER_SEC - 60);
	g_assert_nonnull(e.etag);
	g_assert_false(g_str_has_prefix(e.etag, "W/"));
	g_free(e.name);
	g_free(e.etag);
	assert_requests(plain, "PROPFIND /dav/hello.txt 207", NULL);

	assert_get(st, "hello.txt", 0, UINT64_MAX, "Hello world!", 12);
	assert_get(st, "hello.txt", 6, 5, "world", 5);
	assert_get(st, "hello.txt", 6, UINT64_MAX, "world!", 6);
	assert_get(st, "hello.txt", 10, 100, "d!", 2);
	assert_get(st, "hello.txt", 12, 10, "", 0); /* 416: at the end */
	assert_get(st, "hello.txt", 3, 0, "", 0);   /* no request */
	assert_requests(plain, "GET /dav/hello.txt 200",
			"GET /dav/hello.txt 206", "GET /dav/hello.txt 206",
			"GET /dav/hello.txt 206", "GET /dav/hello.txt 416",
			NULL);

	path = on_disk("hello.txt");
	disk = slurp(path, &len);
	g_assert_cmpmem(disk, len, "Hello world!", 12);
	g_free(disk);
	g_free(path);
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_missing(void)
{
	void *st = open_plain();
	struct backend_entry e = {0};
	GByteArray *got;
	int err;

	g_assert_cmpint(backend_webdav.put_data(st, "hello.txt", "x", 1), ==,
			0);
	log_clear(plain);
	g_assert_cmpint(backend_webdav.remove(st, "hello.txt"), ==, 0);
	g_assert_cmpint(backend_webdav.remove(st, "hello.txt"), ==, -ENOENT);
	g_assert_cmpint(backend_webdav.stat(st, "hello.txt", &e), ==, -ENOENT);
	assert_requests(plain, "DELETE /dav/hello.txt 204",
			"DELETE /dav/hello.txt 404",
			"PROPFIND /dav/hello.txt 404", NULL);
	got = fetch(st, "hello.txt", 0, UINT64_MAX, &err);
	g_assert_cmpint(err, ==, -ENOENT);
	g_assert_cmpuint(got->len, ==, 0);
	g_byte_array_unref(got);
	assert_requests(plain, "GET /dav/hello.txt 404", NULL);
	backend_webdav.close(st);
	assert_no_warnings();
}

/* A temporary file of size pseudo-random bytes; its content in *data. */
static int temp_file(size_t size, guint8 **data)
{
	char *path = NULL;
	int fd = g_file_open_tmp("relayfs-put-XXXXXX", &path, NULL);
	GRand *rand = g_rand_new_with_seed(42);

	g_assert_cmpint(fd, >=, 0);
	*data = g_malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		(*data)[i] = (guint8)g_rand_int(rand);
	g_assert_cmpint(write(fd, *data, size), ==, (ssize_t)size);
	g_unlink(path);
	g_free(path);
	g_rand_free(rand);
	return fd;
}

static void test_put_fd(void)
{
	void *st = open_plain();
	const size_t size = 3 * 1024 * 1024 + 17;
	guint8 *data;
	int fd = temp_file(size, &data);
	char *path = on_disk("big.bin");
	gsize len;
	char *disk;

	/* the fd's offset must not matter: put reads with pread */
	lseek(fd, 5, SEEK_SET);
	g_assert_cmpint(backend_webdav.put(st, "big.bin", fd, size), ==, 0);
	assert_requests(plain, "PUT /dav/big.bin 201", NULL);
	disk = slurp(path, &len);
	g_assert_cmpmem(disk, len, data, size);
	g_free(disk);
	assert_get(st, "big.bin", 1000000, 1500000, data + 1000000, 1500000);
	assert_get(st, "big.bin", size - 10, UINT64_MAX, data + size - 10, 10);
	assert_requests(plain, "GET /dav/big.bin 206", "GET /dav/big.bin 206",
			NULL);

	/* a file shorter than announced fails cleanly */
	g_assert_cmpint(backend_webdav.put(st, "short.bin", fd, size + 100), ==,
			-EIO);
	assert_warned("it got shorter");
	log_clear(plain);
	/* an empty file */
	g_assert_cmpint(backend_webdav.put(st, "empty", fd, 0), ==, 0);
	assert_get(st, "empty", 0, UINT64_MAX, "", 0);
	assert_requests(plain, "PUT /dav/empty 201", "GET /dav/empty 200",
			NULL);
	close(fd);
	g_free(data);
	g_free(path);
	backend_webdav.remove(st, "big.bin");
	backend_webdav.remove(st, "short.bin");
	backend_webdav.remove(st, "empty");
	backend_webdav.close(st);
	assert_no_warnings();
}

/* The mutex folder: MKCOL only when absent, DELETE only of the version
 * that stat showed. */
static void test_mutex_folder(void)
{
	void *st = open_plain();
	struct backend_entry e = { 0 };

	g_assert_cmpint(backend_webdav.mutex_create(st, ".m.mutex"), ==, 0);
	g_assert_cmpint(backend_webdav.mutex_create(st, ".m.mutex"), ==,
			-EEXIST);
	g_assert_cmpint(backend_webdav.mutex_create(st, "nodir/.m.mutex"), ==,
			-ENOENT);
	/* Apache's ETags are weak for a second, and a weak one never
	 * satisfies If-Match; a mutex is broken only long after that */
	g_usleep(1100 * 1000);
	g_assert_cmpint(backend_webdav.stat(st, ".m.mutex", &e), ==, 0);
	g_assert_true(e.is_dir);
	g_assert_nonnull(e.etag);
	g_assert_cmpint(backend_webdav.mutex_remove(st, ".m.mutex", "\"other\""),
			==, -ESTALE);
	g_assert_cmpint(backend_webdav.mutex_remove(st, ".m.mutex", e.etag), ==,
			0);
	g_assert_cmpint(backend_webdav.mutex_remove(st, ".m.mutex", NULL), ==,
			-ENOENT);
	backend_entry_clear(&e);
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_create_excl(void)
{
	void *st = open_plain();
	char *disk, *path = on_disk(".x.lock");

	g_assert_cmpint(
	    backend_webdav.create_excl(st, ".x.lock", "lock%1.0\n", 9), ==, 0);
	g_assert_cmpint(backend_webdav.create_excl(st, ".x.lock", "other\n", 6),
			==, -EEXIST);
	assert_requests(plain, "PUT /dav/.x.lock 201", "PUT /dav/.x.lock 412",
			NULL);
	disk = slurp(path, NULL);
	g_assert_cmpstr(disk, ==, "lock%1.0\n");
	g_free(disk);
	g_assert_cmpint(backend_webdav.create_excl(st, "nodir/.x.lock", "a", 1),
			==, -ENOENT);
	g_assert_cmpint(backend_webdav.put_data(st, "nodir/x", "a", 1), ==,
			-ENOENT);
	assert_requests(plain, "PUT /dav/nodir/.x.lock 409",
			"PUT /dav/nodir/x 409", NULL);
	g_assert_cmpint(backend_webdav.remove(st, ".x.lock"), ==, 0);
	g_free(path);
	backend_webdav.close(st);
	assert_no_warnings();
}

/* put_data_if: If-Match against Apache's ETags */
static void test_put_if(void)
{
	struct utimbuf old = {.actime = 1000000000, .modtime = 1000000000};
	struct backend_entry e = {0};
	char *path, *disk, *etag;
	void *st;

	if (!backend_webdav.put_data_if) {
		g_test_skip("no put_data_if");
		return;
	}
	st = open_plain();
	path = on_disk("ph");

	/* a file older than a second has a strong ETag */
	g_assert_true(g_file_set_contents(path, "v1", 2, NULL));
	g_assert_cmpint(utime(path, &old), ==, 0);
	g_assert_cmpint(backend_webdav.stat(st, "ph", &e), ==, 0);
	etag = e.etag;
	g_free(e.name);
	g_assert_cmpint(backend_webdav.put_data_if(st, "ph", "v2", 2, etag), ==,
			0);
	/* now the version has changed (and its ETag is weak) */
	g_assert_cmpint(backend_webdav.put_data_if(st, "ph", "v3", 2, etag), ==,
			-ESTALE);
	g_assert_cmpint(backend_webdav.put_data_if(st, "nope", "v", 1, etag),
			==, -ESTALE);
	assert_requests(plain, "PROPFIND /dav/ph 207", "PUT /dav/ph 204",
			"PUT /dav/ph 412", "PUT /dav/nope 412", NULL);
	disk = slurp(path, NULL);
	g_assert_cmpstr(disk, ==, "v2");
	g_free(disk);
	g_free(etag);
	g_free(path);
	backend_webdav.remove(st, "ph");
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_rename(void)
{
	void *st = open_plain();
	char *disk, *path = on_disk("b");

	backend_webdav.put_data(st, "a", "AAA", 3);
	backend_webdav.put_data(st, "b", "BB", 2);
	log_clear(plain);
	g_assert_cmpint(backend_webdav.rename(st, "a", "b"), ==, 0);
	assert_requests(plain, "MOVE /dav/a 204", NULL);
	disk = slurp(path, NULL);
	g_assert_cmpstr(disk, ==, "AAA");
	g_free(disk);
	g_assert_cmpint(backend_webdav.rename(st, "b", "c d"), ==, 0);
	assert_requests(plain, "MOVE /dav/b 201", NULL);
	g_assert_cmpint(backend_webdav.rename(st, "b", "e"), ==, -ENOENT);
	assert_requests(plain, "MOVE /dav/b 404", NULL);
	/* Apache answers 500, not 409, to a MOVE into a missing folder */
	g_assert_cmpint(backend_webdav.rename(st, "c d", "no/e"), ==, -EIO);
	assert_warned("webdav: MOVE /dav/c%20d: 500 Internal Server Error");
	assert_requests(plain, "MOVE /dav/c d 500", NULL);
	backend_webdav.remove(st, "c d");
	g_free(path);
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_dirs(void)
{
	void *st = open_plain();
	GPtrArray *entries;
	const struct backend_entry *e;

	g_assert_cmpint(backend_webdav.mkdir(st, "d"), ==, 0);
	g_assert_cmpint(backend_webdav.mkdir(st, "d"), ==, -EEXIST);
	g_assert_cmpint(backend_webdav.mkdir(st, "x/y"), ==, -ENOENT);
	assert_requests(plain, "MKCOL /dav/d/ 201", "MKCOL /dav/d/ 405",
			"MKCOL /dav/x/y/ 409", NULL);
	g_assert_cmpint(backend_webdav.mkdir(st, "d/sub"), ==, 0);
	g_assert_cmpint(backend_webdav.put_data(st, "d/f", "12345", 5), ==, 0);
	log_clear(plain);

	entries = list(st, "d", 0);
	assert_requests(plain, "PROPFIND /dav/d 207", NULL);
	g_assert_cmpuint(entries->len, ==, 2);
	e = find(entries, "f");
	g_assert_true(e && !e->is_dir && e->size == 5 && e->etag && e->mtime);
	e = find(entries, "sub");
	g_assert_true(e && e->is_dir);
	g_ptr_array_unref(entries);
	g_ptr_array_unref(list(st, "d/f", -ENOTDIR));
	g_ptr_array_unref(list(st, "nope", -ENOENT));
	assert_requests(plain, "PROPFIND /dav/d/f 207",
			"PROPFIND /dav/nope 404", NULL);
	entries = list(st, "", 0);
	g_assert_nonnull(find(entries, "d"));
	g_ptr_array_unref(entries);
	assert_requests(plain, "PROPFIND /dav/ 207", NULL);

	g_assert_cmpint(backend_webdav.rmdir(st, "d"), ==, -ENOTEMPTY);
	g_assert_cmpint(backend_webdav.rmdir(st, "d/f"), ==, -ENOTDIR);
	g_assert_cmpint(backend_webdav.rmdir(st, "d/nope"), ==, -ENOENT);
	g_assert_cmpint(backend_webdav.rmdir(st, "d/sub"), ==, 0);
	assert_requests(plain, "PROPFIND /dav/d 207", "PROPFIND /dav/d/f 207",
			"PROPFIND /dav/d/nope 404", "PROPFIND /dav/d/sub 207",
			"DELETE /dav/d/sub/ 204", NULL);
	g_assert_cmpint(backend_webdav.remove(st, "d/f"), ==, 0);
	g_assert_cmpint(backend_webdav.rmdir(st, "d"), ==, 0);
	log_clear(plain);
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_statfs_apache(void)
{
	void *st = open_plain();
	struct statvfs sv;

	/* Apache's mod_dav_fs reports no RFC 4331 quota */
	g_assert_cmpint(backend_webdav.statfs(st, &sv), ==, -ENOSYS);
	assert_requests(plain, "PROPFIND /dav/ 207", NULL);
	backend_webdav.close(st);
	assert_no_warnings();
}

static const char *const odd_names[] = {"with space",
					"per%cent",
					"hash#tag",
					"what?",
					"plus+sign",
					"a&b",
					"\"quoted\"",
					"it's",
					"caf\xc3\xa9 \xe2\x82\xac \xe6\x97\xa5",
					"semi;colon=eq",
					"[brackets]",
					"~tilde",
					"back\\slash",
					"%2F",
					"%00",
					" lead and trail ",
					NULL};

static void test_names(void)
{
	void *st = open_plain();
	GPtrArray *entries;

	g_assert_cmpint(backend_webdav.mkdir(st, "dir \xc3\xa9#?"), ==, 0);
	for (const char *const *n = odd_names; *n; n++) {
		char *path = g_strconcat("dir \xc3\xa9#?/", *n, NULL);
		char *disk_path =
		    g_build_filename(plain->root, "dir \xc3\xa9#?", *n, NULL);
		char *disk;

		g_assert_cmpint(
		    backend_webdav.put_data(st, path, *n, strlen(*n)), ==, 0);
		disk = slurp(disk_path, NULL);
		g_assert_cmpstr(disk, ==, *n); /* the very name on disk */
		assert_get(st, path, 0, UINT64_MAX, *n, strlen(*n));
		g_free(disk);
		g_free(disk_path);
		g_free(path);
	}
	log_clear(plain);
	entries = list(st, "dir \xc3\xa9#?", 0);
	g_assert_cmpuint(entries->len, ==, g_strv_length((char **)odd_names));
	for (const char *const *n = odd_names; *n; n++)
		g_assert_nonnull(find(entries, *n));
	g_ptr_array_unref(entries);
	g_assert_cmpint(backend_webdav.rename(st, "dir \xc3\xa9#?/a&b",
					      "dir \xc3\xa9#?/c&d \xc3\xa9"),
			==, 0);
	g_assert_true(g_file_test(plain->root, G_FILE_TEST_IS_DIR));
	assert_requests(plain, "PROPFIND /dav/dir \\xc3\\xa9#? 207",
			"MOVE /dav/dir \\xc3\\xa9#?/a&b 201", NULL);
	for (const char *const *n = odd_names; *n; n++) {
		char *path =
		    g_strconcat("dir \xc3\xa9#?/",
				strcmp(*n, "a&b") ? *n : "c&d \xc3\xa9", NULL);

		g_assert_cmpint(backend_webdav.remove(st, path), ==, 0);
		g_free(path);
	}
	g_assert_cmpint(backend_webdav.rmdir(st, "dir \xc3\xa9#?"), ==, 0);
	backend_webdav.close(st);
	assert_no_warnings();
}

static void test_keepalive(void)
{
	void *st = open_plain();
	guint8 *data;
	int fd = temp_file(100000, &data);

	/* the log was cleared after open's PROPFIND */
	g_assert_cmpint(backend_webdav.put(st, "ka", fd, 100000), ==, 0);
	for (int i = 0; i < 5; i++)
		assert_get(st, "ka", (uint64_t)i * 1000, 1000, data + i * 1000,
			   1000);
	g_ptr_array_unref(list(st, "", 0));
	g_assert_cmpint(backend_webdav.remove(st, "ka"), ==, 0);
	g_assert_cmpuint(count_lines(plain->log), ==, 8);
	g_assert_cmpuint(new_connections(plain), ==, 0);
	log_clear(plain);
	close(fd);
	g_free(data);
	backend_webdav.close(st);
	assert_no_warnings();
}

struct worker {
	void *st;
	int index, rounds;
	int err;
};

static gpointer worker_run(gpointer arg)
{
	struct worker *w = arg;
	char *path = g_strdup_printf("t/%d", w->index);
	char *body = g_strdup_printf("content of %d", w->index);

	for (int i = 0; i < w->rounds && !w->err; i++) {
		GByteArray *got;

		w->err =
		    backend_webdav.put_data(w->st, path, body, strlen(body));
		got =
		    w->err ? NULL : fetch(w->st, path, 0, UINT64_MAX, &w->err);
		if (got && got->len != strlen(body))
			w->err = -EBADMSG;
		if (got)
			g_byte_array_unref(got);
	}
	g_free(body);
	g_free(path);
	return NULL;
}

/* n threads each putting and getting their file t/INDEX rounds times */
static void run_workers(void *st, int n, int rounds)
{
	struct worker w[8];
	GThread *t[8];

	g_assert_cmpint(n, <=, 8);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){.st = st, .index = i, .rounds = rounds};
		t[i] = g_thread_new("worker", worker_run, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		g_thread_join(t[i]);
		g_assert_cmpint(w[i].err, ==, 0);
	}
}

static void test_threads(void)
{
	struct backend_options opt = {.url = plain->url, .transfers = 3};
	void *st = open_ok(&opt);

	g_assert_cmpint(backend_webdav.mkdir(st, "t"), ==, 0);
	log_clear(plain);
	run_workers(st, 8, 20);
	g_assert_cmpuint(count_lines(plain->log), ==, 8 * 40);
	/* at most transfers handles, one connection each */
	g_assert_cmpuint(new_connections(plain), <=, 3);
	for (int i = 0; i < 8; i++) {
		char *path = g_strdup_printf("t/%d", i);

		backend_webdav.remove(st, path);
		g_free(path);
	}
	backend_webdav.rmdir(st, "t");
	backend_webdav.close(st);
	log_clear(plain);
	assert_no_warnings();
}

static void test_basic_auth(void)
{
	struct apache *a = apache_start(FALSE, "alice", "s3cret pass", FALSE);
	struct backend_options opt = {
	    .url = a->url, .user = "alice", .password = "s3cret pass"};
	void *st = open_ok(&opt);
	char *url;

	g_assert_cmpint(backend_webdav.put_data(st, "f", "x", 1), ==, 0);
	assert_get(st, "f", 0, UINT64_MAX, "x", 1);
	g_ptr_array_unref(list(st, "", 0));
	/* basic is sent at once: no 401 round trip, one request a call */
	assert_requests(a, "PROPFIND /dav/ 207", "PUT /dav/f 201",
			"GET /dav/f 200", "PROPFIND /dav/ 207", NULL);
	backend_webdav.close(st);

	opt.password = "wrong-password";
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EACCES);
	assert_warned("401 Unauthorized; the server refused the credentials");
	opt.user = NULL;
	opt.password = NULL;
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EACCES);
	assert_warned("the server wants credentials");
	/* credentials in the URL work and never show */
	url = g_strdup_printf("http://alice:wrong-password@%s", a->url + 7);
	opt.url = url;
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EACCES);
	g_mutex_lock(&log_lock);
	for (unsigned i = 0; i < warnings->len; i++)
		g_assert_null(strstr(warnings->pdata[i], "wrong-password"));
	g_mutex_unlock(&log_lock);
	assert_warned("refused the credentials");
	g_free(url);
	url = g_strdup_printf("http://alice:s3cret%%20pass@%s", a->url + 7);
	opt.url = url;
	st = open_ok(&opt);
	backend_webdav.close(st);
	g_free(url);
	assert_requests(a, "PROPFIND /dav/ 401", "PROPFIND /dav/ 401",
			"PROPFIND /dav/ 401", "PROPFIND /dav/ 207", NULL);
	apache_stop(a);
	assert_no_warnings();
}

static void test_digest_auth(void)
{
	struct apache *a = apache_start(FALSE, "bob", "pw", TRUE);
	struct backend_options opt = {
	    .url = a->url, .user = "bob", .password = "pw", .transfers = 1};
	void *st = open_ok(&opt);

	g_assert_cmpint(backend_webdav.put_data(st, "f", "xyz", 3), ==, 0);
	assert_get(st, "f", 1, 1, "y", 1);
	assert_get(st, "f", 0, UINT64_MAX, "xyz", 3);
	/* basic first: its 401 carries the Digest challenge, whose nonce
	 * curl keeps for the next requests on the handle */
	assert_requests(a, "PROPFIND /dav/ 401", "PROPFIND /dav/ 207",
			"PUT /dav/f 201", "GET /dav/f 206", "GET /dav/f 200",
			NULL);
	backend_webdav.close(st);
	opt.password = "bad";
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EACCES);
	assert_warned("refused the credentials");
	opt.password = "pw";
	opt.transfers = 3;
	st = open_ok(&opt);
	g_assert_cmpint(backend_webdav.mkdir(st, "t"), ==, 0);
	log_clear(a);
	run_workers(st, 4, 5);
	/* each new handle meets one 401 before it has a nonce */
	g_assert_cmpuint(count_lines(a->log), <=, 4 * 5 * 2 + 2);
	backend_webdav.close(st);
	apache_stop(a);
	assert_no_warnings();
}

static void test_tls(void)
{
	struct apache *a = apache_start(TRUE, NULL, NULL, FALSE);
	struct backend_options opt = {.url = a->url, .cacert = a->cacert};
	char *url = g_strdup_printf("webdavs://%s", a->url + 8);
	void *st;

	opt.url = url;
	st = open_ok(&opt);
	g_assert_cmpint(backend_webdav.put_data(st, "s", "secure", 6), ==, 0);
	assert_get(st, "s", 0, UINT64_MAX, "secure", 6);
	backend_webdav.close(st);

	opt.cacert = NULL;
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EIO);
	assert_warned("SSL certificate problem: self-signed certificate; "
		      "use cacert=FILE or insecure");
	opt.insecure = true;
	st = open_ok(&opt);
	backend_webdav.close(st);
	opt.insecure = false;
	opt.cacert = "/nonexistent/ca.pem";
	g_assert_cmpint(backend_webdav.open(&opt, &st), ==, -EIO);
	assert_warned("cacert=");
	g_free(url);
	apache_stop(a);
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
	struct backend_options opt = {.url = url, .io_timeout = io_timeout};
	void *st = open_ok(&opt);

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
	GPtrArray *entries = list(st, "", 0);
	const struct backend_entry *e;
	static const char *const skipped[] = {
	    "a%2Fb\": its name holds a '/'",
	    "nul%00x\": its name holds a NUL byte",
	    "/dav/.\": its name is . or ..",
	    "/dav/..\": its name is . or ..",
	    "/dav/%2E%2E\": its name is . or ..",
	    "evil.example.com/dav/evil\": it is not a URL on this server",
	    "127.0.0.1:1/dav/evilport\": it is not a URL on this server",
	    "/other/x\": it is outside the collection",
	    "/dav/sub/deep\": it is outside the collection",
	    "line%0Abreak\": its name holds a control character",
	    "line\\nraw\": its name holds a control character",
	    "bad%FFutf8\": its name is not valid UTF-8",
	    "bad%zz\": it has a malformed %-escape",
	    "\"relative\": it is not a URL on this server",
	    "good%20one\": it is listed twice",
	};

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
	int ret;

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
	g_test_add_func("/webdav/apache/open", test_open);
	g_test_add_func("/webdav/apache/files", test_files);
	g_test_add_func("/webdav/apache/missing", test_missing);
	g_test_add_func("/webdav/apache/put-fd", test_put_fd);
	g_test_add_func("/webdav/apache/create-excl", test_create_excl);
	g_test_add_func("/webdav/apache/mutex-folder", test_mutex_folder);
	g_test_add_func("/webdav/apache/rename", test_rename);
	g_test_add_func("/webdav/apache/put-if", test_put_if);
	g_test_add_func("/webdav/apache/dirs", test_dirs);
	g_test_add_func("/webdav/apache/statfs", test_statfs_apache);
	g_test_add_func("/webdav/apache/names", test_names);
	g_test_add_func("/webdav/apache/keepalive", test_keepalive);
	g_test_add_func("/webdav/apache/threads", test_threads);
	g_test_add_func("/webdav/apache/basic-auth", test_basic_auth);
	g_test_add_func("/webdav/apache/digest-auth", test_digest_auth);
	g_test_add_func("/webdav/apache/tls", test_tls);

	plain = apache_start(FALSE, NULL, NULL, FALSE);
	ret = g_test_run();
	apache_stop(plain);
	g_ptr_array_free(warnings, TRUE);
	return ret;
}
