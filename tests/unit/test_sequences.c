/* The protocol's sequences against an in-memory backend that records each
 * request: what is sent, in which order, and how many requests. */
#include "relay/relay.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct fake_file {
	GBytes *data;
	int64_t mtime;
	bool is_dir;
	unsigned version;	/* its ETag */
};

static unsigned fake_versions;

struct fake {
	GHashTable *files;	/* path -> struct fake_file * */
	GPtrArray *log;		/* "op path" */
	bool no_excl;
};

static struct fake *the_fake;
/* the requests that a push sends side by side take it */
static GMutex fake_mutex;

static void fake_file_free(gpointer p)
{
	struct fake_file *f = p;

	if (f->data)
		g_bytes_unref(f->data);
	g_free(f);
}

static void record(struct fake *fk, const char *op, const char *path)
{
	g_ptr_array_add(fk->log, g_strdup_printf("%s %s", op, path));
}

static void fake_set(struct fake *fk, const char *path, const void *data,
		     size_t len, int64_t mtime)
{
	struct fake_file *f = g_new0(struct fake_file, 1);

	f->data = g_bytes_new(data, len);
	f->version = ++fake_versions;
	f->mtime = mtime ? mtime : g_get_real_time() / G_USEC_PER_SEC;
	g_hash_table_replace(fk->files, g_strdup(path), f);
}

static int fake_open(const struct backend_options *opt, void **state)
{
	*state = the_fake;
	return 0;
}

static void fake_close(void *state)
{
}

static void fill(struct backend_entry *e, const char *name,
		 struct fake_file *f)
{
	e->name = g_strdup(name);
	e->is_dir = f->is_dir;
	e->size = f->data ? g_bytes_get_size(f->data) : 0;
	e->mtime = f->mtime;
	e->etag = g_strdup_printf("e%u", f->version);
}

static int fake_list(void *state, const char *dir, GPtrArray *entries)
{
	struct fake *fk = state;
	GHashTableIter it;
	gpointer key, value;
	size_t dl = strlen(dir);

	record(fk, "list", dir);
	g_hash_table_iter_init(&it, fk->files);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		const char *p = key;
		const char *rest = p + (dl ? dl + 1 : 0);

		if (dl && (strncmp(p, dir, dl) != 0 || p[dl] != '/'))
			continue;
		if (strchr(rest, '/'))
			continue;
		struct backend_entry *e = g_new0(struct backend_entry, 1);
		fill(e, rest, value);
		g_ptr_array_add(entries, e);
	}
	return 0;
}

static int fake_stat_alone(void *state, const char *path,
			   struct backend_entry *e)
{
	struct fake *fk = state;
	struct fake_file *f = g_hash_table_lookup(fk->files, path);

	record(fk, "stat", path);
	if (!f)
		return -ENOENT;
	fill(e, path, f);
	return 0;
}

/* The push sends the placeholder and the content side by side. */
static int fake_stat(void *state, const char *path, struct backend_entry *e)
{
	int ret;

	g_mutex_lock(&fake_mutex);
	ret = fake_stat_alone(state, path, e);
	g_mutex_unlock(&fake_mutex);
	return ret;
}

static int fake_get(void *state, const char *path, uint64_t offset,
		    uint64_t length, const char *etag, backend_sink_fn sink,
		    void *ctx)
{
	struct fake *fk = state;
	struct fake_file *f = g_hash_table_lookup(fk->files, path);
	gsize len;
	const char *data;

	record(fk, "get", path);
	if (!f || f->is_dir)
		return -ENOENT;
	data = g_bytes_get_data(f->data, &len);
	if (offset >= len)
		return 0;
	return sink(ctx, data + offset, MIN(length, len - offset));
}

static int fake_put_alone(void *state, const char *path, int fd,
			  uint64_t size)
{
	struct fake *fk = state;
	g_autofree char *buf = g_malloc(size + 1);

	record(fk, "put", path);
	g_assert_cmpint(pread(fd, buf, size, 0), ==, (ssize_t)size);
	fake_set(fk, path, buf, size, 0);
	return 0;
}

