/* The libcurl client every curl-based backend shares: handles pooled (so
 * connections stay alive), credentials, TLS and timeouts set once, and a
 * request sent again, backing off, after transient failures. */
#include "relay/backends/transport.h"

#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#ifndef RELAYFS_VERSION
#define RELAYFS_VERSION "dev"
#endif

enum {
	MAX_ATTEMPTS = 3,	 /* for requests that may be repeated */
	BACKOFF_MS = 250,	 /* then 4 times more each retry */
	BUFFER_SIZE = 256 << 10, /* curl's receive and send buffers */
	MAX_ERROR_BODY = 4096,	 /* bytes of an error page kept */
	MAX_REPLIES = 64 << 10,	 /* bytes of FTP replies kept */
	POLL_CAP_MS = 5,	 /* an FTP transfer's longest sleep */
};

/* Everything is read-only after transport_new but the pool (under
 * pool_lock, a leaf: fs/lock_order.h) and digest, which is atomic. */
struct transport {
	struct transport_settings set;	/* strings owned */
	_Atomic int digest;		/* the server asked for Digest auth */
	_Atomic int host_key;		/* a refused SSH host key: CURLKHMATCH_ */
	GMutex pool_lock;
	GCond returned;
	GPtrArray *idle;	/* handles ready for use, most recent last */
	unsigned created;	/* idle + borrowed */
	unsigned main_busy;	/* borrowed by users' and background work */
	unsigned background_busy; /* borrowed by background work */
	unsigned beside_busy;	/* borrowed by asides beside their starter */
};

/*
 * The connections: `transfers` for the requests of what users wait for
 * and of background work together, background work having at most half
 * of them, so that a reader's lock and fetch never queue behind the
 * registrations and unlocks of the files read before; and `transfers`
 * more for the asides that run beside a request of their starter (the
 * lock beside the fetch that waits for it, the mutex drop that fetch may
 * wait for): were they to share with it,
 * `transfers` fetches could hold every connection while their locks
 * waited for one.
 */
static bool pool_share_full(const struct transport *tp, enum backend_work w)
{
	unsigned n = tp->set.transfers;

	switch (w) {
	case BACKEND_WORK_BESIDE:
		return tp->beside_busy >= n;
	case BACKEND_WORK_BACKGROUND:
		return tp->main_busy >= n ||
		       tp->background_busy >= MAX(1u, n / 2);
	default:
		return tp->main_busy >= n;
	}
}

static void pool_share_count(struct transport *tp, enum backend_work w,
			     int d)
{
	if (w == BACKEND_WORK_BESIDE) {
		tp->beside_busy += d;
		return;
	}
	tp->main_busy += d;
	if (w == BACKEND_WORK_BACKGROUND)
		tp->background_busy += d;
}

static gpointer global_init_once(gpointer unused)
{
	(void)unused;
	/* OpenSSL's exit-time cleanup assumes every thread has stopped, but
	 * GLib's pool threads (which did TLS) may still be exiting then and
	 * free their OpenSSL state at the same time: double frees at
	 * unmount (openssl/openssl#6214). The process is ending anyway. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	xmlInitParser();
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return GINT_TO_POINTER(-EIO);
	return GINT_TO_POINTER(0);
}

int transport_global_init(void)
{
	static GOnce once = G_ONCE_INIT;

	return GPOINTER_TO_INT(g_once(&once, global_init_once, NULL));
}

/* ---- curl callbacks ---- */

/* An FTP reply line: "550 text" (the last word of a reply) or "250-text"
 * and continuations; the last one's text is the reason. */
static void ftp_reply_line(struct transfer *t, const char *line, size_t len)
{
	size_t n = 0;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (t->replies && t->replies->len < MAX_REPLIES) {
		g_string_append_len(t->replies, line, (gssize)len);
		g_string_append_c(t->replies, '\n');
	}
	if (len < 4 || !g_ascii_isdigit(line[0]) || line[3] != ' ')
		return;
	for (const char *p = line + 4; p < line + len &&
	     n + 1 < sizeof(t->reason); p++)
		if (g_ascii_isprint(*p))
			t->reason[n++] = *p;
	t->reason[n] = '\0';
}

/* The status line's reason phrase (HTTP), the replies (FTP). */
static size_t header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * nitems, n = 0;
	const char *sp;

	if (g_str_has_prefix(t->tp->set.protocols, "ftp")) {
		ftp_reply_line(t, line, len);
		return len;
	}
	if (len < 5 || memcmp(line, "HTTP/", 5) != 0)
		return len;
	t->reason[0] = '\0';
	sp = memchr(line, ' ', len);
	sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) : NULL;
	if (!sp)
		return len;
	for (sp++; sp < line + len && n + 1 < sizeof(t->reason); sp++)
		if (g_ascii_isprint(*sp))
			t->reason[n++] = *sp;
	t->reason[n] = '\0';
	return len;
}

