/* Lock files as a mutex between clients: take one (exclusively where the
 * backend can), wait for a foreign one, break stale ones, release. */
#include "relay/relay_private.h"
#include "relay/names.h"

#include <errno.h>
#include <string.h>

int relay_lock_read(struct relay *r, const char *lock_path,
		    struct relay_lock_info *info, bool *stale)
{
	struct backend_entry e;
	g_autoptr(GBytes) raw = NULL;
	gsize len;
	const char *data;
	int ret = backend_stat(r->backend, lock_path, &e);

	memset(info, 0, sizeof(*info));
	*stale = false;
	if (ret < 0)
		return ret;
	*stale = e.mtime + (int64_t)r->params.lock_timeout <
		 g_get_real_time() / G_USEC_PER_SEC;
	backend_entry_clear(&e);
	ret = backend_get_small(r->backend, lock_path, 64 * 1024, &raw);
	if (ret == -EFBIG) {
		info->valid = false;
		return 0; /* a huge lock: held by nobody known */
	}
	if (ret < 0)
		return ret;
	data = g_bytes_get_data(raw, &len);
	relay_lock_parse(data, len, info);
	return 0;
}

/* Whether one of the relay's tables of paths holds path. */
static bool relay_table_has(struct relay *r, GHashTable *table,
			    const char *path)
{
	bool has;

	g_mutex_lock(&r->mutex);
	has = g_hash_table_contains(table, path);
	g_mutex_unlock(&r->mutex);
	return has;
}

bool relay_lock_held(struct relay *r, const char *path)
{
	return relay_table_has(r, r->held_locks, path);
}

bool relay_lock_dropping(struct relay *r, const char *path)
{
	return relay_table_has(r, r->lock_drops, path);
}

/* This mount takes or repairs path's lock in one thread at a time, so
 * that a lock in our name it does not hold is known to be nobody's. */
static void path_claim(struct relay *r, const char *path)
{
	g_mutex_lock(&r->mutex);
	/* a release of ours still on its way goes first: else it could
	 * delete the lock taken now */
	while (g_hash_table_contains(r->claimed, path) ||
	       g_hash_table_contains(r->lock_drops, path))
		g_cond_wait(&r->claim_cond, &r->mutex);
	g_hash_table_add(r->claimed, g_strdup(path));
	g_mutex_unlock(&r->mutex);
}

static void path_unclaim(struct relay *r, const char *path)
{
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->claimed, path);
	g_cond_broadcast(&r->claim_cond);
	g_mutex_unlock(&r->mutex);
}

/* How long after the last unanswered request on a lock one of ours may
 * still appear: a hung server goes on with what it was sent once it
 * wakes up, long after we gave up waiting. */
#define UNCERTAIN_US (60 * G_USEC_PER_SEC)

/* A request on path's lock failed without an answer (the server went
 * away, or did not answer in time): a lock of ours may be there, or turn
 * up later. The journal lets a later mount release it too. */
static void lock_uncertain(struct relay *r, const char *path)
{
	gint64 *since = g_new(gint64, 1);

	*since = g_get_monotonic_time();
	g_mutex_lock(&r->mutex);
	g_hash_table_replace(r->uncertain, g_strdup(path), since);
	g_mutex_unlock(&r->mutex);
	if (r->journal)
		r->journal->taken(r->journal->ctx, path);
}

void relay_lock_left_by_earlier_mount(struct relay *r, const char *path)
{
	gint64 *since = g_new(gint64, 1);

	/* as uncertain as an unanswered request, with nothing left to land:
	 * that mount's process is gone (the journal names path already) */
	*since = g_get_monotonic_time() - UNCERTAIN_US;
	g_mutex_lock(&r->mutex);
	g_hash_table_replace(r->uncertain, g_strdup(path), since);
	g_mutex_unlock(&r->mutex);
}

/* Path's lock is held by this mount now: its release ends the journal's
 * record of it. */
static void uncertain_forget(struct relay *r, const char *path)
{
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->uncertain, path);
	g_mutex_unlock(&r->mutex);
}

bool relay_lock_uncertain(struct relay *r, const char *path)
{
	return relay_table_has(r, r->uncertain, path);
}

/* No lock of ours that this mount does not hold is at path now: forget
 * path once no unanswered request on it can still land. */
