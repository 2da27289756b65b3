/* Unit tests of the lock and placeholder formats: every file of
 * vectors/formats against expected.json, round trips, escale's relay, fuzz. */
#include <glib.h>
#include <string.h>

#include "relay/lockfile.h"
#include "relay/placeholder.h"

/* What expected.json says of a lock file ("relayfs" policy where given). */
struct lock_case {
	const char *file;
	const char *owner;
	enum relay_lock_mode mode;
	const char *version;
	bool valid;
};

static const struct lock_case lock_cases[] = {
    {"lock-v1-write.txt", "alice", RELAY_LOCK_WRITE, "1.0", true},
    {"lock-v1-read-crlf.txt", "carol", RELAY_LOCK_READ, "1.0", true},
    {"lock-legacy-owner.txt", "bob", RELAY_LOCK_UNKNOWN, NULL, true},
    {"lock-empty.txt", NULL, RELAY_LOCK_UNKNOWN, NULL, true},
    {"lock-garbage.bin", NULL, RELAY_LOCK_UNKNOWN, NULL, false},
};

/* What expected.json says of a placeholder file. pullers is a
 * NULL-terminated list, or NULL when the pullers must be unknown. */
struct placeholder_case {
	const char *file;
	bool valid;
	const char *version;
	const char *pusher;
	bool has_timestamp;
	gint64 timestamp;
	const char *checksum_prefix;
	int parts;
	const char *const *pullers;
	const char *const *unknown; /* key, value, ..., NULL */
};

static const char *const none[] = {NULL};
static const char *const bob[] = {"bob", NULL};
static const char *const bob_carol[] = {"bob", "carol", NULL};
static const char *const color_blue[] = {"color", "blue", NULL};

static const struct placeholder_case placeholder_cases[] = {
    {"placeholder-v1-nopullers.txt", true, "1.0", "alice", true, 1700000000,
     "1c922d34", -1, none, none},
    {"placeholder-v1-pullers.txt", true, "1.0", "alice", true, 1700000200,
     "f2622d33", -1, bob_carol, none},
    {"placeholder-v1-trailing-blank.txt", true, "1.0", "alice", true,
     1700000100, NULL, -1, bob, none},
    {"placeholder-v1-parts-unknown-key.txt", true, "1.0", "alice", true,
     1700000100, NULL, 3, bob, color_blue},
    {"placeholder-legacy-timestamp.txt", true, NULL, NULL, true, 1700000000,
     NULL, -1, bob, none},
    {"placeholder-empty.txt", true, NULL, NULL, false, 0, NULL, -1, none, none},
    {"placeholder-bad-section.txt", false, "1.0", "alice", false, 0, NULL, -1,
     NULL, none},
    {"placeholder-bad-line.txt", false, "1.0", NULL, false, 0, NULL, -1, none,
     none},
};

static char *vectors_path(const char *first, ...) G_GNUC_NULL_TERMINATED;

/* A path under $RELAYFS_VECTORS (default "tests/vectors"): escale's files. */
static char *vectors_path(const char *first, ...)
{
	const char *root = g_getenv("RELAYFS_VECTORS");
	GPtrArray *parts = g_ptr_array_new();
	const char *part;
	va_list ap;
	char *path;

	g_ptr_array_add(parts, (gpointer)(root != NULL ? root : "tests/vectors"));
	va_start(ap, first);
	for (part = first; part != NULL; part = va_arg(ap, const char *))
		g_ptr_array_add(parts, (gpointer)part);
	va_end(ap);
	g_ptr_array_add(parts, NULL);
	path = g_build_filenamev((char **)parts->pdata);
	g_ptr_array_unref(parts);
	return path;
}

static GBytes *read_vector(const char *dir, const char *file)
{
	char *path = vectors_path(dir, file, NULL);
	GError *error = NULL;
	char *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	g_free(path);
	return g_bytes_new_take(data, len);
}

static const struct lock_case *find_lock_case(const char *file)
{
	for (size_t i = 0; i < G_N_ELEMENTS(lock_cases); i++)
		if (strcmp(lock_cases[i].file, file) == 0)
			return &lock_cases[i];
	return NULL;
}

static const struct placeholder_case *find_placeholder_case(const char *file)
{
	for (size_t i = 0; i < G_N_ELEMENTS(placeholder_cases); i++)
		if (strcmp(placeholder_cases[i].file, file) == 0)
			return &placeholder_cases[i];
	return NULL;
}

