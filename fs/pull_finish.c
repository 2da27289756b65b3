/* A pull's end after the reader's close: its registration and unlock go
 * to a pool and a journal, so close never waits and a crash loses none. */
#include "fs/relayfs.h"

#include <errno.h>
#include <string.h>

/* The version checked, as the journal keeps it: what the registration
 * compares with the placeholder it finds (relay/sequences.c). */
static char *version_text(const struct relay_placeholder *ph)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();

	if (ph && ph->pusher)
		g_key_file_set_string(kf, "version", "pusher", ph->pusher);
	if (ph && ph->has_timestamp)
		g_key_file_set_int64(kf, "version", "timestamp",
				     ph->timestamp);
	if (ph && ph->checksum)
		g_key_file_set_string(kf, "version", "checksum", ph->checksum);
	g_key_file_set_boolean(kf, "version", "placeholder", ph != NULL);
	return g_key_file_to_data(kf, NULL, NULL);
}

/* version_text read back; false when it is not one. */
static bool version_parse(const char *text, struct relay_placeholder *ph,
			  bool *has_placeholder)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error = NULL;

	memset(ph, 0, sizeof(*ph));
	if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE,
				       NULL))
		return false;
	*has_placeholder = g_key_file_get_boolean(kf, "version", "placeholder",
						  &error);
	if (error)
		return false;
	ph->pusher = g_key_file_get_string(kf, "version", "pusher", NULL);
	ph->checksum = g_key_file_get_string(kf, "version", "checksum", NULL);
	ph->has_timestamp = g_key_file_has_key(kf, "version", "timestamp",
					       NULL);
	if (ph->has_timestamp)
		ph->timestamp = g_key_file_get_int64(kf, "version",
						     "timestamp", NULL);
	ph->valid = true;
	ph->parts = -1;
	return true;
}

/* Register node's pull if it is still pending, then forget its entry. */
static void finish_locked(struct relayfs *fs, struct fs_node *node)
{
	g_autofree char *journaled = NULL;
	int ret;

	if (!node->finish_pending)
		return;
	node->finish_pending = false;
	journaled = g_steal_pointer(&node->finish_path);
	/* a failure keeps the entry: the retry thread replays it */
	ret = fs_register_pull_locked(fs, node);
	if (ret == 0 && journaled)
		cache_journal_pull_remove(fs->cache, journaled);
	if (ret < 0) {
		g_mutex_lock(&fs->finish_mutex);
		fs->finish_error = ret;
		g_mutex_unlock(&fs->finish_mutex);
	}
}

static void finishing_add(struct relayfs *fs, int n)
{
	g_mutex_lock(&fs->finish_mutex);
	fs->finishing += n;
	if (fs->finishing == 0)
		g_cond_broadcast(&fs->finish_cond);
	g_mutex_unlock(&fs->finish_mutex);
}

int fs_pull_finish_wait(struct relayfs *fs)
{
	int ret;

	g_mutex_lock(&fs->finish_mutex);
	while (fs->finishing > 0)
		g_cond_wait(&fs->finish_cond, &fs->finish_mutex);
	ret = fs->finish_error;
	fs->finish_error = 0;
	g_mutex_unlock(&fs->finish_mutex);
	return ret;
}

void fs_pull_finish_now_locked(struct relayfs *fs, struct fs_node *node)
{
	finish_locked(fs, node);
}

void fs_pull_register_now_locked(struct relayfs *fs, struct fs_node *node)
{
	if (node->pull_checked && !node->pull_done && !node->pull_error) {
		node->pull_checked = false;
		node->pull_done = true;
		fs_register_pull_locked(fs, node);
	}
	finish_locked(fs, node);
}

static void finish_job(gpointer data, gpointer user_data)
{
	struct fs_node *node = data;
	struct relayfs *fs = user_data;
	bool was = relay_thread_background(true); /* nobody waits for it */

	fs_node_lock(fs, node);
	finish_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	relay_thread_background(was);
	fs_node_put(fs, node, false);
	finishing_add(fs, -1);
}

void fs_pull_finish_defer_locked(struct relayfs *fs, struct fs_node *node)
{
	g_autofree char *version = version_text(node->file->placeholder);

	node->pull_done = true;
	node->finish_pending = true;
	if (!fs->finishers ||
	    cache_journal_pull_add(fs->cache, node->path, version) < 0) {
		finish_locked(fs, node); /* not safe to leave: now */
		return;
	}
	g_free(node->finish_path);
	node->finish_path = g_strdup(node->path);
	fs_node_ref(fs, node);
	finishing_add(fs, 1);
	g_thread_pool_push(fs->finishers, node, NULL);
}

void fs_pull_finish_path(struct relayfs *fs, const char *path)
{
	struct fs_node *node = fs_node_get(fs, path, false, false);

	if (!node)
		return;
	fs_node_lock(fs, node);
	finish_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	fs_node_put(fs, node, false);
}

/* Is a live node's registration of path pending (its own job does it)? */
static bool pending_here(struct relayfs *fs, const char *path)
{
	struct fs_node *node = fs_node_get(fs, path, false, false);
	bool pending;

	if (!node)
		return false;
	fs_node_lock(fs, node);
	pending = node->finish_pending;
	g_mutex_unlock(&node->mutex);
	fs_node_put(fs, node, false);
	return pending;
}

/* One journaled registration, under a read lock of its own: 0 once it is
 * done or has nothing left to do. */
static int replay_one(struct relayfs *fs, const struct cache_journal_pull *p)
{
	struct relay_placeholder verified;
	bool has_placeholder = false, removed = false;
	int ret;

	if (!version_parse(p->version, &verified, &has_placeholder))
		return 0; /* not ours to read: nothing to finish */
	ret = relay_lock_acquire(fs->relay, p->path, RELAY_LOCK_READ);
	if (ret == 0) {
		ret = relay_register_pull(fs->relay, p->path,
					  has_placeholder ? &verified : NULL,
					  &removed);
		relay_lock_release(fs->relay, p->path);
	}
	if (ret == -ENOENT)
		ret = 0; /* the file is gone: nothing to register in */
	g_free(verified.pusher);
	g_free(verified.checksum);
	return ret;
}

void fs_pull_finish_replay(struct relayfs *fs)
{
	g_autoptr(GPtrArray) pulls = cache_journal_pulls(fs->cache);

	for (guint i = 0; i < pulls->len; i++) {
		struct cache_journal_pull *p = pulls->pdata[i];
		int ret;

		if (pending_here(fs, p->path))
			continue;
		g_message("registering the pull of %s left unregistered",
			  p->path);
		ret = replay_one(fs, p);
		if (ret == 0)
			cache_journal_pull_remove(fs->cache, p->path);
		else
			fs_log_file(G_LOG_LEVEL_WARNING, p->path, ret,
				    "pull of %s: registration failed: %s; "
				    "tried again later", p->path,
				    g_strerror(-ret));
		fs_invalidate_parent(fs, p->path);
	}
}

void fs_pull_finish_start(struct relayfs *fs)
{
	g_mutex_init(&fs->finish_mutex);
	g_cond_init(&fs->finish_cond);
	fs->finishers = g_thread_pool_new(finish_job, fs,
					  (gint)fs->cfg->transfers, FALSE,
					  NULL);
}

void fs_pull_finish_stop(struct relayfs *fs)
{
	GThreadPool *pool = fs->finishers;

	if (!pool)
		return;
	fs->finishers = NULL; /* what is closed now is finished at once */
	g_thread_pool_free(pool, FALSE, TRUE);
}
