/* The journal of locks this mount holds on the relay (read locks of pulls
 * in progress), so that the next mount can release what a crash left. */
#ifndef CACHE_JOURNAL_H
#define CACHE_JOURNAL_H

#include <glib.h>

#include "cache/blocks.h"

/* Record that we hold path's lock (fsynced). */
int cache_journal_add(struct cache *c, const char *path);
void cache_journal_remove(struct cache *c, const char *path);
/* Paths recorded by an earlier mount (char *, owned by the array). */
GPtrArray *cache_journal_list(struct cache *c);

#endif
