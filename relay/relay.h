/* The relay protocol's sequences (PROTOCOL.md): listing with the files'
 * states, locks, push, pull registration, delete, rename, directories. */
#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

#include <glib.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "relay/backend.h"
#include "relay/lockfile.h"
#include "relay/placeholder.h"

struct relay_params {
	const char *client;	/* this client's name */
	unsigned pullers;	/* pulls after which content is removed */
	unsigned lock_timeout;	/* seconds after which a lock is stale */
	unsigned lock_wait;	/* seconds to wait for a foreign lock */
	unsigned transfers;	/* parallel placeholder fetches */
	/* seconds a mutex folder may stand unchanged before it is taken for
	 * one a stopped client left (relay/mutex.c); 0: 60 */
	unsigned mutex_stale;
};

enum relay_file_state {
	RELAY_READY,		/* content present, no lock in force */
	RELAY_LOCKED_READ,	/* another client is pulling: still listed */
	RELAY_LOCKED_WRITE,	/* another client is writing (or a lock of
				 * unknown mode): not listed */
	RELAY_OURS_READ,	/* we hold the read lock */
	RELAY_OURS_WRITE,	/* we hold the write lock */
	RELAY_GONE,		/* only the placeholder is left: not listed */
};

/* A regular file or directory of a listing, with its specials folded in. */
struct relay_file {
	char *name;
	bool is_dir;
	bool has_content;
	uint64_t size;		/* of the content */
	int64_t mtime;		/* of the content on the backend */
	char *etag;		/* of the content, may be NULL */
	bool has_placeholder;
	char *placeholder_tag;	/* its version on the backend */
	bool placeholder_tag_is_etag;
	uint64_t placeholder_size;
	GBytes *placeholder_raw;		/* as read, or NULL */
	struct relay_placeholder *placeholder;	/* parsed, or NULL */
	char **messages;	/* names of its message files, NULL-ended,
				 * or NULL */
	bool has_lock;
	int64_t lock_mtime;
	struct relay_lock_info lock;	/* read when has_lock */
	bool lock_stale;
	enum relay_file_state state;
	_Atomic int refs;	/* owners beyond the first */
};

struct relay;

/* Where the relay notes the locks it holds on the server, so that a mount
 * after a crash can release them (relay_lock_repair). */
struct relay_lock_journal {
	void (*taken)(void *ctx, const char *path);
	void (*released)(void *ctx, const char *path);
	void *ctx;
};

/* Open the backend for opt->url and the protocol on top of it; on failure
 * *message says why in one sentence. */
int relay_open(const struct backend_options *opt,
	       const struct relay_params *params, struct relay **out,
	       char **message);
/* The protocol on an opened backend (owned from now on). */
struct relay *relay_new(struct backend *backend,
			const struct relay_params *params);
/* Note every lock taken and released in journal (kept by the caller). */
void relay_set_lock_journal(struct relay *r,
			    const struct relay_lock_journal *journal);
/* Close the relay and its backend. */
void relay_free(struct relay *r);
const struct relay_params *relay_params(const struct relay *r);

/* true when f should be shown in the mount. */
bool relay_file_visible(const struct relay_file *f);
/* mtime to show: the placeholder's timestamp, else the backend's. */
int64_t relay_file_mtime(const struct relay_file *f);
/* A key naming this version of f's content (size, placeholder timestamp
 * and checksum, else backend ETag/mtime). Newly allocated. */
char *relay_file_version(const struct relay_file *f);
/* The same key for a version this mount pushed. */
char *relay_version_key(uint64_t size, int64_t timestamp,
			const char *checksum);
struct relay_file *relay_file_copy(const struct relay_file *f);
/* Share f (it is never changed once listed); relay_file_free drops one. */
struct relay_file *relay_file_ref(struct relay_file *f);
void relay_file_free(struct relay_file *f);
/* What a listing would now show of path, which this mount just pushed
 * (size bytes, mtime): content, and the placeholder it wrote. */
