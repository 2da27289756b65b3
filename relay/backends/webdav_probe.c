/* The WebDAV probe: a dozen requests in a folder of its own that show what
 * the server does with exclusive creation, conditions and listings. */
#include "relay/backends/webdav_probe.h"
#include "relay/backends/webdav_xml.h"

#include <errno.h>
#include <string.h>

#define WRONG_TAG "If-Match: \"relayfs-probe-no-such-tag\""
#define GROUP "server"
#define CUT_SETTLE_US (300 * 1000)

/* The probe's requests share one answer buffer and stop at the first
 * request that gets no answer at all. */
struct probe {
	struct webdav *wd;
	char *dir;	/* the probe's folder, relative to the relay */
	struct webdav_answer ans;
	int err;
};

/* Send a request of the probe; the status, or 0 once one went unanswered. */
static long ask(struct probe *p, const char *method, const char *name,
		bool collection, const char *const *headers, const char *body,
		bool put)
{
	g_autofree char *path = name ? g_strconcat(p->dir, "/", name, NULL) :
				       g_strdup(p->dir);

	if (p->err)
		return 0;
	g_string_truncate(p->ans.body, 0);
	p->err = webdav_exchange(p->wd, method, path, collection, headers,
				 body, put, &p->ans);
	if (!p->err && p->ans.status >= 500)
		p->err = -EIO; /* a server error tells nothing of the rest */
	return p->err ? 0 : p->ans.status;
}

static bool is_2xx(long status)
{
	return status >= 200 && status < 300;
}

/* The resource of a listing whose href ends in "/name" (or "/name/"). */
static const struct webdav_resource *listed(GPtrArray *res, const char *name)
{
	g_autofree char *tail = g_strconcat("/", name, NULL);
	g_autofree char *tail_dir = g_strconcat("/", name, "/", NULL);

	for (guint i = 0; i < res->len; i++) {
		const struct webdav_resource *r = res->pdata[i];

		if (g_str_has_suffix(r->href, tail) ||
		    g_str_has_suffix(r->href, tail_dir))
			return r;
	}
	return NULL;
}

/* What a Depth 1 listing of the folder shows of "f" and ".d". */
static void probe_listing(struct probe *p, struct webdav_facts *facts,
			  char **listed_etag)
{
	static const char *const depth1[] = {
	    "Depth: 1", "Content-Type: application/xml; charset=utf-8", NULL};
	g_autoptr(GPtrArray) res = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)webdav_resource_free);
	g_autofree char *why = NULL;
	const struct webdav_resource *f;

	if (ask(p, "PROPFIND", NULL, true, depth1, webdav_propfind_body,
		false) != 207 ||
	    webdav_parse_multistatus(p->ans.body->str, p->ans.body->len, res,
				     &why) < 0)
		return;
	facts->lists_dotfiles = listed(res, ".d") != NULL;
	f = listed(res, "f");
	facts->etags_listed = f && f->etag;
	*listed_etag = f && f->etag ? g_strdup(f->etag) : NULL;
}

/* The probe's cut upload: some bytes, then an abort. */
static ssize_t cut_source(void *ctx, void *buf, size_t len, uint64_t offset)
{
	(void)ctx;
	if (offset > 0)
		return -ECANCELED;
	memcpy(buf, "cut", MIN(len, 3));
	return MIN(len, 3);
}

/* Does a chunked PUT cut off before its end leave "c" as it was? A server
 * that writes the file in place may do so only once it gets to the
 * request: the GET waits CUT_SETTLE_US for it. What such a server does to
 * the GET (rclone's says the old length and sends fewer bytes) is no
 * failure of the probe, and is said nowhere. */
static void probe_cut_put(struct probe *p, struct webdav_facts *facts)
{
	g_autofree char *path = g_strconcat(p->dir, "/c", NULL);
	int err;

	if (!is_2xx(ask(p, "PUT", "c", false, NULL, "probe", true)) ||
	    webdav_stream(p->wd, path, cut_source, NULL) != -ECANCELED)
		return;
	g_usleep(CUT_SETTLE_US);
	g_string_truncate(p->ans.body, 0);
	backend_failures_gather();
	err = webdav_exchange(p->wd, "GET", path, false, NULL, NULL, false,
			      &p->ans);
	g_ptr_array_free(backend_failures_hand_over(), TRUE);
	facts->cut_put_keeps = err == 0 && p->ans.status == 200 &&
			       strcmp(p->ans.body->str, "probe") == 0;
}

