/* The backend dispatcher: picks a backend by URL scheme, checks optional
 * operations, falls back where the interface allows, and counts requests. */
#include "relay/backend.h"
#include "relay/backends/registry.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>


static const char *const request_kind_names[BACKEND_REQ_KINDS] = {
	"list", "stat", "get", "put", "create", "remove",
	"rename", "mkdir", "rmdir", "statfs",
};

void backend_entry_clear(struct backend_entry *entry)
{
	g_clear_pointer(&entry->name, g_free);
	g_clear_pointer(&entry->etag, g_free);
}

void backend_entry_free(struct backend_entry *entry)
{
	if (!entry)
		return;
	backend_entry_clear(entry);
	g_free(entry);
}

static char *url_scheme(const char *url)
{
	const char *colon = strstr(url, "://");

	if (url[0] == '/' || !colon)
		return g_strdup("file");
	return g_ascii_strdown(url, colon - url);
}

static const struct backend_ops *backend_for_scheme(const char *scheme)
{
	for (int i = 0; backend_registry[i]; i++) {
		const char *const *s = backend_registry[i]->schemes;

		for (; *s; s++)
			if (g_ascii_strcasecmp(*s, scheme) == 0)
				return backend_registry[i];
	}
	return NULL;
}

bool backend_scheme_known(const char *scheme)
{
	return backend_for_scheme(scheme) != NULL;
}

char *backend_schemes_text(void)
{
	GString *text = g_string_new(NULL);

	for (int i = 0; backend_registry[i]; i++)
		for (const char *const *s = backend_registry[i]->schemes; *s;
		     s++)
			g_string_append_printf(text, "%s%s",
					       text->len ? ", " : "", *s);
	return g_string_free(text, FALSE);
}

int backend_open_ops(const struct backend_ops *ops,
		     const struct backend_options *opt, struct backend **out,
		     char **message)
{
	void *state = NULL;
	int ret = ops->open(opt, &state);

	*out = NULL;
	if (ret < 0) {
		*message = g_strdup_printf("cannot open relay %s: %s",
					   opt->url, g_strerror(-ret));
		return ret;
	}
	*out = g_new0(struct backend, 1);
	(*out)->ops = ops;
	(*out)->state = state;
	(*out)->caps = ops->caps_of ? ops->caps_of(state) : ops->caps;
	return 0;
}

int backend_open(const struct backend_options *opt, struct backend **out,
		 char **message)
{
	g_autofree char *scheme = url_scheme(opt->url);
	const struct backend_ops *ops = backend_for_scheme(scheme);

	*out = NULL;
	if (!ops) {
		*message = g_strdup_printf("%s: no backend for '%s://' URLs "
					   "in this build", opt->url, scheme);
		return -EPROTONOSUPPORT;
	}
	return backend_open_ops(ops, opt, out, message);
}

void backend_close(struct backend *b)
{
	if (!b)
		return;
	b->ops->close(b->state);
	g_free(b);
}

/* Note whether the relay answered (a refusal is an answer too), for
 * backend_unanswered. Gives ret back. */
static int answered(struct backend *b, int ret)
{
	gint64 now = g_get_monotonic_time();

	if (ret == -EIO || ret == -ETIMEDOUT)
		atomic_store_explicit(&b->unanswered_at, now, memory_order_relaxed);
	else
		atomic_store_explicit(&b->answered_at, now, memory_order_relaxed);
	return ret;
}

bool backend_unanswered(struct backend *b, gint64 within_us)
{
	gint64 failed = atomic_load_explicit(&b->unanswered_at, memory_order_relaxed);
	gint64 ok = atomic_load_explicit(&b->answered_at, memory_order_relaxed);

	return failed > ok && g_get_monotonic_time() - failed < within_us;
}

static void count(struct backend *b, enum backend_request_kind kind)
{
	atomic_fetch_add_explicit(&b->requests[kind], 1, memory_order_relaxed);
}

/* A thread's gathered failures, in order, while it gathers them. */
struct gathered {
	bool on;
	GPtrArray *texts; /* of char * */
};