static void lock_settled(struct relay *r, const char *path)
{
	gint64 *since;
	bool settled;

	g_mutex_lock(&r->mutex);
	since = g_hash_table_lookup(r->uncertain, path);
	settled = !since || g_get_monotonic_time() - *since >= UNCERTAIN_US;
	if (settled)
		g_hash_table_remove(r->uncertain, path);
	g_mutex_unlock(&r->mutex);
	if (settled && r->journal && !relay_lock_held(r, path))
		r->journal->released(r->journal->ctx, path);
}

/* Count one more acquisition if this mount holds path's lock already. */
static bool lock_nest(struct relay *r, const char *path,
		      enum relay_lock_mode mode, bool *upgrade)
{
	struct held_lock *held;

	g_mutex_lock(&r->mutex);
	held = g_hash_table_lookup(r->held_locks, path);
	if (held) {
		held->count++;
		*upgrade = mode == RELAY_LOCK_WRITE &&
			   held->mode != RELAY_LOCK_WRITE;
		if (*upgrade)
			held->mode = RELAY_LOCK_WRITE;
	}
	g_mutex_unlock(&r->mutex);
	return held != NULL;
}

static void lock_remember(struct relay *r, const char *path,
			  enum relay_lock_mode mode)
{
	struct held_lock *held = g_new0(struct held_lock, 1);

	held->mode = mode;
	held->count = 1;
	g_mutex_lock(&r->mutex);
	g_hash_table_replace(r->held_locks, g_strdup(path), held);
	g_mutex_unlock(&r->mutex);
	/* the journal has it since relay_lock_acquire began */
}

/* Undo lock_nest's count (and upgrade) after a failed upgrade. */
static void lock_unnest(struct relay *r, const char *path)
{
	struct held_lock *held;

	g_mutex_lock(&r->mutex);
	held = g_hash_table_lookup(r->held_locks, path);
	if (held) {
		held->count--;
		held->mode = RELAY_LOCK_READ;
	}
	g_mutex_unlock(&r->mutex);
}

/* Write our lock where the backend cannot create exclusively: write, then
 * read back; whoever's name is in the file has won. */
static int lock_write_and_check(struct relay *r, const char *lock_path,
				const char *data, size_t len)
{
	struct relay_lock_info info;
	bool stale;
	int ret = backend_put_data(r->backend, lock_path, data, len);

	if (ret < 0)
		return ret;
	ret = relay_lock_read(r, lock_path, &info, &stale);
	if (ret == 0 && g_strcmp0(info.owner, r->params.client) != 0)
		ret = -EEXIST;
	relay_lock_info_clear(&info);
	return ret;
}

/* When an acquisition that starts now gives up on a foreign lock. */
static gint64 lock_wait_deadline(const struct relay *r)
{
	return g_get_monotonic_time() +
	       (gint64)r->params.lock_wait * G_USEC_PER_SEC;
}

/* Create our lock where nobody else creates one at the same time: the
 * backend's exclusive create, else write and read back. */
static int lock_create_alone(struct relay *r, const char *lock_path,
			     const char *data, size_t len)
{
	struct backend_entry e;
	int ret = backend_create_excl(r->backend, lock_path, data, len);

	if (ret != -ENOSYS)
		return ret;
	ret = backend_stat(r->backend, lock_path, &e);
	backend_entry_clear(&e);
	if (ret == 0)
		return -EEXIST;
	if (ret != -ENOENT)
		return ret;
	return lock_write_and_check(r, lock_path, data, len);
}

/* Create path's lock: -EEXIST when there is one. Exclusive among relayfs
 * clients: by the backend's atomic create where it has one (local link),
 * else under the mutex folder (WebDAV, whose PUT with If-None-Match lets
 * two creators win); escale peers only check, then write. */
static int lock_try_create(struct relay *r, const char *path,
			   const char *lock_path, enum relay_lock_mode mode,
			   gint64 deadline)
{
	size_t len;
	g_autofree char *data = relay_lock_format(r->params.client, mode,
						  &len);
	int ret;

	if (backend_can(r->backend, BACKEND_CAN_CREATE_EXCL))
		return lock_create_alone(r, lock_path, data, len);
	ret = relay_mutex_take(r, path, deadline);
	if (ret < 0)
		return ret;
	ret = lock_create_alone(r, lock_path, data, len);
	relay_mutex_drop(r, path);
	return ret;
}

/* Delete path's lock if it is still stale once this mount holds the
 * mutex: two clients that both judged it stale never both break it (the
 * second would delete the first one's fresh lock). */
