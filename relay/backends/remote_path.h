/* Paths on an FTP or SFTP server: the relay URL taken apart, the URLs and
 * command paths of the files under it, and the names of uploads in flight. */
#ifndef RELAY_BACKENDS_REMOTE_PATH_H
#define RELAY_BACKENDS_REMOTE_PATH_H

#include "relay/backend.h"

#include <glib.h>
#include <stdbool.h>

struct remote_path {
	char *origin;	/* "ftp://host:port" as libcurl takes it */
	char *base_url;	/* the relay's URL path, encoded, no trailing '/' */
	char *base;	/* the same as commands name it (decoded) */
	char *display;	/* the relay URL for messages, never credentials */
	char *user;	/* from the options, else the URL; NULL: ~/.netrc */
	char *password;	/* likewise; never logged */
	bool tls;	/* ftps:// */
};

/* Takes url (scheme "ftp", "ftps" or "sftp") apart into rp; -EINVAL with
 * a message naming backend when it is not such a URL. */
int remote_path_parse(struct remote_path *rp, const char *backend,
		      const char *url, const struct backend_options *opt);
void remote_path_clear(struct remote_path *rp);

/* The URL of path (relative to the relay), a folder's when dir. */
char *remote_path_url(const struct remote_path *rp, const char *path,
		      bool dir);
/* path as the server's commands name it: under base, decoded. */
char *remote_path_server(const struct remote_path *rp, const char *path);
/* path for messages: the relay URL and the path. */
char *remote_path_display(const struct remote_path *rp, const char *path);
/* A path no command may carry (a line end in it): warns, true. */
bool remote_path_refused(const char *backend, const char *path);

/* The hidden name an upload of path goes to before it is renamed onto
 * it: ".relayfs-part-XXXXXXXX-NAME" in the same folder. */
char *remote_path_part_name(const char *path);
/* Drops from a listing the uploads in flight (ours or another client's). */
void remote_path_drop_parts(GPtrArray *entries);

/* stat by a listing of path's folder, for servers with no command that
 * tells one file's facts. */
int remote_path_stat_by_listing(void *state,
				int (*list)(void *, const char *, GPtrArray *),
				const char *path, struct backend_entry *entry);

/* Why a mkdir of path was refused, by what a stat finds: -EEXIST when it
 * is there or its parent is (another client may have taken it and let it
 * go since: the caller tries again), -ENOENT when its parent is missing. */
int remote_path_mkdir_refused(void *state,
			      int (*stat)(void *, const char *,
					  struct backend_entry *),
			      const char *path);
/* mkdir_once (-EEXIST for any refusal), its refusal told apart by
 * remote_path_mkdir_refused. */
int remote_path_mkdir(void *state,
		      int (*mkdir_once)(void *, const char *),
		      int (*stat)(void *, const char *,
				  struct backend_entry *),
		      const char *path);

/* Is mkdir exclusive on this server (a second one of a folder refused,
 * and the folder found by stat), and do its listings show dot-names? Found with a folder of our own,
 * hidden from every client as a mutex, then removed; said in one line. */
void remote_path_probe(void *state, const char *backend, const char *display,
		       int (*mkdir)(void *, const char *),
		       int (*rmdir)(void *, const char *),
		       int (*list)(void *, const char *, GPtrArray *),
		       int (*stat)(void *, const char *,
				   struct backend_entry *),
		       bool *exclusive, bool *dotfiles);

#endif
