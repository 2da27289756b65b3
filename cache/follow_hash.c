/* The follower of a sequential write's checksum: advance() queues a job on
 * a shared pool of two threads (the writes go on meanwhile); finish()
 * waits for it and hashes the tail. */
#include "cache/follow_hash.h"

#include <glib.h>
#include <stdbool.h>

/* Below this many unhashed bytes the write's own thread is not bothered:
 * small files are hashed at their push, in one go. */
#define FOLLOW_STEP (1u << 20)

struct cache_follow_hash {
	int fd;
	struct cache_hasher *hasher;	/* the job's while running */
	uint64_t hashed;		/* the job's while running */
	GMutex mutex;			/* guards what follows */
	GCond idle;
	uint64_t written;		/* the writer's end, in order */
	int error;			/* a read of the file failed */
	bool running;			/* a job is queued or hashing */
	bool stop;			/* finish or free wants it back */
};

static void follow_job(gpointer data, gpointer user_data)
{
	struct cache_follow_hash *f = data;
	uint64_t to;
	int ret = 0;

	(void)user_data;
	g_mutex_lock(&f->mutex);
	while (!f->stop && ret == 0 && f->hashed < f->written) {
		to = f->written;
		g_mutex_unlock(&f->mutex);
		ret = cache_hasher_update_fd(f->hasher, f->fd, f->hashed, to);
		g_mutex_lock(&f->mutex);
		if (ret == 0)
			f->hashed = to;
	}
	if (ret < 0)
		f->error = ret;
	f->running = false;
	g_cond_broadcast(&f->idle);
	g_mutex_unlock(&f->mutex);
}

static GThreadPool *follow_pool(void)
{
	static gsize once;
	static GThreadPool *pool;

	if (g_once_init_enter(&once)) {
		pool = g_thread_pool_new(follow_job, NULL, 2, FALSE, NULL);
		g_once_init_leave(&once, 1);
	}
	return pool;
}

struct cache_follow_hash *cache_follow_hash_new(int fd, enum cache_hash kind)
{
	struct cache_follow_hash *f;
	struct cache_hasher *h = cache_hasher_new(kind);

	if (!h)
		return NULL;
	f = g_new0(struct cache_follow_hash, 1);
	f->fd = fd;
	f->hasher = h;
	g_mutex_init(&f->mutex);
	g_cond_init(&f->idle);
	return f;
}

void cache_follow_hash_advance(struct cache_follow_hash *f, uint64_t end)
{
	bool start;

	g_mutex_lock(&f->mutex);
	f->written = end;
	start = !f->running && !f->stop && f->error == 0 &&
		end - f->hashed >= FOLLOW_STEP;
	if (start)
		f->running = true;
	g_mutex_unlock(&f->mutex);
	if (start)
		g_thread_pool_push(follow_pool(), f, NULL);
}

/* The job stopped: f is the caller's alone again. */
static void follow_stop(struct cache_follow_hash *f)
{
	g_mutex_lock(&f->mutex);
	f->stop = true;
	while (f->running)
		g_cond_wait(&f->idle, &f->mutex);
	g_mutex_unlock(&f->mutex);
}

int cache_follow_hash_finish(struct cache_follow_hash *f, uint64_t end,
			     char **hex)
{
	int ret;

	*hex = NULL;
	follow_stop(f);
	ret = f->error;
	if (ret == 0)
		ret = cache_hasher_update_fd(f->hasher, f->fd, f->hashed, end);
	if (ret == 0) {
		*hex = cache_hasher_finish(f->hasher);
		f->hasher = NULL;
	}
	cache_follow_hash_free(f);
	return ret;
}

void cache_follow_hash_free(struct cache_follow_hash *f)
{
	if (!f)
		return;
	follow_stop(f);
	cache_hasher_free(f->hasher);
	g_mutex_clear(&f->mutex);
	g_cond_clear(&f->idle);
	g_free(f);
}
