/* What the relay's own files share: the struct behind struct relay.
 * Lock order (fs/lock_order.h): relay->mutex is a leaf (never held across
 * a request). */
#ifndef RELAY_RELAY_PRIVATE_H
#define RELAY_RELAY_PRIVATE_H

#include "relay/relay.h"

struct relay {
	struct backend *backend;
	struct relay_params params;	/* strings owned */
	GMutex mutex;
	GHashTable *held_locks;		/* path -> struct held_lock * */
	/* paths whose lock this mount is taking or repairing, one thread
	 * at a time (claim_cond wakes the others) */
	GHashTable *claimed;
	GCond claim_cond;
	/* paths where a lock in our name may be left that this mount does
	 * not hold: a create or delete of it whose outcome is unknown */
	GHashTable *uncertain;
	/* mutex paths seen held -> struct mutex_seen * (relay/mutex.c) */
	GHashTable *mutexes_seen;
	GHashTable *placeholders;	/* path -> struct cached_placeholder * */
	GThreadPool *fetchers;		/* placeholder fetches of listings */
	GThreadPool *asides;		/* relay/aside.c */
	/* mutex paths whose drop is still on its way (relay/mutex.c);
	 * claim_cond wakes who waits for one */
	GHashTable *mutex_drops;
	/* paths whose lock's release is on its way (relay/locking.c,
	 * relay_lock_release_aside); claim_cond wakes who waits for one */
	GHashTable *lock_drops;
	const struct relay_lock_journal *journal;	/* or NULL */
	/* a push streams (relay/stream.c), and was given up (its lock's
	 * release is then on its way); claim_cond says when it ends */
	bool streaming, stream_cut;
};

struct held_lock {
	enum relay_lock_mode mode;
	unsigned count;
};

/* A placeholder as last read or written by this mount. tag is the
 * backend's version of it, NULL right after we wrote it ourselves (the
 * next listing adopts the tag it shows). */
struct cached_placeholder {
	char *tag;
	bool tag_is_etag;	/* tag can be sent back in a conditional put */
	GBytes *raw;
};

/* path's placeholder was just written as raw, its lock held: learn the
 * tag the server gave it (relay/sequences.c). */
void relay_placeholder_learn(struct relay *r, const char *path, GBytes *raw);

/* A push's last step, its placeholder and content written with result
 * ret: the unlock (aside) once both are; else the lock stays, for the
 * retry or the repair (relay/sequences.c). Returns ret. */
int relay_push_end(struct relay *r, const char *path, GBytes *raw, int ret);

/* The version tag of a listed entry: its ETag, else "mtime-size". */
char *relay_entry_tag(const struct backend_entry *e, bool *is_etag);
/* Has path a lock file (asked by name; its mtime to *mtime if not NULL)?
 * 1 when it has, 0 when not, or a negative errno when nobody can tell. */
int relay_lock_exists(struct relay *r, const char *path, int64_t *mtime);
/* Remember raw as path's placeholder with its tag (NULL: unknown, so the
 * next listing that shows one reads it again). */
void relay_placeholder_remember(struct relay *r, const char *path,
				const char *tag, bool tag_is_etag, GBytes *raw);
/* path's cached placeholder and its backend ETag, when both are known. */
GBytes *relay_placeholder_cached_etag(struct relay *r, const char *path,
				      char **etag);

/* Take path's mutex folder (.x.mutex), waiting until deadline (monotonic
 * us) while another client holds it (then -EBUSY); breaks one that stood
 * unchanged for params.mutex_stale seconds. On a backend whose mkdir is
 * not atomic there are no mutex folders: take, drop and repair do
 * nothing. */
int relay_mutex_take(struct relay *r, const char *path, gint64 deadline);
/* The drop is sent aside: the next request need not wait for it. */
void relay_mutex_drop(struct relay *r, const char *path);
/* Wait until this mount's drop of path's mutex, if any, is done. */
void relay_mutex_settle(struct relay *r, const char *path);
/* A MKCOL of ours on path's mutex may have been made (unanswered, or
 * sent by an earlier mount that stopped): the mutex is taken and let go,
 * which breaks one that stood unchanged for a few seconds, so that none
 * of ours stays; -EBUSY (another client's, held longer) counts as 0. */
int relay_mutex_repair(struct relay *r, const char *path);
/* Is this mount's release of path's lock on its way (sent aside)? */
bool relay_lock_dropping(struct relay *r, const char *path);
/* A request of ours on path's lock went unanswered a short while ago. */
bool relay_lock_uncertain(struct relay *r, const char *path);
void relay_mutex_seen_free(gpointer data);

/* A request sent aside (relay/aside.c): fn runs on another thread while
 * the caller goes on, until relay_aside_wait gives fn's result. */
struct relay_aside {
	GMutex mutex;
	GCond cond;
	bool done, detached;
	enum backend_work work; /* beside its starter, or background */
	int ret;
	GPtrArray *failures;	/* fn's backend failures, said at the wait */
	int (*fn)(struct relay *r, void *ctx);
	void *ctx;
};
void relay_aside_start(struct relay *r, struct relay_aside *a,
		       int (*fn)(struct relay *r, void *ctx), void *ctx);
int relay_aside_wait(struct relay_aside *a);
/* Run fn aside with nobody waiting for its result (ctx is fn's to free),
 * its requests counted as work (backend_thread_work). */
void relay_aside_detach(struct relay *r, enum backend_work work,
			int (*fn)(struct relay *r, void *ctx), void *ctx);
GThreadPool *relay_asides_new(struct relay *r);

/* Read path's lock file: -ENOENT when there is none. */
int relay_lock_read(struct relay *r, const char *lock_path,
		    struct relay_lock_info *info, bool *stale);

#endif
