/* The WebDAV backend against a real Apache mod_dav (started by
 * tests/integration/servers.py): an integration test of the backend. */
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

/* ---- Apache through servers.py ---- */

struct apache {
	GPid pid;
	int in_fd;
	char *root, *url, *cacert, *log, *connlog;
	char *facts; /* the facts file its opens share */
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
	a->facts = g_strconcat(a->root, ".facts", NULL);
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
	g_unlink(a->facts);
	g_free(a->facts);
	g_free(a->root);
	g_free(a->url);
	g_free(a->cacert);
	g_free(a->log);
	g_free(a->connlog);
	g_free(a);
}

static void log_clear(struct apache *a);

/* Open once with opt, so that the probe's requests are over before a test
 * counts requests: opt shares a's facts file from now on. */
static void learn(struct apache *a, struct backend_options *opt)
{
	opt->facts_file = a->facts;
	backend_webdav.close(open_ok(opt));
	log_clear(a);
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

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same, in any order: Apache logs a request after its answer went
 * out, so a client's next request on another connection may be logged
 * first. */
static void assert_requests_unordered(struct apache *a, ...)
{
	char **lines = log_read(a->log);
	GPtrArray *want = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *got = g_ptr_array_new_with_free_func(g_free);
	const char *w;
	va_list ap;

	va_start(ap, a);
	while ((w = va_arg(ap, const char *)))
		g_ptr_array_add(want, g_strdup(w));
	va_end(ap);
	for (char **l = lines; *l; l++) {
		char *line = g_strdup(*l);
		char *sp = strrchr(line, ' ');

		if (sp)
			*sp = '\0'; /* drop %B */
		g_ptr_array_add(got, line);
	}
	g_strfreev(lines);
	qsort(want->pdata, want->len, sizeof(char *), compare_strings);
	qsort(got->pdata, got->len, sizeof(char *), compare_strings);
	g_assert_cmpuint(got->len, ==, want->len);
	for (guint i = 0; i < want->len; i++)
		g_assert_cmpstr(got->pdata[i], ==, want->pdata[i]);
	g_ptr_array_free(want, TRUE);
	g_ptr_array_free(got, TRUE);
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
static char *plain_facts;     /* what the probe found Apache does */

static void *open_plain(void)
{
	struct backend_options opt = {.url = plain->url, .transfers = 4,
				      .facts_file = plain_facts};
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
	struct backend_options opt = {.url = plain->url,
				      .facts_file = plain_facts};
	char *url = g_strdup_printf("webdav%s/", plain->url + 4);
	void *st = NULL;
	char **lines;
	GDir *dir;
	const char *name;

	/* the first open probes: MKCOL refused on an existing folder, so
	 * the mutex is MKCOL's; the probe's folder is gone again */
	g_unlink(plain_facts);
	log_clear(plain);
	st = open_ok(&opt);
	g_assert_cmpuint(backend_webdav.caps_of(st), ==,
			 BACKEND_CAN_RENAME | BACKEND_EXCLUSIVE_MUTEX |
			 BACKEND_LISTS_DOTFILES | BACKEND_CAN_STREAM);
	lines = log_read(plain->log);
	g_assert_true(g_str_has_prefix(lines[0], "PROPFIND /dav/ 207"));
	g_assert_true(g_str_has_prefix(lines[1], "MKCOL /dav/.relayfs-probe-"));
	g_assert_cmpuint(g_strv_length(lines), >=, 10);
	g_strfreev(lines);
	dir = g_dir_open(plain->root, 0, NULL);
	while ((name = g_dir_read_name(dir)))
		g_assert_false(g_str_has_prefix(name, ".relayfs-probe-"));
	g_dir_close(dir);
	backend_webdav.close(st);
	g_assert_true(g_file_test(plain_facts, G_FILE_TEST_EXISTS));
	log_clear(plain);
	st = open_ok(&opt); /* known: one PROPFIND Depth: 0 on the root */
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
	struct backend_options opt = {.url = plain->url, .transfers = 3,
				      .facts_file = plain_facts};
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
	void *st;
	char *url;

	learn(a, &opt);
	st = open_ok(&opt);

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
	assert_requests_unordered(a, "PROPFIND /dav/ 401", "PROPFIND /dav/ 401",
				  "PROPFIND /dav/ 401", "PROPFIND /dav/ 207",
				  NULL);
	apache_stop(a);
	assert_no_warnings();
}

static void test_digest_auth(void)
{
	struct apache *a = apache_start(FALSE, "bob", "pw", TRUE);
	struct backend_options opt = {
	    .url = a->url, .user = "bob", .password = "pw", .transfers = 1};
	void *st;

	learn(a, &opt);
	st = open_ok(&opt);

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
	learn(a, &opt);
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

int main(int argc, char **argv)
{
	int ret;

	g_test_init(&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_default_handler(log_handler, NULL);
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	signal(SIGPIPE, SIG_IGN);

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
	plain_facts = g_strdup_printf("%s/relayfs-facts-%d.ini",
				      g_get_tmp_dir(), (int)getpid());
	ret = g_test_run();
	g_unlink(plain_facts);
	g_free(plain_facts);
	apache_stop(plain);
	g_ptr_array_free(warnings, TRUE);
	return ret;
}