/* The table's owner or pusher as expected.json would spell it. */
static char *json_field(const char *key, const char *value)
{
	if (value == NULL)
		return g_strdup_printf("\"%s\": null", key);
	return g_strdup_printf("\"%s\": \"%s\"", key, value);
}

static void assert_line_has(const char *line, const char *key,
			    const char *value)
{
	char *want = json_field(key, value);

	if (strstr(line, want) == NULL)
		g_error("expected.json line %s lacks %s", line, want);
	g_free(want);
}

/* Each top-level key of expected.json (but "_about") is covered by a table
 * and agrees with it on owner/pusher, and its file exists. */
static void test_expected_covered(void)
{
	char *path = vectors_path("formats", "expected.json", NULL);
	GRegex *re = g_regex_new("^\\s*\"([^\"]+)\"\\s*:\\s*\\{(.*)$",
				 G_REGEX_MULTILINE, 0, NULL);
	GMatchInfo *match = NULL;
	GError *error = NULL;
	char *json = NULL;
	guint keys = 0;

	g_file_get_contents(path, &json, NULL, &error);
	g_assert_no_error(error);
	g_regex_match(re, json, 0, &match);
	for (; g_match_info_matches(match); g_match_info_next(match, NULL)) {
		char *key = g_match_info_fetch(match, 1);
		char *rest = g_match_info_fetch(match, 2);
		const struct lock_case *lc = find_lock_case(key);
		const struct placeholder_case *pc = find_placeholder_case(key);

		if (lc == NULL && pc == NULL)
			g_error("expected.json names %s, not in the tables",
				key);
		if (lc != NULL)
			assert_line_has(rest, "owner", lc->owner);
		else
			assert_line_has(rest, "pusher", pc->pusher);
		keys++;
		g_free(key);
		g_free(rest);
	}
	g_assert_cmpuint(keys, ==,
			 G_N_ELEMENTS(lock_cases) +
			     G_N_ELEMENTS(placeholder_cases));
	g_match_info_free(match);
	g_regex_unref(re);
	g_free(json);
	g_free(path);
}

static void check_lock(const struct lock_case *c, GBytes *bytes)
{
	struct relay_lock_info info;
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);

	relay_lock_parse(data, len, &info);
	g_assert_cmpstr(info.owner, ==, c->owner);
	g_assert_cmpint(info.mode, ==, c->mode);
	g_assert_cmpstr(info.version, ==, c->version);
	g_assert_cmpint(info.valid, ==, c->valid);
	relay_lock_info_clear(&info);
}

static void assert_strv(const GPtrArray *got, const char *const *want)
{
	guint n = 0;

	if (want == NULL) {
		g_assert_null(got);
		return;
	}
	g_assert_nonnull(got);
	for (; want[n] != NULL; n++) {
		g_assert_cmpuint(n, <, got->len);
		g_assert_cmpstr(g_ptr_array_index(got, n), ==, want[n]);
	}
	g_assert_cmpuint(got->len, ==, n);
}

static void check_placeholder(const struct placeholder_case *c, GBytes *bytes)
{
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	struct relay_placeholder *ph = relay_placeholder_parse(data, len);

	g_assert_cmpint(ph->valid, ==, c->valid);
	g_assert_cmpstr(ph->version, ==, c->version);
	g_assert_cmpstr(ph->pusher, ==, c->pusher);
	g_assert_cmpint(ph->has_timestamp, ==, c->has_timestamp);
	if (c->has_timestamp)
		g_assert_cmpint(ph->timestamp, ==, c->timestamp);
	if (c->checksum_prefix != NULL)
		g_assert_true(
		    g_str_has_prefix(ph->checksum, c->checksum_prefix));
	else
		g_assert_null(ph->checksum);
	g_assert_cmpint(ph->parts, ==, c->parts);
	assert_strv(ph->pullers, c->pullers);
	assert_strv(ph->unknown, c->unknown);
	relay_placeholder_free(ph);
}

/* Every file of vectors/formats (but expected.json) is in a table and
 * parses as the table says; every table entry has its file. */