static int fake_put(void *state, const char *path, int fd, uint64_t size)
{
	int ret;

	g_mutex_lock(&fake_mutex);
	ret = fake_put_alone(state, path, fd, size);
	g_mutex_unlock(&fake_mutex);
	return ret;
}

static int fake_put_data_alone(void *state, const char *path, const void *data,
			       size_t len)
{
	record(state, "put", path);
	fake_set(state, path, data, len, 0);
	return 0;
}

static int fake_put_data(void *state, const char *path, const void *data,
			 size_t len)
{
	int ret;

	g_mutex_lock(&fake_mutex);
	ret = fake_put_data_alone(state, path, data, len);
	g_mutex_unlock(&fake_mutex);
	return ret;
}

static int fake_put_data_if(void *state, const char *path, const void *data,
			    size_t len, const char *etag)
{
	struct fake *fk = state;
	struct fake_file *f = g_hash_table_lookup(fk->files, path);
	g_autofree char *now = f ? g_strdup_printf("e%u", f->version) : NULL;

	record(fk, "put-if", path);
	if (g_strcmp0(now, etag) != 0)
		return -ESTALE;
	fake_set(fk, path, data, len, 0);
	return 0;
}

static int fake_create_excl(void *state, const char *path, const void *data,
			    size_t len)
{
	struct fake *fk = state;

	record(fk, "create", path);
	if (g_hash_table_contains(fk->files, path))
		return -EEXIST;
	fake_set(fk, path, data, len, 0);
	return 0;
}

static int fake_remove(void *state, const char *path)
{
	struct fake *fk = state;

	record(fk, "remove", path);
	return g_hash_table_remove(fk->files, path) ? 0 : -ENOENT;
}

static int fake_rename(void *state, const char *from, const char *to)
{
	struct fake *fk = state;
	gpointer key, value;

	record(fk, "rename", from);
	if (!g_hash_table_steal_extended(fk->files, from, &key, &value))
		return -ENOENT;
	g_free(key);
	g_hash_table_replace(fk->files, g_strdup(to), value);
	return 0;
}

static int fake_mkdir(void *state, const char *path)
{
	struct fake_file *f = g_new0(struct fake_file, 1);

	record(state, "mkdir", path);
	f->is_dir = true;
	g_hash_table_replace(((struct fake *)state)->files, g_strdup(path), f);
	return 0;
}

static int fake_rmdir(void *state, const char *path)
{
	record(state, "rmdir", path);
	return g_hash_table_remove(((struct fake *)state)->files, path) ?
		       0 : -ENOENT;
}

static const char *const fake_schemes[] = { "fake", NULL };

static struct backend_ops fake_ops = {
	.name = "fake",
	.schemes = fake_schemes,
	.caps = BACKEND_CAN_CREATE_EXCL | BACKEND_CAN_RENAME |
		BACKEND_LISTS_DOTFILES,
	.open = fake_open,
	.close = fake_close,
	.list = fake_list,
	.stat = fake_stat,
	.get = fake_get,
	.put = fake_put,
	.put_data = fake_put_data,
	.put_data_if = fake_put_data_if,
	.create_excl = fake_create_excl,
	.remove = fake_remove,
	.rename = fake_rename,
	.mkdir = fake_mkdir,
	.rmdir = fake_rmdir,
};

struct fixture {
	struct fake fake;
	struct relay *relay;
};

static struct relay *open_relay(struct fixture *fx, const char *client,
				unsigned pullers)
{
	struct backend_options opt = { .url = "fake://x" };
	struct relay_params params = {
		.client = client, .pullers = pullers, .lock_timeout = 3600,
		.lock_wait = 0, .transfers = 2,
	};
	struct backend *b;
	g_autofree char *message = NULL;

	fake_ops.create_excl = fx->fake.no_excl ? NULL : fake_create_excl;
	g_assert_cmpint(backend_open_ops(&fake_ops, &opt, &b, &message), ==,
			0);
	return relay_new(b, &params);
}