static long status_now(const struct transfer *t)
{
	long status = 0;

	curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* Bytes of a download: the wanted ones go to the sink, in order. */
static size_t download_write(struct transfer *t, const char *p, size_t len)
{
	size_t drop, give;
	int err = 0;

	if (!t->started) {
		t->started = true;
		err = t->hooks->on_start ? t->hooks->on_start(t) : 0;
	}
	if (err) {
		t->local_err = err;
		return 0;
	}
	drop = (size_t)MIN((uint64_t)len, t->skip);
	t->skip -= drop;
	give = (size_t)MIN((uint64_t)(len - drop), t->remaining);
	err = give ? t->sink(t->ctx, p + drop, give) : 0;
	if (err) {
		t->local_err = err;
		return 0;
	}
	t->offset += give;
	if (t->remaining != UINT64_MAX)
		t->remaining -= give;
	if (t->remaining == 0 && (t->whole || drop + give < len)) {
		t->done = true; /* stop a server sending more than asked */
		return 0;
	}
	return len;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct transfer *t = arg;
	size_t len = size * nmemb;

	/* an error page (a status of 300 or more) is never content */
	if (t->sink && status_now(t) < 300)
		return download_write(t, p, len);
	if (t->sink || !t->max_body) {
		if (t->body->len < MAX_ERROR_BODY)
			g_string_append_len(t->body, p, (gssize)len);
		return len;
	}
	if (t->body->len + len > t->max_body) {
		g_warning("%s %s: the answer is larger than %zu MiB",
			  t->method, t->target, t->max_body >> 20);
		t->local_err = -EIO;
		return 0;
	}
	g_string_append_len(t->body, p, (gssize)len);
	return len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct transfer *t = arg;
	size_t want =
	    (size_t)MIN((uint64_t)(size * nitems), t->size - t->sent);
	ssize_t got;

	if (t->source) {
		got = t->source(t->source_ctx, buf, size * nitems, t->sent);
		if (got < 0) {
			t->local_err = (int)got;
			return CURL_READFUNC_ABORT;
		}
		t->sent += (uint64_t)got;
		backend_progress_add((uint64_t)got);
		return (size_t)got;
	}
	if (want == 0)
		return 0;
	if (t->fd < 0) {
		memcpy(buf, (const char *)t->data + t->sent, want);
		t->sent += want;
		return want;
	}
	do
		got = pread(t->fd, buf, want, (off_t)t->sent);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		t->local_err = got < 0 ? -errno : -EIO;
		backend_failed("%s %s: reading the local file at %" PRIu64
			       ": %s", t->method, t->target, t->sent,
			       got < 0 ? g_strerror(errno) :
					 "it got shorter");
		return CURL_READFUNC_ABORT;
	}
	t->sent += (uint64_t)got;
	backend_progress_add((uint64_t)got);
	return (size_t)got;
}

static int seek_cb(void *arg, curl_off_t offset, int origin)
{
	struct transfer *t = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > t->size)
		return CURL_SEEKFUNC_CANTSEEK;
	t->sent = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- the pool ---- */

/* libcurl asks about the server's SSH host key: only one found in
 * known_hosts passes; why another was refused is kept for the message. */
static int host_key_cb(CURL *easy, const struct curl_khkey *known,
		       const struct curl_khkey *found, enum curl_khmatch match,
		       void *arg)
{
	struct transport *tp = arg;

	(void)easy, (void)known, (void)found;
	if (match == CURLKHMATCH_OK)
		return CURLKHSTAT_FINE;
	atomic_store(&tp->host_key, (int)match);
	return CURLKHSTAT_REJECT;
}

void transport_url_credentials(CURLU *u, char **user, char **password)
{
	char *found = NULL;

	if (!*user &&
	    curl_url_get(u, CURLUPART_USER, &found, CURLU_URLDECODE) == 0)
		*user = g_strdup(found);
	curl_free(found);
	found = NULL;
	if (!*password && curl_url_get(u, CURLUPART_PASSWORD, &found,
				       CURLU_URLDECODE) == 0) {
		*password = g_strdup(found);
		explicit_bzero(found, strlen(found));
	}
	curl_free(found);
}

