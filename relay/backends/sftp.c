/* The SFTP backend (SSH's file transfer, as OpenSSH serves it) over
 * libcurl: host keys checked against known_hosts, locks by mkdir. */
#include "relay/backend.h"
#include "relay/backends/ftp_listing.h"
#include "relay/backends/remote_path.h"
#include "relay/backends/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

enum {
	MAX_LISTING = 256 << 20, /* bytes of a listing */
};

enum op {
	OP_OPEN,
	OP_LIST,
	OP_GET,
	OP_PUT,
	OP_REMOVE,
	OP_REMOVE_ONCE, /* rm of a lock: never sent twice */
	OP_RENAME,
	OP_MKDIR,
	OP_MUTEX,	/* mkdir that must be ours alone */
	OP_RMDIR,
	OP_PROBE,	/* any answer is the result: nothing is mapped */
};

/* Read-only after open. */
struct sftp {
	struct remote_path where;
	bool exclusive_mkdir; /* a second mkdir of a folder is refused */
	bool dotfiles;	      /* listings show names starting with '.' */
	struct transport *transport;
};

struct request {
	struct transfer t;
	struct sftp *sftp;
	enum op op;
	char *target; /* the path, for messages */
	uint64_t expect_size; /* read: the listed version's size, or ~0 */
};

static const char *const sftp_schemes[] = {"sftp", NULL};

/* ---- the answer mapping ---- */

static int report(const struct request *rq, int err, const char *hint)
{
	char *words = transfer_describe(&rq->t);

	backend_failed("sftp: %s %s: %s%s%s", rq->t.method, rq->target, words,
		       hint ? "; " : "", hint ? hint : "");
	g_free(words);
	return err;
}

/* libcurl names the SFTP status in its error text: "rm command failed:
 * No such file or directory"; OpenSSH says "Operation failed" for the
 * rest (an existing folder, a full disk, a folder not empty). */
static bool says(const struct request *rq, const char *words)
{
	return g_strstr_len(rq->t.errbuf, -1, words) != NULL;
}

static int map_result(const struct request *rq)
{
	const char *key;

	if (rq->t.local_err)
		return rq->t.local_err;
	if (rq->t.done || rq->t.code == CURLE_OK || rq->op == OP_PROBE)
		return 0;
	/* a pinned read from past the end: the file is shorter now */
	if (rq->expect_size != UINT64_MAX &&
	    (rq->t.code == CURLE_BAD_DOWNLOAD_RESUME ||
	     rq->t.code == CURLE_RANGE_ERROR))
		return -ESTALE;
	if (says(rq, "No such file") || rq->t.code == CURLE_REMOTE_FILE_NOT_FOUND)
		return rq->t.maybe_done && (rq->op == OP_REMOVE ||
					    rq->op == OP_RMDIR) ? 0 : -ENOENT;
	if (says(rq, "ermission denied") ||
	    rq->t.code == CURLE_REMOTE_ACCESS_DENIED)
		return report(rq, -EACCES, "the server refused access");
	if (rq->t.code == CURLE_REMOTE_DISK_FULL || says(rq, "o space"))
		return report(rq, -ENOSPC, "the server is out of space");
	if (rq->t.code == CURLE_QUOTE_ERROR && says(rq, "Operation failed") &&
	    (rq->op == OP_MKDIR || rq->op == OP_MUTEX || rq->op == OP_RMDIR ||
	     rq->op == OP_RENAME))
		return -EEXIST; /* the caller looks what it was */
	if (rq->t.code == CURLE_LOGIN_DENIED)
		return report(rq, -EACCES, "the server refused the login: "
			      "check the user, identity= or the agent, "
			      "password_file= or ~/.netrc");
	key = transport_host_key_problem(rq->sftp->transport);
	if (key && (rq->t.code == CURLE_PEER_FAILED_VERIFICATION ||
		    rq->t.code == CURLE_SSH))
		return report(rq, -EACCES, key);
	if (rq->t.code == CURLE_OPERATION_TIMEDOUT)
		return report(rq, -ETIMEDOUT, NULL);
	return report(rq, -EIO, NULL);
}

static bool may_retry(const struct transfer *t)
{
	const struct request *rq = t->owner;
	bool idempotent = rq->op != OP_MUTEX && rq->op != OP_REMOVE_ONCE &&
			  rq->op != OP_RENAME && rq->op != OP_PROBE;

	if (t->local_err || t->done)
		return false;
	if (transfer_connect_failed(t))
		return true;
	return idempotent &&
	       (t->code == CURLE_SEND_ERROR || t->code == CURLE_RECV_ERROR ||
		t->code == CURLE_GOT_NOTHING || t->code == CURLE_PARTIAL_FILE ||
		t->code == CURLE_SSH || t->code == CURLE_OPERATION_TIMEDOUT);
}

