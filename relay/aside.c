/* Requests sent aside: a step of a sequence that runs beside the next one
 * (a placeholder beside its content, a lock beside a pinned read). */
#include "relay/relay_private.h"

/*
 * An aside runs on the relay's pool of aside threads and is waited for by
 * the thread that started it, which then says the aside's failures as its
 * own (backend_failed), so that a push's one message still names them.
 * A detached aside is waited for by nobody (but relay_free). Asides are
 * leaves: one never waits for another, so the pool cannot
 * stall on itself.
 */

static void aside_job(gpointer data, gpointer user_data)
{
	struct relay_aside *a = data;
	struct relay *r = user_data;
	enum backend_work was = backend_thread_work(a->work);
	GPtrArray *failures;
	int ret;

	if (a->detached) {
		a->fn(r, a->ctx); /* its failures are warnings */
		backend_thread_work(was);
		g_free(a);
		return;
	}
	backend_failures_gather();
	ret = a->fn(r, a->ctx);
	backend_thread_work(was);
	failures = backend_failures_hand_over();
	g_mutex_lock(&a->mutex);
	a->ret = ret;
	a->failures = failures;
	a->done = true;
	g_cond_signal(&a->cond);
	g_mutex_unlock(&a->mutex);
}

void relay_aside_start(struct relay *r, struct relay_aside *a,
		       int (*fn)(struct relay *r, void *ctx), void *ctx)
{
	g_mutex_init(&a->mutex);
	g_cond_init(&a->cond);
	a->fn = fn;
	a->ctx = ctx;
	a->done = false;
	a->detached = false;
	/* its starter may hold a connection while it waits for it */
	a->work = BACKEND_WORK_BESIDE;
	a->failures = NULL;
	g_thread_pool_push(r->asides, a, NULL);
}

void relay_aside_detach(struct relay *r, enum backend_work work,
			int (*fn)(struct relay *r, void *ctx), void *ctx)
{
	struct relay_aside *a = g_new0(struct relay_aside, 1);

	a->fn = fn;
	a->ctx = ctx;
	a->detached = true;
	a->work = work;
	g_thread_pool_push(r->asides, a, NULL);
}

int relay_aside_wait(struct relay_aside *a)
{
	g_mutex_lock(&a->mutex);
	while (!a->done)
		g_cond_wait(&a->cond, &a->mutex);
	g_mutex_unlock(&a->mutex);
	for (guint i = 0; i < a->failures->len; i++)
		backend_failed("%s", (const char *)a->failures->pdata[i]);
	g_ptr_array_free(a->failures, TRUE);
	g_mutex_clear(&a->mutex);
	g_cond_clear(&a->cond);
	return a->ret;
}

GThreadPool *relay_asides_new(struct relay *r)
{
	/* not exclusive, without a bound: each aside is one request */
	return g_thread_pool_new(aside_job, r, -1, FALSE, NULL);
}