static int lock_break_stale(struct relay *r, const char *path,
			    const char *lock_path, gint64 deadline)
{
	struct relay_lock_info info;
	bool stale = false;
	int ret = relay_mutex_take(r, path, deadline);

	if (ret < 0)
		return ret;
	ret = relay_lock_read(r, lock_path, &info, &stale);
	if (ret == 0 && stale) {
		g_warning("relay: breaking stale lock of %s held by %s", path,
			  info.owner ? info.owner : "nobody known");
		ret = backend_remove_once(r->backend, lock_path);
	} else if (ret == 0) {
		ret = -EBUSY; /* taken again meanwhile */
	}
	relay_lock_info_clear(&info);
	relay_mutex_drop(r, path);
	return ret;
}

/* A lock stands in our way: 0 when it was stale or gone (try again),
 * -EBUSY while someone else holds it, or another error. */
static int lock_inspect(struct relay *r, const char *lock_path,
			const char *path, char **holder, gint64 deadline)
{
	struct relay_lock_info info;
	bool stale;
	int ret = relay_lock_read(r, lock_path, &info, &stale);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	ret = -EBUSY;
	if (g_strcmp0(info.owner, r->params.client) == 0 &&
	    relay_lock_uncertain(r, path)) {
		g_message("relay: removing the lock of %s left by an "
			  "unanswered request of ours", path);
		ret = backend_remove_once(r->backend, lock_path);
		if (ret == 0 || ret == -ENOENT)
			lock_settled(r, path);
	} else if (stale) {
		ret = lock_break_stale(r, path, lock_path, deadline);
	}
	if (ret == -ENOENT)
		ret = 0;
	g_free(*holder);
	*holder = g_strdup(info.owner ? info.owner : "nobody known");
	relay_lock_info_clear(&info);
	return ret;
}

static int lock_upgrade(struct relay *r, const char *path)
{
	g_autofree char *lock_path = relay_lock_path(path);
	size_t len;
	g_autofree char *data = relay_lock_format(r->params.client,
						  RELAY_LOCK_WRITE, &len);

	return backend_put_data(r->backend, lock_path, data, len);
}

static int nest_upgrade(struct relay *r, const char *path)
{
	int ret = lock_upgrade(r, path);

	if (ret < 0)
		lock_unnest(r, path);
	return ret;
}

/* relay_lock_acquire, while this thread has claimed path. */
static int lock_acquire_claimed(struct relay *r, const char *path,
				enum relay_lock_mode mode)
{
	g_autofree char *lock_path = relay_lock_path(path);
	g_autofree char *holder = NULL;
	gint64 deadline = lock_wait_deadline(r);
	gint64 delay = 100 * 1000;
	bool upgrade = false;
	int ret;

	for (;;) {
		/* held by this mount (maybe since another thread's turn) */
		if (lock_nest(r, path, mode, &upgrade))
			return upgrade ? nest_upgrade(r, path) : 0;
		ret = lock_try_create(r, path, lock_path, mode, deadline);
		if (ret == 0) {
			lock_remember(r, path, mode);
			return 0;
		}
		if (ret == -EIO || ret == -ETIMEDOUT)
			lock_uncertain(r, path); /* it may have been made */
		if (ret == -EBUSY)
			break; /* the mutex stayed taken until the deadline */
		if (ret != -EEXIST)
			return ret;
		ret = lock_inspect(r, lock_path, path, &holder, deadline);
		if (ret == 0)
			continue;
		if (ret != -EBUSY)
			return ret;
		if (g_get_monotonic_time() >= deadline)
			break;
		g_usleep(MIN(delay, deadline - g_get_monotonic_time() + 1));
		delay = MIN(delay * 2, 2 * G_USEC_PER_SEC);
	}
	g_message("relay: %s is locked by %s; gave up after %u s", path,
		  holder ? holder : "another client", r->params.lock_wait);
	return -EBUSY;
}

int relay_lock_acquire(struct relay *r, const char *path,
		       enum relay_lock_mode mode)
{
	bool fresh;
	int ret;

	path_claim(r, path);
	/* journaled before the lock is created: a crash right after the
	 * create leaves a lock that the next mount knows to repair */
	fresh = !relay_lock_held(r, path);
	if (fresh && r->journal)
		r->journal->taken(r->journal->ctx, path);
	ret = lock_acquire_claimed(r, path, mode);
	if (ret < 0)
		relay_mutex_settle(r, path); /* leave nothing behind */
	if (ret < 0 && fresh && r->journal && !relay_lock_held(r, path) &&
	    !relay_lock_uncertain(r, path))
		r->journal->released(r->journal->ctx, path);
	path_unclaim(r, path);
	return ret;
}