static void setup(struct fixture *fx, gconstpointer data)
{
	fx->fake.files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       fake_file_free);
	fx->fake.log = g_ptr_array_new_with_free_func(g_free);
	fx->fake.no_excl = data != NULL;
	the_fake = &fx->fake;
	fx->relay = open_relay(fx, "bob", 1);
}

static void teardown(struct fixture *fx, gconstpointer data)
{
	relay_free(fx->relay);
	g_hash_table_destroy(fx->fake.files);
	g_ptr_array_unref(fx->fake.log);
}

static gint compare_entries(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The log's entries [from, to) sent side by side: sorted, so that the
 * log reads the same whichever went first. */
static void sort_log(struct fixture *fx, guint from, guint to)
{
	g_assert_cmpuint(to, <=, fx->fake.log->len);
	qsort(fx->fake.log->pdata + from, to - from, sizeof(gpointer),
	      compare_entries);
}

/* The log joined by "; ", then cleared. */
static char *take_log(struct fixture *fx)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < fx->fake.log->len; i++)
		g_string_append_printf(s, "%s%s", i ? "; " : "",
				       (char *)fx->fake.log->pdata[i]);
	g_ptr_array_set_size(fx->fake.log, 0);
	return g_string_free(s, FALSE);
}

static char *content(struct fixture *fx, const char *path)
{
	struct fake_file *f = g_hash_table_lookup(fx->fake.files, path);
	gsize len;
	const char *data;

	if (!f)
		return NULL;
	data = g_bytes_get_data(f->data, &len);
	return g_strndup(data, len);
}

static int temp_with(const char *text)
{
	char tmpl[] = "/tmp/relayfs-test-XXXXXX";
	int fd = mkstemp(tmpl);

	unlink(tmpl);
	g_assert_cmpint(write(fd, text, strlen(text)), ==, strlen(text));
	return fd;
}

static void test_push(struct fixture *fx, gconstpointer data)
{
	int fd = temp_with("hello");
	g_autofree char *log = NULL;
	g_autofree char *ph = NULL;
	g_autofree char *body = NULL;

	g_assert_cmpint(relay_push(fx->relay, "d/x", fd, 5, 1700000000, "ab"),
			==, 0);
	relay_lock_settle_all(fx->relay); /* the release went aside */
	sort_log(fx, 1, 3);
	log = take_log(fx);
	/* under the lock, the placeholder and the content are sent side by
	 * side; then, after the push returned, the placeholder's tag is
	 * learnt (the lock still held) and the lock deleted */
	g_assert_cmpstr(log, ==, "create d/.x.lock; put d/.x.placeholder; "
				 "put d/x; stat d/.x.placeholder; "
				 "remove d/.x.lock");
	ph = content(fx, "d/.x.placeholder");
	g_assert_cmpstr(ph, ==, "placeholder%1.0\npusher: bob\ntimestamp: "
				"1700000000\nchecksum: ab\n---pullers---");
	body = content(fx, "d/x");
	g_assert_cmpstr(body, ==, "hello");
	g_assert_false(g_hash_table_contains(fx->fake.files, "d/.x.lock"));
	close(fd);
}

static void test_push_without_exclusive_create(struct fixture *fx,
					       gconstpointer data)
{
	int fd = temp_with("hello");
	g_autofree char *log = NULL;

	g_assert_cmpint(relay_push(fx->relay, "x", fd, 5, 1, NULL), ==, 0);
	relay_lock_settle_all(fx->relay);
	sort_log(fx, 4, 6);
	log = take_log(fx);
	g_assert_cmpstr(log, ==, "stat .x.lock; put .x.lock; stat .x.lock; "
				 "get .x.lock; put .x.placeholder; put x; "
				 "stat .x.placeholder; remove .x.lock");
	close(fd);
}

