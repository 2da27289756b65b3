/* The protocol's sequences, one request a step (PROTOCOL.md, Sequences):
 * push, pull registration, timestamp rewrite, delete, rename, directories. */
#include "relay/relay_private.h"
#include "relay/names.h"

#include <errno.h>
#include <string.h>

/* path's placeholder was just written as raw, its lock held: learn the
 * version tag the server gave it while nobody else can write it, so that
 * a later listing knows it by its tag, never by its size alone. */
void relay_placeholder_learn(struct relay *r, const char *path, GBytes *raw)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	g_autofree char *tag = NULL;
	struct backend_entry e = { 0 };
	bool is_etag = false;

	if (backend_stat(r->backend, ph_path, &e) == 0 &&
	    e.size == g_bytes_get_size(raw))
		tag = relay_entry_tag(&e, &is_etag);
	backend_entry_clear(&e);
	relay_placeholder_remember(r, path, tag, is_etag, raw);
}

/* Write path's placeholder (its lock held). */
static int put_placeholder(struct relay *r, const char *path, GBytes *raw)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	gsize len;
	const char *data = g_bytes_get_data(raw, &len);
	int ret = backend_put_data(r->backend, ph_path, data, len);

	if (ret == 0)
		relay_placeholder_learn(r, path, raw);
	return ret;
}

/* A placeholder written aside, beside the content it describes. */
struct placeholder_aside {
	const char *path;
	GBytes *raw;
};

/* Its tag is learnt by the lock's release (relay_push). */
static int put_placeholder_aside(struct relay *r, void *ctx)
{
	struct placeholder_aside *pa = ctx;
	g_autofree char *ph_path = relay_placeholder_path(pa->path);
	gsize len;
	const char *data = g_bytes_get_data(pa->raw, &len);

	return backend_put_data(r->backend, ph_path, data, len);
}

/* Steps 2 and 3 of a push side by side: under the write lock nobody reads
 * either until both are written (PROTOCOL.md, Push). */
static int put_placeholder_and_content(struct relay *r, const char *path,
				       GBytes *raw, int fd, uint64_t size)
{
	struct placeholder_aside pa = { path, raw };
	struct relay_aside aside;
	int ret, ph_ret;

	relay_aside_start(r, &aside, put_placeholder_aside, &pa);
	ret = backend_put(r->backend, path, fd, size);
	ph_ret = relay_aside_wait(&aside);
	return ph_ret < 0 ? ph_ret : ret;
}

int relay_push(struct relay *r, const char *path, int fd, uint64_t size,
	       int64_t mtime, const char *checksum)
{
	g_autofree char *ph = NULL;
	g_autoptr(GBytes) raw = NULL;
	size_t len;
	int ret = relay_lock_acquire(r, path, RELAY_LOCK_WRITE);

	if (ret < 0)
		return ret;
	ph = relay_placeholder_format(r->params.client, mtime, checksum, &len);
	raw = g_bytes_new(ph, len);
	ret = put_placeholder_and_content(r, path, raw, fd, size);
	return relay_push_end(r, path, raw, ret);
}

int relay_push_end(struct relay *r, const char *path, GBytes *raw, int ret)
{
	if (ret < 0) {
		/* keep the lock: nobody may take the new placeholder with
		 * the old content (or the old one with the new); the retry
		 * or the repair releases it */
		relay_lock_keep(r, path);
		relay_placeholder_forget(r, path);
		return ret;
	}
	/* pushed: known now without its tag (the listing's file has it),
	 * which is learnt on the way out, before the lock goes, after the
	 * writer's close */
	relay_placeholder_remember(r, path, NULL, false, raw);
	relay_lock_release_aside(r, path, raw);
	return 0;
}

/* The read lock taken aside, and the gate that holds the fetch's bytes
 * back until it is known. */
struct lock_gate {
	struct relay *r;
	const char *path;
	struct relay_aside aside;
	bool waited;
	int lock_ret;
	uint64_t passed;	/* bytes let through to sink */
	backend_sink_fn sink;
	void *ctx;
};

static int read_lock_aside(struct relay *r, void *ctx)
{
	struct lock_gate *g = ctx;

	return relay_lock_acquire(r, g->path, RELAY_LOCK_READ);
}