/* Drop one acquisition of path; true when it was the last (under
 * relay->mutex the release is then in the caller's hands, as the lock
 * file still is on the relay). */
static bool held_drop_locked(struct relay *r, const char *path)
{
	struct held_lock *held = g_hash_table_lookup(r->held_locks, path);

	if (!held || held->count == 0 || --held->count > 0)
		return false;
	g_hash_table_remove(r->held_locks, path);
	return true;
}

/* Delete path's lock file, which this mount no longer holds. */
static int lock_delete(struct relay *r, const char *path)
{
	g_autofree char *lock_path = relay_lock_path(path);
	int ret;

	relay_mutex_settle(r, path); /* the lock goes last */
	ret = backend_remove_once(r->backend, lock_path);
	if (ret < 0 && ret != -ENOENT) {
		g_warning("relay: could not release the lock of %s: %s; "
			  "released once the relay answers", path,
			  g_strerror(-ret));
		lock_uncertain(r, path);
		return ret;
	}
	if (r->journal && !relay_lock_uncertain(r, path))
		r->journal->released(r->journal->ctx, path);
	return 0;
}

int relay_lock_release(struct relay *r, const char *path)
{
	bool last;

	g_mutex_lock(&r->mutex);
	last = held_drop_locked(r, path);
	g_mutex_unlock(&r->mutex);
	return last ? lock_delete(r, path) : 0;
}

/* A release sent aside: what the placeholder written under the lock
 * became (its tag, learnt while nobody else can write it), then the
 * lock's deletion. */
struct lock_drop {
	char *path;
	GBytes *written;
};

static int lock_drop_aside(struct relay *r, void *ctx)
{
	struct lock_drop *d = ctx;

	if (d->written)
		relay_placeholder_learn(r, d->path, d->written);
	lock_delete(r, d->path); /* a failure is repaired, as any release */
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->lock_drops, d->path);
	g_cond_broadcast(&r->claim_cond);
	g_mutex_unlock(&r->mutex);
	if (d->written)
		g_bytes_unref(d->written);
	g_free(d->path);
	g_free(d);
	return 0;
}

void relay_lock_release_aside(struct relay *r, const char *path,
			      GBytes *written)
{
	struct lock_drop *d;
	bool last;

	g_mutex_lock(&r->mutex);
	last = held_drop_locked(r, path);
	if (last)
		g_hash_table_add(r->lock_drops, g_strdup(path));
	g_mutex_unlock(&r->mutex);
	if (!last) {
		if (written) /* still held by another: learnt now */
			relay_placeholder_learn(r, path, written);
		return;
	}
	d = g_new0(struct lock_drop, 1);
	d->path = g_strdup(path);
	d->written = written ? g_bytes_ref(written) : NULL;
	relay_aside_detach(r, BACKEND_WORK_BACKGROUND, lock_drop_aside, d);
}

void relay_lock_settle_all(struct relay *r)
{
	g_mutex_lock(&r->mutex);
	while (g_hash_table_size(r->lock_drops) > 0 ||
	       (r->streaming && r->stream_cut))
		g_cond_wait(&r->claim_cond, &r->mutex);
	g_mutex_unlock(&r->mutex);
}

void relay_lock_follow_rename(struct relay *r, const char *from,
			      const char *to)
{
	struct held_lock *held_from, *held_to;
	unsigned extra = 0;

	g_mutex_lock(&r->mutex);
	held_from = g_hash_table_lookup(r->held_locks, from);
	held_to = g_hash_table_lookup(r->held_locks, to);
	if (held_from && held_to && held_from->count > 1) {
		extra = held_from->count - 1;
		held_from->count = 1;
		held_to->count += extra;
		if (held_from->mode == RELAY_LOCK_WRITE)
			held_to->mode = RELAY_LOCK_WRITE;
	}
	g_mutex_unlock(&r->mutex);
}

/* "from/rest" -> "to/rest", or NULL when path is not inside from. */
static char *moved_path(const char *path, const char *from, const char *to)
{
	size_t n = strlen(from);

	if (strncmp(path, from, n) != 0 || path[n] != '/')
		return NULL;
	return g_strconcat(to, path + n, NULL);
}