static void gathered_free(gpointer data)
{
	struct gathered *g = data;

	g_ptr_array_free(g->texts, TRUE);
	g_free(g);
}

static GPrivate gathered_key = G_PRIVATE_INIT(gathered_free);

static struct gathered *gathered_here(void)
{
	struct gathered *g = g_private_get(&gathered_key);

	if (!g) {
		g = g_new0(struct gathered, 1);
		g->texts = g_ptr_array_new_with_free_func(g_free);
		g_private_set(&gathered_key, g);
	}
	return g;
}

/* the counter of this thread's uploads: a thread does one at a time */
static GPrivate progress_key;

void backend_progress_watch(_Atomic uint64_t *bytes)
{
	g_private_set(&progress_key, (gpointer)bytes);
}

void backend_progress_add(uint64_t bytes)
{
	_Atomic uint64_t *counter = g_private_get(&progress_key);

	if (counter)
		atomic_fetch_add_explicit(counter, bytes, memory_order_relaxed);
}

void backend_failed(const char *fmt, ...)
{
	struct gathered *g = gathered_here();
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!g->on) {
		g_warning("%s", text);
		g_free(text);
		return;
	}
	g_ptr_array_add(g->texts, text);
}

static __thread enum backend_work work_kind;

enum backend_work backend_thread_work(enum backend_work kind)
{
	enum backend_work was = work_kind;

	work_kind = kind;
	return was;
}

enum backend_work backend_thread_work_kind(void)
{
	return work_kind;
}

void backend_failures_gather(void)
{
	struct gathered *g = gathered_here();

	g->on = true;
	g_ptr_array_set_size(g->texts, 0);
}

char *backend_failures_take(bool keep_first)
{
	struct gathered *g = gathered_here();
	char *first = NULL;

	g->on = false;
	for (guint i = 0; i < g->texts->len; i++) {
		if (i == 0 && keep_first)
			first = g_strdup(g->texts->pdata[0]);
		else
			g_warning("%s", (const char *)g->texts->pdata[i]);
	}
	g_ptr_array_set_size(g->texts, 0);
	return first;
}

GPtrArray *backend_failures_hand_over(void)
{
	struct gathered *g = gathered_here();
	GPtrArray *texts = g->texts;

	g->on = false;
	g->texts = g_ptr_array_new_with_free_func(g_free);
	return texts;
}

const char *backend_name_problem(const char *name)
{
	if (!name[0])
		return "it is empty";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "it is . or ..";
	if (strchr(name, '/'))
		return "it holds a '/'";
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "it holds a control character";
	if (!g_utf8_validate(name, -1, NULL))
		return "it is not valid UTF-8";
	return NULL;
}

/* The one filter of hostile names, for every backend: entries whose name
 * no file may have are dropped, each with a warning. */
static void skip_unsafe_names(const struct backend *b, const char *dir,
			      GPtrArray *entries)
{
	for (guint i = entries->len; i-- > 0;) {
		const struct backend_entry *e = entries->pdata[i];
		const char *why = backend_name_problem(e->name);
		g_autofree char *shown = NULL;

		if (!why)
			continue;
		shown = g_strescape(e->name, NULL);
		g_warning("%s: listing of '%s': skipping \"%s\": %s",
			  b->ops->name, dir, shown, why);
		g_ptr_array_remove_index(entries, i);
	}
}

int backend_list(struct backend *b, const char *dir, GPtrArray **entries)
{
	int ret;

	*entries = g_ptr_array_new_with_free_func(
		(GDestroyNotify)backend_entry_free);
	count(b, BACKEND_REQ_LIST);
	ret = answered(b, b->ops->list(b->state, dir, *entries));
	if (ret < 0)
		g_clear_pointer(entries, g_ptr_array_unref);
	else
		skip_unsafe_names(b, dir, *entries);
	return ret;
}

int backend_stat(struct backend *b, const char *path,
		 struct backend_entry *entry)
{
	memset(entry, 0, sizeof(*entry));
	count(b, BACKEND_REQ_STAT);
	return answered(b, b->ops->stat(b->state, path, entry));
}