struct relay_file *relay_file_pushed(struct relay *r, const char *path,
				     uint64_t size, int64_t mtime);
/* f with the placeholder of path this mount last wrote (after a pull was
 * registered). A new file. */
struct relay_file *relay_file_registered(struct relay *r, const char *path,
					 const struct relay_file *f);
/* user.relay.state text: ready, locked-r, locked-w, ... */
const char *relay_file_state_name(enum relay_file_state state);

/* One listing request, plus a GET for each lock and each placeholder not
 * cached yet. files: struct relay_file *, regular files and directories,
 * visible or not (relay_file_visible tells). Unsafe names are skipped
 * with a warning. */
int relay_list(struct relay *r, const char *dir, GPtrArray **files);
/* This thread's requests from now on are background work (nobody waits
 * for them), or a user's (backend_thread_work); returns whether they
 * were background work before. */
bool relay_thread_background(bool on);
/* The relay's last request went unanswered a few seconds ago (10 s) and
 * none has been answered since: the caller may skip asking again. */
bool relay_unanswered(struct relay *r);
/* Forget the placeholder of path this mount keeps: the next listing
 * reads it again (its content did not match it). */
void relay_placeholder_forget(struct relay *r, const char *path);
/* Keep what the backend says of this thread's failures from now on;
 * then take the first of them (g_free; NULL when none) when keep_first,
 * to say it in the caller's own message, so that a failure is reported
 * once. The others are logged as they were. */
void relay_failures_gather(void);
char *relay_failures_take(bool keep_first);
/* From now on this thread's pushes add the bytes they have sent to
 * *bytes (NULL: to nothing), for a progress report. */
void relay_progress_watch(_Atomic uint64_t *bytes);
/* Can two clients never both win one lock (an atomic create, or a
 * mutex)? Elsewhere locks are advisory. */
bool relay_locks_exclusive(const struct relay *r);

/* Take path's lock in mode, waiting up to lock_wait for a foreign one
 * (then -EBUSY); breaks stale locks with a warning. Nested acquisitions
 * by this mount count. A lock in our name that this mount does not hold
 * is foreign too (another mount may use our name), unless a request of
 * ours on it went unanswered: then it is ours and removed. */
int relay_lock_acquire(struct relay *r, const char *path,
		       enum relay_lock_mode mode);
/* Drop one acquisition; the lock file is deleted with the last. */
int relay_lock_release(struct relay *r, const char *path);
/* The same, the deletion sent aside (after learning the tag of written,
 * the placeholder just written under the lock, unless NULL): this
 * mount's next acquisition, repair or adoption of path waits for it, and
 * a failure is repaired as any release's. */
void relay_lock_release_aside(struct relay *r, const char *path,
			      GBytes *written);
/* Wait for every release sent aside. */
void relay_lock_settle_all(struct relay *r);
/* Drop one acquisition but leave the lock on the relay, held for a retry
 * (a push that failed half way must not show a half-written file). */
void relay_lock_keep(struct relay *r, const char *path);
bool relay_lock_held(struct relay *r, const char *path);
/* from was renamed to to while this mount held both locks: what it still
 * holds on from beyond the rename's own acquisition (a reader's) is held
 * on to from now on, so that from's lock goes with the rename's release. */
void relay_lock_follow_rename(struct relay *r, const char *from,
			      const char *to);
/* Directory from was renamed to to: the locks this mount holds inside it
 * are held under their new paths. */
void relay_locks_follow_dir(struct relay *r, const char *from, const char *to);
/* A copy of path that an earlier mount failed to push is pushed again: if
 * that mount's write lock is still on the relay, it is held again (judged
 * and refreshed under the mutex) for that push to take, so that the new
 * placeholder never stands unlocked beside the old content. */
