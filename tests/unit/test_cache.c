/* The block cache and staged copies on disk: fetches only what is missing,
 * shares fetches, keeps versions apart, survives a reopen; checksums. */
#include "cache/blocks.h"
#include "cache/journal.h"
#include "cache/staging.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define BS 4096

static char source[10 * BS + 100];

struct fetch_log {
	GPtrArray *calls;	/* "offset+length" */
	GMutex mutex;
	int delay_ms;
};

static int fetch_source(void *ctx, uint64_t offset, uint64_t length,
			cache_sink_fn sink, void *sink_ctx)
{
	struct fetch_log *log = ctx;

	g_mutex_lock(&log->mutex);
	g_ptr_array_add(log->calls, g_strdup_printf(
		"%" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT, offset, length));
	g_mutex_unlock(&log->mutex);
	if (log->delay_ms)
		g_usleep(log->delay_ms * 1000);
	/* in two pieces, as a network would */
	int ret = sink(sink_ctx, source + offset, length / 2);

	return ret ? ret : sink(sink_ctx, source + offset + length / 2,
				length - length / 2);
}

static char *calls(struct fetch_log *log)
{
	g_ptr_array_add(log->calls, NULL);
	char *s = g_strjoinv(" ", (char **)log->calls->pdata);

	g_ptr_array_set_size(log->calls, 0);
	return s;
}

static char *make_dir(void)
{
	return g_dir_make_tmp("relayfs-cache-XXXXXX", NULL);
}

static void remove_tree(const char *dir)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);

	g_assert_cmpint(system(cmd), ==, 0);
}

/* A fetch that, half way through its run, looks which blocks are there
 * already: the whole ones must be, before the request ends. */
struct streaming {
	struct cache_item *item;
	bool first_present_mid_run, last_present_mid_run;
};

static int fetch_and_look(void *ctx, uint64_t offset, uint64_t length,
			  cache_sink_fn sink, void *sink_ctx)
{
	struct streaming *st = ctx;
	int ret = sink(sink_ctx, source + offset, BS + 10);

	st->first_present_mid_run = cache_item_has(st->item, offset, BS);
	st->last_present_mid_run =
	    cache_item_has(st->item, offset + length - 1, 1);
	return ret ? ret : sink(sink_ctx, source + offset + BS + 10,
				length - BS - 10);
}

static void test_streamed_run_blocks_present_as_they_arrive(void)
{
	g_autofree char *dir = make_dir();
	struct cache *c;
	struct streaming st = {0};
	uint64_t first = 2, last = 100;
	char buf[BS];

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	st.item = cache_item_get(c, "f\nv1", sizeof(source));
	/* claimed at once, to the file's end (blocks 2..10) */
	g_assert_true(cache_item_claim(st.item, &first, &last));
	g_assert_cmpuint(first, ==, 2);
	g_assert_cmpuint(last, ==, 10);
	/* nothing more to claim while it is being fetched */
	first = 0, last = 100;
	g_assert_true(cache_item_claim(st.item, &first, &last));
	g_assert_cmpuint(first, ==, 0);
	g_assert_cmpuint(last, ==, 1);
	g_assert_cmpint(cache_item_fetch_claimed(st.item, 0, 1,
						 fetch_and_look, &st), ==, 0);
	first = 0, last = 100;
	g_assert_false(cache_item_claim(st.item, &first, &last));
	g_assert_cmpint(cache_item_fetch_claimed(st.item, 2, 10,
						 fetch_and_look, &st), ==, 0);
	g_assert_true(st.first_present_mid_run);
	g_assert_false(st.last_present_mid_run);
	g_assert_true(cache_item_complete(st.item));
	g_assert_cmpint(cache_item_read_cached(st.item, buf, BS, 9 * BS), ==,
			BS);
	g_assert_cmpmem(buf, BS, source + 9 * BS, BS);
	cache_item_unref(st.item);
	cache_close(c);
	remove_tree(dir);
}

