/* A push that starts while its file is still being written in order: the
 * write lock is taken aside, and one streaming upload follows the writer. */
#include "relay/relay_private.h"
#include "relay/names.h"
#include "relay/placeholder.h"

#include <errno.h>
#include <unistd.h>

/*
 * The sequence is the push's (PROTOCOL.md, Push): lock, content, then the
 * placeholder, then unlock. Only the content starts early, under the lock,
 * and the server keeps the old content until the upload has ended (the
 * probe shows it: BACKEND_CAN_STREAM). So a stream cut off, by the writer
 * going back or by anything else, leaves the relay as it was, and the
 * push at close sends the file whole, as without a stream.
 */

/* A writer paused this long: the stream gives up (its push comes at
 * close), so that it does not hold a connection meanwhile. */
#define STREAM_IDLE_US (30 * G_USEC_PER_SEC)

struct relay_stream {
	struct relay *r;
	char *path;
	int fd;			/* a duplicate of the staged copy's */
	/* guards what follows; relay->mutex is taken under it (abort) */
	GMutex mutex;
	GCond cond;
	uint64_t written;	/* bytes [0, written) are in the file */
	uint64_t end;		/* its size once written, else UINT64_MAX */
	bool cut;		/* given up: the upload fails */
	bool sent_all;		/* the source handed over its end */
	bool done;		/* the upload's aside is over, with ret */
	int ret;
	GPtrArray *failures;	/* what the backend said about it */
	int refs;		/* the aside's and the writer's */
};

static void stream_unref(struct relay_stream *s)
{
	bool last;

	g_mutex_lock(&s->mutex);
	last = --s->refs == 0;
	g_mutex_unlock(&s->mutex);
	if (!last)
		return;
	if (s->failures)
		g_ptr_array_free(s->failures, TRUE);
	close(s->fd);
	g_mutex_clear(&s->mutex);
	g_cond_clear(&s->cond);
	g_free(s->path);
	g_free(s);
}

/* The upload's source: the file's bytes as the writer adds them. */
static ssize_t stream_source(void *ctx, void *buf, size_t len, uint64_t offset)
{
	struct relay_stream *s = ctx;
	gint64 deadline = g_get_monotonic_time() + STREAM_IDLE_US;
	uint64_t have;
	ssize_t n;

	g_mutex_lock(&s->mutex);
	while (!s->cut && offset >= s->written && offset < s->end)
		if (!g_cond_wait_until(&s->cond, &s->mutex, deadline))
			s->cut = true;
	have = MIN(s->written, s->end);
	if (s->cut || offset >= s->end) {
		n = s->cut ? -ECANCELED : 0;
		s->sent_all = !s->cut;
		g_mutex_unlock(&s->mutex);
		return n;
	}
	g_mutex_unlock(&s->mutex);
	do
		n = pread(s->fd, buf, MIN(len, have - offset), (off_t)offset);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n == 0 ? -EIO : n;
}

/* No stream any more: the next may start. */
static void stream_settled(struct relay *r)
{
	g_mutex_lock(&r->mutex);
	r->streaming = r->stream_cut = false;
	g_cond_broadcast(&r->claim_cond);
	g_mutex_unlock(&r->mutex);
}

void relay_stream_settle(struct relay *r)
{
	g_mutex_lock(&r->mutex);
	while (r->streaming)
		g_cond_wait(&r->claim_cond, &r->mutex);
	g_mutex_unlock(&r->mutex);
}

/* The aside: the write lock, then the upload. A failed upload leaves the
 * old content, so the lock goes; unless the failure came after the end
 * was sent (the server may have the new content): the lock then stays for
 * the push at close, as a failed push keeps it. */