static void test_register_pull(struct fixture *fx, gconstpointer data)
{
	const char *ph = "placeholder%1.0\npusher: alice\ncolor: blue\n"
			 "---pullers---";
	g_autofree char *log = NULL;
	g_autofree char *after = NULL;
	bool removed;

	fake_set(&fx->fake, ".x.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "x", "data", 4, 0);
	g_assert_cmpint(relay_lock_acquire(fx->relay, "x", RELAY_LOCK_READ),
			==, 0);
	g_assert_cmpint(relay_register_pull(fx->relay, "x", NULL, &removed),
			==, 0);
	g_assert_cmpint(relay_lock_release(fx->relay, "x"), ==, 0);
	/* the placeholder's tag is learnt beside the content's removal */
	sort_log(fx, 3, 5);
	log = take_log(fx);
	g_assert_cmpstr(log, ==, "create .x.lock; get .x.placeholder; "
				 "put .x.placeholder; remove x; "
				 "stat .x.placeholder; "
				 "remove .x.lock");
	g_assert_true(removed);
	after = content(fx, ".x.placeholder");
	g_assert_cmpstr(after, ==, "placeholder%1.0\npusher: alice\n"
				   "color: blue\n---pullers---\nbob");
}

/* A newer version replaced the one verified: nothing is registered in
 * it, nothing removed. */
static void test_register_only_the_version_verified(struct fixture *fx,
						    gconstpointer data)
{
	const char *v1 = "placeholder%1.0\npusher: alice\ntimestamp: 1\n"
			 "checksum: aa\n---pullers---";
	const char *v2 = "placeholder%1.0\npusher: carol\ntimestamp: 2\n"
			 "checksum: bb\n---pullers---";
	struct relay_placeholder *verified = relay_placeholder_parse(
		v1, strlen(v1));
	g_autofree char *log = NULL;
	g_autofree char *after = NULL;
	bool removed;

	fake_set(&fx->fake, ".x.placeholder", v2, strlen(v2), 0);
	fake_set(&fx->fake, "x", "new!", 4, 0);
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*x is another version now; pull not "
			      "registered*");
	g_assert_cmpint(relay_register_pull(fx->relay, "x", verified,
					    &removed), ==, 0);
	g_test_assert_expected_messages();
	g_assert_false(removed);
	log = take_log(fx);
	g_assert_cmpstr(log, ==, "get .x.placeholder");
	after = content(fx, ".x.placeholder");
	g_assert_cmpstr(after, ==, v2);
	relay_placeholder_free(verified);
}