static void test_format_vectors(void)
{
	char *dir_path = vectors_path("formats", NULL);
	GError *error = NULL;
	GDir *dir = g_dir_open(dir_path, 0, &error);
	const char *file;
	guint seen = 0;

	g_assert_no_error(error);
	while ((file = g_dir_read_name(dir)) != NULL) {
		const struct lock_case *lc = find_lock_case(file);
		const struct placeholder_case *pc = find_placeholder_case(file);
		GBytes *bytes;

		if (strcmp(file, "expected.json") == 0)
			continue;
		if (lc == NULL && pc == NULL)
			g_error("vector %s has no expectation", file);
		g_test_message("checking %s", file);
		bytes = read_vector("formats", file);
		if (lc != NULL)
			check_lock(lc, bytes);
		else
			check_placeholder(pc, bytes);
		g_bytes_unref(bytes);
		seen++;
	}
	g_assert_cmpuint(seen, ==,
			 G_N_ELEMENTS(lock_cases) +
			     G_N_ELEMENTS(placeholder_cases));
	g_dir_close(dir);
	g_free(dir_path);
}

static void lock_round_trip(const char *owner, enum relay_lock_mode mode)
{
	struct relay_lock_info info;
	size_t len = 0;
	char *data = relay_lock_format(owner, mode, &len);

	g_assert_cmpuint(len, ==, strlen(data));
	g_assert_false(g_str_has_suffix(data, "\n"));
	relay_lock_parse(data, len, &info);
	g_assert_true(info.valid);
	g_assert_cmpstr(info.version, ==, "1.0");
	g_assert_cmpstr(info.owner, ==, owner);
	g_assert_cmpint(info.mode, ==, mode);
	relay_lock_info_clear(&info);
	g_assert_null(info.owner);
	g_free(data);
}

static void test_lock_round_trip(void)
{
	size_t len;
	char *data = relay_lock_format("alice", RELAY_LOCK_WRITE, &len);

	g_assert_cmpstr(data, ==, "lock%1.0\nowner: alice\nmode: w");
	g_free(data);
	lock_round_trip("alice", RELAY_LOCK_WRITE);
	lock_round_trip("bob", RELAY_LOCK_READ);
	lock_round_trip("carol", RELAY_LOCK_UNKNOWN);
	lock_round_trip("Zoë's laptop", RELAY_LOCK_READ);
	lock_round_trip("100%", RELAY_LOCK_WRITE);
}

/* Other lock forms: data, owner, mode, valid. */
static void test_lock_forms(void)
{
	static const struct {
		const char *data;
		const char *owner;
		enum relay_lock_mode mode;
		bool valid;
	} cases[] = {
	    {"bob\n", "bob", RELAY_LOCK_UNKNOWN, true},
	    {"bob\r\n", "bob", RELAY_LOCK_UNKNOWN, true},
	    {"\n\n", NULL, RELAY_LOCK_UNKNOWN, true},
	    {"lock%1.0\r\nowner: x\r\nmode: w\r\n", "x", RELAY_LOCK_WRITE,
	     true},
	    {"lock%1.0\nmode: r\nowner: y", "y", RELAY_LOCK_READ, true},
	    {"lock%1.0\nowner: y\nextra: 1", "y", RELAY_LOCK_UNKNOWN, true},
	    {"lock%1.0\nowner: y\nmode: q", "y", RELAY_LOCK_UNKNOWN, false},
	    {"lock%1.0\nowner y", NULL, RELAY_LOCK_UNKNOWN, false},
	    {"lock%1.0", NULL, RELAY_LOCK_UNKNOWN, true},
	    {"b\x01ob", NULL, RELAY_LOCK_UNKNOWN, false},
	    {"b\rob", NULL, RELAY_LOCK_UNKNOWN, false},
	    {"\xff\xfe", NULL, RELAY_LOCK_UNKNOWN, false},
	};
	struct relay_lock_info info;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		relay_lock_parse(cases[i].data, strlen(cases[i].data), &info);
		g_assert_cmpstr(info.owner, ==, cases[i].owner);
		g_assert_cmpint(info.mode, ==, cases[i].mode);
		g_assert_cmpint(info.valid, ==, cases[i].valid);
		relay_lock_info_clear(&info);
	}
	relay_lock_parse("a\0b", 3, &info);
	g_assert_null(info.owner);
	g_assert_false(info.valid);
	relay_lock_info_clear(&info);
}

