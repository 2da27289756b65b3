/* The small interface every relay backend implements, and the dispatcher
 * that picks a backend by URL scheme, checks optional operations and counts. */
#ifndef RELAY_BACKEND_H
#define RELAY_BACKEND_H

#include <glib.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/statvfs.h>

/*
 * Paths handed to a backend are relative to the relay's root, segments
 * separated by '/', without a leading or trailing '/'; "" is the root.
 * Every operation returns 0 or a negative errno and logs (g_warning or
 * g_message) a sentence naming the backend, the operation, the path and
 * the server's words when it fails for a reason other than ENOENT/EEXIST.
 * Every operation may be called from several threads at once.
 */

/* One entry of a directory listing, or the result of stat. */
struct backend_entry {
	char *name;	/* one path segment (never "", ".", "..", never '/') */
	bool is_dir;
	uint64_t size;
	int64_t mtime;	/* seconds since the epoch */
	char *etag;	/* opaque version tag, or NULL when the backend has none */
};

void backend_entry_free(struct backend_entry *entry);
void backend_entry_clear(struct backend_entry *entry);

/* Receives fetched bytes in order; returns 0 or a negative errno to abort. */
typedef int (*backend_sink_fn)(void *ctx, const void *data, size_t len);

/* Hands over the bytes of a file still being written, from offset on, at
 * most len of them: how many (waiting until some are there), 0 at its
 * end, or a negative errno to abort the upload. */
typedef ssize_t (*backend_source_fn)(void *ctx, void *buf, size_t len,
				     uint64_t offset);

/* What the user configured that a backend may need. */
struct backend_options {
	const char *url;	   /* the relay URL as given */
	const char *user;	   /* NULL: none (or ~/.netrc) */
	const char *password;	   /* NULL: none; never logged */
	const char *cacert;	   /* PEM file of a private CA, or NULL */
	bool insecure;		   /* skip TLS verification */
	const char *identity;	   /* SSH key file for sftp, or NULL */
	const char *known_hosts;   /* SSH host keys, NULL: ~/.ssh/known_hosts */
	const char *endpoint;	   /* S3 endpoint, or NULL */
	const char *region;	   /* S3 region, or NULL */
	unsigned transfers;	   /* parallel requests allowed */
	unsigned connect_timeout;  /* seconds */
	unsigned io_timeout;	   /* seconds without progress before failing */
	/* a file where the backend may keep what it learned about the
	 * server (a probe's results), or NULL to learn it at every open */
	const char *facts_file;
};

enum backend_caps {
	/* create_excl cannot be won by two clients at once */
	BACKEND_CAN_CREATE_EXCL = 1 << 0,
	/* rename is one atomic server-side operation */
	BACKEND_CAN_RENAME = 1 << 1,
	/* put_data replaces a file atomically (a reader never sees half) */
	BACKEND_ATOMIC_PUT = 1 << 2,
	/* mutex_create is there and never lets two clients win one mutex at
	 * once (relay/mutex.c): a mkdir, a MKCOL or a WebDAV LOCK, as the
	 * server allows */
	BACKEND_EXCLUSIVE_MUTEX = 1 << 3,
	/* a listing shows names that start with '.' (nginx's hides them:
	 * the relay layer then asks for the special files by name) */
	BACKEND_LISTS_DOTFILES = 1 << 4,
	/* put_stream is there, and an upload cut off before its end leaves
	 * the old content whole (a probe has shown it) */
	BACKEND_CAN_STREAM = 1 << 5,
	/* the mutex is a lock the server keeps (a WebDAV LOCK): one that a
	 * stopped client left stays until the server's timeout, and no
	 * other client can break it */
	BACKEND_MUTEX_OUTLIVES_HOLDER = 1 << 6,
};

/* A backend's operations table: what each backend file fills in. */
struct backend_ops {
	const char *name;		/* "local", "webdav", ... */
	const char *const *schemes;	/* NULL-terminated URL schemes */
	unsigned caps;			/* enum backend_caps */

	/* Parse opt->url, check the relay can be reached (a listing of the
	 * root, creating it if it is a local path), set *state. */
	int (*open)(const struct backend_options *opt, void **state);
	void (*close)(void *state);

