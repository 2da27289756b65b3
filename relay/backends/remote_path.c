/* Paths on an FTP or SFTP server: the relay URL taken apart, the URLs and
 * command paths of the files under it, and the names of uploads in flight. */
#include "relay/backends/remote_path.h"
#include "relay/backends/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#define PART_PREFIX ".relayfs-part-"

/* The URL path without its trailing '/', and decoded (no NUL in it). */
static int set_base(struct remote_path *rp, const char *path, bool sftp)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	rp->base_url = g_strndup(path, len);
	if (strcmp(rp->base_url, "/") == 0)
		rp->base_url[0] = '\0';
	/* libcurl takes an FTP URL's path relative to the login folder
	 * (ftp://h/%2Fabs for an absolute one), an SFTP URL's as it is but
	 * for /~/, the home folder; commands name paths as the server does:
	 * relative to the login (home) folder, or absolute */
	if (!sftp)
		rp->base = g_uri_unescape_string(
		    rp->base_url[0] == '/' ? rp->base_url + 1 : rp->base_url,
		    NULL);
	else if (strcmp(rp->base_url, "/~") == 0)
		rp->base = g_strdup("");
	else if (g_str_has_prefix(rp->base_url, "/~/"))
		rp->base = g_uri_unescape_string(rp->base_url + 3, NULL);
	else
		rp->base = g_uri_unescape_string(
		    *rp->base_url ? rp->base_url : "/", NULL);
	return rp->base ? 0 : -EINVAL;
}

int remote_path_parse(struct remote_path *rp, const char *backend,
		      const char *url, const struct backend_options *opt)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *query = NULL, *fragment = NULL;
	bool sftp = strcmp(backend, "sftp") == 0;
	int err = -EINVAL;

	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0)) {
		g_warning("%s: the relay URL is not a URL", backend);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0);
	rp->user = g_strdup(opt->user);
	rp->password = g_strdup(opt->password);
	transport_url_credentials(u, &rp->user, &rp->password);
	rp->tls = g_ascii_strcasecmp(scheme, "ftps") == 0;
	/* ftps:// is explicit TLS (AUTH TLS) on the FTP port: an ftp://
	 * URL to libcurl, with TLS required */
	rp->origin = g_strconcat(sftp ? "sftp" : "ftp", "://", host,
				 port ? ":" : "", port ? port : "", NULL);
	err = set_base(rp, path, sftp);
	rp->display = g_strconcat(rp->tls ? "ftps" : sftp ? "sftp" : "ftp",
				  "://", host, port ? ":" : "",
				  port ? port : "", rp->base_url, NULL);
	if (err || query || fragment) {
		g_warning("%s: %s: a relay URL has a plain path (no ?query, "
			  "#fragment or %%00)", backend, rp->display);
		err = -EINVAL;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(fragment);
	curl_url_cleanup(u);
	return err;
}

void remote_path_clear(struct remote_path *rp)
{
	if (rp->password)
		explicit_bzero(rp->password, strlen(rp->password));
	g_free(rp->password);
	g_free(rp->user);
	g_free(rp->display);
	g_free(rp->base);
	g_free(rp->base_url);
	g_free(rp->origin);
	memset(rp, 0, sizeof(*rp));
}

char *remote_path_url(const struct remote_path *rp, const char *path,
		      bool dir)
{
	char *enc = g_uri_escape_string(path, "/", FALSE);
	char *url = g_strconcat(rp->origin, rp->base_url, "/", enc,
				dir && *path ? "/" : "", NULL);

	g_free(enc);
	return url;
}

char *remote_path_server(const struct remote_path *rp, const char *path)
{
	/* "./" before a name of the login folder: a name that starts with
	 * a space or a '-' stays a name */
	if (!*rp->base)
		return *path ? g_strconcat("./", path, NULL) : g_strdup(".");
	if (!*path)
		return g_strdup(rp->base);
	if (g_str_has_suffix(rp->base, "/"))
		return g_strconcat(rp->base, path, NULL);
	return g_strconcat(rp->base, "/", path, NULL);
}

char *remote_path_display(const struct remote_path *rp, const char *path)
{
	return g_strconcat(rp->display, "/", path, NULL);
}

bool remote_path_refused(const char *backend, const char *path)
{
	if (!strpbrk(path, "\r\n"))
		return false;
	g_warning("%s: a name with a line end cannot be sent to the server",
		  backend);
	return true;
}

