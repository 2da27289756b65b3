/* `relayfs status`: what a mount is doing. The mount writes its state as a
 * key file (user.relay.status of its root); the command prints it. */
#include "fs/relayfs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#define STATUS_ATTR "user.relay.status"

void fs_moving_start(struct fs_node *node, enum fs_moving kind,
		     uint64_t total)
{
	atomic_store(&node->moving_done, 0);
	atomic_store(&node->moving_total, total);
	atomic_store(&node->moving_since, g_get_monotonic_time());
	atomic_store(&node->moving, kind);
}

void fs_moving_stop(struct fs_node *node)
{
	atomic_store(&node->moving, FS_MOVING_NONE);
}

/* ---- the mount's side ---- */

static void add_counters(GKeyFile *kf, struct relayfs *fs)
{
	g_autofree char *stats = relay_stats(fs->relay);
	g_auto(GStrv) words = g_strsplit(stats, " ", -1);

	for (char **w = words; *w; w++) {
		char *eq = strchr(*w, '=');

		if (eq) {
			*eq = '\0';
			g_key_file_set_string(kf, "counters", *w, eq + 1);
		}
	}
}

static void add_mount(GKeyFile *kf, struct relayfs *fs)
{
	const struct relayfs_config *cfg = fs->cfg;

	g_key_file_set_string(kf, "mount", "relay", cfg->relay_shown);
	g_key_file_set_string(kf, "mount", "client", cfg->client);
	g_key_file_set_string(kf, "mount", "mountpoint", cfg->mountpoint);
	g_key_file_set_int64(kf, "mount", "started", (gint64)fs->started);
	g_key_file_set_uint64(kf, "mount", "cache_used", cache_used(fs->cache));
	g_key_file_set_uint64(kf, "mount", "cache_size", cfg->cache_size);
}

/* One group per node that moves bytes or waits to be pushed. */
static void add_node(GKeyFile *kf, struct relayfs *fs, struct fs_node *node,
		     unsigned *n)
{
	int moving = atomic_load(&node->moving);
	bool pending = atomic_load(&node->staged_live) &&
		       atomic_load(&node->opens) == 0;
	gint64 now = g_get_monotonic_time();
	/* with writeback a copy waits for its own time, else for the round */
	gint64 due = fs->cfg->writeback_ms ? atomic_load(&node->push_due) : 0;
	gint64 next = due > now ? due : atomic_load(&fs->retry_next);
	char group[32];

	if (moving == FS_MOVING_NONE && !pending)
		return;
	snprintf(group, sizeof(group), "%s %u",
		 moving != FS_MOVING_NONE ? "transfer" : "pending", ++*n);
	g_key_file_set_string(kf, group, "path", node->path);
	if (moving != FS_MOVING_NONE) {
		g_key_file_set_string(kf, group, "kind",
				      moving == FS_MOVING_PUSH ? "push"
							       : "pull");
		g_key_file_set_uint64(kf, group, "total",
				      atomic_load(&node->moving_total));
		g_key_file_set_uint64(kf, group, "done",
				      atomic_load(&node->moving_done));
		g_key_file_set_int64(kf, group, "elapsed_ms",
				     (now - atomic_load(&node->moving_since)) /
					     1000);
		return;
	}
	if (atomic_load(&node->push_error))
		g_key_file_set_string(kf, group, "error",
				      g_strerror(-atomic_load(
					      &node->push_error)));
	if (next > now)
		g_key_file_set_int64(kf, group, "retry_in",
				     (next - now + 999999) / G_USEC_PER_SEC);
}

/* One group per pull read whose registration is not done yet: the
 * journal's entries, whether their job runs or waits for a retry. */
static void add_registrations(GKeyFile *kf, struct relayfs *fs)
{
	g_autoptr(GPtrArray) pulls = cache_journal_pulls(fs->cache);

	for (guint i = 0; i < pulls->len; i++) {
		const struct cache_journal_pull *p = pulls->pdata[i];
		char group[32];

		snprintf(group, sizeof(group), "registration %u", i + 1);
		g_key_file_set_string(kf, group, "path", p->path);
	}
}