	/* Append one struct backend_entry * per child of dir to entries
	 * (owned by the array: its free func is backend_entry_free). The
	 * dispatcher (backend_list) drops, with a warning, the names no file
	 * may have (backend_name_problem); a backend skips only what it
	 * cannot even represent (a NUL byte). -ENOENT when dir does not
	 * exist. */
	int (*list)(void *state, const char *dir, GPtrArray *entries);
	/* Fill entry (name = last segment) for path. -ENOENT when absent. */
	int (*stat)(void *state, const char *path, struct backend_entry *entry);
	/* Fetch bytes [offset, offset+length) of path, or fewer at its end,
	 * in order through sink. length UINT64_MAX means to the end. With
	 * etag (as a listing gave it), -ESTALE instead when path is now
	 * another version; backends that cannot tell fetch what is there. */
	int (*get)(void *state, const char *path, uint64_t offset,
		   uint64_t length, const char *etag, backend_sink_fn sink,
		   void *ctx);
	/* Replace path with the size bytes read from fd from offset 0,
	 * streamed (never all in memory). */
	int (*put)(void *state, const char *path, int fd, uint64_t size);
	/* Replace path with what source hands over, as it comes (its length
	 * unknown until it ends); the old content stays whole if the upload
	 * is aborted. Optional: NULL when the backend cannot. */
	int (*put_stream)(void *state, const char *path,
			  backend_source_fn source, void *ctx);
	/* Replace path with a small buffer (locks, placeholders); atomic
	 * where caps has BACKEND_ATOMIC_PUT. */
	int (*put_data)(void *state, const char *path, const void *data,
			size_t len);
	/* Replace path with data only if its current version is etag (as a
	 * listing gave it): -ESTALE when it is not. Optional: NULL when the
	 * backend cannot (the protocol then reads under the lock first). */
	int (*put_data_if)(void *state, const char *path, const void *data,
			   size_t len, const char *etag);
	/* Create path holding data only if it does not exist: -EEXIST when
	 * it does. Optional: NULL when the backend cannot (the protocol then
	 * writes and re-reads). */
	int (*create_excl)(void *state, const char *path, const void *data,
			   size_t len);
	/* Delete a file. -ENOENT when absent. */
	int (*remove)(void *state, const char *path);
	/* Delete a file in one request, never sent again once it may have
	 * reached the server (-EIO then): a lock, whose name another client
	 * may take as soon as ours is gone. Optional: NULL means remove. */
	int (*remove_once)(void *state, const char *path);
	/* Move a file, replacing to. Optional. */
	int (*rename)(void *state, const char *from, const char *to);
	int (*mkdir)(void *state, const char *path);
	/* Create the mutex path only if nobody holds it: -EEXIST when
	 * somebody does. 0 only when this very request took it (a repeat
	 * after a lost answer that finds it gives -EIO: maybe ours, maybe
	 * not). A folder where mkdir is atomic, else a server's lock. */
	int (*mutex_create)(void *state, const char *path);
	/* Remove an empty directory: -ENOTEMPTY if it is not. */
	int (*rmdir)(void *state, const char *path);
	/* Remove a mutex: ours (etag NULL), or one seen stale at version
	 * etag (as stat gave it), in one request and, where the server can
	 * tell, only while it is still that one: -ESTALE when it is another
	 * or is held again. Optional: NULL falls back to rmdir. */
	int (*mutex_remove)(void *state, const char *path, const char *etag);
	/* The caps of this opened instance, where they depend on what the
	 * server turned out to do. Optional: NULL means the table's caps. */
	unsigned (*caps_of)(void *state);
	/* Free and total space; optional (-ENOSYS when unknown). */
	int (*statfs)(void *state, struct statvfs *st);
};

/* Counters per request kind, for user.relay.stats. */
enum backend_request_kind {
	BACKEND_REQ_LIST, BACKEND_REQ_STAT, BACKEND_REQ_GET, BACKEND_REQ_PUT,
	BACKEND_REQ_CREATE, BACKEND_REQ_REMOVE, BACKEND_REQ_RENAME,
	BACKEND_REQ_MKDIR, BACKEND_REQ_RMDIR, BACKEND_REQ_STATFS,
	BACKEND_REQ_KINDS
};

/* An opened backend: the table, its state, and counters. */
struct backend {
	const struct backend_ops *ops;
	void *state;
	unsigned caps;	/* enum backend_caps of this instance */
	_Atomic gint64 requests[BACKEND_REQ_KINDS];
	_Atomic gint64 bytes_up, bytes_down;
	_Atomic gint64 answered_at, unanswered_at;	/* monotonic us */
};

/* How a backend says why an operation failed, in one sentence naming the
 * backend, the operation, the path and the server's words: a warning, or,
 * while the calling thread gathers failures, kept for the caller to say
 * in the one message it logs. */