static int stream_run(struct relay *r, void *ctx)
{
	struct relay_stream *s = ctx;
	GPtrArray *failures;
	int ret;

	backend_failures_gather();
	ret = relay_lock_acquire(r, s->path, RELAY_LOCK_WRITE);
	if (ret == 0) {
		ret = backend_put_stream(r->backend, s->path, stream_source, s);
		if (ret < 0 && s->sent_all) {
			relay_lock_keep(r, s->path);
			relay_placeholder_forget(r, s->path);
		} else if (ret < 0) {
			/* aside, so that a push of the file that takes the
			 * lock meanwhile waits for the drop (path_claim) */
			relay_lock_release_aside(r, s->path, NULL);
		}
	}
	failures = backend_failures_hand_over();
	g_mutex_lock(&s->mutex);
	s->done = true;
	s->ret = ret;
	s->failures = failures;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->mutex);
	stream_settled(r); /* after done: see relay_stream_abort */
	stream_unref(s);
	return ret;
}

struct relay_stream *relay_stream_start(struct relay *r, const char *path,
					int fd, uint64_t written)
{
	struct relay_stream *s;
	bool taken = false;
	int dup_fd;

	if (!backend_can(r->backend, BACKEND_CAN_STREAM))
		return NULL;
	g_mutex_lock(&r->mutex);
	if (!r->streaming)
		r->streaming = taken = true;
	g_mutex_unlock(&r->mutex);
	dup_fd = taken ? dup(fd) : -1;
	if (dup_fd < 0) {
		if (taken)
			stream_settled(r);
		return NULL;
	}
	s = g_new0(struct relay_stream, 1);
	s->r = r;
	s->path = g_strdup(path);
	s->fd = dup_fd;
	g_mutex_init(&s->mutex);
	g_cond_init(&s->cond);
	s->written = written;
	s->end = UINT64_MAX;
	s->refs = 2;
	relay_aside_detach(r, BACKEND_WORK_BACKGROUND, stream_run, s);
	return s;
}

void relay_stream_grow(struct relay_stream *s, uint64_t written)
{
	g_mutex_lock(&s->mutex);
	s->written = written;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->mutex);
}

void relay_stream_abort(struct relay_stream *s)
{
	if (!s)
		return;
	g_mutex_lock(&s->mutex);
	s->cut = true;
	g_cond_broadcast(&s->cond);
	if (!s->done) {
		/* still this stream's (its aside settles only once done):
		 * relay_lock_settle_all waits for its lock's release */
		g_mutex_lock(&s->r->mutex);
		s->r->stream_cut = true;
		g_mutex_unlock(&s->r->mutex);
	}
	g_mutex_unlock(&s->mutex);
	stream_unref(s);
}

/* The content is on the relay, under the lock: the placeholder, then the
 * unlock (aside, as relay_push does). */
static int stream_placeholder(struct relay *r, const char *path,
			      int64_t mtime, const char *checksum)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	g_autofree char *ph = NULL;
	g_autoptr(GBytes) raw = NULL;
	size_t len;
	int ret;

	ph = relay_placeholder_format(r->params.client, mtime, checksum, &len);
	raw = g_bytes_new(ph, len);
	ret = backend_put_data(r->backend, ph_path, ph, len);
	/* on failure, the new content beside the old placeholder: the lock
	 * stays for the push that follows */
	return relay_push_end(r, path, raw, ret);
}

int relay_stream_finish(struct relay_stream *s, uint64_t size, int64_t mtime,
			const char *checksum)
{
	struct relay *r = s->r;
	int ret;

	g_mutex_lock(&s->mutex);
	s->written = size;
	s->end = size;
	g_cond_broadcast(&s->cond);
	while (!s->done)
		g_cond_wait(&s->cond, &s->mutex);
	ret = s->ret;
	g_mutex_unlock(&s->mutex);
	if (ret == 0)
		ret = stream_placeholder(r, s->path, mtime, checksum);
	else if (ret != -ECANCELED && s->failures->len > 0)
		g_message("the upload of %s while it was written failed (%s); "
			  "it is sent whole now", s->path,
			  (const char *)s->failures->pdata[0]);
	stream_unref(s);
	return ret;
}