/* Conditions on PUT and GET, and what the listing shows. */
static void probe_files(struct probe *p, struct webdav_facts *facts)
{
	static const char *const none_match[] = {"If-None-Match: *", NULL};
	static const char *const wrong_tag[] = {WRONG_TAG, NULL};
	static const char *const range[] = {"Range: bytes=1-2", NULL};
	g_autofree char *etag = NULL;

	if (!is_2xx(ask(p, "PUT", "f", false, NULL, "probe", true)))
		return;
	facts->create_refuses =
	    ask(p, "PUT", "f", false, none_match, "probe", true) == 412;
	facts->put_if_match =
	    ask(p, "PUT", "f", false, wrong_tag, "probe", true) == 412;
	if (!is_2xx(ask(p, "PUT", ".d", false, NULL, "dot", true)))
		return;
	probe_listing(p, facts, &etag);
	facts->ranges = ask(p, "GET", "f", false, range, NULL, false) == 206;
	facts->etags_stable = etag && p->ans.etag[0] &&
			      (strcmp(p->ans.etag, etag) == 0);
	/* a mutex is an empty folder: that is what a stale one's DELETE
	 * names with If-Match */
	if (is_2xx(ask(p, "MKCOL", "e", true, NULL, NULL, false)))
		facts->delete_if_match =
		    ask(p, "DELETE", "e", true, wrong_tag, NULL, false) ==
		    412;
	probe_cut_put(p, facts);
}

/* Does a second exclusive LOCK of one path get 423? */
static void probe_lock(struct probe *p, struct webdav_facts *facts)
{
	static const char *const lock[] = {
	    "Depth: 0", "Timeout: Second-30",
	    "Content-Type: application/xml; charset=utf-8", NULL};
	char first[sizeof(p->ans.lock_token)];
	long again;

	if (!is_2xx(ask(p, "LOCK", "l", false, lock, webdav_lockinfo_body,
			false)) || !p->ans.lock_token[0])
		return;
	g_strlcpy(first, p->ans.lock_token, sizeof(first));
	again = ask(p, "LOCK", "l", false, lock, webdav_lockinfo_body, false);
	facts->lock_exclusive = again == 423;
	for (int n = is_2xx(again) ? 2 : 1; n > 0; n--) {
		g_autofree char *header = g_strdup_printf(
		    "Lock-Token: %s", n == 2 ? p->ans.lock_token : first);
		const char *const unlock[] = {header, NULL};

		ask(p, "UNLOCK", "l", false, unlock, NULL, false);
	}
}

int webdav_facts_probe(struct webdav *wd, struct webdav_facts *facts)
{
	struct probe p = {.wd = wd};
	long made;
	int err;

	memset(facts, 0, sizeof(*facts));
	p.ans.body = g_string_new(NULL);
	/* a mutex's name: every relay client hides it */
	p.dir = g_strdup_printf(".relayfs-probe-%08x.mutex", g_random_int());
	made = ask(&p, "MKCOL", NULL, true, NULL, NULL, false);
	facts->writable = made == 201;
	if (facts->writable) {
		facts->mkcol_refuses =
		    ask(&p, "MKCOL", NULL, true, NULL, NULL, false) == 405;
		probe_files(&p, facts);
		probe_lock(&p, facts);
	}
	err = p.err;
	if (made == 201) {
		p.err = 0; /* remove the folder even after a lost answer */
		ask(&p, "DELETE", NULL, true, NULL, NULL, false);
	}
	g_string_free(p.ans.body, TRUE);
	g_free(p.dir);
	return err;
}

/* The facts' keys in the file, and where each goes. */
#define FACT(name) {#name, G_STRUCT_OFFSET(struct webdav_facts, name)}
static const struct {
	const char *key;
	glong offset;
} fact_keys[] = {
    FACT(writable),	  FACT(mkcol_refuses), FACT(lock_exclusive),
    FACT(create_refuses), FACT(put_if_match),  FACT(delete_if_match),
    FACT(lists_dotfiles), FACT(etags_listed),  FACT(etags_stable),
    FACT(ranges),	  FACT(cut_put_keeps),
};

