/* The mutex folder .x.mutex beside a lock: its atomic creation (mkdir,
 * MKCOL, MKD) decides which client may create or break .x.lock. */
#include "relay/relay_private.h"
#include "relay/names.h"

#include <errno.h>

/*
 * A mutex is held for a request or two (create the lock, or judge and
 * delete a stale one), never across a transfer. One that stands unchanged
 * for params.mutex_stale seconds, as this mount saw it, was left by a
 * client that stopped while holding it: it is broken, with a conditional
 * delete where the backend has versions, so that a mutex taken again
 * meanwhile is never the one removed.
 */

/* A mutex seen held: its version, and since when this mount sees it. */
struct mutex_seen {
	char *version;
	gint64 since;	/* monotonic us */
};

void relay_mutex_seen_free(gpointer data)
{
	struct mutex_seen *seen = data;

	g_free(seen->version);
	g_free(seen);
}

static void seen_forget(struct relay *r, const char *mutex_path)
{
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->mutexes_seen, mutex_path);
	g_mutex_unlock(&r->mutex);
}

/* How long a mutex may stand unchanged on a path where a MKCOL of ours
 * went unanswered before it is taken for the one that request made once
 * the server woke up: a holder needs a request's time, and the server
 * just answered us again. */
#define OURS_STALE_S 5

/* Note mutex_path's version; true once it has stood unchanged for
 * stale_s seconds, so that its holder must have stopped. */
static bool seen_unchanged_too_long(struct relay *r, const char *mutex_path,
				    const char *version, unsigned stale_s)
{
	gint64 now = g_get_monotonic_time();
	struct mutex_seen *seen;
	bool stale = false;

	g_mutex_lock(&r->mutex);
	seen = g_hash_table_lookup(r->mutexes_seen, mutex_path);
	if (!seen || g_strcmp0(seen->version, version) != 0) {
		seen = g_new0(struct mutex_seen, 1);
		seen->version = g_strdup(version);
		seen->since = now;
		g_hash_table_replace(r->mutexes_seen, g_strdup(mutex_path),
				     seen);
	} else {
		stale = now - seen->since >= (gint64)stale_s * G_USEC_PER_SEC;
	}
	g_mutex_unlock(&r->mutex);
	return stale;
}

/* The mutex is there: -EBUSY while it may be held, 0 when it is gone or
 * was broken (try again), or another error. */
static int mutex_inspect(struct relay *r, const char *path,
			 const char *mutex_path, unsigned stale_s)
{
	struct backend_entry e = { 0 };
	g_autofree char *version = NULL;
	int ret = backend_stat(r->backend, mutex_path, &e);

	if (ret == -ENOENT)
		seen_forget(r, mutex_path);
	if (ret < 0)
		return ret == -ENOENT ? 0 : ret;
	version = e.etag ? g_strdup(e.etag) :
			   g_strdup_printf("%" G_GINT64_FORMAT, e.mtime);
	if (!seen_unchanged_too_long(r, mutex_path, version, stale_s)) {
		backend_entry_clear(&e);
		return -EBUSY;
	}
	g_warning("relay: breaking the mutex of %s, unchanged for %u s: a "
		  "client stopped while taking its lock, or an unanswered "
		  "request of ours made it", path, stale_s);
	ret = backend_mutex_remove(r->backend, mutex_path, e.etag);
	backend_entry_clear(&e);
	seen_forget(r, mutex_path);
	return ret == -ENOENT || ret == -ESTALE ? 0 : ret;
}

/* Only a backend whose mkdir is atomic has mutex folders: elsewhere
 * taking, dropping and repairing one do nothing. */
static bool has_mutexes(const struct relay *r)
{
	return backend_can(r->backend, BACKEND_EXCLUSIVE_MUTEX);
}

/* This mount takes mutex_path again only once its last drop is done:
 * else its own MKCOL would find the mutex it is dropping. */
static void drop_wait(struct relay *r, const char *mutex_path)
{
	g_mutex_lock(&r->mutex);
	while (g_hash_table_contains(r->mutex_drops, mutex_path))
		g_cond_wait(&r->claim_cond, &r->mutex);
	g_mutex_unlock(&r->mutex);
}

void relay_mutex_settle(struct relay *r, const char *path)
{
	g_autofree char *mutex_path = relay_mutex_path(path);

	drop_wait(r, mutex_path);
}

int relay_mutex_take(struct relay *r, const char *path, gint64 deadline)
{
	g_autofree char *mutex_path = relay_mutex_path(path);
	gint64 delay = 5 * 1000;
	unsigned gone = 0;
	int ret;

	if (!has_mutexes(r))
		return 0;
	drop_wait(r, mutex_path);
	for (;;) {
		ret = backend_mutex_create(r->backend, mutex_path);
		if (ret == 0)
			seen_forget(r, mutex_path);
		if (ret != -EEXIST)
			return ret;
		ret = mutex_inspect(r, path, mutex_path,
				    relay_lock_uncertain(r, path) ?
				    OURS_STALE_S : r->params.mutex_stale);
		/* gone: taken and let go by another client meanwhile, at
		 * once again; but a mutex that is refused and never seen
		 * (a server whose refusal is not "exists") is waited for
		 * as a busy one, with the same back-off and deadline */
		if (ret == 0 && ++gone <= 3)
			continue;
		if (ret == 0)
			ret = -EBUSY;
		if (ret != -EBUSY || g_get_monotonic_time() >= deadline)
			return ret;
		g_usleep(MIN(delay, deadline - g_get_monotonic_time() + 1));
		delay = MIN(delay * 2, 200 * 1000);
	}
}

/* The drop of mutex_path, sent aside: the request that follows the
 * lock's creation need not wait for it. The backend says why when it
 * fails; a mutex left behind is broken after mutex_stale seconds. */
static int drop_aside(struct relay *r, void *ctx)
{
	char *mutex_path = ctx;

	backend_mutex_remove(r->backend, mutex_path, NULL);
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->mutex_drops, mutex_path);
	g_cond_broadcast(&r->claim_cond);
	g_mutex_unlock(&r->mutex);
	g_free(mutex_path);
	return 0;
}

void relay_mutex_drop(struct relay *r, const char *path)
{
	char *mutex_path;

	if (!has_mutexes(r))
		return;
	mutex_path = relay_mutex_path(path);
	g_mutex_lock(&r->mutex);
	g_hash_table_add(r->mutex_drops, g_strdup(mutex_path));
	g_mutex_unlock(&r->mutex);
	/* a reader's fetch may wait for it while holding a connection
	 * (relay_mutex_settle under BACKEND_MUTEX_OUTLIVES_HOLDER): were it
	 * to queue behind that fetch (transfers=1), neither would end */
	relay_aside_detach(r, BACKEND_WORK_BESIDE, drop_aside, mutex_path);
}

int relay_mutex_repair(struct relay *r, const char *path)
{
	gint64 deadline = g_get_monotonic_time() +
			  (OURS_STALE_S + 2) * G_USEC_PER_SEC;
	int ret;

	/* taking it breaks one of ours once it stood unchanged OURS_STALE_S
	 * (path is uncertain); one that another client holds is waited for;
	 * either way none of ours is left once it is let go */
	ret = relay_mutex_take(r, path, deadline);
	if (ret == 0)
		relay_mutex_drop(r, path);
	return ret == -EBUSY ? 0 : ret;
}