static int gate_wait(struct lock_gate *g)
{
	if (!g->waited) {
		g->lock_ret = relay_aside_wait(&g->aside);
		g->waited = true;
		/* the mutex's drop goes on aside: the reader's bytes do not
		 * wait for it (a crash before it is done leaves the mutex,
		 * which the next mount's repair breaks: relay_mutex_repair);
		 * but a server's lock left by a crash holds that repair up
		 * until its timeout, so there the drop goes first */
		if (backend_can(g->r->backend, BACKEND_MUTEX_OUTLIVES_HOLDER))
			relay_mutex_settle(g->r, g->path);
	}
	return g->lock_ret;
}

static int gate_sink_write(void *ctx, const void *data, size_t len)
{
	struct lock_gate *g = ctx;
	int ret = gate_wait(g);

	if (ret < 0)
		return ret; /* refused: these bytes are dropped */
	g->passed += len;
	return g->sink(g->ctx, data, len);
}

int relay_get_under_lock(struct relay *r, const char *path, uint64_t offset,
			 uint64_t length, const char *etag,
			 backend_sink_fn sink, void *ctx, bool *locked)
{
	struct lock_gate g = { .r = r, .path = path, .sink = sink,
			       .ctx = ctx };
	int ret;

	relay_aside_start(r, &g.aside, read_lock_aside, &g);
	ret = relay_get(r, path, offset, length, etag, gate_sink_write, &g);
	*locked = gate_wait(&g) == 0;
	if (!*locked)
		return g.lock_ret;
	/* the fetch may have failed while it waited for a foreign lock to
	 * go (the server or our timeout gave up on it): once more, now */
	if (ret < 0 && ret != -ESTALE && ret != -ENOENT && g.passed == 0)
		ret = relay_get(r, path, offset, length, etag, sink, ctx);
	return ret;
}

/* Remove the content once enough distinct clients have it. */
static int remove_if_pulled(struct relay *r, const char *path,
			    const struct relay_placeholder *ph, bool *removed)
{
	unsigned count;
	int ret;

	if (!ph->pullers) {
		g_warning("relay: placeholder of %s is corrupt: its pullers "
			  "are unknown, so %s stays on the relay", path, path);
		return 0;
	}
	count = relay_placeholder_count_pullers(ph);
	if (count < r->params.pullers)
		return 0;
	ret = backend_remove(r->backend, path);
	if (ret == -ENOENT)
		ret = 0;
	*removed = ret == 0;
	return ret;
}

/* ph names the version that was verified (same pusher, timestamp and
 * checksum): registering in a newer one would have it removed before
 * anyone has it. */
static bool same_version(const struct relay_placeholder *ph,
			 const struct relay_placeholder *verified)
{
	return !verified ||
	       (g_strcmp0(ph->checksum, verified->checksum) == 0 &&
		g_strcmp0(ph->pusher, verified->pusher) == 0 &&
		ph->has_timestamp == verified->has_timestamp &&
		ph->timestamp == verified->timestamp);
}

/* Nothing to append: we are listed, or `pullers` are already (our bytes
 * were fetched beside the lock, before another pull removed the
 * content); what is left of the content is removed all the same. */
static bool enough_pullers(const struct relay *r,
			   const struct relay_placeholder *ph)
{
	return relay_placeholder_has_puller(ph, r->params.client) ||
	       (ph->pullers &&
		relay_placeholder_count_pullers(ph) >= r->params.pullers);
}

/* Append us to raw and write it back if the backend still holds etag:
 * saves reading the placeholder again under the lock. -ESTALE when it
 * changed since it was listed (or -ENOSYS when the backend cannot tell).
 * *written: what was written, if anything (its tag still to learn). */
