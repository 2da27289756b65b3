/* Deferred pushes (-o writeback=SECONDS): close keeps the staged copy safe
 * on disk and returns; the push starts once the file has rested. */
#include "fs/relayfs.h"

#include <errno.h>
#include <unistd.h>

bool fs_push_deferred(struct relayfs *fs, struct fs_node *node)
{
	gint64 due = atomic_load(&node->push_due);

	/* without writeback a failed push is retried at every round */
	return fs->cfg->writeback_ms && due != 0 &&
	       due > g_get_monotonic_time() && !atomic_load(&fs->pushing_all);
}

int fs_defer_push_locked(struct relayfs *fs, struct fs_node *node)
{
	struct cache_staged *s = node->staged;
	gint64 due = g_get_monotonic_time() +
		     (gint64)fs->cfg->writeback_ms * 1000;
	int ret = 0;

	if (!s || !s->dirty || node->deleted)
		return 0;
	/* safe in the journal: the bytes on disk, then the record that says
	 * the writer closed them (which the next mount pushes) */
	if (fdatasync(s->fd) != 0)
		ret = -errno;
	if (ret == 0)
		ret = cache_staged_set_closed(s);
	if (ret < 0) {
		fs_log_file(G_LOG_LEVEL_WARNING, node->path, ret,
			    "writeback: the copy of %s is not safe on disk "
			    "(%s); pushing it now", node->path,
			    g_strerror(-ret));
		return fs_push_locked(fs, node);
	}
	atomic_store(&node->push_due, due);
	return 0;
}

void fs_push_failed(struct relayfs *fs, struct fs_node *node)
{
	atomic_store(&node->push_due,
		     g_get_monotonic_time() +
			     (gint64)fs_retry_interval() * G_USEC_PER_SEC);
}

static void push_job(gpointer data, gpointer user_data)
{
	struct fs_node *node = data;
	struct relayfs *fs = user_data;

	if (fs_node_lock(fs, node) == 0 && !fs_push_deferred(fs, node))
		fs_close_writer_locked(fs, node);
	g_mutex_unlock(&node->mutex);
	atomic_store(&node->push_queued, false);
	fs_node_put(fs, node, false);
}

void fs_writeback_start(struct relayfs *fs)
{
	if (fs->cfg->writeback_ms)
		fs->pushers = g_thread_pool_new(push_job, fs,
						(gint)fs->cfg->transfers, FALSE,
						NULL);
}

bool fs_writeback_submit(struct relayfs *fs, struct fs_node *node)
{
	bool queued = false;

	if (!fs->pushers)
		return false;
	if (atomic_compare_exchange_strong(&node->push_queued, &queued,
					   true)) {
		fs_node_ref(fs, node);
		g_thread_pool_push(fs->pushers, node, NULL);
	}
	return true;
}

void fs_writeback_stop(struct relayfs *fs)
{
	g_autoptr(GPtrArray) pending = NULL;

	if (!fs->pushers)
		return;
	atomic_store(&fs->pushing_all, true);
	pending = fs_nodes_pending(fs);
	for (guint i = 0; i < pending->len; i++) {
		struct fs_node *node = pending->pdata[i];

		g_message("writeback: pushing %s before unmount", node->path);
		fs_writeback_submit(fs, node);
		fs_node_put(fs, node, false);
	}
	g_thread_pool_free(fs->pushers, FALSE, TRUE);
	fs->pushers = NULL;
}