int relay_lock_adopt(struct relay *r, const char *path);
/* Path is named by the journal of an earlier mount, which stopped: a
 * request of it on path's lock may have been made (a lock, a mutex), as
 * by an unanswered request of this mount; relay_lock_adopt and
 * relay_lock_repair then treat them so. */
void relay_lock_left_by_earlier_mount(struct relay *r, const char *path);
/* Delete path's lock if it is ours but this mount does not hold it: left
 * by a crash, or by a request that went unanswered (found through the
 * journal, which then forgets path). */
int relay_lock_repair(struct relay *r, const char *path);

/* Push: lock, placeholder (pusher = us, mtime, checksum, no pullers),
 * content streamed from fd, unlock. */
int relay_push(struct relay *r, const char *path, int fd, uint64_t size,
	       int64_t mtime, const char *checksum);
/* A push that starts while path's file is still being written in order
 * (relay/stream.c): its write lock is taken aside now, and its content
 * goes out from fd as relay_stream_grow says the writer has written it.
 * NULL where the backend cannot (or another push streams already). */
struct relay_stream;
struct relay_stream *relay_stream_start(struct relay *r, const char *path,
					int fd, uint64_t written);
/* Bytes [0, written) of the file are there. */
void relay_stream_grow(struct relay_stream *s, uint64_t written);
/* Give up (the writer went back, a write failed, the file went): the
 * upload is cut off, which leaves the relay as it was; frees s. */
void relay_stream_abort(struct relay_stream *s);
/* The file is whole at size bytes: the upload ends, then come the
 * placeholder and the unlock, as relay_push does; frees s. 0 when pushed,
 * else a negative errno (-ECANCELED: cut off), and relay_push is next. */
int relay_stream_finish(struct relay_stream *s, uint64_t size, int64_t mtime,
			const char *checksum);
/* Wait until no stream's upload runs (every one aborted or finished). */
void relay_stream_settle(struct relay *r);
/* Register our pull of path (its lock held by the caller): read the
 * placeholder, append us unless listed, write it back, and remove the
 * content once `pullers` distinct clients have it. *removed tells. Only
 * in the version verified (its placeholder as listed; NULL: any): a newer
 * one registers nothing. */
int relay_register_pull(struct relay *r, const char *path,
			const struct relay_placeholder *verified,
			bool *removed);
/* Rewrite the timestamp in path's placeholder, under its lock. */
int relay_set_timestamp(struct relay *r, const char *path, int64_t mtime);
/* Fetch path's bytes [offset, offset+length) through sink; -ESTALE when
 * it is no longer the version etag (from the listing) names. */
int relay_get(struct relay *r, const char *path, uint64_t offset,
	      uint64_t length, const char *etag, backend_sink_fn sink,
	      void *ctx);
/* Pull steps 1 and 2 side by side: take path's read lock while the same
 * version-pinned fetch runs, its bytes held back until the lock is ours
 * (refused: none reach sink, and the lock's error is returned). *locked
 * tells whether this call took one acquisition of the lock, which the
 * caller releases; it may be true with a failed fetch. */
int relay_get_under_lock(struct relay *r, const char *path, uint64_t offset,
			 uint64_t length, const char *etag,
			 backend_sink_fn sink, void *ctx, bool *locked);

/* rm: the file, its placeholder and the message files the listing showed
 * (messages: names in path's folder, NULL-ended, may be NULL). */
int relay_delete(struct relay *r, const char *path,
		 const char *const *messages);
/* Rename a file (with its placeholder, under both locks) or a directory. */
int relay_rename(struct relay *r, const char *from, const char *to,
		 bool is_dir);
int relay_mkdir(struct relay *r, const char *path);
int relay_rmdir(struct relay *r, const char *path);
int relay_statfs(struct relay *r, struct statvfs *st);
/* "list=N get=N ..." for user.relay.stats. Newly allocated. */
char *relay_stats(struct relay *r);

#endif
