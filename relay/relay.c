/* The relay object and listings: one backend listing folded into regular
 * files and directories, each with its lock and placeholder state. */
#include "relay/relay_private.h"
#include "relay/names.h"

#include <errno.h>
#include <string.h>

static void cached_placeholder_free(gpointer data)
{
	struct cached_placeholder *cp = data;

	g_free(cp->tag);
	g_bytes_unref(cp->raw);
	g_free(cp);
}

static void fetch_placeholder_job(gpointer data, gpointer user_data);
static GBytes *placeholder_lookup(struct relay *r, const char *path,
				  const char *tag, bool tag_is_etag,
				  uint64_t size);

struct relay *relay_new(struct backend *backend,
			const struct relay_params *params)
{
	struct relay *r = g_new0(struct relay, 1);

	r->backend = backend;
	r->params = *params;
	r->params.client = g_strdup(params->client);
	if (r->params.transfers == 0)
		r->params.transfers = 1;
	if (r->params.mutex_stale == 0)
		r->params.mutex_stale = 60;
	g_mutex_init(&r->mutex);
	r->held_locks = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	r->claimed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   NULL);
	g_cond_init(&r->claim_cond);
	r->uncertain = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     g_free);
	r->mutexes_seen = g_hash_table_new_full(g_str_hash, g_str_equal,
						g_free, relay_mutex_seen_free);
	r->placeholders = g_hash_table_new_full(g_str_hash, g_str_equal,
						g_free,
						cached_placeholder_free);
	r->fetchers = g_thread_pool_new(fetch_placeholder_job, r,
					r->params.transfers, FALSE, NULL);
	r->asides = relay_asides_new(r);
	r->lock_drops = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      NULL);
	r->mutex_drops = g_hash_table_new_full(g_str_hash, g_str_equal,
					       g_free, NULL);
	return r;
}

int relay_open(const struct backend_options *opt,
	       const struct relay_params *params, struct relay **out,
	       char **message)
{
	struct backend *backend;
	int ret = backend_open(opt, &backend, message);

	*out = ret < 0 ? NULL : relay_new(backend, params);
	return ret;
}

void relay_free(struct relay *r)
{
	if (!r)
		return;
	g_thread_pool_free(r->fetchers, FALSE, TRUE);
	g_thread_pool_free(r->asides, FALSE, TRUE); /* the drops, too */
	g_hash_table_destroy(r->mutex_drops);
	g_hash_table_destroy(r->lock_drops);
	g_hash_table_destroy(r->held_locks);
	g_hash_table_destroy(r->claimed);
	g_cond_clear(&r->claim_cond);
	g_hash_table_destroy(r->uncertain);
	g_hash_table_destroy(r->mutexes_seen);
	g_hash_table_destroy(r->placeholders);
	g_mutex_clear(&r->mutex);
	g_free((char *)r->params.client);
	backend_close(r->backend);
	g_free(r);
}

void relay_failures_gather(void)
{
	backend_failures_gather();
}

void relay_progress_watch(_Atomic uint64_t *bytes)
{
	backend_progress_watch(bytes);
}

char *relay_failures_take(bool keep_first)
{
	return backend_failures_take(keep_first);
}

bool relay_locks_exclusive(const struct relay *r)
{
	return backend_can(r->backend, BACKEND_CAN_CREATE_EXCL) ||
	       backend_can(r->backend, BACKEND_EXCLUSIVE_MUTEX);
}

bool relay_thread_background(bool on)
{
	return backend_thread_work(on ? BACKEND_WORK_BACKGROUND :
					BACKEND_WORK_USER) ==
	       BACKEND_WORK_BACKGROUND;
}

bool relay_unanswered(struct relay *r)
{
	return backend_unanswered(r->backend, 10 * G_USEC_PER_SEC);
}

void relay_set_lock_journal(struct relay *r,
			    const struct relay_lock_journal *journal)
{
	r->journal = journal;
}

const struct relay_params *relay_params(const struct relay *r)
{
	return &r->params;
}

char *relay_stats(struct relay *r)
{
	return backend_stats_format(r->backend);
}

int relay_statfs(struct relay *r, struct statvfs *st)
{
	return backend_statfs(r->backend, st);
}