struct counting_sink {
	struct backend *b;
	backend_sink_fn sink;
	void *ctx;
};

static int counting_sink_write(void *ctx, const void *data, size_t len)
{
	struct counting_sink *cs = ctx;

	atomic_fetch_add_explicit(&cs->b->bytes_down, len, memory_order_relaxed);
	return cs->sink(cs->ctx, data, len);
}

int backend_get(struct backend *b, const char *path, uint64_t offset,
		uint64_t length, const char *etag, backend_sink_fn sink,
		void *ctx)
{
	struct counting_sink cs = { b, sink, ctx };

	count(b, BACKEND_REQ_GET);
	return answered(b, b->ops->get(b->state, path, offset, length, etag,
			   counting_sink_write, &cs));
}

struct small_sink {
	GByteArray *data;
	size_t max;
};

static int small_sink_write(void *ctx, const void *data, size_t len)
{
	struct small_sink *ss = ctx;

	if (ss->data->len + len > ss->max)
		return -EFBIG;
	g_byte_array_append(ss->data, data, len);
	return 0;
}

int backend_get_small(struct backend *b, const char *path, size_t max,
		      GBytes **out)
{
	struct small_sink ss = { g_byte_array_new(), max };
	int ret = backend_get(b, path, 0, UINT64_MAX, NULL, small_sink_write,
			      &ss);

	if (ret < 0) {
		g_byte_array_unref(ss.data);
		*out = NULL;
		return ret;
	}
	*out = g_byte_array_free_to_bytes(ss.data);
	return 0;
}

int backend_put(struct backend *b, const char *path, int fd, uint64_t size)
{
	int ret;

	count(b, BACKEND_REQ_PUT);
	ret = answered(b, b->ops->put(b->state, path, fd, size));
	if (ret == 0)
		atomic_fetch_add_explicit(&b->bytes_up, size, memory_order_relaxed);
	return ret;
}

/* The bytes a source handed over, counted as they go. */
struct counted_source {
	struct backend *b;
	backend_source_fn source;
	void *ctx;
};

static ssize_t count_source(void *ctx, void *buf, size_t len,
			    uint64_t offset)
{
	struct counted_source *cs = ctx;
	ssize_t n = cs->source(cs->ctx, buf, len, offset);

	if (n > 0)
		atomic_fetch_add_explicit(&cs->b->bytes_up, n,
					  memory_order_relaxed);
	return n;
}

int backend_put_stream(struct backend *b, const char *path,
		       backend_source_fn source, void *ctx)
{
	struct counted_source cs = { b, source, ctx };

	if (!b->ops->put_stream)
		return -ENOSYS;
	count(b, BACKEND_REQ_PUT);
	return answered(b, b->ops->put_stream(b->state, path, count_source,
					      &cs));
}

int backend_put_data(struct backend *b, const char *path, const void *data,
		     size_t len)
{
	int ret;

	count(b, BACKEND_REQ_PUT);
	ret = answered(b, b->ops->put_data(b->state, path, data, len));
	if (ret == 0)
		atomic_fetch_add_explicit(&b->bytes_up, len, memory_order_relaxed);
	return ret;
}

int backend_put_data_if(struct backend *b, const char *path, const void *data,
			size_t len, const char *etag)
{
	int ret;

	if (!b->ops->put_data_if || !etag)
		return -ENOSYS;
	ret = b->ops->put_data_if(b->state, path, data, len, etag);
	if (ret == -ENOSYS) /* the server would not heed it: nothing sent */
		return ret;
	count(b, BACKEND_REQ_PUT);
	answered(b, ret);
	if (ret == 0)
		atomic_fetch_add_explicit(&b->bytes_up, len, memory_order_relaxed);
	return ret;
}

int backend_create_excl(struct backend *b, const char *path, const void *data,
			size_t len)
{
	int ret;

	if (!b->ops->create_excl)
		return -ENOSYS;
	ret = b->ops->create_excl(b->state, path, data, len);
	if (ret == -ENOSYS) /* the server would not heed it: nothing sent */
		return ret;
	count(b, BACKEND_REQ_CREATE);
	answered(b, ret);
	if (ret == 0)
		atomic_fetch_add_explicit(&b->bytes_up, len, memory_order_relaxed);
	return ret;
}