char *fs_status_text(struct relayfs *fs)
{
	GKeyFile *kf = g_key_file_new();
	GHashTableIter it;
	gpointer value;
	unsigned n = 0;
	char *text;

	add_mount(kf, fs);
	add_counters(kf, fs);
	g_mutex_lock(&fs->nodes_mutex);
	g_hash_table_iter_init(&it, fs->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		add_node(kf, fs, value, &n);
	g_mutex_unlock(&fs->nodes_mutex);
	add_registrations(kf, fs);
	text = g_key_file_to_data(kf, NULL, NULL);
	g_key_file_free(kf);
	return text;
}

/* ---- the command's side ---- */

/* "3.0 MiB", with a plain space (GLib puts a no-break space). */
static char *size_text(uint64_t bytes)
{
	char *text = g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
	char *nbsp = strstr(text, "\u00a0");

	if (nbsp) {
		*nbsp = ' ';
		memmove(nbsp + 1, nbsp + 2, strlen(nbsp + 2) + 1);
	}
	return text;
}

static void print_counters(GKeyFile *kf)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, "counters", NULL, NULL);
	GString *line = g_string_new(NULL);
	guint64 total = 0;
	g_autofree char *up = NULL, *down = NULL;

	for (char **k = keys; k && *k; k++) {
		guint64 v = g_key_file_get_uint64(kf, "counters", *k, NULL);

		if (g_str_has_prefix(*k, "bytes_"))
			continue;
		total += v;
		if (v)
			g_string_append_printf(line, "%s%s %" G_GUINT64_FORMAT,
					       line->len ? ", " : "", *k, v);
	}
	up = size_text(g_key_file_get_uint64(kf, "counters", "bytes_up", NULL));
	down = size_text(g_key_file_get_uint64(kf, "counters", "bytes_down",
					       NULL));
	printf("  requests   %" G_GUINT64_FORMAT "%s%s%s; %s up, %s down\n",
	       total, line->len ? " (" : "", line->str, line->len ? ")" : "",
	       up, down);
	g_string_free(line, TRUE);
}

static void print_transfer(GKeyFile *kf, const char *group)
{
	g_autofree char *path = g_key_file_get_string(kf, group, "path", NULL);
	g_autofree char *kind = g_key_file_get_string(kf, group, "kind", NULL);
	guint64 total = g_key_file_get_uint64(kf, group, "total", NULL);
	guint64 done = g_key_file_get_uint64(kf, group, "done", NULL);
	gint64 ms = g_key_file_get_int64(kf, group, "elapsed_ms", NULL);
	double rate = ms > 0 ? (double)done * 1000.0 / (double)ms : 0;
	g_autofree char *done_text = size_text(done);
	g_autofree char *total_text = size_text(total);
	g_autofree char *rate_text = size_text((guint64)rate);

	printf("    %-4s %s  %s of %s", kind, path, done_text, total_text);
	if (rate > 0 && done < total)
		printf(", %s/s, %.0f s left", rate_text,
		       (double)(total - done) / rate);
	printf("\n");
}

static void print_pending(GKeyFile *kf, const char *group)
{
	g_autofree char *path = g_key_file_get_string(kf, group, "path", NULL);
	g_autofree char *error = g_key_file_get_string(kf, group, "error",
						       NULL);
	GError *missing = NULL;
	gint64 retry = g_key_file_get_int64(kf, group, "retry_in", &missing);

	printf("    %s  %s", path, error ? error : "not pushed yet");
	if (!missing)
		printf("; next try in %" G_GINT64_FORMAT " s", retry);
	printf("\n");
	g_clear_error(&missing);
}

static void print_registration(GKeyFile *kf, const char *group)
{
	g_autofree char *path = g_key_file_get_string(kf, group, "path", NULL);

	printf("    %s  read, its pull not registered on the relay yet\n",
	       path);
}

