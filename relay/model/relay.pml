/* A model of the relay protocol as relayfs runs it (relay/locking.c,
 * relay/mutex.c, relay/sequences.c), checked with spin: scripts/model.sh. */

/*
 * N clients share one file x of the relay. Each may push a new version
 * (write lock; the placeholder with no pullers and the content side by
 * side, in either order; unlock), pull the current one (a fetch pinned to
 * the version listed, before or after the read lock is taken; register
 * in the placeholder unless listed, if the bytes match it; remove the
 * content once P distinct pullers have it; unlock), or stop. The drop of
 * the mutex that a lock was created under goes out aside: any time until
 * the lock is released (or the mutex is taken again). One client may
 * crash once, anywhere; it comes back and repairs what its journal lists,
 * as a new mount does; a copy it still has staged is pushed again later.
 *
 * CREATE chooses how a lock file is created:
 *   ATOMIC      the backend's create cannot be won twice (local link)
 *   MUTEX       the create itself checks, then writes (Apache's PUT with
 *               If-None-Match), under a mutex folder whose mkdir is atomic
 *   CHECKWRITE  check, then write, then read back, with no mutex: what
 *               escale peers do; the check must find two holders
 *
 * Assumptions, the model's limits: a mutex or lock is stale exactly when
 * its holder has crashed (in relayfs: unchanged for long, or older than
 * lock_timeout); breaking a stale mutex removes that very mutex (DELETE
 * with If-Match on its ETag); requests are not lost (unanswered requests
 * are left out).
 */

#define ATOMIC 1
#define MUTEX 2
#define CHECKWRITE 3
#ifndef CREATE
#define CREATE MUTEX
#endif

#define N 3		/* clients */
#ifndef P
#define P 2		/* pullers after which the content is removed */
#endif
#ifndef MAXPUSH
#define MAXPUSH 2	/* versions pushed in all */
#endif
#ifndef OPS
#define OPS 2		/* operations per client */
#endif
#define NOBODY 255

/* the relay */
byte lock_owner = NOBODY;	/* .x.lock: whose, or none */
bool lock_stale;		/* its owner crashed while holding it */
byte mutex = NOBODY;		/* .x.mutex: who made it, or none */
bool mutex_stale;		/* its maker crashed while holding it */
byte version;			/* placeholder's version, 0: none yet */
byte pusher = NOBODY;
bool content;			/* x is on the relay */
byte content_version;		/* the version x holds */
byte content_pusher = NOBODY;	/* who wrote it */
byte pullers;			/* the placeholder's pullers, one bit each */

/* what the checks count */
byte holders;			/* clients working under the lock */
byte registered[(MAXPUSH + 2) * N];	/* pulls registered per version */
byte pushes;			/* files written (closed) */
byte versions;			/* versions pushed, repairs included */
byte crashes;
bool journal[N];		/* a lock this client holds, on its disk */
bool staged[N];			/* a copy it still has to push */
byte stopped;

inline count_pullers(n)
{
	n = ((pullers >> 0) & 1) + ((pullers >> 1) & 1) + ((pullers >> 2) & 1)
}

/* The one crash of the run may happen here: what the client holds on
 * the relay stays there, stale; what it has on disk (journal, staged
 * copy) survives; the next mount repairs. */
inline maybe_crash()
{
	if
	:: crashes == 0 ->
		atomic {
			crashes++;
			if :: in_cs -> holders--; in_cs = false :: else fi;
			if :: lock_owner == me -> lock_stale = true :: else fi;
			/* a drop on its way is lost, or done */
			if :: mutex == me -> mutex_stale = true :: else fi;
			drop_pending = false
		};
		goto crashed
	:: true -> skip
	fi
}

inline mutex_drop()
{
	assert(mutex == me);
	mutex = NOBODY
}

/* This mount's drop of the mutex, on its way aside: done now, or later. */
inline maybe_drop()
{
	if
	:: drop_pending -> mutex_drop(); drop_pending = false
	:: true -> skip
	fi
}

/* Wait for it (relay_mutex_settle). */
inline settle()
{
	if
	:: drop_pending -> mutex_drop(); drop_pending = false
	:: else -> skip
	fi
}

/* Take the mutex folder: mkdir is atomic; a stale one is broken. This
 * mount's own drop is waited for first. */
inline mutex_take()
{
	settle();
	do
	:: atomic { mutex == NOBODY -> mutex = me; break }
	:: atomic { mutex != NOBODY && mutex_stale ->
		mutex = NOBODY; mutex_stale = false }
	od
}

/* Create .x.lock in mode w or r: got tells. */
inline lock_create()
{
	got = false;
#if CREATE == ATOMIC
	atomic { if :: lock_owner == NOBODY -> lock_owner = me; got = true
		    :: else -> skip fi }
#elif CREATE == MUTEX
	mutex_take();
	maybe_crash();
	if	/* PUT If-None-Match: checks, then writes */
	:: lock_owner == NOBODY -> lock_owner = me; got = true
	:: else -> skip
	fi;
	maybe_crash();
	drop_pending = true;	/* sent aside */
	maybe_drop();
#else
	if	/* stat, then PUT, then read back */
	:: lock_owner == NOBODY -> lock_owner = me; got = (lock_owner == me)
	:: else -> skip
	fi;
#endif
}

/* A stale lock stands in the way: judge and delete it under the mutex
 * (without one where the backend has no atomic mkdir). */
inline lock_break_stale()
{
#if CREATE != CHECKWRITE
	mutex_take();
#endif
	if
	:: lock_owner != NOBODY && lock_stale ->
		lock_owner = NOBODY; lock_stale = false
	:: else -> skip
	fi;
#if CREATE != CHECKWRITE
	mutex_drop();
#endif
}