static void test_fetch_only_missing(void)
{
	g_autofree char *dir = make_dir();
	struct fetch_log log = { .calls = g_ptr_array_new_with_free_func(g_free) };
	struct cache *c;
	struct cache_item *item;
	char buf[3 * BS];
	g_autofree char *first = NULL, *second = NULL, *third = NULL;

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	item = cache_item_get(c, "f\nv1", sizeof(source));
	g_assert_cmpint(cache_item_read(item, buf, 100, BS + 10, fetch_source,
					&log), ==, 100);
	g_assert_cmpmem(buf, 100, source + BS + 10, 100);
	first = calls(&log);
	g_assert_cmpstr(first, ==, "4096+4096");
	/* blocks 0..3: 0 and 2..3 missing, fetched as two runs */
	g_assert_cmpint(cache_item_read(item, buf, 3 * BS, 100, fetch_source,
					&log), ==, 3 * BS);
	g_assert_cmpmem(buf, 3 * BS, source + 100, 3 * BS);
	second = calls(&log);
	g_assert_cmpstr(second, ==, "0+4096 8192+8192");
	g_assert_false(cache_item_complete(item));
	/* the last, short block, and reads past the end */
	g_assert_cmpint(cache_item_read(item, buf, BS, 10 * BS, fetch_source,
					&log), ==, 100);
	g_assert_cmpint(cache_item_read(item, buf, BS, 11 * BS, fetch_source,
					&log), ==, 0);
	third = calls(&log);
	g_assert_cmpstr(third, ==, "40960+100");
	cache_item_unref(item);
	cache_close(c);

	/* reopened: the same version is served from disk, a new one is not */
	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	item = cache_item_get(c, "f\nv1", sizeof(source));
	g_assert_true(cache_item_has(item, 0, 4 * BS));
	g_assert_false(cache_item_has(item, 4 * BS, 1));
	cache_item_unref(item);
	item = cache_item_get(c, "f\nv2", sizeof(source));
	g_assert_false(cache_item_has(item, 0, 1));
	cache_item_unref(item);
	cache_close(c);
	g_ptr_array_unref(log.calls);
	remove_tree(dir);
}

struct reader {
	struct cache_item *item;
	struct fetch_log *log;
	char buf[2 * BS];
	ssize_t n;
};

static gpointer read_thread(gpointer data)
{
	struct reader *r = data;

	r->n = cache_item_read(r->item, r->buf, 2 * BS, 0, fetch_source,
			       r->log);
	return NULL;
}

static void test_shared_fetch(void)
{
	g_autofree char *dir = make_dir();
	struct fetch_log log = { .calls = g_ptr_array_new_with_free_func(g_free) };
	struct reader readers[4];
	GThread *threads[4];
	struct cache *c;

	log.delay_ms = 100;
	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	for (int i = 0; i < 4; i++) {
		readers[i].item = cache_item_get(c, "f\nv1", sizeof(source));
		readers[i].log = &log;
		threads[i] = g_thread_new("reader", read_thread, &readers[i]);
	}
	for (int i = 0; i < 4; i++) {
		g_thread_join(threads[i]);
		g_assert_cmpint(readers[i].n, ==, 2 * BS);
		g_assert_cmpmem(readers[i].buf, 2 * BS, source, 2 * BS);
		cache_item_unref(readers[i].item);
	}
	g_assert_cmpint(log.calls->len, ==, 1);
	cache_close(c);
	g_ptr_array_unref(log.calls);
	remove_tree(dir);
}

static void test_discard_and_adopt(void)
{
	g_autofree char *dir = make_dir();
	struct fetch_log log = { .calls = g_ptr_array_new_with_free_func(g_free) };
	struct cache_staged *s;
	struct cache_item *item;
	struct cache *c;
	char buf[100];

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	item = cache_item_get(c, "f\nv1", 100);
	g_assert_cmpint(cache_item_read(item, buf, 100, 0, fetch_source, &log),
			==, 100);
	cache_item_discard(item);
	g_assert_false(cache_item_complete(item));
	cache_item_unref(item);

	g_assert_cmpint(cache_staged_create(c, "dir/g", CACHE_HASH_SHA256, &s),
			==, 0);
	g_assert_cmpint(cache_staged_write(s, "staged!", 7, 0), ==, 7);
	g_assert_cmpint(cache_staged_commit(c, s, "dir/g\nv9"), ==, 0);
	item = cache_item_get(c, "dir/g\nv9", 7);
	g_assert_true(cache_item_complete(item));
	g_assert_cmpint(cache_item_read(item, buf, 7, 0, fetch_source, &log),
			==, 7);
	g_assert_cmpmem(buf, 7, "staged!", 7);
	cache_item_unref(item);
	g_assert_cmpint(log.calls->len, ==, 1);
	cache_close(c);
	g_ptr_array_unref(log.calls);
	remove_tree(dir);
}

