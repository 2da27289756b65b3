/* The lock order of the whole program, in one place: every mutex, and
 * which may be held when another is taken. */
#ifndef FS_LOCK_ORDER_H
#define FS_LOCK_ORDER_H

/*
 * A thread may take a mutex only while it holds none of those below it
 * in this list; the last ones are leaves, never held while taking
 * another. A function named *_locked runs with the mutex its comment
 * names held (most often a node's mutex).
 *
 * 1. relayfs->nodes_mutex (fs/nodes.c): the node table, the handles, the
 *    hidden names, the orphans. Held briefly; never across a request.
 *    A node's mutex is taken under it only for a node nobody else holds
 *    (fs_node_put of the last reference, move_locked of a displaced node):
 *    fs_node_lock takes a node's mutex without it, because a push may
 *    hold that mutex for as long as the server takes.
 * 2. fs_node->mutex (fs/relayfs.h): one file's staged copy, version and
 *    pull. Held across the relay's requests for that file (a push, a
 *    fetch under the read lock), so nothing else may wait for it while
 *    holding nodes_mutex.
 *    A streaming read-ahead's sink (fs/transfer.c, ahead_sink_write)
 *    takes it briefly inside a request, holding nothing else then; the
 *    read-ahead claims its blocks (cache_item->mutex) under it.
 * 3. relay_stream->mutex (relay/stream.c): a streaming push's progress;
 *    taken under a node's mutex by its writer, and by the upload's
 *    source holding nothing. relay->mutex is taken under it (an abort
 *    marks the relay's stream as given up).
 * 4. relay->mutex (relay/relay_private.h): held locks, claims, unanswered
 *    requests, mutexes seen, cached placeholders; a leaf of the relay
 *    layer, never held across a request. The claim of a path (a
 *    condition on relay->mutex) is held across the requests that take or
 *    repair that path's lock, one thread per path.
 *    The listing's fetch_specials mutex (relay/relay.c) is a leaf.
 * 5. cache->mutex (cache/blocks.c), then cache_item->mutex: the cache's
 *    items and their block maps; neither is held while a block is fetched.
 *    cache_meta->mutex (cache/meta.c) and a followed hash's mutex
 *    (cache/follow_hash.c, taken by the writer under its node's) are
 *    leaves.
 * 6. transport->pool_lock (relay/backends/transport.c): the idle curl
 *    handles; a leaf, never held while calling out. webdav->tokens_mutex
 *    (relay/backends/webdav.c, its LOCK tokens) and the thread-local
 *    gathered failures (relay/backend.c) are leaves too.
 * 7. relayfs->retry_mutex (fs/transfer.c): only around the retry
 *    thread's wait and its stop flag; a leaf. relayfs->finish_mutex
 *    (fs/pull_finish.c): the count of registrations queued; a leaf.
 *
 * A request sent aside (relay/aside.c: a push's placeholder, a pull's
 * read lock, a mutex's drop) runs on the relay's aside pool holding no
 * mutex but relay->mutex briefly; its waiter may hold a node's mutex
 * (a push), which no aside ever takes, so the wait cannot close a cycle.
 * A detached drop is waited for through relay->mutex and claim_cond.
 *
 * Connections are waited for too (transport.c, pool_acquire), with no
 * mutex of the transport held: a thread holding a connection may wait
 * for an aside (a fetch's sink waits for the lock taken beside it, and,
 * where the mutex is a server's LOCK, for that mutex's detached drop; a
 * content upload's end waits for its placeholder), so these asides borrow from
 * a share of their own (BACKEND_WORK_BESIDE) and never wait for one their
 * starter holds; an aside never waits for anything while it holds one.
 *
 * The writeback pushers (fs/writeback.c) and the pull finishers
 * (fs/pull_finish.c) are pool jobs that take a node's mutex holding
 * nothing else, as the retry thread does; the retry thread queues the
 * pushers holding nothing, a reader's close queues a finisher holding the
 * node's mutex (queuing never waits), and a read queues a pull hasher
 * (fs/transfer.c, fs_pull_hash_job) the same way. That queuing takes a reference
 * (fs_node_ref: nodes_mutex, briefly) under the node's mutex: the one
 * exception to 1 before 2, and no cycle, since a thread holding
 * nodes_mutex only waits for the mutex of a node nobody else holds.
 *
 * Without a mutex: what `relayfs status` reads of a node (moving*,
 * push_error, staged_live, opens) and relayfs->retry_next are atomics,
 * read under nodes_mutex alone (fs/status.c), so a status never waits for
 * a push; its list of registrations to do is the pulls' journal, files
 * read holding no mutex. The log writer (fs/log.c) takes no lock: any
 * thread may log while holding any of the above.
 */

#endif