static int register_if_unchanged(struct relay *r, const char *path,
				 GBytes *raw, const char *etag,
				 const struct relay_placeholder *verified,
				 struct relay_placeholder **ph, GBytes **written)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	g_autoptr(GBytes) appended = NULL;
	gsize len;
	const char *data = g_bytes_get_data(raw, &len);
	int ret;

	*ph = relay_placeholder_parse(data, len);
	if (!same_version(*ph, verified))
		return -ESTALE;
	if (enough_pullers(r, *ph))
		return 0;
	appended = relay_placeholder_append_puller(data, len,
						   r->params.client);
	data = g_bytes_get_data(appended, &len);
	ret = backend_put_data_if(r->backend, ph_path, data, len, etag);
	relay_placeholder_free(*ph);
	*ph = NULL;
	if (ret < 0)
		return ret;
	*ph = relay_placeholder_parse(data, len);
	*written = g_steal_pointer(&appended);
	return 0;
}

/* Read the placeholder (under the lock), append us, write it back;
 * -ESTALE when it is no longer the version verified. *written: as for
 * register_if_unchanged. */
static int register_by_reading(struct relay *r, const char *path,
			       const struct relay_placeholder *verified,
			       struct relay_placeholder **ph, GBytes **written)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	g_autoptr(GBytes) raw = NULL;
	GBytes *appended;
	gsize len;
	const char *data;
	int ret = backend_get_small(r->backend, ph_path, 1 << 20, &raw);

	*ph = NULL;
	if (ret < 0)
		return ret;
	data = g_bytes_get_data(raw, &len);
	*ph = relay_placeholder_parse(data, len);
	if (!same_version(*ph, verified))
		return -ESTALE;
	if (enough_pullers(r, *ph))
		return 0;
	appended = relay_placeholder_append_puller(data, len,
						   r->params.client);
	relay_placeholder_free(*ph);
	data = g_bytes_get_data(appended, &len);
	ret = backend_put_data(r->backend, ph_path, data, len);
	*ph = ret < 0 ? NULL : relay_placeholder_parse(data, len);
	if (ret < 0)
		g_bytes_unref(appended);
	else
		*written = appended;
	return ret;
}

/* The registered placeholder's tag, learnt aside, beside the removal of
 * the content (both under the read lock). */
struct learn_aside {
	const char *path;
	GBytes *raw;
};

static int learn_aside(struct relay *r, void *ctx)
{
	struct learn_aside *la = ctx;

	relay_placeholder_learn(r, la->path, la->raw);
	return 0;
}

/* Remove the content if enough have pulled it, learning the tag of the
 * placeholder just written (if any) meanwhile. */
static int learn_and_remove(struct relay *r, const char *path,
			    const struct relay_placeholder *ph,
			    GBytes *written, bool *removed)
{
	struct learn_aside la = { path, written };
	struct relay_aside aside;
	int ret;

	if (!written)
		return remove_if_pulled(r, path, ph, removed);
	relay_aside_start(r, &aside, learn_aside, &la);
	ret = remove_if_pulled(r, path, ph, removed);
	relay_aside_wait(&aside);
	return ret;
}

int relay_register_pull(struct relay *r, const char *path,
			const struct relay_placeholder *verified,
			bool *removed)
{
	g_autofree char *etag = NULL;
	g_autoptr(GBytes) cached = relay_placeholder_cached_etag(r, path,
								 &etag);
	g_autoptr(GBytes) written = NULL;
	struct relay_placeholder *ph = NULL;
	int ret = -ENOSYS;

	*removed = false;
	if (cached)
		ret = register_if_unchanged(r, path, cached, etag, verified,
					    &ph, &written);
	if (ret == -ESTALE || ret == -ENOSYS) {
		relay_placeholder_free(ph);
		ph = NULL;
		ret = register_by_reading(r, path, verified, &ph, &written);
	}
	if (ret == -ENOENT || ret == -ESTALE) {
		g_warning("relay: %s %s; pull not registered", path,
			  ret == -ENOENT ? "has no placeholder" :
			  "is another version now");
		relay_placeholder_free(ph);
		return 0;
	}
	if (ret == 0)
		ret = learn_and_remove(r, path, ph, written, removed);
	relay_placeholder_free(ph);
	return ret;
}