static void test_placeholder_format(void)
{
	static const char want[] = "placeholder%1.0\npusher: alice\n"
				   "timestamp: 1700000000\nchecksum: abc\n"
				   "---pullers---";
	size_t len = 0;
	char *data = relay_placeholder_format("alice", 1700000000, "abc", &len);
	struct relay_placeholder *ph;

	g_assert_cmpuint(len, ==, sizeof(want) - 1);
	g_assert_cmpmem(data, len, want, sizeof(want) - 1);
	ph = relay_placeholder_parse(data, len);
	g_assert_true(ph->valid);
	g_assert_cmpstr(ph->pusher, ==, "alice");
	g_assert_cmpint(ph->timestamp, ==, 1700000000);
	g_assert_cmpstr(ph->checksum, ==, "abc");
	g_assert_cmpuint(ph->pullers->len, ==, 0);
	relay_placeholder_free(ph);
	g_free(data);

	data = relay_placeholder_format("bob", -5, NULL, NULL);
	g_assert_cmpstr(data, ==,
			"placeholder%1.0\npusher: bob\ntimestamp: -5\n"
			"---pullers---");
	g_free(data);
}

/* Append name to data, check the bytes, parse the result. */
static struct relay_placeholder *append_and_parse(const char *data, size_t len,
						  const char *name)
{
	GBytes *out = relay_placeholder_append_puller(data, len, name);
	gsize out_len;
	const char *out_data = g_bytes_get_data(out, &out_len);
	struct relay_placeholder *ph;

	if (len == 0) {
		g_assert_cmpmem(out_data, out_len, name, strlen(name));
	} else {
		g_assert_cmpuint(out_len, ==, len + 1 + strlen(name));
		g_assert_cmpmem(out_data, len, data, len);
		g_assert_cmpint(out_data[len], ==, '\n');
		g_assert_cmpmem(out_data + len + 1, strlen(name), name,
				strlen(name));
	}
	ph = relay_placeholder_parse(out_data, out_len);
	g_bytes_unref(out);
	return ph;
}

static void test_append_puller(void)
{
	static const char *const bob_dave[] = {"bob", "dave", NULL};
	static const char *const dave[] = {"dave", NULL};
	GBytes *v =
	    read_vector("formats", "placeholder-v1-parts-unknown-key.txt");
	gsize len;
	const char *data = g_bytes_get_data(v, &len);
	struct relay_placeholder *ph = append_and_parse(data, len, "dave");

	g_assert_true(ph->valid);
	assert_strv(ph->pullers, bob_dave);
	assert_strv(ph->unknown, color_blue);
	g_assert_cmpint(ph->parts, ==, 3);
	g_assert_true(relay_placeholder_has_puller(ph, "dave"));
	relay_placeholder_free(ph);
	g_bytes_unref(v);

	ph = append_and_parse(NULL, 0, "dave");
	g_assert_true(ph->valid);
	assert_strv(ph->pullers, dave);
	relay_placeholder_free(ph);

	v = read_vector("formats", "placeholder-v1-nopullers.txt");
	data = g_bytes_get_data(v, &len);
	ph = append_and_parse(data, len, "dave");
	g_assert_true(ph->valid);
	assert_strv(ph->pullers, dave);
	relay_placeholder_free(ph);
	g_bytes_unref(v);

	v = read_vector("formats", "placeholder-bad-section.txt");
	data = g_bytes_get_data(v, &len);
	ph = append_and_parse(data, len, "dave");
	g_assert_false(ph->valid);
	g_assert_null(ph->pullers);
	relay_placeholder_free(ph);
	g_bytes_unref(v);
}

static void test_count_pullers(void)
{
	static const char text[] = "placeholder%1.0\npusher: alice\n"
				   "---pullers---\nalice\nbob\nbob\n\ncarol";
	struct relay_placeholder *ph =
	    relay_placeholder_parse(text, strlen(text));

	g_assert_cmpuint(ph->pullers->len, ==, 4);
	g_assert_cmpuint(relay_placeholder_count_pullers(ph), ==, 2);
	g_assert_true(relay_placeholder_has_puller(ph, "alice"));
	g_assert_true(relay_placeholder_has_puller(ph, "carol"));
	g_assert_false(relay_placeholder_has_puller(ph, "dave"));
	relay_placeholder_free(ph);

	ph = relay_placeholder_parse("bob\nbob\r\ncarol\n", 15);
	g_assert_cmpuint(relay_placeholder_count_pullers(ph), ==, 2);
	relay_placeholder_free(ph);

	ph = relay_placeholder_parse("placeholder%1.0\n===x===\nbob",
				     strlen("placeholder%1.0\n===x===\nbob"));
	g_assert_null(ph->pullers);
	g_assert_cmpuint(relay_placeholder_count_pullers(ph), ==, 0);
	g_assert_false(relay_placeholder_has_puller(ph, "bob"));
	relay_placeholder_free(ph);
}

