/* The FTP backend (RFC 959, 3659; explicit TLS for ftps://) over libcurl:
 * listings by MLSD or LIST, uploads renamed into place, locks by MKD. */
#include "relay/backend.h"
#include "relay/backends/ftp_listing.h"
#include "relay/backends/remote_path.h"
#include "relay/backends/transport.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

enum {
	MAX_LISTING = 256 << 20, /* bytes of a listing */
};

enum op {
	OP_OPEN,
	OP_LIST,
	OP_STAT,
	OP_GET,
	OP_PUT,
	OP_REMOVE,
	OP_REMOVE_ONCE, /* DELE of a lock: never sent twice */
	OP_RENAME,
	OP_MKDIR,
	OP_MUTEX,	/* MKD that must be ours alone */
	OP_RMDIR,
	OP_PROBE,	/* any answer is the result: nothing is mapped */
};

/* Read-only after open. */
struct ftp {
	struct remote_path where; /* URL, base path, display */
	bool mlst;		  /* FEAT names MLST (and so MLSD) */
	bool exclusive_mkd;	  /* MKD of an existing folder is refused */
	bool dotfiles;		  /* listings show names starting with '.' */
	/* RNTO replaces a file (probed at open; where it does not, a file
	 * is removed before its new version is renamed onto it) */
	_Atomic bool rename_keeps;
	struct transport *transport;
};

/* One backend call: its transfer and what FTP reads of the answer. */
struct request {
	struct transfer t;
	struct ftp *ftp;
	enum op op;
	char *target; /* the path, for messages */
	const char *expect_etag; /* RETR: the version asked for, or NULL */
};

static const char *const ftp_schemes[] = {"ftp", "ftps", NULL};

/* ---- the reply mapping ---- */

static int report(const struct request *rq, int err, const char *hint)
{
	char *words = transfer_describe(&rq->t);

	backend_failed("ftp: %s %s: %s%s%s", rq->t.method, rq->target, words,
		       hint ? "; " : "", hint ? hint : "");
	g_free(words);
	return err;
}

/* Does the reply's text say words? Its part after the last ": " where it
 * has one: servers put the path before it ("550 a.txt: No such file"),
 * and a path may hold any words. */
static bool says(const struct request *rq, const char *words)
{
	const char *text = g_strrstr(rq->t.reason, ": ");

	return g_strstr_len(text ? text + 2 : rq->t.reason, -1, words) !=
	       NULL;
}

/* A 550 (or 553, 450) as its text says: the server's only way to tell a
 * missing file from a refused one. */
static int map_refusal(const struct request *rq)
{
	bool deleted = rq->t.maybe_done &&
		       (rq->op == OP_REMOVE || rq->op == OP_RMDIR);

	if (says(rq, "denied") || says(rq, "ermission") ||
	    says(rq, "not allowed"))
		return report(rq, -EACCES, "the server refused access");
	if (says(rq, "not empty"))
		return -ENOTEMPTY;
	if (says(rq, "exists") && !says(rq, "existence"))
		return -EEXIST;
	if (rq->op == OP_MKDIR || rq->op == OP_MUTEX)
		return -EEXIST; /* the caller looks which it was */
	return deleted ? 0 : -ENOENT;
}

/* The one place where an answer becomes 0 or a negative errno; logs the
 * failures other than ENOENT and EEXIST. */
static int map_result(const struct request *rq)
{
	if (rq->t.local_err)
		return rq->t.local_err;
	if (rq->t.done || rq->t.code == CURLE_OK || rq->op == OP_PROBE)
		return 0;
	if (rq->t.code == CURLE_REMOTE_FILE_NOT_FOUND)
		return -ENOENT; /* SIZE said so, whatever its words */
	/* a pinned RETR from past the end: the file is shorter now */
	if (rq->expect_etag && rq->t.code == CURLE_BAD_DOWNLOAD_RESUME)
		return -ESTALE;
	switch (rq->t.status) {
	case 550:
	case 553:
		return map_refusal(rq);
	case 450: /* "file unavailable (busy)": a moment's refusal */
		return report(rq, -EIO, NULL);
	case 452:
		return report(rq, -ENOSPC, "the server is out of space");
	case 552:
		return report(rq, -EDQUOT, "the account is over its quota");
	case 530:
		return report(rq, -EACCES, "the server refused the login: "
			      "check user=, password_file= or ~/.netrc");
	}
	if (rq->t.code == CURLE_OPERATION_TIMEDOUT)
		return report(rq, -ETIMEDOUT, NULL);
	if (rq->t.code == CURLE_LOGIN_DENIED)
		return report(rq, -EACCES, "check user=, password_file= or "
			      "~/.netrc");
	if (rq->t.code == CURLE_USE_SSL_FAILED)
		return report(rq, -EPROTO, "the server offers no TLS (AUTH "
			      "TLS): use ftp://");
	if (rq->t.code == CURLE_PEER_FAILED_VERIFICATION)
		return report(rq, -EIO, "use cacert=FILE or insecure");
	return report(rq, -EIO, NULL);
}

