/* Read-only extended attributes that show the protocol state of a file
 * (user.relay.*) and, on the mount's root, this mount's statistics. */
#include "fs/relayfs.h"

#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

static const char *const file_attrs[] = {
	"user.relay.state", "user.relay.pusher", "user.relay.pullers",
	"user.relay.timestamp", "user.relay.checksum", "user.relay.lock",
	NULL,
};

static int reply(const char *text, char *value, size_t size)
{
	size_t len;

	if (!text)
		return -ENODATA;
	len = strlen(text);
	if (size == 0)
		return len;
	if (size < len)
		return -ERANGE;
	memcpy(value, text, len);
	return len;
}

/* State of a staged copy, or NULL when path has none. */
static const char *staged_state(struct relayfs *fs, const char *path)
{
	struct fs_node *node = fs_node_get(fs, path, false, false);
	int opens;
	bool staged;

	if (!node)
		return NULL;
	g_mutex_lock(&node->mutex);
	opens = fs_node_in_use_locked(node);
	staged = node->staged && node->staged->dirty; /* not pushed yet */
	g_mutex_unlock(&node->mutex);
	fs_node_put(fs, node, false);
	if (!staged)
		return NULL;
	return opens > 0 ? "uploading" : "pending";
}

static char *join_pullers(const GPtrArray *pullers)
{
	GString *list = g_string_new(NULL);

	for (guint i = 0; i < pullers->len; i++)
		g_string_append_printf(list, "%s%s", i ? "," : "",
				       (const char *)pullers->pdata[i]);
	return g_string_free(list, FALSE);
}

static char *file_attr(struct relayfs *fs, const struct relay_file *f,
		       const char *name)
{
	const struct relay_placeholder *ph = f->placeholder;
	const char *me = relay_params(fs->relay)->client;

	if (strcmp(name, "user.relay.state") == 0) {
		if (f->state == RELAY_READY && ph &&
		    relay_placeholder_has_puller(ph, me))
			return g_strdup("pulled");
		return g_strdup(relay_file_state_name(f->state));
	}
	if (strcmp(name, "user.relay.lock") == 0 && f->has_lock)
		return g_strdup_printf("%s %c", f->lock.owner ? f->lock.owner :
				       "unknown", f->lock.mode ? f->lock.mode :
				       '?');
	if (!ph)
		return NULL;
	if (strcmp(name, "user.relay.pusher") == 0)
		return g_strdup(ph->pusher);
	if (strcmp(name, "user.relay.timestamp") == 0 && ph->has_timestamp)
		return g_strdup_printf("%" G_GINT64_FORMAT, ph->timestamp);
	if (strcmp(name, "user.relay.checksum") == 0)
		return g_strdup(ph->checksum);
	if (strcmp(name, "user.relay.pullers") == 0 && ph->pullers)
		return join_pullers(ph->pullers);
	return NULL;
}

static char *root_stats(struct relayfs *fs)
{
	g_autofree char *relay = relay_stats(fs->relay);
	struct statvfs disk;
	uint64_t disk_free = 0;

	/* the cache's own disk: statfs of the mount tells the relay's */
	if (statvfs(cache_dir(fs->cache), &disk) == 0)
		disk_free = (uint64_t)disk.f_bavail * disk.f_frsize;
	return g_strdup_printf("%s cache_hits=%" G_GINT64_FORMAT
			       " cache_misses=%" G_GINT64_FORMAT
			       " cache_used=%" G_GUINT64_FORMAT
			       " cache_size=%" G_GUINT64_FORMAT
			       " cache_disk_free=%" G_GUINT64_FORMAT, relay,
			       atomic_load_explicit(&fs->cache_hits,
					       memory_order_relaxed),
			       atomic_load_explicit(&fs->cache_misses,
					       memory_order_relaxed),
			       cache_used(fs->cache), fs->cfg->cache_size,
			       disk_free);
}

int fs_getxattr(struct relayfs *fs, const char *path, const char *name,
		char *value, size_t size)
{
	g_autofree char *text = NULL;
	const char *state = path[0] ? staged_state(fs, path) : NULL;
	struct relay_file *f;
	int ret;

	if (path[0] == '\0' && strcmp(name, "user.relay.status") == 0)
		text = fs_status_text(fs);
	else if (path[0] == '\0')
		text = strcmp(name, "user.relay.stats") == 0 ?
			       root_stats(fs) : NULL;
	else if (state)
		text = strcmp(name, "user.relay.state") == 0 ?
			       g_strdup(state) : NULL;
	else {
		ret = fs_lookup(fs, path, &f);
		if (ret < 0)
			return ret;
		text = file_attr(fs, f, name);
		relay_file_free(f);
	}
	return reply(text, value, size);
}

int fs_listxattr(struct relayfs *fs, const char *path, char *list,
		 size_t size)
{
	GString *names = g_string_new(NULL);
	int ret;

	if (path[0] == '\0')
		g_string_append_len(names, "user.relay.stats\0"
					   "user.relay.status", 35);
	else
		for (int i = 0; file_attrs[i]; i++)
			g_string_append_len(names, file_attrs[i],
					    strlen(file_attrs[i]) + 1);
	ret = names->len;
	if (size > 0 && size < names->len)
		ret = -ERANGE;
	else if (size > 0)
		memcpy(list, names->str, names->len);
	g_string_free(names, TRUE);
	return ret;
}