bool webdav_facts_load(const char *file, const char *url, const char *server,
		       struct webdav_facts *facts)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree char *kept_url = NULL, *kept_server = NULL;
	GError *error = NULL;

	if (!file || !g_key_file_load_from_file(kf, file, 0, NULL))
		return false;
	kept_url = g_key_file_get_string(kf, GROUP, "url", NULL);
	kept_server = g_key_file_get_string(kf, GROUP, "server", NULL);
	if (g_strcmp0(kept_url, url) != 0 ||
	    g_strcmp0(kept_server, server) != 0)
		return false;
	for (size_t i = 0; i < G_N_ELEMENTS(fact_keys); i++) {
		bool *value = G_STRUCT_MEMBER_P(facts, fact_keys[i].offset);

		*value = g_key_file_get_boolean(kf, GROUP, fact_keys[i].key,
						&error);
		if (error) {
			g_clear_error(&error);
			return false; /* an older or damaged file: probe */
		}
	}
	return true;
}

void webdav_facts_save(const char *file, const char *url, const char *server,
		       const struct webdav_facts *facts)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	GError *error = NULL;

	if (!file)
		return;
	g_key_file_set_comment(kf, NULL, NULL,
			       " what relayfs's probe found this WebDAV server "
			       "does; delete the file to probe again",
			       NULL);
	g_key_file_set_string(kf, GROUP, "url", url);
	g_key_file_set_string(kf, GROUP, "server", server);
	for (size_t i = 0; i < G_N_ELEMENTS(fact_keys); i++)
		g_key_file_set_boolean(
		    kf, GROUP, fact_keys[i].key,
		    G_STRUCT_MEMBER(bool, facts, fact_keys[i].offset));
	if (!g_key_file_save_to_file(kf, file, &error)) {
		g_warning("webdav: cannot keep what the probe found in %s: %s",
			  file, error->message);
		g_error_free(error);
	}
}

/* What else the facts change: each fact that is false, and what relayfs
 * does instead. */
static const struct {
	glong offset;
	const char *instead;
} consequences[] = {
    {G_STRUCT_OFFSET(struct webdav_facts, create_refuses),
     "a PUT with If-None-Match overwrites, so a lock is checked before it "
     "is written"},
    {G_STRUCT_OFFSET(struct webdav_facts, put_if_match),
     "If-Match on PUT is ignored, so a placeholder is read again under its "
     "lock before it is updated"},
    {G_STRUCT_OFFSET(struct webdav_facts, lists_dotfiles),
     "listings hide names starting with '.', so each file's placeholder "
     "and lock are asked for by name"},
    {G_STRUCT_OFFSET(struct webdav_facts, cut_put_keeps),
     "a PUT cut off leaves a part of the file, so a push starts only once "
     "its file is closed"},
    {G_STRUCT_OFFSET(struct webdav_facts, etags_stable),
     "GET does not give the listed ETag, so a read is pinned to the "
     "listed version by its mtime and size"},
};

static void add_consequences(GString *why, const struct webdav_facts *f)
{
	for (size_t i = 0; i < G_N_ELEMENTS(consequences); i++)
		if (!G_STRUCT_MEMBER(bool, f, consequences[i].offset))
			g_string_append_printf(why, "; %s",
					       consequences[i].instead);
}

enum webdav_mutex_step webdav_facts_choose(const struct webdav_facts *f,
					   char **why)
{
	GString *text = g_string_new(NULL);
	enum webdav_mutex_step step = WEBDAV_MUTEX_NONE;

	if (!f->writable) {
		g_string_append(text, "no exclusive step: the probe could not "
				      "make a folder (a read-only account?)");
	} else if (f->mkcol_refuses) {
		step = WEBDAV_MUTEX_MKCOL;
		g_string_append(text, "locks taken under a MKCOL mutex: MKCOL "
				      "of an existing folder is refused "
				      "(405)");
	} else if (f->lock_exclusive) {
		step = WEBDAV_MUTEX_LOCK;
		g_string_append(text, "locks taken under a LOCK mutex: MKCOL "
				      "of an existing folder succeeds, an "
				      "exclusive LOCK of a locked path is "
				      "refused (423)");
	} else {
		g_string_append(text, "no exclusive step: MKCOL of an existing "
				      "folder succeeds and LOCK is missing or "
				      "not exclusive");
	}
	if (!f->delete_if_match && step == WEBDAV_MUTEX_MKCOL)
		g_string_append(text, "; If-Match on DELETE is ignored, so a "
				      "stale mutex is broken unconditionally");
	add_consequences(text, f);
	*why = g_string_free(text, FALSE);
	return step;
}