/* Other placeholder forms: data, valid, has_timestamp, timestamp, pullers
 * (NULL: unknown). */
static void test_placeholder_forms(void)
{
	static const char *const dashes[] = {"--- x ---", NULL};
	static const struct {
		const char *data;
		bool valid;
		bool has_ts;
		gint64 ts;
		const char *const *pullers;
	} cases[] = {
	    {"991231_235959\r\nbob\r\n", true, true, 946684799, bob},
	    {"700101_000000", true, true, 0, none},
	    {"231399_000000\nbob", false, false, 0, bob},
	    {"placeholder%1.0\r\ntimestamp: 12\r\n# readers #\r\nbob", true,
	     true, 12, bob},
	    {"placeholder%1.0\ntimestamp: 12x\n---pullers---", false, false, 0,
	     none},
	    {"placeholder%1.0\nparts: -1\n---pullers---", false, false, 0,
	     none},
	    {"placeholder%1.0\npusher: a", true, false, 0, none},
	    {"placeholder%1.0\n---pullers---\n--- x ---", true, false, 0,
	     dashes},
	    {"bob\x01", false, false, 0, NULL},
	    {"placeholder%1.0\n---pullers---\nbob\n\xff", false, false, 0,
	     NULL},
	    {"placeholder%1.0\ntimestamp: 5\n\xff\xfe", false, true, 5, NULL},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct relay_placeholder *ph = relay_placeholder_parse(
		    cases[i].data, strlen(cases[i].data));

		g_test_message("case %zu", i);
		g_assert_cmpint(ph->valid, ==, cases[i].valid);
		g_assert_cmpint(ph->has_timestamp, ==, cases[i].has_ts);
		if (cases[i].has_ts)
			g_assert_cmpint(ph->timestamp, ==, cases[i].ts);
		assert_strv(ph->pullers, cases[i].pullers);
		relay_placeholder_free(ph);
	}
}

static struct relay_placeholder *parse_relay_file(const char *dir,
						  const char *file)
{
	GBytes *bytes = read_vector(dir, file);
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);
	struct relay_placeholder *ph = relay_placeholder_parse(data, len);

	g_bytes_unref(bytes);
	return ph;
}

static void check_relay_lock(const char *file, const char *owner,
			     enum relay_lock_mode mode)
{
	GBytes *bytes = read_vector("escale-relay", file);
	struct relay_lock_info info;
	gsize len;
	const char *data = g_bytes_get_data(bytes, &len);

	relay_lock_parse(data, len, &info);
	g_assert_true(info.valid);
	g_assert_cmpstr(info.owner, ==, owner);
	g_assert_cmpint(info.mode, ==, mode);
	relay_lock_info_clear(&info);
	g_bytes_unref(bytes);
}

/* The relay escale wrote itself (ESCALE-RELAY.md). */
static void test_escale_relay(void)
{
	static const struct {
		const char *dir;
		const char *file;
		gint64 timestamp;
		const char *const *pullers;
	} cases[] = {
	    {"escale-relay", ".a.txt.placeholder", 1700000000, none},
	    {"escale-relay", ".b.bin.placeholder", 1700000100, bob},
	    {"escale-relay/sub", ".c.txt.placeholder", 1700000200, bob_carol},
	    {"escale-relay", ".d.txt.placeholder", 1700000300, none},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct relay_placeholder *ph =
		    parse_relay_file(cases[i].dir, cases[i].file);

		g_assert_true(ph->valid);
		g_assert_cmpstr(ph->pusher, ==, "alice");
		g_assert_true(ph->has_timestamp);
		g_assert_cmpint(ph->timestamp, ==, cases[i].timestamp);
		g_assert_cmpuint(strlen(ph->checksum), ==, 128);
		assert_strv(ph->pullers, cases[i].pullers);
		relay_placeholder_free(ph);
	}
	check_relay_lock(".a.txt.lock", "carol", RELAY_LOCK_READ);
	check_relay_lock(".d.txt.lock", "alice", RELAY_LOCK_WRITE);
}