/* A read pinned to a version: asked from its offset to the file's end,
 * its size (offset + what libcurl will send) must be the listed one's,
 * else -ESTALE (a new version). Only the size can tell: the listing's
 * mtimes are to the minute, in the server's time zone. */
static int on_start(struct transfer *t)
{
	const struct request *rq = t->owner;
	curl_off_t rest = -1;

	if (rq->expect_size == UINT64_MAX)
		return 0;
	curl_easy_getinfo(t->handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			  &rest);
	if (rest < 0)
		rest = 0; /* nothing to send: none known */
	return t->offset + (uint64_t)rest == rq->expect_size ? 0 : -ESTALE;
}

/* A pinned read that brought no byte (the new version ends where it was
 * asked from, or is empty) is checked at its end. */
static void on_answer(struct transfer *t)
{
	if (!t->started && t->code == CURLE_OK && !t->local_err)
		t->local_err = on_start(t);
}

static const struct transfer_hooks hooks = {
	.on_start = on_start,
	.may_retry = may_retry,
	.on_answer = on_answer,
};

/* The tag of a listed file: its mtime and size. */
static char *tag_of(const struct backend_entry *e)
{
	return g_strdup_printf("\"sftp-%" G_GINT64_FORMAT "-%" PRIu64 "\"",
			       e->mtime, e->size);
}

/* The size a tag of tag_of names, or UINT64_MAX. */
static uint64_t size_of_tag(const char *etag)
{
	const char *dash = etag ? strrchr(etag, '-') : NULL;

	if (!dash || !g_str_has_prefix(etag, "\"sftp-"))
		return UINT64_MAX;
	return g_ascii_strtoull(dash + 1, NULL, 10);
}

/* ---- requests ---- */

static void request_init(struct request *rq, struct sftp *sftp, enum op op,
			 const char *method, const char *path, bool dir)
{
	memset(rq, 0, sizeof(*rq));
	rq->expect_size = UINT64_MAX;
	rq->sftp = sftp;
	rq->op = op;
	rq->target = remote_path_display(&sftp->where, path);
	transfer_init(&rq->t, sftp->transport, &hooks, rq, method,
		      remote_path_url(&sftp->where, path, dir), rq->target);
	rq->t.request = NULL;
}

static void request_clear(struct request *rq)
{
	transfer_clear(&rq->t);
	g_free(rq->target);
}

/* "\"path\"" with '"' and '\' escaped, as libcurl's quote parser takes
 * a path. */
static char *quoted(const struct sftp *sftp, const char *path)
{
	char *server_path = remote_path_server(&sftp->where, path);
	GString *q = g_string_new("\"");

	for (const char *p = server_path; *p; p++) {
		if (*p == '"' || *p == '\\')
			g_string_append_c(q, '\\');
		g_string_append_c(q, *p);
	}
	g_string_append_c(q, '"');
	g_free(server_path);
	return g_string_free(q, FALSE);
}

/* "*rm" (its failure ignored), "rename", ... with one or two paths. */
static void add_command(struct request *rq, bool post, const char *verb,
			const char *path, const char *to)
{
	char *a = quoted(rq->sftp, path);
	char *b = to ? quoted(rq->sftp, to) : NULL;
	char *cmd = g_strjoin(" ", verb, a, b, NULL);

	transfer_add_command(&rq->t, post, cmd);
	g_free(cmd);
	g_free(b);
	g_free(a);
}

static int perform(struct request *rq)
{
	int err = transfer_perform(&rq->t);

	return err ? err : map_result(rq);
}