int relay_get(struct relay *r, const char *path, uint64_t offset,
	      uint64_t length, const char *etag, backend_sink_fn sink,
	      void *ctx)
{
	int ret = backend_get(r->backend, path, offset, length, etag, sink,
			      ctx);

	/* a new version has a new placeholder, though its tag may look the
	 * same where tags are made of a second's mtime and a size */
	if (ret == -ESTALE)
		relay_placeholder_forget(r, path);
	return ret;
}

struct relay_file *relay_file_ref(struct relay_file *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

void relay_file_free(struct relay_file *f)
{
	if (!f || atomic_fetch_add(&f->refs, -1) > 0)
		return;
	g_free(f->name);
	g_free(f->etag);
	g_free(f->placeholder_tag);
	g_strfreev(f->messages);
	relay_placeholder_free(f->placeholder);
	if (f->placeholder_raw)
		g_bytes_unref(f->placeholder_raw);
	relay_lock_info_clear(&f->lock);
	g_free(f);
}

struct relay_file *relay_file_copy(const struct relay_file *f)
{
	struct relay_file *c = g_memdup2(f, sizeof(*f));

	c->refs = 0;
	c->name = g_strdup(f->name);
	c->etag = g_strdup(f->etag);
	c->placeholder_tag = g_strdup(f->placeholder_tag);
	c->messages = g_strdupv(f->messages);
	c->lock.owner = g_strdup(f->lock.owner);
	c->lock.version = g_strdup(f->lock.version);
	c->placeholder = NULL;
	if (f->placeholder_raw) {
		gsize len;
		const char *data = g_bytes_get_data(f->placeholder_raw, &len);

		/* a re-parse is simpler than a deep copy routine to maintain */
		c->placeholder_raw = g_bytes_ref(f->placeholder_raw);
		c->placeholder = relay_placeholder_parse(data, len);
	}
	return c;
}

/* Give f the placeholder of path this mount holds in its cache. */
static void take_cached_placeholder(struct relay *r, const char *path,
				    struct relay_file *f)
{
	g_autoptr(GBytes) raw = placeholder_lookup(r, path, NULL, false, 0);
	gsize len;
	const char *data;

	if (!raw)
		return;
	relay_placeholder_free(f->placeholder);
	if (f->placeholder_raw)
		g_bytes_unref(f->placeholder_raw);
	g_clear_pointer(&f->placeholder_tag, g_free);
	data = g_bytes_get_data(raw, &len);
	f->has_placeholder = true;
	f->placeholder_size = len;
	f->placeholder_raw = g_bytes_ref(raw);
	f->placeholder = relay_placeholder_parse(data, len);
}

struct relay_file *relay_file_pushed(struct relay *r, const char *path,
				     uint64_t size, int64_t mtime)
{
	struct relay_file *f = g_new0(struct relay_file, 1);

	f->name = g_strdup(relay_path_basename(path));
	f->has_content = true;
	f->size = size;
	f->mtime = mtime;
	f->state = RELAY_READY;
	take_cached_placeholder(r, path, f);
	return f;
}

struct relay_file *relay_file_registered(struct relay *r, const char *path,
					 const struct relay_file *f)
{
	struct relay_file *c = relay_file_copy(f);

	take_cached_placeholder(r, path, c);
	return c;
}

bool relay_file_visible(const struct relay_file *f)
{
	if (f->is_dir)
		return true;
	return f->has_content && f->state != RELAY_LOCKED_WRITE &&
	       f->state != RELAY_GONE;
}

int64_t relay_file_mtime(const struct relay_file *f)
{
	if (f->placeholder && f->placeholder->has_timestamp)
		return f->placeholder->timestamp;
	return f->mtime;
}

char *relay_file_version(const struct relay_file *f)
{
	const struct relay_placeholder *ph = f->placeholder;

	if (ph && ph->has_timestamp)
		return relay_version_key(f->size, ph->timestamp, ph->checksum);
	if (f->etag)
		return g_strdup_printf("s%" G_GUINT64_FORMAT "-e%s", f->size,
				       f->etag);
	return g_strdup_printf("s%" G_GUINT64_FORMAT "-m%" G_GINT64_FORMAT,
			       f->size, f->mtime);
}

char *relay_version_key(uint64_t size, int64_t timestamp,
			const char *checksum)
{
	return g_strdup_printf("s%" G_GUINT64_FORMAT "-t%" G_GINT64_FORMAT
			       "-c%s", size, timestamp, checksum ? checksum : "");
}

const char *relay_file_state_name(enum relay_file_state state)
{
	switch (state) {
	case RELAY_READY: return "ready";
	case RELAY_LOCKED_READ: return "locked-r";
	case RELAY_LOCKED_WRITE: return "locked-w";
	case RELAY_OURS_READ: return "pulling";
	case RELAY_OURS_WRITE: return "uploading";
	case RELAY_GONE: return "pulled";
	}
	return "unknown";
}

void relay_placeholder_remember(struct relay *r, const char *path,
				const char *tag, bool tag_is_etag, GBytes *raw)
{
	struct cached_placeholder *cp = g_new0(struct cached_placeholder, 1);

	cp->tag = g_strdup(tag);
	cp->tag_is_etag = tag && tag_is_etag;
	cp->raw = g_bytes_ref(raw);
	g_mutex_lock(&r->mutex);
	g_hash_table_replace(r->placeholders, g_strdup(path), cp);
	g_mutex_unlock(&r->mutex);
}

void relay_placeholder_forget(struct relay *r, const char *path)
{
	g_mutex_lock(&r->mutex);
	g_hash_table_remove(r->placeholders, path);
	g_mutex_unlock(&r->mutex);
}

/* The cached raw placeholder of path if its tag is tag. A placeholder we
 * wrote has no tag yet (a PUT answer tells none): the first listing that
 * shows one of the same size gives it its tag; another size means someone
 * else wrote it since, and ours is forgotten. */
static GBytes *placeholder_lookup(struct relay *r, const char *path,
				  const char *tag, bool tag_is_etag,
				  uint64_t size)
{
	struct cached_placeholder *cp;
	GBytes *raw = NULL;

	g_mutex_lock(&r->mutex);
	cp = g_hash_table_lookup(r->placeholders, path);
	if (cp && !cp->tag && tag) {
		/* written by us, its tag unknown: another client's of the
		 * same size may be there now; read it again */
		g_hash_table_remove(r->placeholders, path);
		cp = NULL;
	}
	if (cp && (!tag || g_strcmp0(cp->tag, tag) == 0))
		raw = g_bytes_ref(cp->raw);
	g_mutex_unlock(&r->mutex);
	return raw;
}

GBytes *relay_placeholder_cached_etag(struct relay *r, const char *path,
				      char **etag)
{
	struct cached_placeholder *cp;
	GBytes *raw = NULL;

	*etag = NULL;
	g_mutex_lock(&r->mutex);
	cp = g_hash_table_lookup(r->placeholders, path);
	if (cp && cp->tag && cp->tag_is_etag) {
		raw = g_bytes_ref(cp->raw);
		*etag = g_strdup(cp->tag);
	}
	g_mutex_unlock(&r->mutex);
	return raw;
}

char *relay_entry_tag(const struct backend_entry *e, bool *is_etag)
{
	*is_etag = e->etag != NULL;
	if (e->etag)
		return g_strdup(e->etag);
	return g_strdup_printf("%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT,
			       e->mtime, e->size);
}

static struct relay_file *file_for(GHashTable *files, const char *name)
{
	struct relay_file *f = g_hash_table_lookup(files, name);

	if (!f) {
		f = g_new0(struct relay_file, 1);
		f->name = g_strdup(name);
		g_hash_table_insert(files, f->name, f);
	}
	return f;
}

static void add_message(struct relay_file *f, const char *name)
{
	guint n = f->messages ? g_strv_length(f->messages) : 0;

	f->messages = g_renew(char *, f->messages, n + 2);
	f->messages[n] = g_strdup(name);
	f->messages[n + 1] = NULL;
}

/* ".x.message" and ".x.<sub>.message" belong to x; when the name could be
 * either (".a.b.message": "a.b", or "a" with sub "b"), to the file that
 * exists, the whole stem first. */
static void attach_message(GHashTable *files, const char *name)
{
	size_t suffix = strlen(".message");
	g_autofree char *stem = NULL;
	struct relay_file *f;
	char *dot;

	if (strlen(name) < suffix + 2)
		return; /* ".message": nothing between '.' and the suffix */
	stem = g_strndup(name + 1, strlen(name) - suffix - 1);
	f = g_hash_table_lookup(files, stem);
	dot = strrchr(stem, '.');
	if (!f && dot && dot != stem) {
		*dot = '\0';
		f = g_hash_table_lookup(files, stem);
	}
	if (f && !f->is_dir)
		add_message(f, name);
}

static void fold_entry(struct relay *r, GHashTable *files,
		       const struct backend_entry *e)
{
	g_autofree char *target = NULL;
	enum relay_special_kind kind = relay_name_classify(e->name, &target);
	struct relay_file *f;

	if (kind != RELAY_NAME_REGULAR && (!target || e->is_dir))
		return; /* a special name that locks nothing: hidden */
	if (kind == RELAY_NAME_MESSAGE)
		return; /* attach_message, once every file is known */
	if (kind == RELAY_NAME_MUTEX)
		return; /* a lock being taken: .x.lock tells the rest */
	f = file_for(files, kind == RELAY_NAME_REGULAR ? e->name : target);
	if (kind == RELAY_NAME_LOCK) {
		f->has_lock = true;
		f->lock_mtime = e->mtime;
	} else if (kind == RELAY_NAME_PLACEHOLDER) {
		f->has_placeholder = true;
		f->placeholder_size = e->size;
		f->placeholder_tag = relay_entry_tag(e,
						     &f->placeholder_tag_is_etag);
	} else {
		f->is_dir = e->is_dir;
		f->has_content = !e->is_dir;
		f->size = e->size;
		f->mtime = e->mtime;
		f->etag = g_strdup(e->etag);
	}
}

/* What a listing needs fetched: a placeholder or a lock of one file (and
 * first whether it has them, where listings hide dot-files). */
struct fetch_job {
	struct relay_file *file;
	char *path;
	bool find_specials;
	GMutex *mutex;
	GCond *cond;
	unsigned *pending;
};

static void fetch_placeholder(struct relay *r, struct relay_file *f,
			      const char *path)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	GBytes *raw = placeholder_lookup(r, path, f->placeholder_tag,
					 f->placeholder_tag_is_etag,
					 f->placeholder_size);
	gsize len;
	const char *data;

	if (!raw) {
		if (backend_get_small(r->backend, ph_path, 1 << 20, &raw) < 0)
			return; /* shown with the backend's mtime */
		relay_placeholder_remember(r, path, f->placeholder_tag,
					   f->placeholder_tag_is_etag, raw);
	}
	data = g_bytes_get_data(raw, &len);
	f->placeholder_raw = raw;
	f->placeholder = relay_placeholder_parse(data, len);
	if (!f->placeholder->valid)
		g_warning("relay: placeholder of %s is corrupt; its content "
			  "stays readable", path);
}