/* raw with its "timestamp:" line set to mtime, everything else kept. */
static GBytes *placeholder_with_timestamp(GBytes *raw, int64_t mtime)
{
	gsize len;
	const char *data = g_bytes_get_data(raw, &len);
	g_autofree char *text = g_strndup(data, len);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree char *line = g_strdup_printf("timestamp: %" G_GINT64_FORMAT,
						mtime);
	GString *out = g_string_new(NULL);
	bool done = false;

	for (int i = 0; lines[i]; i++) {
		const char *l = lines[i];

		if (i > 0)
			g_string_append_c(out, '\n');
		if (!done && g_str_has_prefix(l, "timestamp:")) {
			g_string_append(out, line);
			if (g_str_has_suffix(l, "\r"))
				g_string_append_c(out, '\r');
			done = true;
			continue;
		}
		g_string_append(out, l);
		if (!done && i == 0 && g_str_has_prefix(l, "placeholder%") &&
		    !strstr(text, "\ntimestamp:")) {
			g_string_append_printf(out, "\n%s", line);
			done = true;
		}
	}
	return g_string_free_to_bytes(out);
}

int relay_set_timestamp(struct relay *r, const char *path, int64_t mtime)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	g_autoptr(GBytes) raw = NULL;
	g_autoptr(GBytes) changed = NULL;
	int ret = relay_lock_acquire(r, path, RELAY_LOCK_WRITE);
	int rel;

	if (ret < 0)
		return ret;
	ret = backend_get_small(r->backend, ph_path, 1 << 20, &raw);
	if (ret == 0) {
		changed = placeholder_with_timestamp(raw, mtime);
		ret = put_placeholder(r, path, changed);
	}
	rel = relay_lock_release(r, path);
	return ret < 0 ? ret : rel;
}

static int remove_quietly(struct relay *r, const char *path)
{
	int ret = backend_remove(r->backend, path);

	return ret == -ENOENT ? 0 : ret;
}

static int remove_messages(struct relay *r, const char *path,
			   const char *const *messages)
{
	g_autofree char *dir = relay_path_dirname(path);
	int ret = 0;

	for (guint i = 0; messages && messages[i] && ret == 0; i++) {
		g_autofree char *p = relay_path_join(dir, messages[i]);

		ret = remove_quietly(r, p);
	}
	return ret;
}

/* A placeholder's removal failed: is a folder there by its name (which
 * no client wrote as a placeholder, and each server refuses in its way)? */
static bool placeholder_is_folder(struct relay *r, const char *ph_path)
{
	struct backend_entry e = { 0 };
	bool is_dir = backend_stat(r->backend, ph_path, &e) == 0 && e.is_dir;

	backend_entry_clear(&e);
	return is_dir;
}

int relay_delete(struct relay *r, const char *path,
		 const char *const *messages)
{
	g_autofree char *ph_path = relay_placeholder_path(path);
	int ret = relay_lock_acquire(r, path, RELAY_LOCK_WRITE);
	int rel;

	if (ret < 0)
		return ret;
	ret = backend_remove(r->backend, path);
	if (ret == 0 || ret == -ENOENT)
		ret = remove_quietly(r, ph_path);
	if (ret < 0 && placeholder_is_folder(r, ph_path))
		ret = 0; /* a folder by a placeholder's name is none */
	if (ret == 0)
		ret = remove_messages(r, path, messages);
	relay_placeholder_forget(r, path);
	rel = relay_lock_release(r, path);
	return ret < 0 ? ret : rel;
}

static int rename_file_under_locks(struct relay *r, const char *from,
			      const char *to)
{
	g_autofree char *from_ph = relay_placeholder_path(from);
	g_autofree char *to_ph = relay_placeholder_path(to);
	int ret = backend_rename(r->backend, from, to);

	if (ret < 0)
		return ret;
	ret = backend_rename(r->backend, from_ph, to_ph);
	if (ret == -ENOENT)
		ret = remove_quietly(r, to_ph);
	relay_placeholder_forget(r, from);
	relay_placeholder_forget(r, to);
	return ret;
}

/* -EBUSY when dir holds, at any depth, a lock this mount does not hold:
 * another client is moving one of its files, and a rename of the folder
 * would leave that client's lock behind under the new name. */