/* Past cache_size, the least recently used version that nothing has open
 * goes; an open one stays whatever its age. */
static void test_eviction(void)
{
	g_autofree char *dir = make_dir();
	struct fetch_log log = { .calls = g_ptr_array_new_with_free_func(g_free) };
	struct cache_item *a, *b, *c2;
	struct cache *c;
	char buf[2 * BS];

	g_assert_cmpint(cache_open(dir, BS, 5 * BS, &c), ==, 0);
	c2 = cache_item_get(c, "c\nv1", 2 * BS);
	g_assert_cmpint(cache_item_read(c2, buf, 2 * BS, 0, fetch_source,
					&log), ==, 2 * BS);
	a = cache_item_get(c, "a\nv1", 2 * BS);
	g_assert_cmpint(cache_item_read(a, buf, 2 * BS, 0, fetch_source, &log),
			==, 2 * BS);
	cache_item_unref(a);
	b = cache_item_get(c, "b\nv1", 2 * BS);
	g_assert_cmpint(cache_item_read(b, buf, 2 * BS, 0, fetch_source, &log),
			==, 2 * BS);
	/* 6 blocks > 5: a went (c is older, but open) */
	a = cache_item_get(c, "a\nv1", 2 * BS);
	g_assert_false(cache_item_has(a, 0, 1));
	g_assert_true(cache_item_complete(b));
	g_assert_true(cache_item_complete(c2));
	cache_item_unref(a);
	/* with every version open, blocks go, least recently used first:
	 * a's 2 new blocks make 6 again, so one of c's (the oldest) goes */
	a = cache_item_get(c, "a\nv1", 2 * BS);
	g_assert_cmpint(cache_item_read(a, buf, 2 * BS, 0, fetch_source, &log),
			==, 2 * BS);
	g_assert_true(cache_item_has(c2, 0, 1) != cache_item_has(c2, BS, 1));
	g_assert_true(cache_item_complete(a));
	g_assert_true(cache_item_complete(b));
	/* an evicted block is fetched again, and reads right */
	g_assert_cmpint(cache_item_read(c2, buf, 2 * BS, 0, fetch_source, &log),
			==, 2 * BS);
	g_assert_cmpmem(buf, 2 * BS, source, 2 * BS);
	cache_item_unref(a);
	cache_item_unref(b);
	cache_item_unref(c2);
	cache_close(c);
	g_ptr_array_unref(log.calls);
	remove_tree(dir);
}

/* Pulls to register survive a remount, each once, with their version;
 * a torn entry (a crash before it was whole) is dropped. */
static void test_pull_journal(void)
{
	g_autofree char *dir = make_dir();
	g_autofree char *torn = NULL;
	g_autoptr(GPtrArray) pulls = NULL;
	struct cache_journal_pull *p;
	struct cache *c;

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	g_assert_cmpint(cache_journal_pull_add(c, "a/b\nc", "v1"), ==, 0);
	g_assert_cmpint(cache_journal_pull_add(c, "a/b\nc", "v2"), ==, 0);
	g_assert_cmpint(cache_journal_pull_add(c, "d", "v3"), ==, 0);
	cache_close(c);
	torn = g_build_filename(dir, "pulls", "torn", NULL);
	g_assert_true(g_file_set_contents(torn, "[pull]\npath=x", -1, NULL));

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	pulls = cache_journal_pulls(c);
	g_assert_cmpuint(pulls->len, ==, 2);
	g_assert_false(g_file_test(torn, G_FILE_TEST_EXISTS));
	for (guint i = 0; i < pulls->len; i++) {
		p = pulls->pdata[i];
		g_assert_cmpstr(p->version, ==,
				strcmp(p->path, "d") == 0 ? "v3" : "v2");
	}
	cache_journal_pull_remove(c, "a/b\nc");
	g_ptr_array_unref(pulls);
	pulls = cache_journal_pulls(c);
	g_assert_cmpuint(pulls->len, ==, 1);
	g_assert_cmpstr(((struct cache_journal_pull *)pulls->pdata[0])->path,
			==, "d");
	cache_close(c);
}

