/* What the FUSE side shares: the mounted filesystem's context, the node of
 * each file this mount has open or staged, and the helpers ops.c calls.
 * Lock order: fs/lock_order.h. */
#ifndef FS_RELAYFS_H
#define FS_RELAYFS_H

#include <fuse.h>
#include <glib.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "cache/blocks.h"
#include "cache/checksum.h"
#include "cache/journal.h"
#include "cache/meta.h"
#include "cache/staging.h"
#include "fs/lock_order.h"
#include "fs/log.h"
#include "fs/options.h"
#include "relay/relay.h"

struct relayfs {
	struct relayfs_config *cfg;
	struct relay *relay;
	struct relay_lock_journal journal;	/* kept in cache/journal */
	struct cache *cache;
	struct cache_meta *meta;
	enum cache_hash hash_kind;
	GMutex nodes_mutex;
	GHashTable *nodes;	/* path -> struct fs_node * */
	GPtrArray *orphans;	/* nodes displaced, to free (nodes_mutex) */
	GHashTable *handles;	/* open struct fs_handle (nodes_mutex) */
	/* libfuse's .fuse_hidden name -> struct fs_node * (a reference) of
	 * a file unlinked while open (nodes_mutex) */
	GHashTable *hidden;
	GThread *retry_thread;	/* pushes what failed to push */
	GThreadPool *readahead;	/* fetches blocks ahead of sequential reads */
	GThreadPool *hashers;	/* hash pulls' arrived blocks off the reads */
	GMutex retry_mutex;
	GCond retry_cond;
	bool stopping;
	_Atomic gint64 cache_hits, cache_misses;
	time_t started;		/* the root's times */
	_Atomic gint64 retry_next;	/* monotonic us of the next retry */
	GThreadPool *pushers;	/* writeback: `transfers` pushes at a time */
	_Atomic bool pushing_all;	/* unmounting: no push waits */
	/* registrations and unlocks after a reader's close, `transfers` at
	 * a time (fs/pull_finish.c) */
	GThreadPool *finishers;
	GMutex finish_mutex;	/* finishing, finish_error; a leaf */
	GCond finish_cond;
	unsigned finishing;	/* registrations queued or running */
	int finish_error;	/* the last one's failure, since a wait */
};

/* A file this mount has open, or staged and not pushed yet. */
struct fs_node {
	char *path;		/* changed under nodes_mutex and mutex both,
				 * so either lets it be read */
	int refs;		/* holders, opens included; under nodes_mutex */
	_Atomic int opens;		/* open handles; changed under nodes_mutex,
				 * atomic (read under mutex alone too) */
	_Atomic int staged_live; /* staged && !deleted, for walks under
				 * nodes_mutex, which never wait for mutex
				 * (held through a whole push) */
	GMutex mutex;		/* the fields below */
	/* open handles whose owner closed them (fs/ops.c, relayfs_flush),
	 * their release still to come */
	int handles_done;
	struct cache_staged *staged;	/* written, not yet committed */
	/* its push, started while it is written (fs/push_stream.c) */
	struct relay_stream *stream;
	char *staged_key;	/* cache key of the version the copy holds */
	bool deleted;		/* unlinked while open: never pushed */
	/* a write to the staged copy failed (ENOSPC, EIO): that version is
	 * never pushed; the writer hears of it again at close */
	int write_error;
	struct relay_file *file;	/* the relay version being read */
	struct cache_item *item;	/* its cached blocks */
	/* we hold its read lock; changed under mutex, read without it by a
	 * read-ahead's sink (atomic) */
	_Atomic bool read_locked;
	bool stale;		/* the relay holds another version now */
	bool pull_done;		/* registered, or nothing to register */
	bool pull_checked;	/* every byte matched: register at close */
	/* the registration and unlock are the finishers' (fs/pull_finish.c):
	 * the read lock is theirs, journaled under finish_path */
	bool finish_pending;
	char *finish_path;
	uint64_t seq_start, seq_next;	/* the sequential run being read */
	uint64_t ahead_next;	/* first block not yet asked for ahead */
	/* the pull's checksum over bytes [0, pull_hashed), as blocks arrive
	 * in order, so that no second pass is needed at the end */
	struct cache_hasher *pull_hasher;
	uint64_t pull_hashed;
	/* a thread hashes arrived blocks with mutex let go (pull_hasher is
	 * its own meanwhile); hash_cond says when it is done, and a reset
	 * meanwhile bumps pull_hash_gen (the hasher is then dropped) */
	bool pull_hashing;
	bool pull_hash_queued;	/* a job of relayfs->hashers will hash */
	unsigned pull_hash_gen;
	GCond hash_cond;
	/* the pull's content did not match its checksum: every later read
	 * and the close fail with it (bytes read before could not be) */
	int pull_error;
	/* What `relayfs status` shows: atomics, so that it reads them under
	 * nodes_mutex alone (a push holds mutex throughout). */
	_Atomic int moving;		/* enum fs_moving */
	_Atomic uint64_t moving_total, moving_done;	/* bytes */
	_Atomic gint64 moving_since;	/* monotonic us */
	_Atomic int push_error;		/* the last push's; 0 once one worked */
	/* when the retry thread may push it (monotonic us; 0: at once): a
	 * writeback's rest, or the wait after a failed push */
	_Atomic gint64 push_due;
	_Atomic bool push_queued;	/* waiting in relayfs->pushers */
};