/* May the request be sent again? Not a lock's MKD or DELE, nor a rename:
 * a repeat could find its own effect and take it for another's. */
static bool may_retry(const struct transfer *t)
{
	const struct request *rq = t->owner;
	bool idempotent = rq->op != OP_MUTEX && rq->op != OP_REMOVE_ONCE &&
			  rq->op != OP_RENAME && rq->op != OP_PROBE;

	if (t->local_err || t->done)
		return false;
	if (transfer_connect_failed(t))
		return true;
	if (!idempotent)
		return false;
	/* 421: the server closes the connection; 425/426: the data one */
	if (t->status == 421 || t->status == 425 || t->status == 426)
		return true;
	return t->code == CURLE_SEND_ERROR || t->code == CURLE_RECV_ERROR ||
	       t->code == CURLE_GOT_NOTHING || t->code == CURLE_PARTIAL_FILE ||
	       t->code == CURLE_FTP_ACCEPT_FAILED ||
	       t->code == CURLE_FTP_WEIRD_PASV_REPLY ||
	       t->code == CURLE_FTP_CANT_GET_HOST ||
	       t->code == CURLE_OPERATION_TIMEDOUT;
}

/* The size and mtime an MLSD tag ("\"unique-modify-size\"") was made
 * of; false for a tag of another kind. */
static bool tag_facts(const char *etag, int64_t *mtime, uint64_t *size)
{
	char **parts = g_strsplit(etag, "-", -1);
	guint n = g_strv_length(parts);
	bool ok = n >= 3;
	struct backend_entry e = {0};
	char *line;

	if (ok) { /* the facts parse as MLSD's do */
		line = g_strdup_printf("modify=%s;size=%.*s;type=file; x",
				       parts[n - 2],
				       (int)strcspn(parts[n - 1], "\""),
				       parts[n - 1]);
		ok = ftp_listing_parse_mlsx(line, strlen(line), &e) == 1;
		g_free(line);
	}
	*mtime = e.mtime;
	*size = e.size;
	backend_entry_clear(&e);
	g_strfreev(parts);
	return ok;
}

/* RETR pinned to a version: the MDTM and SIZE replies libcurl got before
 * it must be the listed tag's, else -ESTALE (a new version). */
static int on_start(struct transfer *t)
{
	const struct request *rq = t->owner;
	curl_off_t mtime = -1;
	int64_t want_mtime;
	uint64_t want_size;
	char *size_reply;
	bool same;

	if (!rq->expect_etag || !t->replies ||
	    !tag_facts(rq->expect_etag, &want_mtime, &want_size))
		return 0;
	curl_easy_getinfo(t->handle, CURLINFO_FILETIME_T, &mtime);
	size_reply = g_strdup_printf("\n213 %" PRIu64 "\n", want_size);
	same = mtime == want_mtime &&
	       g_strstr_len(t->replies->str, -1, size_reply + 1) != NULL;
	g_free(size_reply);
	return same ? 0 : -ESTALE;
}

/* A pinned RETR that brought no byte (the new version ends where it was
 * asked from) is checked at its end. */
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

/* ---- requests ---- */

/* A request on path (a folder's when dir): its URL and messages. */
static void request_init(struct request *rq, struct ftp *ftp, enum op op,
			 const char *method, const char *path, bool dir)
{
	memset(rq, 0, sizeof(*rq));
	rq->ftp = ftp;
	rq->op = op;
	rq->target = remote_path_display(&ftp->where, path);
	transfer_init(&rq->t, ftp->transport, &hooks, rq, method,
		      remote_path_url(&ftp->where, path, dir), rq->target);
	rq->t.request = NULL;
}