const char *transport_host_key_problem(struct transport *tp)
{
	switch (atomic_load(&tp->host_key)) {
	case CURLKHMATCH_MISMATCH:
		return "the server's host key is not the one known_hosts "
		       "holds for it (changed, or another server)";
	case CURLKHMATCH_MISSING:
		return "the server's host key is not in known_hosts: add it "
		       "(ssh-keyscan, or ssh to it once), or give "
		       "known_hosts=FILE";
	default:
		return NULL;
	}
}

/* What only FTP or SFTP relays use. */
static void setup_ftp_ssh(CURL *h, struct transport *tp)
{
	const struct transport_settings *s = &tp->set;

	/* paths in full, never a CWD per folder: one round trip less */
	curl_easy_setopt(h, CURLOPT_FTP_FILEMETHOD, (long)CURLFTPMETHOD_NOCWD);
	curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, s->io_timeout);
	/* PASV where it works (IPv4; libcurl takes EPSV for IPv6): with
	 * EPSV, libcurl 7.88 stalls a second on one data connection in
	 * four (measured against pure-ftpd) */
	curl_easy_setopt(h, CURLOPT_FTP_USE_EPSV, 0L);
	if (s->ftp_tls)
		curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (!s->known_hosts)
		return;
	curl_easy_setopt(h, CURLOPT_SSH_AUTH_TYPES,
			 (long)(CURLSSH_AUTH_PUBLICKEY | CURLSSH_AUTH_PASSWORD |
				CURLSSH_AUTH_AGENT));
	if (s->ssh_key)
		curl_easy_setopt(h, CURLOPT_SSH_PRIVATE_KEYFILE, s->ssh_key);
	curl_easy_setopt(h, CURLOPT_SSH_KNOWNHOSTS, s->known_hosts);
	curl_easy_setopt(h, CURLOPT_SSH_KEYFUNCTION, host_key_cb);
	curl_easy_setopt(h, CURLOPT_SSH_KEYDATA, tp);
}

/* The options every request shares, set once per handle. */
static void setup_handle(CURL *h, struct transport *tp)
{
	const struct transport_settings *s = &tp->set;

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "relayfs/" RELAYFS_VERSION);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, s->protocols);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->connect_timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->io_timeout);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)BUFFER_SIZE);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, (long)BUFFER_SIZE);
	curl_easy_setopt(h, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	if (s->user)
		curl_easy_setopt(h, CURLOPT_USERNAME, s->user);
	if (s->password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->password);
	if (s->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, s->cacert);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->insecure ? 0L : 2L);
	setup_ftp_ssh(h, tp);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
}

struct transport *transport_new(const struct transport_settings *set)
{
	struct transport *tp = g_new0(struct transport, 1);

	tp->set = *set;
	tp->set.protocols = g_strdup(set->protocols);
	tp->set.user = g_strdup(set->user);
	tp->set.password = g_strdup(set->password);
	tp->set.cacert = g_strdup(set->cacert);
	tp->set.ssh_key = g_strdup(set->ssh_key);
	tp->set.known_hosts = g_strdup(set->known_hosts);
	tp->set.transfers = set->transfers ? set->transfers : 4;
	g_mutex_init(&tp->pool_lock);
	g_cond_init(&tp->returned);
	tp->idle = g_ptr_array_new();
	return tp;
}

/* A handle, and the multi handle of its own that an FTP one has. */
static void handle_free(CURL *h)
{
	CURLM *m = NULL;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&m);
	curl_easy_cleanup(h);
	if (m)
		curl_multi_cleanup(m);
}

void transport_free(struct transport *tp)
{
	char *password;

	if (!tp)
		return;
	g_warn_if_fail(tp->idle->len == tp->created);
	for (unsigned i = 0; i < tp->idle->len; i++)
		handle_free(tp->idle->pdata[i]);
	g_ptr_array_free(tp->idle, TRUE);
	g_cond_clear(&tp->returned);
	g_mutex_clear(&tp->pool_lock);
	password = (char *)tp->set.password;
	if (password)
		explicit_bzero(password, strlen(password));
	g_free(password);
	g_free((char *)tp->set.protocols);
	g_free((char *)tp->set.user);
	g_free((char *)tp->set.cacert);
	g_free((char *)tp->set.ssh_key);
	g_free((char *)tp->set.known_hosts);
	g_free(tp);
}

/* Borrow a handle from this thread's share (pool_share_full), waiting
 * while it is used up; the most recently returned first, as its
 * connection is the likeliest to be alive. */