static void test_register_twice_and_two_pullers(struct fixture *fx,
						gconstpointer data)
{
	const char *ph = "placeholder%1.0\npusher: alice\n---pullers---";
	g_autofree char *after = NULL;
	g_autofree char *log = NULL;
	bool removed;

	relay_free(fx->relay);
	fx->relay = open_relay(fx, "bob", 2);
	fake_set(&fx->fake, ".x.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "x", "data", 4, 0);
	g_assert_cmpint(relay_register_pull(fx->relay, "x", NULL, &removed),
			==, 0);
	g_assert_false(removed);
	g_free(take_log(fx));
	g_assert_cmpint(relay_register_pull(fx->relay, "x", NULL, &removed),
			==, 0);
	log = take_log(fx);
	/* never twice; the placeholder as written (its tag learnt then)
	 * already lists us: not even a read */
	g_assert_cmpstr(log, ==, "");
	after = content(fx, ".x.placeholder");
	g_assert_cmpstr(after, ==, "placeholder%1.0\npusher: alice\n"
				   "---pullers---\nbob");
	g_assert_true(g_hash_table_contains(fx->fake.files, "x"));
}

/* A placeholder read by a listing is updated with a conditional put: one
 * GET for the whole pull; if it changed meanwhile, read it again. */
static void test_register_after_listing(struct fixture *fx,
					gconstpointer data)
{
	const char *ph = "placeholder%1.0\npusher: alice\n---pullers---";
	const char *ph2 = "placeholder%1.0\npusher: alice\n---pullers---\n"
			  "carol";
	g_autoptr(GPtrArray) files = NULL;
	g_autofree char *log = NULL, *log2 = NULL, *after = NULL;
	bool removed;

	relay_free(fx->relay);
	fx->relay = open_relay(fx, "bob", 3);
	fake_set(&fx->fake, ".x.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "x", "data", 4, 0);
	fake_set(&fx->fake, ".y.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "y", "data", 4, 0);
	g_assert_cmpint(relay_list(fx->relay, "", &files), ==, 0);
	g_free(take_log(fx));
	g_assert_cmpint(relay_register_pull(fx->relay, "x", NULL, &removed),
			==, 0);
	log = take_log(fx);
	g_assert_cmpstr(log, ==, "put-if .x.placeholder; stat .x.placeholder");
	fake_set(&fx->fake, ".y.placeholder", ph2, strlen(ph2), 0);
	g_assert_cmpint(relay_register_pull(fx->relay, "y", NULL, &removed),
			==, 0);
	log2 = take_log(fx);
	g_assert_cmpstr(log2, ==, "put-if .y.placeholder; get .y.placeholder; "
				  "put .y.placeholder; stat .y.placeholder");
	after = content(fx, ".y.placeholder");
	g_assert_true(g_str_has_suffix(after, "\ncarol\nbob"));
}

static void test_foreign_and_stale_locks(struct fixture *fx,
					 gconstpointer data)
{
	const char *lock = "lock%1.0\nowner: zed\nmode: w";
	int64_t old = g_get_real_time() / G_USEC_PER_SEC - 7200;

	fake_set(&fx->fake, ".x.lock", lock, strlen(lock), 0);
	g_assert_cmpint(relay_lock_acquire(fx->relay, "x", RELAY_LOCK_WRITE),
			==, -EBUSY);
	fake_set(&fx->fake, ".x.lock", lock, strlen(lock), old);
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*breaking stale lock of x held by zed*");
	g_assert_cmpint(relay_lock_acquire(fx->relay, "x", RELAY_LOCK_WRITE),
			==, 0);
	g_test_assert_expected_messages();
	g_assert_true(relay_lock_held(fx->relay, "x"));
	g_assert_cmpint(relay_lock_release(fx->relay, "x"), ==, 0);
	g_assert_false(g_hash_table_contains(fx->fake.files, ".x.lock"));
}

static void test_delete_and_rename(struct fixture *fx, gconstpointer data)
{
	g_autofree char *log = NULL;
	g_autofree char *log2 = NULL;

	fake_set(&fx->fake, "a", "A", 1, 0);
	fake_set(&fx->fake, ".a.placeholder", "p", 1, 0);
	fake_set(&fx->fake, "b", "B", 1, 0);
	g_assert_cmpint(relay_rename(fx->relay, "a", "c", false), ==, 0);
	log = take_log(fx);
	g_assert_cmpstr(log, ==, "create .a.lock; create .c.lock; rename a; "
				 "rename .a.placeholder; remove .c.lock; "
				 "remove .a.lock");
	g_assert_cmpint(relay_delete(fx->relay, "c", NULL), ==, 0);
	log2 = take_log(fx);
	g_assert_cmpstr(log2, ==, "create .c.lock; remove c; "
				  "remove .c.placeholder; remove .c.lock");
	g_assert_cmpint(g_hash_table_size(fx->fake.files), ==, 1);
}

static void test_rmdir_and_listing(struct fixture *fx, gconstpointer data)
{
	const char *ph = "placeholder%1.0\npusher: alice\ntimestamp: 5\n"
			 "---pullers---";
	const char *lock = "lock%1.0\nowner: zed\nmode: w";
	g_autoptr(GPtrArray) files = NULL;
	unsigned visible = 0;

	fake_mkdir(&fx->fake, "d");
	fake_set(&fx->fake, "d/.gone.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "d/.gone.lock", lock, strlen(lock), 0);
	g_assert_cmpint(relay_rmdir(fx->relay, "d"), ==, -EBUSY);
	g_hash_table_remove(fx->fake.files, "d/.gone.lock");
	fake_set(&fx->fake, "d/ready", "r", 1, 0);
	fake_set(&fx->fake, "d/.ready.placeholder", ph, strlen(ph), 0);
	fake_set(&fx->fake, "d/busy", "b", 1, 0);
	fake_set(&fx->fake, "d/.busy.lock", lock, strlen(lock), 0);
	fake_set(&fx->fake, "d/.x.1.message", "m", 1, 0);
	g_assert_cmpint(relay_list(fx->relay, "d", &files), ==, 0);
	for (guint i = 0; i < files->len; i++) {
		struct relay_file *f = files->pdata[i];

		if (!relay_file_visible(f))
			continue;
		visible++;
		g_assert_cmpstr(f->name, ==, "ready");
		g_assert_cmpint(relay_file_mtime(f), ==, 5);
	}
	g_assert_cmpint(visible, ==, 1);
	g_assert_cmpint(relay_rmdir(fx->relay, "d"), ==, -EBUSY);
	g_hash_table_remove(fx->fake.files, "d/.busy.lock");
	g_assert_cmpint(relay_rmdir(fx->relay, "d"), ==, -ENOTEMPTY);
	g_hash_table_remove(fx->fake.files, "d/busy");
	g_hash_table_remove(fx->fake.files, "d/ready");
	g_assert_cmpint(relay_rmdir(fx->relay, "d"), ==, 0);
	g_assert_cmpint(g_hash_table_size(fx->fake.files), ==, 0);
}

/* rm removes the file's message files too (PROTOCOL.md, Delete). */
static void test_delete_messages(struct fixture *fx, gconstpointer data)
{
	g_autoptr(GPtrArray) files = NULL;
	struct relay_file *m = NULL;

	fake_mkdir(&fx->fake, "d");
	fake_set(&fx->fake, "d/m", "M", 1, 0);
	fake_set(&fx->fake, "d/.m.placeholder", "", 0, 0);
	fake_set(&fx->fake, "d/.m.1.message", "one", 3, 0);
	fake_set(&fx->fake, "d/.m.message", "two", 3, 0);
	fake_set(&fx->fake, "d/.mm.message", "other", 5, 0);
	fake_set(&fx->fake, "d/m.txt", "T", 1, 0);
	fake_set(&fx->fake, "d/.m.txt.message", "of m.txt", 8, 0);
	fake_set(&fx->fake, "d/.message", "nobody's", 8, 0);
	g_assert_cmpint(relay_list(fx->relay, "d", &files), ==, 0);
	for (guint i = 0; i < files->len; i++)
		if (strcmp(((struct relay_file *)files->pdata[i])->name,
			   "m") == 0)
			m = files->pdata[i];
	g_assert_nonnull(m);
	g_assert_cmpint(g_strv_length(m->messages), ==, 2);
	g_assert_cmpint(relay_delete(fx->relay, "d/m",
				     (const char *const *)m->messages), ==, 0);
	g_assert_false(g_hash_table_contains(fx->fake.files, "d/.m.1.message"));
	g_assert_false(g_hash_table_contains(fx->fake.files, "d/.m.message"));
	g_assert_true(g_hash_table_contains(fx->fake.files, "d/.mm.message"));
	g_assert_true(g_hash_table_contains(fx->fake.files,
					    "d/.m.txt.message"));
	g_assert_cmpint(g_hash_table_size(fx->fake.files), ==, 5);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn, data)                                                 \
	g_test_add(name, struct fixture, data, setup, fn, teardown)
	ADD("/sequences/push", test_push, NULL);
	ADD("/sequences/delete-messages", test_delete_messages, NULL);
	ADD("/sequences/push-no-excl", test_push_without_exclusive_create,
	    "no-excl");
	ADD("/sequences/register-pull", test_register_pull, NULL);
	ADD("/sequences/register-only-the-version-verified",
	    test_register_only_the_version_verified, NULL);
	ADD("/sequences/register-twice", test_register_twice_and_two_pullers,
	    NULL);
	ADD("/sequences/register-after-listing", test_register_after_listing,
	    NULL);
	ADD("/sequences/locks", test_foreign_and_stale_locks, NULL);
	ADD("/sequences/delete-rename", test_delete_and_rename, NULL);
	ADD("/sequences/rmdir-listing", test_rmdir_and_listing, NULL);
	return g_test_run();
}
