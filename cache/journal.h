/* The journals of what this mount owes the relay: the locks it holds (read
 * locks of pulls in progress), and the pulls read and not yet registered,
 * so that the next mount can finish what a crash left. */
#ifndef CACHE_JOURNAL_H
#define CACHE_JOURNAL_H

#include <glib.h>

#include "cache/blocks.h"

/* Record that we hold path's lock (fsynced). */
int cache_journal_add(struct cache *c, const char *path);
void cache_journal_remove(struct cache *c, const char *path);
/* Paths recorded by an earlier mount (char *, owned by the array). */
GPtrArray *cache_journal_list(struct cache *c);

/* A pull whose bytes were checked, to register: the relay path and the
 * version checked (an opaque text the caller reads back). Fsynced. */
int cache_journal_pull_add(struct cache *c, const char *path,
			   const char *version);
void cache_journal_pull_remove(struct cache *c, const char *path);
struct cache_journal_pull {
	char *path;
	char *version;
};
/* The pulls recorded (struct cache_journal_pull *, owned by the array). */
GPtrArray *cache_journal_pulls(struct cache *c);

#endif