/* Commands only, on the root's URL (its stat is all libcurl adds). */
static int command(struct sftp *sftp, enum op op, const char *verb,
		   const char *path, const char *to)
{
	struct request rq;
	int err;

	if (remote_path_refused("sftp", path) ||
	    (to && remote_path_refused("sftp", to)))
		return -EINVAL;
	request_init(&rq, sftp, op, verb, "", true);
	g_free(rq.target);
	rq.target = remote_path_display(&sftp->where, path);
	rq.t.nobody = true;
	add_command(&rq, false, verb, path, to);
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

/* ---- listings ---- */

static int sftp_list(void *state, const char *dir, GPtrArray *entries)
{
	struct request rq;
	unsigned bad = 0;
	int err;

	if (remote_path_refused("sftp", dir))
		return -EINVAL;
	request_init(&rq, state, OP_LIST, "readdir", dir, true);
	rq.t.max_body = MAX_LISTING;
	err = perform(&rq);
	if (!err)
		ftp_listing_parse(rq.t.body->str, rq.t.body->len,
				  FTP_LISTING_UNIX,
				  g_get_real_time() / G_USEC_PER_SEC, entries,
				  &bad);
	if (bad)
		g_warning("sftp: listing %s: %u lines that are no file's; "
			  "skipped", rq.target, bad);
	remote_path_drop_parts(entries);
	for (guint i = 0; !err && i < entries->len; i++) {
		struct backend_entry *e = entries->pdata[i];

		if (!e->is_dir)
			e->etag = tag_of(e);
	}
	request_clear(&rq);
	return err;
}

static int sftp_stat(void *state, const char *path,
		     struct backend_entry *entry)
{
	if (remote_path_refused("sftp", path))
		return -EINVAL;
	if (!*path) {
		entry->name = g_strdup("");
		entry->is_dir = true;
		return 0;
	}
	return remote_path_stat_by_listing(state, sftp_list, path, entry);
}

/* ---- transfers ---- */

static int sftp_get(void *state, const char *path, uint64_t offset,
		    uint64_t length, const char *etag, backend_sink_fn sink,
		    void *ctx)
{
	struct request rq;
	int err;

	if (remote_path_refused("sftp", path))
		return -EINVAL;
	request_init(&rq, state, OP_GET, "read", path, false);
	rq.t.sink = sink;
	rq.t.ctx = ctx;
	rq.t.offset = offset;
	rq.t.remaining = length;
	rq.expect_size = size_of_tag(etag);
	rq.t.to_end = rq.expect_size != UINT64_MAX;
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

/* Written to a hidden name beside path, then renamed onto it. OpenSSH's
 * rename never replaces a file, so the old one is removed first: a
 * reader may find no file for that moment, never half of one. */
static int upload(struct sftp *sftp, const char *path, int fd,
		  const void *data, uint64_t size)
{
	struct request rq;
	char *part;
	int err;

	if (remote_path_refused("sftp", path))
		return -EINVAL;
	part = remote_path_part_name(path);
	request_init(&rq, sftp, OP_PUT, "write", part, false);
	g_free(rq.target);
	rq.target = remote_path_display(&sftp->where, path);
	rq.t.upload = true;
	rq.t.fd = fd;
	rq.t.data = data;
	rq.t.size = size;
	add_command(&rq, true, "*rm", path, NULL);
	add_command(&rq, true, "rename", part, path);
	err = perform(&rq);
	request_clear(&rq);
	if (err)
		command(sftp, OP_PROBE, "*rm", part, NULL); /* if it is there */
	g_free(part);
	return err;
}

static int sftp_put(void *state, const char *path, int fd, uint64_t size)
{
	return upload(state, path, fd, NULL, size);
}

static int sftp_put_data(void *state, const char *path, const void *data,
			 size_t len)
{
	return upload(state, path, -1, data, len);
}

static int sftp_remove(void *state, const char *path)
{
	return command(state, OP_REMOVE, "rm", path, NULL);
}

static int sftp_remove_once(void *state, const char *path)
{
	return command(state, OP_REMOVE_ONCE, "rm", path, NULL);
}

/* rename, and where a file is in the way (OpenSSH's rename does not
 * replace one), rm of it and rename again. */
static int sftp_rename(void *state, const char *from, const char *to)
{
	struct backend_entry e = {0};
	int err = command(state, OP_RENAME, "rename", from, to);

	if (err != -EEXIST)
		return err;
	err = sftp_stat(state, to, &e);
	if (err == 0 && e.is_dir)
		err = -EISDIR;
	backend_entry_clear(&e);
	if (err == -ENOENT) /* it was from that failed */
		err = sftp_stat(state, from, &e) ? -ENOENT : -EIO;
	backend_entry_clear(&e);
	if (err)
		return err;
	err = command(state, OP_REMOVE, "rm", to, NULL);
	if (!err)
		err = command(state, OP_RENAME, "rename", from, to);
	return err == -EEXIST ? -EIO : err;
}

/* OpenSSH refuses a mkdir of an existing folder, or of one whose parent
 * is missing, in the same words: a stat says which. */
static int mkdir_once(void *state, const char *path)
{
	return command(state, OP_MKDIR, "mkdir", path, NULL);
}

static int mkdir_mutex_once(void *state, const char *path)
{
	return command(state, OP_MUTEX, "mkdir", path, NULL);
}

static int sftp_mkdir(void *state, const char *path)
{
	return remote_path_mkdir(state, mkdir_once, sftp_stat, path);
}

static int sftp_mutex_create(void *state, const char *path)
{
	return remote_path_mkdir(state, mkdir_mutex_once, sftp_stat,
				 path);
}

static int sftp_rmdir(void *state, const char *path)
{
	GPtrArray *entries;
	int err = command(state, OP_RMDIR, "rmdir", path, NULL);

	if (err != -EEXIST)
		return err;
	/* refused: not empty, or not there */
	entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)backend_entry_free);
	err = sftp_list(state, path, entries);
	if (!err)
		err = entries->len ? -ENOTEMPTY : -EIO;
	g_ptr_array_free(entries, TRUE);
	return err;
}

