/* The metadata cache: directory listings kept in memory for dir_cache
 * seconds, dropped at once when this mount changes the directory. */
#ifndef CACHE_META_H
#define CACHE_META_H

#include <glib.h>

struct cache_meta;

struct cache_meta *cache_meta_new(unsigned ttl_seconds);
void cache_meta_free(struct cache_meta *m);
/* The listing of dir (name -> entry) if fresh (a new reference), else
 * NULL. */
GHashTable *cache_meta_get(struct cache_meta *m, const char *dir);
/* The last listing of dir however old (a new reference), or NULL: what
 * to show while the relay cannot be reached. */
GHashTable *cache_meta_get_stale(struct cache_meta *m, const char *dir);
/* Keep entries (a new reference is taken) as dir's listing. */
void cache_meta_put(struct cache_meta *m, const char *dir,
		    GHashTable *entries);
/* Replace dir's listing old by entries, an updated copy, keeping its age;
 * if dir was listed or updated anew meanwhile, its listing is dropped. */
void cache_meta_replace(struct cache_meta *m, const char *dir,
			GHashTable *old, GHashTable *entries);
void cache_meta_invalidate(struct cache_meta *m, const char *dir);

#endif