void relay_locks_follow_dir(struct relay *r, const char *from, const char *to)
{
	g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer key, value;

	g_mutex_lock(&r->mutex);
	g_hash_table_iter_init(&it, r->held_locks);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		char *now = moved_path(key, from, to);

		if (!now)
			continue;
		g_hash_table_iter_steal(&it);
		g_ptr_array_add(moved, key);
		g_ptr_array_add(moved, now);
		g_ptr_array_add(moved, value);
	}
	for (guint i = 0; i < moved->len; i += 3) {
		g_hash_table_replace(r->held_locks, moved->pdata[i + 1],
				     moved->pdata[i + 2]);
		moved->pdata[i + 1] = moved->pdata[i + 2] = NULL;
	}
	g_mutex_unlock(&r->mutex);
	for (guint i = 0; r->journal && i < moved->len; i += 3) {
		g_autofree char *now = moved_path(moved->pdata[i], from, to);

		r->journal->taken(r->journal->ctx, now);
		r->journal->released(r->journal->ctx, moved->pdata[i]);
	}
}

void relay_lock_keep(struct relay *r, const char *path)
{
	struct held_lock *held;

	g_mutex_lock(&r->mutex);
	held = g_hash_table_lookup(r->held_locks, path);
	if (held && held->count > 0)
		held->count--;
	g_mutex_unlock(&r->mutex);
}

/* Delete a lock in our name that this mount does not hold, judged again
 * under the mutex: a client that found it stale meanwhile may have broken
 * it and taken its own, which must stay. */
static int lock_remove_ours(struct relay *r, const char *path,
			    const char *lock_path)
{
	struct relay_lock_info info;
	bool stale;
	int ret = relay_mutex_take(r, path, lock_wait_deadline(r));

	if (ret < 0)
		return ret;
	ret = relay_lock_read(r, lock_path, &info, &stale);
	if (ret == 0 && g_strcmp0(info.owner, r->params.client) == 0) {
		g_message("relay: releasing the lock of %s left by an earlier "
			  "mount or an unanswered request", path);
		ret = backend_remove_once(r->backend, lock_path);
	}
	relay_lock_info_clear(&info);
	relay_mutex_drop(r, path);
	return ret == -ENOENT ? 0 : ret;
}

/* relay_lock_repair, while this thread has claimed path. */
static int lock_repair_claimed(struct relay *r, const char *path)
{
	g_autofree char *lock_path = relay_lock_path(path);
	struct relay_lock_info info;
	bool stale;
	int ret;

	if (relay_lock_held(r, path))
		return 0;
	if (relay_lock_uncertain(r, path))
		relay_mutex_repair(r, path);
	ret = relay_lock_read(r, lock_path, &info, &stale);
	if (ret == -ENOENT) {
		lock_settled(r, path);
		return 0;
	}
	if ((ret == -EIO || ret == -ETIMEDOUT) && relay_lock_uncertain(r, path))
		lock_uncertain(r, path); /* still no answer: wait longer */
	if (ret == 0 && g_strcmp0(info.owner, r->params.client) == 0)
		ret = lock_remove_ours(r, path, lock_path);
	relay_lock_info_clear(&info);
	if (ret == 0)
		lock_settled(r, path);
	return ret;
}

/* relay_lock_adopt, while this thread has claimed path. */
static int lock_adopt_claimed(struct relay *r, const char *path)
{
	g_autofree char *lock_path = relay_lock_path(path);
	struct relay_lock_info info;
	bool stale, ours;
	int ret = relay_mutex_take(r, path, lock_wait_deadline(r));

	if (ret < 0)
		return ret;
	ret = relay_lock_read(r, lock_path, &info, &stale);
	ours = ret == 0 && g_strcmp0(info.owner, r->params.client) == 0;
	relay_lock_info_clear(&info);
	if (ours)
		ret = lock_upgrade(r, path); /* ours again, and fresh */
	relay_mutex_drop(r, path);
	if (ret < 0 || !ours)
		return ret == -ENOENT ? 0 : ret;
	lock_remember(r, path, RELAY_LOCK_WRITE);
	uncertain_forget(r, path);
	relay_lock_keep(r, path); /* held, for the push to take */
	g_message("relay: the lock of %s kept by an earlier mount is held "
		  "again for its push", path);
	return 0;
}

int relay_lock_adopt(struct relay *r, const char *path)
{
	int ret;

	path_claim(r, path);
	ret = relay_lock_held(r, path) ? 0 : lock_adopt_claimed(r, path);
	relay_mutex_settle(r, path);
	path_unclaim(r, path);
	return ret;
}

int relay_lock_repair(struct relay *r, const char *path)
{
	int ret;

	path_claim(r, path);
	ret = lock_repair_claimed(r, path);
	relay_mutex_settle(r, path);
	path_unclaim(r, path);
	return ret;
}