static CURL *pool_acquire(struct transport *tp)
{
	enum backend_work w = backend_thread_work_kind();
	CURL *handle = NULL;

	g_mutex_lock(&tp->pool_lock);
	while (pool_share_full(tp, w))
		g_cond_wait(&tp->returned, &tp->pool_lock);
	pool_share_count(tp, w, 1);
	if (tp->idle->len > 0) {
		handle = g_ptr_array_steal_index(tp->idle, tp->idle->len - 1);
		g_mutex_unlock(&tp->pool_lock);
		return handle;
	}
	tp->created++;
	g_mutex_unlock(&tp->pool_lock);
	handle = curl_easy_init();
	if (handle) {
		setup_handle(handle, tp);
		if (g_str_has_prefix(tp->set.protocols, "ftp"))
			curl_easy_setopt(handle, CURLOPT_PRIVATE,
					 curl_multi_init());
		return handle;
	}
	g_mutex_lock(&tp->pool_lock);
	tp->created--;
	pool_share_count(tp, w, -1);
	g_cond_broadcast(&tp->returned);
	g_mutex_unlock(&tp->pool_lock);
	return NULL;
}

/* Called by the thread that borrowed handle (whose kind of work says
 * which share it came from). */
static void pool_release(struct transport *tp, CURL *handle)
{
	g_mutex_lock(&tp->pool_lock);
	g_ptr_array_add(tp->idle, handle);
	pool_share_count(tp, backend_thread_work_kind(), -1);
	/* waiters of every share: a handle may be one another cannot use */
	g_cond_broadcast(&tp->returned);
	g_mutex_unlock(&tp->pool_lock);
}

/* ---- requests ---- */

void transfer_init(struct transfer *t, struct transport *tp,
		   const struct transfer_hooks *hooks, void *owner,
		   const char *method, char *url, const char *target)
{
	memset(t, 0, sizeof(*t));
	t->tp = tp;
	t->hooks = hooks;
	t->owner = owner;
	t->method = method;
	t->url = url;
	t->target = target;
	t->fd = -1;
	t->remaining = UINT64_MAX;
	if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
		t->request = method;
	t->body = g_string_new(NULL);
	/* no "Expect: 100-continue" round trip before a body */
	t->headers = curl_slist_append(NULL, "Expect:");
}

void transfer_clear(struct transfer *t)
{
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->quote);
	curl_slist_free_all(t->postquote);
	g_string_free(t->body, TRUE);
	g_free(t->url);
}

void transfer_add_header(struct transfer *t, const char *header)
{
	t->headers = curl_slist_append(t->headers, header);
}

void transfer_add_command(struct transfer *t, bool post, const char *cmd)
{
	struct curl_slist **list = post ? &t->postquote : &t->quote;

	*list = curl_slist_append(*list, cmd);
}

const char *transfer_header(const struct transfer *t, const char *name)
{
	struct curl_header *h = NULL;

	if (!t->handle ||
	    curl_easy_header(t->handle, name, 0, CURLH_HEADER, -1, &h) !=
		CURLHE_OK)
		return NULL;
	return h->value;
}

char *transfer_describe(const struct transfer *t)
{
	if (t->code == CURLE_OK)
		return g_strdup_printf("%ld %s", t->status, t->reason);
	if (t->errbuf[0])
		return g_strdup(t->errbuf);
	return g_strdup(curl_easy_strerror(t->code));
}

bool transfer_connect_failed(const struct transfer *t)
{
	return t->code == CURLE_COULDNT_CONNECT ||
	       t->code == CURLE_COULDNT_RESOLVE_HOST ||
	       t->code == CURLE_COULDNT_RESOLVE_PROXY;
}

/* "A-B" (or "A-") for what a download still wants, or NULL for all. */
static char *range_of(const struct transfer *t)
{
	if (!t->sink || (t->offset == 0 && t->remaining == UINT64_MAX))
		return NULL;
	if (t->remaining == UINT64_MAX || t->to_end ||
	    t->remaining - 1 > UINT64_MAX - 1 - t->offset)
		return g_strdup_printf("%" PRIu64 "-", t->offset);
	return g_strdup_printf("%" PRIu64 "-%" PRIu64, t->offset,
			       t->offset + t->remaining - 1);
}