static void fetch_lock(struct relay *r, struct relay_file *f,
		       const char *path)
{
	g_autofree char *lock_path = relay_lock_path(path);
	int ret = relay_lock_read(r, lock_path, &f->lock, &f->lock_stale);

	if (ret == -ENOENT)
		f->has_lock = false;
	else if (ret < 0)
		f->lock_stale = false; /* unknown: counts as a foreign lock */
}

/* Where a listing hides names starting with '.', ask for path's
 * placeholder by name (its lock is asked for by fetch_lock). */
static void find_placeholder(struct relay *r, struct relay_file *f,
			     const char *path)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	struct backend_entry e = { 0 };

	if (!f->has_placeholder &&
	    backend_stat(r->backend, ph_path, &e) == 0 && !e.is_dir) {
		f->has_placeholder = true;
		f->placeholder_size = e.size;
		g_free(f->placeholder_tag);
		f->placeholder_tag = relay_entry_tag(
		    &e, &f->placeholder_tag_is_etag);
	}
	backend_entry_clear(&e);
}

int relay_lock_exists(struct relay *r, const char *path, int64_t *mtime)
{
	g_autofree char *lock_path = relay_lock_path(path);
	struct backend_entry e = { 0 };
	int ret = backend_stat(r->backend, lock_path, &e);

	if (ret == 0 && mtime)
		*mtime = e.mtime;
	if (ret == 0)
		ret = e.is_dir ? 0 : 1;
	else if (ret == -ENOENT)
		ret = 0;
	backend_entry_clear(&e);
	return ret;
}

