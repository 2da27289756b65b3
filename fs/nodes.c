/* The nodes of the files this mount has open or staged: a table by path,
 * reference counted, so that every handle on one file shares one state. */
#include "fs/relayfs.h"
#include "relay/names.h"

#include <string.h>

static void node_free(struct fs_node *node)
{
	fs_stream_stop_locked(node); /* nobody else holds it now */
	if (node->staged && node->deleted)
		cache_staged_discard(node->staged);
	else
		cache_staged_free(node->staged); /* kept for the next mount */
	if (node->item)
		cache_item_unref(node->item);
	relay_file_free(node->file);
	cache_hasher_free(node->pull_hasher);
	g_free(node->staged_key);
	g_free(node->finish_path);
	g_mutex_clear(&node->mutex);
	g_cond_clear(&node->hash_cond);
	g_free(node->path);
	g_free(node);
}

/* Nodes displaced by a rename that nothing held any more. */
static void free_orphans(struct relayfs *fs)
{
	GPtrArray *orphans;

	g_mutex_lock(&fs->nodes_mutex);
	orphans = fs->orphans;
	fs->orphans = g_ptr_array_new();
	g_mutex_unlock(&fs->nodes_mutex);
	for (guint i = 0; i < orphans->len; i++)
		node_free(orphans->pdata[i]);
	g_ptr_array_free(orphans, TRUE);
}

struct fs_node *fs_node_get(struct relayfs *fs, const char *path,
			    bool create, bool open)
{
	struct fs_node *node;

	g_mutex_lock(&fs->nodes_mutex);
	node = g_hash_table_lookup(fs->nodes, path);
	if (!node && create) {
		node = g_new0(struct fs_node, 1);
		node->path = g_strdup(path);
		g_mutex_init(&node->mutex);
		g_cond_init(&node->hash_cond);
		g_hash_table_insert(fs->nodes, node->path, node);
	}
	if (node) {
		node->refs++;
		atomic_fetch_add(&node->opens, open);
	}
	g_mutex_unlock(&fs->nodes_mutex);
	return node;
}

void fs_node_put(struct relayfs *fs, struct fs_node *node, bool was_open)
{
	bool drop;

	g_mutex_lock(&fs->nodes_mutex);
	node->refs--;
	atomic_fetch_add(&node->opens, -(int)was_open);
	drop = node->refs == 0;
	if (drop) {
		/* nobody else has it: its mutex is free */
		g_mutex_lock(&node->mutex);
		drop = !node->staged || node->deleted;
		g_mutex_unlock(&node->mutex);
	}
	if (drop && g_hash_table_lookup(fs->nodes, node->path) == node)
		g_hash_table_remove(fs->nodes, node->path);
	g_mutex_unlock(&fs->nodes_mutex);
	if (drop)
		node_free(node);
}

void fs_node_closed(struct relayfs *fs, struct fs_node *node)
{
	g_mutex_lock(&fs->nodes_mutex);
	atomic_fetch_add(&node->opens, -1);
	g_mutex_unlock(&fs->nodes_mutex);
}

void fs_node_ref(struct relayfs *fs, struct fs_node *node)
{
	g_mutex_lock(&fs->nodes_mutex);
	node->refs++;
	g_mutex_unlock(&fs->nodes_mutex);
}

int fs_node_lock(struct relayfs *fs, struct fs_node *node)
{
	/* not under nodes_mutex: another thread may hold mutex for a whole
	 * push, and everything else would wait for it */
	g_mutex_lock(&node->mutex);
	return atomic_load(&node->opens);
}

bool fs_node_mark_deleted(struct fs_node *node)
{
	bool had;

	g_mutex_lock(&node->mutex);
	had = node->staged != NULL && !node->deleted;
	node->deleted = true;
	fs_node_staged_changed_locked(node);
	g_mutex_unlock(&node->mutex);
	return had;
}

void fs_node_staged_changed_locked(struct fs_node *node)
{
	if (!node->staged || node->deleted)
		fs_stream_stop_locked(node);
	atomic_store(&node->staged_live,
			 node->staged != NULL && !node->deleted);
}

int fs_node_in_use_locked(struct fs_node *node)
{
	return atomic_load(&node->opens) - node->handles_done;
}

void fs_node_orphan(struct relayfs *fs, struct fs_node *node)
{
	g_mutex_lock(&fs->nodes_mutex);
	if (g_hash_table_lookup(fs->nodes, node->path) == node)
		g_hash_table_steal(fs->nodes, node->path);
	g_mutex_unlock(&fs->nodes_mutex);
}

void fs_node_hide(struct relayfs *fs, struct fs_node *node,
		  const char *hidden)
{
	g_mutex_lock(&fs->nodes_mutex);
	if (g_hash_table_lookup(fs->nodes, node->path) == node)
		g_hash_table_steal(fs->nodes, node->path);
	g_hash_table_replace(fs->hidden, g_strdup(hidden), node);
	g_mutex_unlock(&fs->nodes_mutex);
}

struct fs_node *fs_node_unhide(struct relayfs *fs, const char *hidden)
{
	gpointer key = NULL, node = NULL;