/* Parse data with both parsers and check what they return is sane. */
static void parse_both(const char *data, size_t len)
{
	struct relay_lock_info info;
	struct relay_placeholder *ph;

	relay_lock_parse(data, len, &info);
	if (info.owner != NULL) {
		g_assert_true(g_utf8_validate(info.owner, -1, NULL));
		g_assert_null(strchr(info.owner, '\n'));
	}
	relay_lock_info_clear(&info);

	ph = relay_placeholder_parse(data, len);
	g_assert_nonnull(ph->unknown);
	if (ph->pullers != NULL) {
		g_assert_cmpuint(relay_placeholder_count_pullers(ph), <=,
				 ph->pullers->len);
		for (guint i = 0; i < ph->pullers->len; i++) {
			const char *p = g_ptr_array_index(ph->pullers, i);

			g_assert_cmpuint(strlen(p), >, 0);
			g_assert_true(g_utf8_validate(p, -1, NULL));
			g_assert_null(strchr(p, '\n'));
		}
	}
	relay_placeholder_free(ph);
}

/* Pieces that make random input reach deep into both parsers. */
static const char *const pieces[] = {
    "placeholder%1.0\n",
    "lock%1.0\n",
    "pusher: ",
    "owner: ",
    "mode: w",
    "timestamp: ",
    "checksum: ",
    "parts: ",
    "x: y",
    "---pullers---",
    "===weird===",
    "# readers",
    "\n",
    "\r\n",
    "\r",
    "",
    "bob",
    "alice",
    "231114_221320",
    "1700000000",
    "-",
    "%",
    ": ",
    "\t",
    "é",
    "\xff",
    "\xc3",
    "\x01",
    " ",
};

static GByteArray *random_input(void)
{
	GByteArray *buf = g_byte_array_new();
	guint n = (guint)g_test_rand_int_range(0, 40);
	guint8 byte;

	for (guint i = 0; i < n; i++) {
		if (g_test_rand_bit()) {
			const char *p = pieces[g_test_rand_int_range(
			    0, G_N_ELEMENTS(pieces))];

			g_byte_array_append(buf, (const guint8 *)p, strlen(p));
		} else {
			byte = (guint8)g_test_rand_int_range(0, 256);
			g_byte_array_append(buf, &byte, 1);
		}
	}
	if (g_test_rand_bit() && buf->len > 0)
		buf->data[g_test_rand_int_range(0, buf->len)] = '\0';
	return buf;
}

static void test_hostile_random(void)
{
	for (int i = 0; i < 5000; i++) {
		GByteArray *buf = random_input();

		parse_both((const char *)buf->data, buf->len);
		g_byte_array_unref(buf);
	}
}

/* 1 MiB of garbage, of one long line, of many lines; no final newline. */
static void test_hostile_large(void)
{
	const size_t big = 1024 * 1024;
	char *data = g_malloc(big + 1);
	size_t text_len;
	char *text;

	for (size_t i = 0; i < big; i++)
		data[i] = (char)g_test_rand_int_range(0, 256);
	parse_both(data, big);
	memset(data, 'a', big);
	data[big] = '\0';
	parse_both(data, big);
	text = g_strconcat("placeholder%1.0\npusher: ", data, NULL);
	g_free(data);
	data = NULL;
	parse_both(text, strlen(text));
	text_len = strlen(text);
	for (size_t i = 16; i < text_len; i += 7)
		text[i] = '\n';
	parse_both(text, text_len);
	memcpy(text, "lock%1.0\nowner: ", 16);
	parse_both(text, text_len);
	memset(text, '\0', 1000);
	parse_both(text, 1000);
	g_free(text);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/formats/expected-covered", test_expected_covered);
	g_test_add_func("/formats/vectors", test_format_vectors);
	g_test_add_func("/formats/escale-relay", test_escale_relay);
	g_test_add_func("/lock/round-trip", test_lock_round_trip);
	g_test_add_func("/lock/forms", test_lock_forms);
	g_test_add_func("/placeholder/format", test_placeholder_format);
	g_test_add_func("/placeholder/forms", test_placeholder_forms);
	g_test_add_func("/placeholder/append-puller", test_append_puller);
	g_test_add_func("/placeholder/count-pullers", test_count_pullers);
	g_test_add_func("/hostile/random", test_hostile_random);
	g_test_add_func("/hostile/large", test_hostile_large);
	return g_test_run();
}
