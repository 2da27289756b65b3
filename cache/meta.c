/* The metadata cache: listings by directory path with the time they were
 * made; a listing older than the ttl is not returned. */
#include "cache/meta.h"

struct cache_meta {
	gint64 ttl_us;
	GMutex mutex;
	GHashTable *listings;	/* dir -> struct listing * */
};

struct listing {
	gint64 made;		/* monotonic, microseconds */
	GHashTable *entries;
};

static void listing_free(gpointer data)
{
	struct listing *l = data;

	g_hash_table_unref(l->entries);
	g_free(l);
}

struct cache_meta *cache_meta_new(unsigned ttl_seconds)
{
	struct cache_meta *m = g_new0(struct cache_meta, 1);

	m->ttl_us = (gint64)ttl_seconds * G_USEC_PER_SEC;
	g_mutex_init(&m->mutex);
	m->listings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    listing_free);
	return m;
}

void cache_meta_free(struct cache_meta *m)
{
	if (!m)
		return;
	g_hash_table_destroy(m->listings);
	g_mutex_clear(&m->mutex);
	g_free(m);
}

GHashTable *cache_meta_get(struct cache_meta *m, const char *dir)
{
	struct listing *l;
	GHashTable *entries = NULL;

	g_mutex_lock(&m->mutex);
	l = g_hash_table_lookup(m->listings, dir);
	if (l && g_get_monotonic_time() - l->made < m->ttl_us)
		entries = g_hash_table_ref(l->entries);
	g_mutex_unlock(&m->mutex);
	return entries;
}

GHashTable *cache_meta_get_stale(struct cache_meta *m, const char *dir)
{
	struct listing *l;
	GHashTable *entries = NULL;

	g_mutex_lock(&m->mutex);
	l = g_hash_table_lookup(m->listings, dir);
	if (l)
		entries = g_hash_table_ref(l->entries);
	g_mutex_unlock(&m->mutex);
	return entries;
}

void cache_meta_put(struct cache_meta *m, const char *dir,
		    GHashTable *entries)
{
	struct listing *l = g_new0(struct listing, 1);

	l->made = g_get_monotonic_time();
	l->entries = g_hash_table_ref(entries);
	g_mutex_lock(&m->mutex);
	g_hash_table_replace(m->listings, g_strdup(dir), l);
	g_mutex_unlock(&m->mutex);
}

void cache_meta_replace(struct cache_meta *m, const char *dir,
			GHashTable *old, GHashTable *entries)
{
	struct listing *l;

	g_mutex_lock(&m->mutex);
	l = g_hash_table_lookup(m->listings, dir);
	if (l && l->entries == old) {
		g_hash_table_unref(l->entries);
		l->entries = g_hash_table_ref(entries);
	} else if (l) {
		/* another update came first: listing again loses neither */
		g_hash_table_remove(m->listings, dir);
	}
	g_mutex_unlock(&m->mutex);
}

void cache_meta_invalidate(struct cache_meta *m, const char *dir)
{
	g_mutex_lock(&m->mutex);
	g_hash_table_remove(m->listings, dir);
	g_mutex_unlock(&m->mutex);
}