/* A request of commands only, on the root's URL. */
static void command_init(struct request *rq, struct ftp *ftp, enum op op,
			 const char *verb, const char *path)
{
	request_init(rq, ftp, op, verb, "", true);
	g_free(rq->target);
	rq->target = remote_path_display(&ftp->where, path);
	rq->t.nobody = true;
}

static void add_command(struct request *rq, bool post, const char *verb,
			const char *path)
{
	char *server_path = remote_path_server(&rq->ftp->where, path);
	char *cmd = g_strdup_printf("%s %s", verb, server_path);

	transfer_add_command(&rq->t, post, cmd);
	g_free(cmd);
	g_free(server_path);
}

static void request_clear(struct request *rq)
{
	transfer_clear(&rq->t);
	g_free(rq->target);
}

static int perform(struct request *rq)
{
	int err = transfer_perform(&rq->t);

	return err ? err : map_result(rq);
}

/* One command (DELE, MKD, RMD) on path. */
static int command(struct ftp *ftp, enum op op, const char *verb,
		   const char *path)
{
	struct request rq;
	int err;

	if (remote_path_refused("ftp", path))
		return -EINVAL;
	command_init(&rq, ftp, op, verb, path);
	add_command(&rq, false, verb, path);
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

/* ---- listings ---- */

/* The listing of dir as entries, without our uploads in flight. */
static int list_into(struct ftp *ftp, enum op op, const char *dir,
		     GPtrArray *entries)
{
	struct request rq;
	unsigned bad = 0;
	int err;

	if (remote_path_refused("ftp", dir))
		return -EINVAL;
	request_init(&rq, ftp, op, ftp->mlst ? "MLSD" : "LIST", dir, true);
	rq.t.request = ftp->mlst ? "MLSD" : NULL;
	rq.t.max_body = MAX_LISTING;
	err = perform(&rq);
	if (!err)
		ftp_listing_parse(rq.t.body->str, rq.t.body->len,
				  ftp->mlst ? FTP_LISTING_MLSD :
					      FTP_LISTING_UNIX,
				  g_get_real_time() / G_USEC_PER_SEC, entries,
				  &bad);
	if (bad)
		g_warning("ftp: listing %s: %u lines that are no file's; "
			  "skipped", rq.target, bad);
	remote_path_drop_parts(entries);
	request_clear(&rq);
	return err;
}

static int ftp_list(void *state, const char *dir, GPtrArray *entries)
{
	return list_into(state, OP_LIST, dir, entries);
}

/* MLST path: the entry from the reply's one indented line. */
static int stat_by_mlst(struct ftp *ftp, const char *path,
			struct backend_entry *entry)
{
	struct request rq;
	int err;

	command_init(&rq, ftp, OP_STAT, "MLST", path);
	add_command(&rq, false, "MLST", path);
	rq.t.replies = g_string_new(NULL);
	err = perform(&rq);
	if (!err) {
		char **lines = g_strsplit(rq.t.replies->str, "\n", -1);

		err = -EIO;
		for (char **l = lines; *l && err; l++)
			if ((*l)[0] == ' ' &&
			    ftp_listing_parse_mlsx(*l, strlen(*l), entry) == 1)
				err = 0;
		if (err)
			report(&rq, err, "the MLST reply holds no entry");
		g_strfreev(lines);
	}
	g_string_free(rq.t.replies, TRUE);
	request_clear(&rq);
	return err;
}

static int ftp_stat(void *state, const char *path,
		    struct backend_entry *entry)
{
	struct ftp *ftp = state;
	const char *slash = strrchr(path, '/');
	int err;

	if (remote_path_refused("ftp", path))
		return -EINVAL;
	if (!*path) {
		entry->name = g_strdup("");
		entry->is_dir = true;
		return 0;
	}
	if (!ftp->mlst)
		return remote_path_stat_by_listing(state, ftp_list, path,
						   entry);
	err = stat_by_mlst(ftp, path, entry);
	if (!err) { /* MLST names the path as it was asked */
		g_free(entry->name);
		entry->name = g_strdup(slash ? slash + 1 : path);
	}
	return err;
}

/* ---- transfers ---- */

static int ftp_get(void *state, const char *path, uint64_t offset,
		   uint64_t length, const char *etag, backend_sink_fn sink,
		   void *ctx)
{
	struct request rq;
	int err;

	if (remote_path_refused("ftp", path))
		return -EINVAL;
	request_init(&rq, state, OP_GET, "RETR", path, false);
	if (etag) {
		rq.expect_etag = etag;
		rq.t.filetime = true;
		rq.t.replies = g_string_new(NULL);
	}
	rq.t.sink = sink;
	rq.t.ctx = ctx;
	rq.t.offset = offset;
	rq.t.remaining = length;
	err = perform(&rq);
	if (rq.t.replies)
		g_string_free(rq.t.replies, TRUE);
	request_clear(&rq);
	return err;
}

/* The uploaded part renamed onto path where RNTO refused to replace it:
 * path removed first (a reader may find no file for that moment). */
static int replace_by_part(struct ftp *ftp, const char *part,
			   const char *path)
{
	struct request rq;
	int err;

	if (!atomic_exchange(&ftp->rename_keeps, true))
		g_message("ftp: %s: RNTO does not replace a file: a new version "
			  "is renamed into place after the old one is removed",
			  ftp->where.display);
	err = command(ftp, OP_REMOVE, "DELE", path);
	if (err && err != -ENOENT)
		return err;
	command_init(&rq, ftp, OP_RENAME, "RNFR", path);
	add_command(&rq, false, "RNFR", part);
	add_command(&rq, false, "RNTO", path);
	err = perform(&rq);
	if (err == -EEXIST)
		err = report(&rq, -EIO, "RNTO refused though the file is gone");
	request_clear(&rq);
	return err;
}

/* STOR to a hidden name beside path, then RNFR/RNTO onto it: a reader
 * never sees half a file, and a failed upload leaves path as it was. */
static int upload(struct ftp *ftp, const char *path, int fd,
		  const void *data, uint64_t size)
{
	struct request rq;
	char *part;
	int err;

	if (remote_path_refused("ftp", path))
		return -EINVAL;
	part = remote_path_part_name(path);
	request_init(&rq, ftp, OP_PUT, "STOR", part, false);
	g_free(rq.target);
	rq.target = remote_path_display(&ftp->where, path);
	rq.t.upload = true;
	rq.t.fd = fd;
	rq.t.data = data;
	rq.t.size = size;
	add_command(&rq, true, "RNFR", part);
	add_command(&rq, true, "RNTO", path);
	err = perform(&rq);
	request_clear(&rq);
	if (err == -EEXIST) /* RNTO does not replace a file here */
		err = replace_by_part(ftp, part, path);
	if (err)
		command(ftp, OP_PROBE, "DELE", part); /* if it is there */
	g_free(part);
	return err;
}

static int ftp_put(void *state, const char *path, int fd, uint64_t size)
{
	return upload(state, path, fd, NULL, size);
}

static int ftp_put_data(void *state, const char *path, const void *data,
			size_t len)
{
	return upload(state, path, -1, data, len);
}

static int ftp_remove(void *state, const char *path)
{
	return command(state, OP_REMOVE, "DELE", path);
}

static int ftp_remove_once(void *state, const char *path)
{
	return command(state, OP_REMOVE_ONCE, "DELE", path);
}

static int ftp_rename(void *state, const char *from, const char *to)
{
	struct request rq;
	int err;

	if (remote_path_refused("ftp", from) || remote_path_refused("ftp", to))
		return -EINVAL;
	command_init(&rq, state, OP_RENAME, "RNFR", from);
	add_command(&rq, false, "RNFR", from);
	add_command(&rq, false, "RNTO", to);
	err = perform(&rq);
	request_clear(&rq);
	return err;
}

/* A refused MKD: there already (EEXIST), or its parent missing (ENOENT). */
static int mkd_once(void *state, const char *path)
{
	return command(state, OP_MKDIR, "MKD", path);
}

static int mkd_mutex_once(void *state, const char *path)
{
	return command(state, OP_MUTEX, "MKD", path);
}

static int ftp_mkdir(void *state, const char *path)
{
	return remote_path_mkdir(state, mkd_once, ftp_stat, path);
}

static int ftp_mutex_create(void *state, const char *path)
{
	return remote_path_mkdir(state, mkd_mutex_once, ftp_stat,
				 path);
}

static int ftp_rmdir(void *state, const char *path)
{
	return command(state, OP_RMDIR, "RMD", path);
}

static unsigned ftp_caps_of(void *state)
{
	struct ftp *ftp = state;

	return BACKEND_CAN_RENAME |
	       (atomic_load(&ftp->rename_keeps) ? 0 : BACKEND_ATOMIC_PUT) |
	       (ftp->exclusive_mkd ? BACKEND_EXCLUSIVE_MUTEX : 0) |
	       (ftp->dotfiles ? BACKEND_LISTS_DOTFILES : 0);
}

/* ---- opening ---- */

/* FEAT: does the server list by MLSD? Also the login's first test. */
static int learn_features(struct ftp *ftp)
{
	struct request rq;
	int err;

	command_init(&rq, ftp, OP_OPEN, "FEAT", "");
	transfer_add_command(&rq.t, false, "*FEAT");
	rq.t.replies = g_string_new(NULL);
	err = perform(&rq);
	ftp->mlst = !err && g_strstr_len(rq.t.replies->str, -1, " MLST");
	g_string_free(rq.t.replies, TRUE);
	request_clear(&rq);
	return err;
}

/* Does RNTO replace a file? A hidden file uploaded twice tells (the
 * second upload's RNTO lands on the first), then removed. */
static void probe_rename(struct ftp *ftp)
{
	char *name = remote_path_part_name("probe");

	if (upload(ftp, name, -1, "1", 1) == 0)
		upload(ftp, name, -1, "2", 1);
	command(ftp, OP_PROBE, "DELE", name);
	g_free(name);
}

static void ftp_close(void *state)
{
	struct ftp *ftp = state;

	if (!ftp)
		return;
	transport_free(ftp->transport);
	remote_path_clear(&ftp->where);
	g_free(ftp);
}

static int ftp_open(const struct backend_options *opt, void **state)
{
	struct ftp *ftp;
	GPtrArray *root;
	int err = transport_global_init();

	if (err)
		return err;
	ftp = g_new0(struct ftp, 1);
	err = remote_path_parse(&ftp->where, "ftp", opt->url, opt);
	if (!err) {
		struct transport_settings set = {
		    .protocols = "ftp",
		    .user = ftp->where.user,
		    .password = ftp->where.password,
		    .cacert = opt->cacert,
		    .insecure = opt->insecure,
		    .connect_timeout =
			opt->connect_timeout ? opt->connect_timeout : 10,
		    .io_timeout = opt->io_timeout ? opt->io_timeout : 30,
		    .transfers = opt->transfers,
		    .ftp_tls = ftp->where.tls,
		};

		ftp->transport = transport_new(&set);
		err = learn_features(ftp);
	}
	root = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)backend_entry_free);
	if (!err)
		err = list_into(ftp, OP_OPEN, "", root);
	g_ptr_array_free(root, TRUE);
	if (err) {
		ftp_close(ftp);
		return err;
	}
	remote_path_probe(ftp, "ftp", ftp->where.display, ftp_mkdir,
			  ftp_rmdir, ftp_list, ftp_stat, &ftp->exclusive_mkd,
			  &ftp->dotfiles);
	probe_rename(ftp);
	g_message("ftp: %s: listings by %s", ftp->where.display,
		  ftp->mlst ? "MLSD" : "LIST");
	*state = ftp;
	return 0;
}

const struct backend_ops backend_ftp = {
    .name = "ftp",
    .schemes = ftp_schemes,
    /* the instance's caps say whether MKD is exclusive (probe) */
    .caps = BACKEND_CAN_RENAME | BACKEND_ATOMIC_PUT,
    .caps_of = ftp_caps_of,
    .open = ftp_open,
    .close = ftp_close,
    .list = ftp_list,
    .stat = ftp_stat,
    .get = ftp_get,
    .put = ftp_put,
    .put_data = ftp_put_data,
    .remove = ftp_remove,
    .remove_once = ftp_remove_once,
    .rename = ftp_rename,
    .mkdir = ftp_mkdir,
    .mutex_create = ftp_mutex_create,
    .rmdir = ftp_rmdir,
};