enum fs_moving { FS_MOVING_NONE, FS_MOVING_PUSH, FS_MOVING_PULL };

struct relayfs *relayfs_get(void);

/* writeback.c */
/* -o writeback: make the closed copy durable and due in `writeback`
 * seconds (pushing at once if it cannot be made durable). */
int fs_defer_push_locked(struct relayfs *fs, struct fs_node *node);
/* Is node's push to wait still (a writeback's rest, a failed push)? */
bool fs_push_deferred(struct relayfs *fs, struct fs_node *node);
/* A push failed: the next try waits for the retry interval. */
void fs_push_failed(struct relayfs *fs, struct fs_node *node);
/* The pushers pool, with writeback only. submit: queue node's push
 * there (false without writeback: push it yourself). stop: push every
 * pending copy now, with a line each, and wait for them all. */
void fs_writeback_start(struct relayfs *fs);
bool fs_writeback_submit(struct relayfs *fs, struct fs_node *node);
void fs_writeback_stop(struct relayfs *fs);
/* RELAYFS_RETRY_SECONDS, else 30. */
unsigned fs_retry_interval(void);

/* pull_finish.c */
/* The reader closed a pull whose bytes all matched: journal it and hand
 * its registration and unlock to the finishers; close does not wait.
 * Done at once when the journal cannot take it. */
void fs_pull_finish_defer_locked(struct relayfs *fs, struct fs_node *node);
/* A registration still pending is done now (before the node's lock or
 * version changes hands: a write, a new version, unlink, rename). */
void fs_pull_finish_now_locked(struct relayfs *fs, struct fs_node *node);
/* The same, and one due at a close still to come too (a file read whole
 * and open, about to leave the relay). */
void fs_pull_register_now_locked(struct relayfs *fs, struct fs_node *node);
/* The same for path's node, if it has one (takes its mutex). */
void fs_pull_finish_path(struct relayfs *fs, const char *path);
/* Registrations journaled and not done (an earlier mount's crash, a
 * relay that failed): done again, each under a fresh read lock. */
void fs_pull_finish_replay(struct relayfs *fs);
void fs_pull_finish_start(struct relayfs *fs);
/* Waits until no registration is queued or running: 0, or the error of
 * one that failed meanwhile (it stays journaled, for later). */
int fs_pull_finish_wait(struct relayfs *fs);
/* Waits for every registration queued. */
void fs_pull_finish_stop(struct relayfs *fs);
/* Register node's pull (read lock taken if it has none), then release
 * the lock; transfer.c. 0, or the registration's error (logged). */
int fs_register_pull_locked(struct relayfs *fs, struct fs_node *node);

/* status.c */
/* A node starts or stops moving bytes (push or pull of total bytes). */
void fs_moving_start(struct fs_node *node, enum fs_moving kind,
		     uint64_t total);
void fs_moving_stop(struct fs_node *node);
/* user.relay.status of the mount's root: a key file `relayfs status`
 * reads (the mount, its counters, transfers and pending pushes). */
char *fs_status_text(struct relayfs *fs);
/* `relayfs status [MOUNTPOINT]`: argv[0] is "status". Exit status. */
int fs_status_main(int argc, char **argv);

/* nodes.c */
/* A reference to the node of path (created when create is set), counted
 * as an open handle too when open is set. NULL when absent. */
struct fs_node *fs_node_get(struct relayfs *fs, const char *path,
			    bool create, bool open);
/* Drop a reference (and an open when was_open); the node goes when
 * nothing holds it and it has no staged copy. Never call with the node's
 * mutex held. */
void fs_node_put(struct relayfs *fs, struct fs_node *node, bool was_open);
/* One more reference to a node already held. */
void fs_node_ref(struct relayfs *fs, struct fs_node *node);
/* One open handle of node fewer (its reference stays, for fs_node_put). */
void fs_node_closed(struct relayfs *fs, struct fs_node *node);
/* Node's handles still in use (node->mutex held): the open ones, less
 * those their owner closed whose release(2) is still on its way (the
 * kernel sends it later, asynchronously). */
int fs_node_in_use_locked(struct fs_node *node);
/* Lock node's mutex (without nodes_mutex: a push may hold the node's for
 * long) and return its open count as it stands while the mutex is held. */
int fs_node_lock(struct relayfs *fs, struct fs_node *node);
/* Mark node's file gone (unlinked, or replaced by a rename): nothing of
 * it is pushed. True if it had a staged copy. Takes node->mutex. */