static void print_groups(GKeyFile *kf, const char *prefix, const char *title,
			 void (*print)(GKeyFile *, const char *))
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	bool any = false;

	for (char **g = groups; *g; g++) {
		if (!g_str_has_prefix(*g, prefix))
			continue;
		if (!any)
			printf("  %s\n", title);
		any = true;
		print(kf, *g);
	}
	if (!any)
		printf("  %s none\n", title);
}

static void print_status(GKeyFile *kf)
{
	g_autofree char *relay = g_key_file_get_string(kf, "mount", "relay",
						       NULL);
	g_autofree char *client = g_key_file_get_string(kf, "mount", "client",
							NULL);
	g_autofree char *mnt = g_key_file_get_string(kf, "mount", "mountpoint",
						     NULL);
	g_autofree char *used = size_text(
		g_key_file_get_uint64(kf, "mount", "cache_used", NULL));
	g_autofree char *size = size_text(
		g_key_file_get_uint64(kf, "mount", "cache_size", NULL));
	gint64 started = g_key_file_get_int64(kf, "mount", "started", NULL);
	g_autoptr(GDateTime) when = g_date_time_new_from_unix_local(started);
	g_autofree char *since = when ? g_date_time_format(when, "%F %T")
				      : g_strdup("?");

	printf("%s\n  relay      %s\n  client     %s\n  mounted    %s\n"
	       "  cache      %s of %s\n", mnt, relay, client, since, used, size);
	print_counters(kf);
	print_groups(kf, "transfer ", "transfers ", print_transfer);
	print_groups(kf, "pending ", "pending   ", print_pending);
	print_groups(kf, "registration ", "registering", print_registration);
}

/* 0 after printing the mount at mnt, else 1 after a message. */
static int show_mount(const char *mnt)
{
	g_autofree char *text = NULL;
	GKeyFile *kf;
	GError *error = NULL;
	ssize_t len = getxattr(mnt, STATUS_ATTR, NULL, 0);

	if (len >= 0) {
		text = g_malloc0((size_t)len + 4096);
		len = getxattr(mnt, STATUS_ATTR, text, (size_t)len + 4095);
	}
	if (len < 0) {
		fprintf(stderr, "relayfs: %s: %s\n", mnt,
			errno == ENODATA || errno == ENOTSUP
				? "not a relayfs mount"
				: g_strerror(errno));
		return 1;
	}
	kf = g_key_file_new();
	if (!g_key_file_load_from_data(kf, text, (gsize)len, G_KEY_FILE_NONE,
				       &error)) {
		fprintf(stderr, "relayfs: %s: unreadable status: %s\n", mnt,
			error->message);
		g_error_free(error);
		g_key_file_free(kf);
		return 1;
	}
	print_status(kf);
	g_key_file_free(kf);
	return 0;
}

/* The mountpoints of /proc/self/mountinfo of type fuse.relayfs, with
 * their octal escapes (\040 for a space) undone. */
static GPtrArray *relayfs_mounts(void)
{
	GPtrArray *mounts = g_ptr_array_new_with_free_func(g_free);
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
		return mounts;
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		g_auto(GStrv) f = g_strsplit(*l, " ", -1);
		guint n = g_strv_length(f);

		for (guint i = 6; i + 1 < n; i++)
			if (strcmp(f[i], "-") == 0 &&
			    strcmp(f[i + 1], "fuse.relayfs") == 0)
				g_ptr_array_add(mounts,
						g_strcompress(f[4]));
	}
	return mounts;
}

int fs_status_main(int argc, char **argv)
{
	g_autoptr(GPtrArray) mounts = NULL;
	int ret = 0;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: relayfs status [MOUNTPOINT]\n");
		return 2;
	}
	if (argc == 2)
		return show_mount(argv[1]);
	mounts = relayfs_mounts();
	if (mounts->len == 0) {
		printf("no relayfs mount\n");
		return 0;
	}
	for (guint i = 0; i < mounts->len; i++) {
		if (i)
			printf("\n");
		ret |= show_mount(mounts->pdata[i]);
	}
	return ret;
}