static void fetch_placeholder_job(gpointer data, gpointer user_data)
{
	struct fetch_job *job = data;
	struct relay *r = user_data;

	if (job->find_specials) {
		find_placeholder(r, job->file, job->path);
		/* a lock unseen may be there: reading it tells (one request
		 * when it is not, and none more than a listed one when it is;
		 * one that cannot be read counts as another client's) */
		job->file->has_lock = true;
	}
	if (job->file->has_lock && (relay_lock_held(r, job->path) ||
				    relay_lock_dropping(r, job->path)))
		job->file->has_lock = false; /* ours, held or going */
	else if (job->file->has_lock)
		fetch_lock(r, job->file, job->path);
	if (job->file->has_placeholder)
		fetch_placeholder(r, job->file, job->path);
	g_mutex_lock(job->mutex);
	if (--*job->pending == 0)
		g_cond_signal(job->cond);
	g_mutex_unlock(job->mutex);
	g_free(job->path);
	g_free(job);
}

static enum relay_file_state file_state(struct relay *r,
					const struct relay_file *f,
					const char *path)
{
	struct held_lock *held;
	enum relay_file_state state = RELAY_READY;
	bool dropping;	/* our release is on its way */

	if (!f->has_content)
		return RELAY_GONE;
	g_mutex_lock(&r->mutex);
	held = g_hash_table_lookup(r->held_locks, path);
	if (held)
		state = held->mode == RELAY_LOCK_READ ? RELAY_OURS_READ :
							 RELAY_OURS_WRITE;
	dropping = !held && g_hash_table_contains(r->lock_drops, path);
	g_mutex_unlock(&r->mutex);
	if (held || dropping || !f->has_lock || f->lock_stale)
		return state;
	if (f->lock.owner && strcmp(f->lock.owner, r->params.client) == 0 &&
	    f->lock.mode == RELAY_LOCK_READ)
		return RELAY_READY; /* our pull, cut short by a crash */
	return f->lock.mode == RELAY_LOCK_READ ? RELAY_LOCKED_READ :
						 RELAY_LOCKED_WRITE;
}