	g_mutex_lock(&fs->nodes_mutex);
	g_hash_table_steal_extended(fs->hidden, hidden, &key, &node);
	g_mutex_unlock(&fs->nodes_mutex);
	g_free(key);
	return node;
}

struct fs_node *fs_node_get_hidden(struct relayfs *fs, const char *hidden)
{
	struct fs_node *node;

	g_mutex_lock(&fs->nodes_mutex);
	node = g_hash_table_lookup(fs->hidden, hidden);
	if (node)
		node->refs++;
	g_mutex_unlock(&fs->nodes_mutex);
	return node;
}

/* Re-key node to `to` under nodes_mutex; a node there is replaced like
 * its file: unlinked (its staged copy, superseded, is never pushed). */
static void move_locked(struct relayfs *fs, struct fs_node *node,
			const char *to)
{
	struct fs_node *there = g_hash_table_lookup(fs->nodes, to);

	if (there && there != node) {
		g_hash_table_steal(fs->nodes, to);
		fs_node_mark_deleted(there);
		if (there->refs == 0)
			g_ptr_array_add(fs->orphans, there);
	}
	if (g_hash_table_lookup(fs->nodes, node->path) == node)
		g_hash_table_steal(fs->nodes, node->path);
	g_mutex_lock(&node->mutex);
	g_free(node->path);
	node->path = g_strdup(to);
	g_mutex_unlock(&node->mutex);
	g_hash_table_replace(fs->nodes, node->path, node);
}

void fs_node_move(struct relayfs *fs, struct fs_node *node, const char *to)
{
	g_mutex_lock(&fs->nodes_mutex);
	move_locked(fs, node, to);
	g_mutex_unlock(&fs->nodes_mutex);
	free_orphans(fs);
}

typedef bool (*node_match_fn)(struct fs_node *node, const void *data);

/* The nodes of the table that match (nodes_mutex held; match may take a
 * node's mutex). */
static GPtrArray *nodes_where_locked(struct relayfs *fs, node_match_fn match,
				     const void *data)
{
	GPtrArray *found = g_ptr_array_new();
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, fs->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value))
		if (match(value, data))
			g_ptr_array_add(found, value);
	return found;
}

static bool is_inside(struct fs_node *node, const void *dir)
{
	size_t len = strlen(dir);

	return strncmp(node->path, dir, len) == 0 && node->path[len] == '/';
}

static bool is_staged_in(struct fs_node *node, const void *dir)
{
	g_autofree char *parent = relay_path_dirname(node->path);
	bool staged;

	staged = atomic_load(&node->staged_live);
	return staged && strcmp(parent, dir) == 0;
}

static bool is_pending(struct fs_node *node, const void *unused)
{
	return atomic_load(&node->staged_live) &&
	       atomic_load(&node->opens) == 0;
}

void fs_nodes_move_dir(struct relayfs *fs, const char *from, const char *to)
{
	g_autoptr(GPtrArray) inside = NULL;
	size_t len = strlen(from);

	g_mutex_lock(&fs->nodes_mutex);
	inside = nodes_where_locked(fs, is_inside, from);
	for (guint i = 0; i < inside->len; i++) {
		struct fs_node *node = inside->pdata[i];
		g_autofree char *moved = g_strconcat(to, node->path + len,
						     NULL);

		g_mutex_lock(&node->mutex);
		fs_stream_stop_locked(node); /* it went to the old path */
		if (node->staged)
			cache_staged_set_path(node->staged, moved);
		g_mutex_unlock(&node->mutex);
		move_locked(fs, node, moved);
	}
	g_mutex_unlock(&fs->nodes_mutex);
	free_orphans(fs);
}

GPtrArray *fs_nodes_staged_in(struct relayfs *fs, const char *dir)
{
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) staged = NULL;

	g_mutex_lock(&fs->nodes_mutex);
	staged = nodes_where_locked(fs, is_staged_in, dir);
	for (guint i = 0; i < staged->len; i++) {
		struct fs_node *node = staged->pdata[i];

		g_ptr_array_add(names,
				g_strdup(relay_path_basename(node->path)));
	}
	g_mutex_unlock(&fs->nodes_mutex);
	return names;
}

GPtrArray *fs_nodes_pending(struct relayfs *fs)
{
	GPtrArray *pending;

	g_mutex_lock(&fs->nodes_mutex);
	pending = nodes_where_locked(fs, is_pending, NULL);
	for (guint i = 0; i < pending->len; i++)
		((struct fs_node *)pending->pdata[i])->refs++;
	g_mutex_unlock(&fs->nodes_mutex);
	return pending;
}

void fs_nodes_free(struct relayfs *fs)
{
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, fs->nodes);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		g_hash_table_iter_steal(&it);
		node_free(value);
	}
	g_hash_table_destroy(fs->nodes);
	g_hash_table_iter_init(&it, fs->hidden);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		struct fs_node *node = value;

		g_hash_table_iter_remove(&it);
		if (--node->refs == 0)
			node_free(node);
	}
	g_hash_table_destroy(fs->hidden);
	free_orphans(fs);
	g_ptr_array_free(fs->orphans, TRUE);
}