static unsigned sftp_caps_of(void *state)
{
	struct sftp *sftp = state;

	return BACKEND_CAN_RENAME |
	       (sftp->exclusive_mkdir ? BACKEND_EXCLUSIVE_MUTEX : 0) |
	       (sftp->dotfiles ? BACKEND_LISTS_DOTFILES : 0);
}

/* ---- opening ---- */

static void sftp_close(void *state)
{
	struct sftp *sftp = state;

	if (!sftp)
		return;
	transport_free(sftp->transport);
	remote_path_clear(&sftp->where);
	g_free(sftp);
}

/* The known_hosts file every host key is checked against. */
static char *known_hosts_of(const struct backend_options *opt)
{
	char *path = opt->known_hosts ?
			 g_strdup(opt->known_hosts) :
			 g_build_filename(g_get_home_dir(), ".ssh",
					  "known_hosts", NULL);

	if (access(path, R_OK) == 0)
		return path;
	g_warning("sftp: %s: %s: the server's host key cannot be checked; "
		  "give known_hosts=FILE, or ssh to the server once",
		  path, g_strerror(errno));
	g_free(path);
	return NULL;
}

static int sftp_open(const struct backend_options *opt, void **state)
{
	struct sftp *sftp;
	GPtrArray *root;
	char *known_hosts = NULL;
	int err = transport_global_init();

	if (err)
		return err;
	sftp = g_new0(struct sftp, 1);
	err = remote_path_parse(&sftp->where, "sftp", opt->url, opt);
	if (!err && !(known_hosts = known_hosts_of(opt)))
		err = -ENOENT;
	if (!err) {
		struct transport_settings set = {
		    .protocols = "sftp",
		    .user = sftp->where.user ? sftp->where.user :
					       g_get_user_name(),
		    .password = sftp->where.password,
		    .connect_timeout =
			opt->connect_timeout ? opt->connect_timeout : 10,
		    .io_timeout = opt->io_timeout ? opt->io_timeout : 30,
		    .transfers = opt->transfers,
		    .ssh_key = opt->identity,
		    .known_hosts = known_hosts,
		};

		sftp->transport = transport_new(&set);
	}
	g_free(known_hosts);
	root = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)backend_entry_free);
	if (!err)
		err = sftp_list(sftp, "", root);
	g_ptr_array_free(root, TRUE);
	if (err) {
		sftp_close(sftp);
		return err;
	}
	remote_path_probe(sftp, "sftp", sftp->where.display, sftp_mkdir,
			  sftp_rmdir, sftp_list, sftp_stat, &sftp->exclusive_mkdir,
			  &sftp->dotfiles);
	*state = sftp;
	return 0;
}

const struct backend_ops backend_sftp = {
    .name = "sftp",
    .schemes = sftp_schemes,
    /* no BACKEND_ATOMIC_PUT: a replaced file is missing for a moment */
    .caps = BACKEND_CAN_RENAME,
    .caps_of = sftp_caps_of,
    .open = sftp_open,
    .close = sftp_close,
    .list = sftp_list,
    .stat = sftp_stat,
    .get = sftp_get,
    .put = sftp_put,
    .put_data = sftp_put_data,
    .remove = sftp_remove,
    .remove_once = sftp_remove_once,
    .rename = sftp_rename,
    .mkdir = sftp_mkdir,
    .mutex_create = sftp_mutex_create,
    .rmdir = sftp_rmdir,
};