/* Fetch the locks and placeholders the files need, transfers at a time. */
static void fetch_specials(struct relay *r, const char *dir, GPtrArray *files)
{
	GMutex mutex;
	GCond cond;
	unsigned pending = 1;
	bool find = !backend_can(r->backend, BACKEND_LISTS_DOTFILES);

	g_mutex_init(&mutex);
	g_cond_init(&cond);
	for (guint i = 0; i < files->len; i++) {
		struct relay_file *f = files->pdata[i];
		struct fetch_job *job;

		if (!f->has_content ||
		    (!find && !f->has_lock && !f->has_placeholder))
			continue;
		job = g_new0(struct fetch_job, 1);
		job->file = f;
		job->find_specials = find;
		job->path = relay_path_join(dir, f->name);
		job->mutex = &mutex;
		job->cond = &cond;
		job->pending = &pending;
		g_mutex_lock(&mutex);
		pending++;
		g_mutex_unlock(&mutex);
		g_thread_pool_push(r->fetchers, job, NULL);
	}
	g_mutex_lock(&mutex);
	pending--;
	while (pending > 0)
		g_cond_wait(&cond, &mutex);
	g_mutex_unlock(&mutex);
	g_cond_clear(&cond);
	g_mutex_clear(&mutex);
}

int relay_list(struct relay *r, const char *dir, GPtrArray **files)
{
	g_autoptr(GHashTable) by_name = g_hash_table_new(g_str_hash,
							 g_str_equal);
	g_autoptr(GPtrArray) entries = NULL;
	int ret = backend_list(r->backend, dir, &entries);
	GHashTableIter it;
	gpointer value;

	*files = NULL;
	if (ret < 0)
		return ret;
	for (guint i = 0; i < entries->len; i++)
		fold_entry(r, by_name, entries->pdata[i]);
	for (guint i = 0; i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];

		if (!e->is_dir && relay_name_classify(e->name, NULL) ==
				      RELAY_NAME_MESSAGE)
			attach_message(by_name, e->name);
	}
	*files = g_ptr_array_new_with_free_func(
		(GDestroyNotify)relay_file_free);
	g_hash_table_iter_init(&it, by_name);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(*files, value);
	fetch_specials(r, dir, *files);
	for (guint i = 0; i < (*files)->len; i++) {
		struct relay_file *f = (*files)->pdata[i];
		g_autofree char *path = relay_path_join(dir, f->name);

		if (!f->is_dir)
			f->state = file_state(r, f, path);
	}
	return 0;
}