char *remote_path_part_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	int dir_len = slash ? (int)(slash - path + 1) : 0;
	char *short_name = NULL, *part;

	/* within NAME_MAX: a long name's part is named by its hash */
	if (strlen(name) > 200)
		name = short_name =
		    g_compute_checksum_for_string(G_CHECKSUM_SHA256, name, -1);
	part = g_strdup_printf("%.*s" PART_PREFIX "%08x-%s", dir_len, path,
			       g_random_int(), name);
	g_free(short_name);
	return part;
}

void remote_path_drop_parts(GPtrArray *entries)
{
	for (guint i = entries->len; i > 0; i--) {
		const struct backend_entry *e = entries->pdata[i - 1];

		if (g_str_has_prefix(e->name, PART_PREFIX))
			g_ptr_array_remove_index(entries, i - 1);
	}
}

int remote_path_stat_by_listing(void *state,
				int (*list)(void *, const char *, GPtrArray *),
				const char *path, struct backend_entry *entry)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? g_strndup(path, (gsize)(slash - path)) :
			    g_strdup("");
	const char *name = slash ? slash + 1 : path;
	GPtrArray *entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)backend_entry_free);
	int err = list(state, dir, entries);

	if (!err)
		err = -ENOENT;
	for (guint i = 0; err == -ENOENT && i < entries->len; i++) {
		struct backend_entry *e = entries->pdata[i];

		if (strcmp(e->name, name) == 0) {
			*entry = *e;
			memset(e, 0, sizeof(*e));
			err = 0;
		}
	}
	g_ptr_array_free(entries, TRUE);
	g_free(dir);
	return err;
}

/* Is name in the listing of the root? */
static bool listed(void *state, int (*list)(void *, const char *, GPtrArray *),
		   const char *name)
{
	GPtrArray *entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)backend_entry_free);
	bool found = false;

	if (list(state, "", entries) == 0)
		for (guint i = 0; i < entries->len && !found; i++)
			found = strcmp(((struct backend_entry *)
					    entries->pdata[i])->name,
				       name) == 0;
	g_ptr_array_free(entries, TRUE);
	return found;
}

void remote_path_probe(void *state, const char *backend, const char *display,
		       int (*mkdir)(void *, const char *),
		       int (*rmdir)(void *, const char *),
		       int (*list)(void *, const char *, GPtrArray *),
		       int (*stat)(void *, const char *,
				   struct backend_entry *),
		       bool *exclusive, bool *dotfiles)
{
	struct backend_entry e = {0};
	char *name = g_strdup_printf(".relayfs-probe-%08x.mutex",
				     g_random_int());

	int first = mkdir(state, name);
	int second = first ? first : mkdir(state, name);

	/* exclusive only where the second mkdir is refused and a stat
	 * finds the folder: a lock's mutex must be seen to be waited for */
	*exclusive = first == 0 && second == -EEXIST &&
		     stat(state, name, &e) == 0;
	backend_entry_clear(&e);
	*dotfiles = first == 0 && listed(state, list, name);
	if (first == 0)
		rmdir(state, name);
	g_message("%s: %s: %s; %s", backend, display,
		  first ? "the probe folder cannot be made, so no lock can "
			  "be taken" :
		  *exclusive ? "locks taken under a mkdir mutex (a second "
			       "mkdir of a folder is refused)" :
			       "a second mkdir of a folder succeeds, so two "
			       "clients could both win one lock",
		  *dotfiles ? "listings show dot-files" :
			      "listings hide dot-files: each file's lock and "
			      "placeholder are asked for by name");
	g_free(name);
}

int remote_path_mkdir_refused(void *state,
			      int (*stat)(void *, const char *,
					  struct backend_entry *),
			      const char *path)
{
	struct backend_entry e = {0};
	const char *slash = strrchr(path, '/');
	char *parent;
	int err = stat(state, path, &e);

	backend_entry_clear(&e);
	if (err != -ENOENT)
		return err == 0 ? -EEXIST : err;
	if (!slash)
		return -EEXIST; /* the root is there */
	parent = g_strndup(path, (gsize)(slash - path));
	err = stat(state, parent, &e);
	backend_entry_clear(&e);
	g_free(parent);
	return err == 0 ? -EEXIST : err;
}

int remote_path_mkdir(void *state,
		      int (*mkdir_once)(void *, const char *),
		      int (*stat)(void *, const char *,
				  struct backend_entry *),
		      const char *path)
{
	int err = mkdir_once(state, path);

	return err == -EEXIST ? remote_path_mkdir_refused(state, stat, path) :
				err;
}