int backend_remove(struct backend *b, const char *path)
{
	count(b, BACKEND_REQ_REMOVE);
	return answered(b, b->ops->remove(b->state, path));
}

int backend_remove_once(struct backend *b, const char *path)
{
	if (!b->ops->remove_once)
		return backend_remove(b, path);
	count(b, BACKEND_REQ_REMOVE);
	return answered(b, b->ops->remove_once(b->state, path));
}

struct copy_sink {
	int fd;
	uint64_t written;
};

static int copy_sink_write(void *ctx, const void *data, size_t len)
{
	struct copy_sink *cs = ctx;
	ssize_t n = pwrite(cs->fd, data, len, cs->written);

	if (n < 0 || (size_t)n != len)
		return n < 0 ? -errno : -EIO;
	cs->written += len;
	return 0;
}

/* rename for backends that cannot: copy through a temporary file. */
static int rename_by_copy(struct backend *b, const char *from, const char *to)
{
	char tmpl[] = "/tmp/relayfs-rename-XXXXXX";
	struct copy_sink cs = { mkstemp(tmpl), 0 };
	int ret;

	if (cs.fd < 0)
		return -errno;
	unlink(tmpl);
	ret = backend_get(b, from, 0, UINT64_MAX, NULL, copy_sink_write, &cs);
	if (ret == 0)
		ret = backend_put(b, to, cs.fd, cs.written);
	if (ret == 0)
		ret = backend_remove(b, from);
	close(cs.fd);
	return ret;
}

int backend_rename(struct backend *b, const char *from, const char *to)
{
	if (!b->ops->rename)
		return rename_by_copy(b, from, to);
	count(b, BACKEND_REQ_RENAME);
	return answered(b, b->ops->rename(b->state, from, to));
}

int backend_mkdir(struct backend *b, const char *path)
{
	count(b, BACKEND_REQ_MKDIR);
	return answered(b, b->ops->mkdir(b->state, path));
}

int backend_mutex_create(struct backend *b, const char *path)
{
	if (!b->ops->mutex_create)
		return -ENOSYS;
	count(b, BACKEND_REQ_MKDIR);
	return answered(b, b->ops->mutex_create(b->state, path));
}

int backend_rmdir(struct backend *b, const char *path)
{
	count(b, BACKEND_REQ_RMDIR);
	return answered(b, b->ops->rmdir(b->state, path));
}

int backend_mutex_remove(struct backend *b, const char *path, const char *etag)
{
	count(b, BACKEND_REQ_RMDIR);
	if (!b->ops->mutex_remove)
		return answered(b, b->ops->rmdir(b->state, path));
	return answered(b, b->ops->mutex_remove(b->state, path, etag));
}

bool backend_can(const struct backend *b, unsigned caps)
{
	return (b->caps & caps) == caps;
}

int backend_statfs(struct backend *b, struct statvfs *st)
{
	memset(st, 0, sizeof(*st));
	if (!b->ops->statfs)
		return -ENOSYS;
	count(b, BACKEND_REQ_STATFS);
	return answered(b, b->ops->statfs(b->state, st));
}

char *backend_stats_format(struct backend *b)
{
	GString *s = g_string_new(NULL);

	for (int i = 0; i < BACKEND_REQ_KINDS; i++)
		g_string_append_printf(s, "%s=%" G_GINT64_FORMAT " ",
				       request_kind_names[i],
				       atomic_load_explicit(&b->requests[i],
							 memory_order_relaxed));
	g_string_append_printf(s, "bytes_up=%" G_GINT64_FORMAT
			       " bytes_down=%" G_GINT64_FORMAT,
			       atomic_load_explicit(&b->bytes_up, memory_order_relaxed),
			       atomic_load_explicit(&b->bytes_down, memory_order_relaxed));
	return g_string_free(s, FALSE);
}