static int dir_check_locks(struct relay *r, const char *dir, unsigned depth)
{
	g_autoptr(GPtrArray) entries = NULL;
	int ret = depth > 64 ? -ELOOP : backend_list(r->backend, dir, &entries);
	/* a listing that hides dot-files shows no lock: ask for each */
	bool hidden = !backend_can(r->backend, BACKEND_LISTS_DOTFILES);

	for (guint i = 0; ret == 0 && i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];
		g_autofree char *target = NULL;
		enum relay_special_kind kind = relay_name_classify(e->name,
								   &target);
		g_autofree char *p = relay_path_join(dir,
						     target ? target : e->name);

		if (kind == RELAY_NAME_MUTEX)
			ret = -EBUSY;
		else if (kind == RELAY_NAME_LOCK && target && !e->is_dir)
			ret = relay_lock_held(r, p) ? 0 : -EBUSY;
		else if (kind == RELAY_NAME_REGULAR && e->is_dir)
			ret = dir_check_locks(r, p, depth + 1);
		else if (kind == RELAY_NAME_REGULAR && hidden &&
			 (ret = relay_lock_exists(r, p, NULL)) > 0)
			ret = relay_lock_held(r, p) ? 0 : -EBUSY;
	}
	return ret;
}

/* A folder renamed onto another replaces it only if that one is empty,
 * as rename(2) says (a WebDAV MOVE would delete what it holds): it is
 * removed first, with the placeholders of pulled files it may keep. */
static int rename_dir(struct relay *r, const char *from, const char *to)
{
	struct backend_entry e = { 0 };
	int ret = dir_check_locks(r, from, 0);

	if (ret == -EBUSY)
		g_message("relay: %s holds a file another client is moving; "
			  "not renamed", from);
	if (ret == 0 && backend_stat(r->backend, to, &e) == 0)
		ret = e.is_dir ? relay_rmdir(r, to) : -ENOTDIR;
	backend_entry_clear(&e);
	if (ret == 0)
		ret = backend_rename(r->backend, from, to);
	if (ret == 0)
		relay_locks_follow_dir(r, from, to);
	return ret;
}

int relay_rename(struct relay *r, const char *from, const char *to,
		 bool is_dir)
{
	int ret, rel;

	if (is_dir) {
		relay_lock_settle_all(r); /* locks of ours inside go first */
		return rename_dir(r, from, to);
	}
	ret = relay_lock_acquire(r, from, RELAY_LOCK_WRITE);
	if (ret < 0)
		return ret;
	ret = relay_lock_acquire(r, to, RELAY_LOCK_WRITE);
	if (ret == 0) {
		ret = rename_file_under_locks(r, from, to);
		if (ret == 0)
			relay_lock_follow_rename(r, from, to);
		rel = relay_lock_release(r, to);
		ret = ret < 0 ? ret : rel;
	}
	rel = relay_lock_release(r, from);
	return ret < 0 ? ret : rel;
}

int relay_mkdir(struct relay *r, const char *path)
{
	return backend_mkdir(r->backend, path);
}

/* rmdir of a folder that looks empty: it may still hold placeholders of
 * pulled files (removed with it), or locks (EBUSY). */
int relay_rmdir(struct relay *r, const char *path)
{
	g_autoptr(GPtrArray) entries = NULL;
	int ret;
	bool busy = false, full = false;

	relay_lock_settle_all(r); /* locks of ours inside go first */
	ret = backend_list(r->backend, path, &entries);

	if (ret < 0)
		return ret;
	for (guint i = 0; i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];
		enum relay_special_kind kind = relay_name_classify(e->name,
								   NULL);

		busy |= kind == RELAY_NAME_LOCK || kind == RELAY_NAME_MUTEX;
		full |= kind == RELAY_NAME_REGULAR ||
			(e->is_dir && kind != RELAY_NAME_MUTEX);
	}
	if (busy || full)
		return busy ? -EBUSY : -ENOTEMPTY;
	for (guint i = 0; i < entries->len && ret == 0; i++) {
		const struct backend_entry *e = entries->pdata[i];
		g_autofree char *p = relay_path_join(path, e->name);

		ret = remove_quietly(r, p);
	}
	return ret == 0 ? backend_rmdir(r->backend, path) : ret;
}