void backend_failed(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Bytes of an upload sent, for the counter this thread watches (see
 * backend_progress_watch); backends call it as they send. */
void backend_progress_add(uint64_t bytes);
/* The counter that this thread's uploads add to from now on; NULL: none. */
void backend_progress_watch(_Atomic uint64_t *bytes);
/* Keep the failures of this thread's backend calls from now on. */
void backend_failures_gather(void);
/* Whose work this thread's requests are, for a backend's connections: */
enum backend_work {
	BACKEND_WORK_USER,	/* what a user waits for (the default) */
	BACKEND_WORK_BACKGROUND, /* nobody waits: a pull's end after close,
				 * a lock's drop, a retry; it gets part of
				 * the user's share only, so that a user's
				 * requests never queue behind it */
	BACKEND_WORK_BESIDE,	/* an aside that someone may wait for while
				 * holding a connection of its own (a lock
				 * beside the fetch it gates, a mutex's drop
				 * that fetch waits for): a share of its
				 * own, so that it never waits for them */
};
/* Set this thread's kind of work from now on; returns the previous one. */
enum backend_work backend_thread_work(enum backend_work kind);
enum backend_work backend_thread_work_kind(void);
/* Stop keeping them: each is logged as a warning, but for the first
 * when keep_first, which is returned (g_free; NULL when none failed). */
char *backend_failures_take(bool keep_first);
/* Stop keeping them and hand them over (char *, owned by the array), for
 * another thread to say through backend_failed: a request sent aside. */
GPtrArray *backend_failures_hand_over(void);

/* Pick the backend for opt->url by scheme ("/path" means local) and open
 * it. Prints nothing; on failure *message says why in one sentence. */
int backend_open(const struct backend_options *opt, struct backend **out,
		 char **message);
/* Open with a given table (tests use a recording one). */
int backend_open_ops(const struct backend_ops *ops,
		     const struct backend_options *opt, struct backend **out,
		     char **message);
void backend_close(struct backend *b);
/* The last request got no answer (EIO, ETIMEDOUT), less than within_us
 * ago, and none has been answered since. */
bool backend_unanswered(struct backend *b, gint64 within_us);

/* Why no file may be called name (empty, "." or "..", a '/', a control
 * character, not UTF-8), or NULL when it may. */
const char *backend_name_problem(const char *name);
/* The backend's list, without the entries backend_name_problem refuses
 * (each skipped with a warning). */
int backend_list(struct backend *b, const char *dir, GPtrArray **entries);
int backend_stat(struct backend *b, const char *path,
		 struct backend_entry *entry);
int backend_get(struct backend *b, const char *path, uint64_t offset,
		uint64_t length, const char *etag, backend_sink_fn sink,
		void *ctx);
/* Fetch a whole small file (at most max bytes, else -EFBIG). */
int backend_get_small(struct backend *b, const char *path, size_t max,
		      GBytes **out);
int backend_put(struct backend *b, const char *path, int fd, uint64_t size);
int backend_put_data(struct backend *b, const char *path, const void *data,
		     size_t len);
/* -ENOSYS when the backend has no put_stream. */
int backend_put_stream(struct backend *b, const char *path,
		       backend_source_fn source, void *ctx);
/* -ENOSYS when the backend has no put_data_if. */
int backend_put_data_if(struct backend *b, const char *path, const void *data,
			size_t len, const char *etag);
/* -ENOSYS when the backend has no create_excl. */
int backend_create_excl(struct backend *b, const char *path, const void *data,
			size_t len);
int backend_remove(struct backend *b, const char *path);
int backend_remove_once(struct backend *b, const char *path);
/* Falls back to get + put + remove when the backend has no rename. */
int backend_rename(struct backend *b, const char *from, const char *to);
int backend_mkdir(struct backend *b, const char *path);
/* -ENOSYS when the backend has no mutex_create. */
int backend_mutex_create(struct backend *b, const char *path);
int backend_rmdir(struct backend *b, const char *path);
/* mutex_remove, or rmdir where the backend has none. */
int backend_mutex_remove(struct backend *b, const char *path, const char *etag);
/* The backend has all of caps (enum backend_caps). */
bool backend_can(const struct backend *b, unsigned caps);
int backend_statfs(struct backend *b, struct statvfs *st);
/* "list=3 get=10 ... bytes_up=N bytes_down=N" */
char *backend_stats_format(struct backend *b);

/* Is scheme (any case) a relay URL's, of a backend linked in? */
bool backend_scheme_known(const char *scheme);
/* Those schemes, "webdav, webdavs, ..., file", for messages (g_free). */
char *backend_schemes_text(void);

#endif