/* Acquire, retrying while the lock is taken: got false when the caller
 * gives up (lock_wait). */
inline lock_acquire()
{
	do
	:: journal[me] = true;	/* before the create: a crash right after */
	   lock_create();
	   if
	   :: got -> break
	   :: else -> journal[me] = false
	   fi;
	   if
	   :: lock_stale -> lock_break_stale()
	   :: true -> break	/* gave up: EBUSY */
	   fi
	od;
	if
	:: got -> atomic { holders++; in_cs = true; assert(holders == 1) }
	:: else -> settle()	/* a failed acquisition leaves nothing */
	fi
}

/* The mutex's drop is done before the lock goes. */
inline lock_release()
{
	settle();
	atomic { holders--; in_cs = false; assert(lock_owner == me) };
	lock_owner = NOBODY;
	journal[me] = false
}

/* Steps 2 and 3 of a push, under the write lock: side by side, so that
 * either may land first. */
inline push_under_lock()
{
	if
	:: atomic { versions++; nv = versions;
		    version = nv; pusher = me; pullers = 0 };
	   maybe_crash();
	   atomic { content = true; content_version = nv;
		    content_pusher = me }
	:: atomic { versions++; nv = versions;
		    content = true; content_version = nv; content_pusher = me };
	   maybe_crash();
	   atomic { version = nv; pusher = me; pullers = 0 }
	fi;
	atomic { staged[me] = false; nv = 0 }
}

/* The fetch, pinned to the content version listed: it fails once x is
 * another version or gone. */
inline fetch()
{
	fetched = content && content_version == cv
}

/* Steps 3 and 4 of a pull, under the read lock, of the version listed:
 * the placeholder is still that version (same pusher, timestamp,
 * checksum), and the bytes fetched match its checksum. */
inline pull_under_lock()
{
	if
	:: fetched && version == v && cv == v && pusher != me ->
		/* read, append, write: one step, as only the lock's holder
		 * writes the placeholder */
		atomic {
		count_pullers(n);
		if	/* append our name unless listed, or P are (the
			 * bytes were fetched before another pull removed x) */
		:: ((pullers >> me) & 1) || n >= P -> skip
		:: else ->
			pullers = pullers | (1 << me);
			registered[version * N + me]++;
			assert(registered[version * N + me] == 1)
		fi;
		n = 0
		};
		atomic {
		count_pullers(n);
		if
		:: n >= P && content -> assert(n == P);
			/* what goes is the version the P pullers have, or
			 * one its pusher still has staged and pushes again */
			assert(content_version == version ||
			       staged[content_pusher]);
			content = false; content_version = 0;
			content_pusher = NOBODY
		:: else -> skip
		fi;
		n = 0
		}
	:: else -> skip	/* another version now: registers nothing */
	fi
}

/* The next mount after a crash: a lock of ours in the journal is judged
 * and handled under the mutex, so that no breaker removes it meanwhile;
 * a write lock means push again from step 2. */
inline repair()
{
	if
	:: journal[me] ->
#if CREATE != CHECKWRITE
		mutex_take();
#endif
		if
		:: lock_owner == me ->
			lock_stale = false;	/* ours again, fresh */
			atomic { holders++; in_cs = true; assert(holders == 1) };
			if
			:: staged[me] -> push_under_lock()
			:: else -> skip
			fi;
			lock_release()
		:: else -> journal[me] = false	/* broken meanwhile */
		fi;
#if CREATE != CHECKWRITE
		mutex_drop();
#endif
	:: else -> skip
	fi
}

proctype client(byte me)
{
	bool got, in_cs, drop_pending, fetched;
	byte v, cv, n, nv, ops;

	do
	:: atomic { ops < OPS && pushes < MAXPUSH ->	/* close after write */
		ops++; pushes++; staged[me] = true };
		lock_acquire();
		if
		:: got -> push_under_lock(); lock_release()
		:: got -> lock_release()	/* a push that followed the
				 * writes, cut off (relay/stream.c): the
				 * server kept the old content; stays
				 * staged, pushed whole later */
		:: else -> skip	/* stays staged: pushed later */
		fi
	:: atomic { ops < OPS && content && pusher != me ->	/* cat x */
		ops++; v = version; cv = content_version;
		/* the fetch beside the lock: done before it (as the listing
		 * showed x: a later fetch that works sees the same), or
		 * under it */
		if :: fetched = true :: true fi };
		if
		:: fetched -> lock_acquire()
		:: else -> lock_acquire(); fetch()
		fi;
		if
		:: got -> maybe_crash(); pull_under_lock(); lock_release()
		:: else -> skip	/* refused: the bytes are dropped */
		fi;
		atomic { v = 0; cv = 0; fetched = false }
	:: break
	od;
	/* a clean stop leaves no lock and no mutex of its own */
	assert(lock_owner != me && mutex != me);
	goto stop;
crashed:
	repair();
	/* a mutex the crash left is broken by the next client needing it */
	assert(lock_owner != me && (mutex != me || mutex_stale));
stop:
	stopped++
}

init {
	atomic {
		run client(0);
		run client(1);
		run client(2)
	};
	stopped == N;
	/* every client stopped: no lock is left, nor a mutex but one that a
	 * crash left (stale: the next client that needs it breaks it) */
	assert(lock_owner == NOBODY);
	assert(mutex == NOBODY || (crashes > 0 && mutex_stale));
	/* the content is gone exactly when P distinct clients pulled it, but
	 * for one a crash left half pushed, which its pusher still has
	 * staged and pushes again */
	byte n;
	count_pullers(n);
	assert(!content || n < P || staged[content_pusher])
}