/* Sets what differs between requests; every such option, every time. */
static void prepare(CURL *h, struct transfer *t, const char *range,
		    bool digest)
{
	curl_easy_setopt(h, CURLOPT_URL, t->url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(h, CURLOPT_NOBODY, t->nobody ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_QUOTE, t->quote);
	curl_easy_setopt(h, CURLOPT_POSTQUOTE, t->postquote);
	curl_easy_setopt(h, CURLOPT_FILETIME, t->filetime ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_UPLOAD, t->upload ? 1L : 0L);
	if (t->upload)
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 t->source ? (curl_off_t)-1 :
					     (curl_off_t)t->size);
	if (t->post) { /* after UPLOAD, which resets the method */
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE,
				 (long)strlen(t->post));
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->post);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t->request);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(h, CURLOPT_RANGE, range);
	curl_easy_setopt(h, CURLOPT_HTTPAUTH,
			 digest ? CURLAUTH_DIGEST : CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_READDATA, t);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, t);
}

/* The handle goes back to the pool pointing at nothing of t's (which
 * lives on a stack): curl may still write an error while it closes a
 * connection later, even from curl_easy_cleanup. */
static void forget_transfer(CURL *h)
{
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_QUOTE, NULL);
	curl_easy_setopt(h, CURLOPT_POSTQUOTE, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_READDATA, NULL);
	curl_easy_setopt(h, CURLOPT_SEEKDATA, NULL);
}

/* curl_easy_perform, but for FTP: libcurl 7.88 sets no timer after a
 * PASV reply, and curl_easy_perform's loop then sleeps a second before it
 * opens the data connection (every data connection here). FTP handles
 * run on a multi handle of their own (which keeps their connections
 * alive between requests), woken every POLL_CAP_MS at most. */
static CURLcode perform_handle(CURL *h)
{
	CURLM *m = NULL;
	CURLMcode mc;
	CURLMsg *msg;
	CURLcode code = CURLE_RECV_ERROR;
	int running = 1, left;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&m);
	if (!m)
		return curl_easy_perform(h);
	mc = curl_multi_add_handle(m, h);
	while (mc == CURLM_OK && running) {
		mc = curl_multi_perform(m, &running);
		if (mc == CURLM_OK && running)
			mc = curl_multi_poll(m, NULL, 0, POLL_CAP_MS, NULL);
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
			code = msg->data.result;
	curl_multi_remove_handle(m, h);
	return code;
}

/* Does the answer ask for Digest authentication? */
static bool digest_challenge(const struct transfer *t)
{
	struct curl_header *h = NULL;

	for (size_t i = 0;
	     curl_easy_header(t->handle, "WWW-Authenticate", i, CURLH_HEADER,
			      -1, &h) == CURLHE_OK;
	     i++)
		if (g_ascii_strncasecmp(h->value, "digest", 6) == 0)
			return true;
	return false;
}

/* One attempt; true when it was answered 401 with a Digest challenge
 * while Basic was sent (then it is sent again at once with Digest). */
static bool attempt(struct transfer *t, int *err)
{
	CURL *h = pool_acquire(t->tp);
	char *range = range_of(t);
	bool digest = atomic_load(&t->tp->digest) != 0, again = false;

	*err = 0;
	if (!h) {
		g_free(range);
		backend_failed("%s %s: libcurl cannot make a handle",
			       t->method, t->target);
		*err = -ENOMEM;
		return false;
	}
	t->handle = h;
	t->sent = 0;
	t->started = false;
	t->whole = false;
	t->status = 0;
	t->reason[0] = t->errbuf[0] = '\0';
	g_string_truncate(t->body, 0);
	if (t->replies)
		g_string_truncate(t->replies, 0);
	prepare(h, t, range, digest);
	t->code = perform_handle(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &t->status);
	if (t->status == 401 && !digest && !t->local_err &&
	    digest_challenge(t)) {
		atomic_store(&t->tp->digest, 1);
		again = true;
	} else if (t->hooks->on_answer) {
		t->hooks->on_answer(t);
	}
	t->handle = NULL;
	forget_transfer(h);
	pool_release(t->tp, h);
	g_free(range);
	return again;
}

int transfer_perform(struct transfer *t)
{
	unsigned delay = BACKOFF_MS;

	for (int n = 1;; n++) {
		int err;
		char *words;

		if (attempt(t, &err)) {
			n--; /* the Digest challenge's answer: at once */
			continue;
		}
		if (err)
			return err;
		if (t->local_err || t->done || n >= MAX_ATTEMPTS ||
		    !t->hooks->may_retry || !t->hooks->may_retry(t))
			break;
		words = transfer_describe(t);
		g_message("%s %s: %s; trying again in %u ms", t->method,
			  t->target, words, delay);
		g_free(words);
		g_usleep(delay * 1000UL);
		delay *= 4;
		if (!transfer_connect_failed(t))
			t->maybe_done = true;
	}
	return 0;
}