static void test_staged_checksums_and_journal(void)
{
	g_autofree char *dir = make_dir();
	const char *abc_sha512 = "ddaf35a193617abacc417349ae204131"
				 "12e6fa4e89a97ea20a9eeee64b55d39a"
				 "2192992a274fc1a836ba3c23a3feebbd"
				 "454d4423643ce80e2a9ac94fa54ca49f";
	g_autoptr(GPtrArray) pending = NULL;
	struct cache_staged *s;
	struct cache *c;
	char *hex;

	g_assert_cmpint(cache_open(dir, BS, 1 << 20, &c), ==, 0);
	/* in order: the running hash */
	g_assert_cmpint(cache_staged_create(c, "a", CACHE_HASH_SHA512, &s),
			==, 0);
	cache_staged_write(s, "a", 1, 0);
	cache_staged_write(s, "bc", 2, 1);
	g_assert_nonnull(s->follow);
	g_assert_cmpint(cache_staged_checksum(s, &hex), ==, 0);
	g_assert_cmpstr(hex, ==, abc_sha512);
	g_free(hex);
	cache_staged_discard(s);
	/* large and in order: followed by the background thread, then one
	 * going back from the middle: a pass at the end */
	for (int back = 0; back < 2; back++) {
		g_autofree char *piece = g_malloc(65536);
		g_autofree char *want = NULL;

		g_assert_cmpint(cache_staged_create(c, "big", CACHE_HASH_SHA512,
						    &s), ==, 0);
		for (unsigned i = 0; i < 48; i++) {
			memset(piece, 'a' + i % 26, 65536);
			cache_staged_write(s, piece, 65536, i * 65536ull);
			if (back && i == 40)
				cache_staged_write(s, piece, 10, 5);
		}
		g_assert_true((s->follow != NULL) == !back);
		g_assert_cmpint(cache_hash_fd(s->fd, s->size, CACHE_HASH_SHA512,
					      &want), ==, 0);
		g_assert_cmpint(cache_staged_checksum(s, &hex), ==, 0);
		g_assert_cmpstr(hex, ==, want);
		g_free(hex);
		cache_staged_discard(s);
	}
	/* out of order and rewritten: one pass at the end */
	g_assert_cmpint(cache_staged_create(c, "b", CACHE_HASH_SHA512, &s),
			==, 0);
	cache_staged_write(s, "xx", 2, 1);
	cache_staged_write(s, "a", 1, 0);
	cache_staged_write(s, "bc", 2, 1);
	g_assert_cmpint(cache_staged_checksum(s, &hex), ==, 0);
	g_assert_cmpstr(hex, ==, abc_sha512);
	g_free(hex);
	cache_staged_set_mtime(s, 1234);
	cache_staged_set_closed(s);
	cache_staged_free(s); /* as if the mount died: the journal keeps it */
	/* one the mount died writing: not a finished file */
	g_assert_cmpint(cache_staged_create(c, "d/half", CACHE_HASH_SHA512,
					    &s), ==, 0);
	cache_staged_write(s, "hal", 3, 0);
	cache_staged_free(s);
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "d/half was being written when relayfs stopped*");
	pending = cache_staged_pending(c, CACHE_HASH_SHA512);
	g_test_assert_expected_messages();
	g_assert_cmpint(pending->len, ==, 1);
	s = pending->pdata[0];
	g_assert_cmpstr(s->relay_path, ==, "b");
	g_assert_cmpint(s->mtime, ==, 1234);
	g_assert_cmpint(s->size, ==, 3);
	cache_staged_discard(s);
	{
		g_autofree char *kept = g_build_filename(dir, "interrupted",
							 NULL);
		GDir *d = g_dir_open(kept, 0, NULL);

		g_assert_nonnull(d);
		g_assert_true(g_str_has_prefix(g_dir_read_name(d), "half."));
		g_dir_close(d);
	}
	cache_close(c);
	remove_tree(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	for (size_t i = 0; i < sizeof(source); i++)
		source[i] = (char)(i * 7 + i / 251);
	g_test_add_func("/cache/fetch-only-missing", test_fetch_only_missing);
	g_test_add_func("/cache/streamed-run-blocks-present-as-they-arrive",
			test_streamed_run_blocks_present_as_they_arrive);
	g_test_add_func("/cache/shared-fetch", test_shared_fetch);
	g_test_add_func("/cache/discard-adopt", test_discard_and_adopt);
	g_test_add_func("/cache/staged", test_staged_checksums_and_journal);
	g_test_add_func("/cache/pull-journal", test_pull_journal);
	g_test_add_func("/cache/eviction", test_eviction);
	return g_test_run();
}