bool fs_node_mark_deleted(struct fs_node *node);
/* node->staged or node->deleted changed (node->mutex held). */
void fs_node_staged_changed_locked(struct fs_node *node);
/* Take a node out of the table (its file was unlinked): its handles go
 * on, a new file of that name gets a new node. */
void fs_node_orphan(struct relayfs *fs, struct fs_node *node);
/* Orphan node, which libfuse now calls by its hidden name (taking the
 * caller's reference), or take it back by that name (NULL: none). */
void fs_node_hide(struct relayfs *fs, struct fs_node *node,
		  const char *hidden);
struct fs_node *fs_node_unhide(struct relayfs *fs, const char *hidden);
/* A reference to the node libfuse calls by its hidden name, or NULL. */
struct fs_node *fs_node_get_hidden(struct relayfs *fs, const char *hidden);
/* Move a node to a new path (rename of a staged file). */
void fs_node_move(struct relayfs *fs, struct fs_node *node, const char *to);
/* A directory was renamed: the nodes inside follow it. */
void fs_nodes_move_dir(struct relayfs *fs, const char *from, const char *to);
/* Names of staged files directly in dir, for readdir. */
GPtrArray *fs_nodes_staged_in(struct relayfs *fs, const char *dir);
/* At unmount: free every node (staged copies stay on disk). */
void fs_nodes_free(struct relayfs *fs);
/* Nodes with a staged copy and no open handle, each a reference. */
GPtrArray *fs_nodes_pending(struct relayfs *fs);

/* lookup.c */
/* Relay path of a FUSE path ("/a/b" -> "a/b", "/" -> ""). */
const char *fs_relay_path(const char *path);
/* The visible file or directory at path, from the cached listing of its
 * parent (listed once per dir_cache). -ENOENT when not shown. */
int fs_lookup(struct relayfs *fs, const char *path, struct relay_file **out);
/* Attributes of the visible file or directory at path, without a copy. */
int fs_lookup_stat(struct relayfs *fs, const char *path, struct stat *st);
/* The listing of dir (name -> struct relay_file *). */
int fs_listing(struct relayfs *fs, const char *dir, GHashTable **out);
void fs_invalidate_parent(struct relayfs *fs, const char *path);
/* This mount changed path: its cached listing (if fresh) now shows f, or
 * no entry when f is NULL. Takes f. Copy on write: listings in use by
 * readers never change. */
void fs_listing_update(struct relayfs *fs, const char *path,
		       struct relay_file *f);
void fs_file_stat(struct relayfs *fs, const struct relay_file *f,
		  struct stat *st);
void fs_dir_stat(struct relayfs *fs, struct stat *st);

/* transfer.c: every *_locked function here runs with node->mutex held */
/* Push node's staged copy if it changed; returns the push's error. */
int fs_push_locked(struct relayfs *fs, struct fs_node *node);
/* Give node a staged copy holding the relay file's content (fetched
 * under a read lock, never registered), or empty when fetch is false. */
int fs_stage_locked(struct relayfs *fs, struct fs_node *node, bool fetch);
/* Read through the block cache, taking the read lock on first fetch and
 * registering the pull when the whole version is local. */
ssize_t fs_read_relay(struct relayfs *fs, struct fs_node *node, char *buf,
		      size_t size, off_t offset);
/* Set node->file/item to the current version of node's file. */
int fs_open_version_locked(struct relayfs *fs, struct fs_node *node);
/* End of the last handle: finish the pull, release the read lock. */
void fs_close_reader_locked(struct relayfs *fs, struct fs_node *node);
/* A write to node's copy failed: remove the copy, with a log line; it is
 * never pushed (node->write_error stays for the handles still open). */
void fs_drop_failed_copy_locked(struct fs_node *node);
/* Commit or keep node's staged copy when its last handle closes. */
void fs_close_writer_locked(struct relayfs *fs, struct fs_node *node);
/* Read-ahead jobs (the pool's function). */
void fs_readahead_job(gpointer data, gpointer user_data);
/* fs/push_stream.c (node's mutex held): after a write of n bytes at offset
 * to a copy that was `before` bytes long, start, feed or give up the
 * push that follows the writes; give it up; end it at close (0, or the
 * push's error once the file went whole after all). */
void fs_stream_follow_locked(struct relayfs *fs, struct fs_node *node,
			     uint64_t offset, ssize_t n, uint64_t before);
void fs_stream_stop_locked(struct fs_node *node);
int fs_stream_push_locked(struct relayfs *fs, struct fs_node *node,
			  const char *checksum);
void fs_pull_hash_job(gpointer data, gpointer user_data);
/* The retry thread: pushes staged copies that failed to push. */
void fs_retry_start(struct relayfs *fs);
void fs_retry_stop(struct relayfs *fs);

/* xattr.c */
int fs_getxattr(struct relayfs *fs, const char *path, const char *name,
		char *value, size_t size);
int fs_listxattr(struct relayfs *fs, const char *path, char *list,
		 size_t size);

extern const struct fuse_operations relayfs_operations;

#endif
