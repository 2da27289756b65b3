/* Command line, -o options and the config file parsed and checked into
 * struct relayfs_config, leaving in struct fuse_args what libfuse must see. */
#include "fs/options.h"
#include "relay/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fuse_log.h>
#include <glib.h>

#ifndef RELAYFS_VERSION
#define RELAYFS_VERSION "0.1.0"
#endif

#define PASSWORD_FILE_MAX 4096
#define CLIENT_NAME_MAX 255

/* Our options; each is also a key of the config file's [relay] group. */
enum opt_id {
	O_RELAY,
	O_CLIENT,
	O_PULLERS,
	O_LOCK_TIMEOUT,
	O_LOCK_WAIT,
	O_CACHE_DIR,
	O_CACHE_SIZE,
	O_BLOCK_SIZE,
	O_DIR_CACHE,
	O_CHECKSUM,
	O_TRANSFERS,
	O_TIMEOUT,
	O_CACERT,
	O_INSECURE,
	O_ADVISORY_LOCKS,
	O_IDENTITY,
	O_KNOWN_HOSTS,
	O_USER,
	O_PASSWORD_FILE,
	O_ENDPOINT,
	O_REGION,
	N_OPTS
};

enum kind {
	K_URL,		/* relay: checked by check_relay() */
	K_NAME,		/* client name */
	K_UINT,		/* unsigned, min..max */
	K_SIZE,		/* uint64_t with a K/M/G/T suffix, min..max */
	K_BLOCK,	/* K_SIZE and a power of two */
	K_CHECKSUM,
	K_BOOL,
	K_TEXT,		/* non-empty, no control characters */
	K_PATH,		/* made absolute; need not exist */
	K_FILE,		/* made absolute; a readable file */
	K_SECRET,	/* K_FILE, private to its owner; first line read */
};

struct spec {
	const char *name;
	enum kind kind;
	size_t field;		/* offset in struct relayfs_config */
	uint64_t min, max;
	const char *def;	/* default as text, NULL: none or computed */
	const char *meta;	/* for --help */
	const char *help;
};

#define CFG(f) offsetof(struct relayfs_config, f)
#define KIB 1024ULL
#define MIB (1024ULL * 1024)

static const struct spec specs[N_OPTS] = {
	[O_RELAY] = {"relay", K_URL, CFG(relay_url), 0, 0, NULL, "URL",
		     "the relay (also a first argument, or --relay URL)"},
	[O_CLIENT] = {"client", K_NAME, CFG(client), 0, 0, NULL, "NAME",
		      "this machine's name (default: the host name)"},
	[O_PULLERS] = {"pullers", K_UINT, CFG(pullers), 1, UINT_MAX, "1", "N",
		       "delete content once N clients have it"},
	[O_LOCK_TIMEOUT] = {"lock_timeout", K_UINT, CFG(lock_timeout), 1,
			    UINT_MAX, "259200", "SECONDS",
			    "a lock older than this is stale"},
	[O_LOCK_WAIT] = {"lock_wait", K_UINT, CFG(lock_wait), 0, UINT_MAX, "30",
			 "SECONDS", "how long open and close wait for a "
				    "foreign lock before EBUSY"},
	[O_CACHE_DIR] = {"cache_dir", K_PATH, CFG(cache_dir), 0, 0, NULL,
			 "PATH",
			 "block cache, staging and journal (default:"
			 " $XDG_CACHE_HOME/relayfs/<hash of relay, client>)"},
	[O_CACHE_SIZE] = {"cache_size", K_SIZE, CFG(cache_size), 0, UINT64_MAX,
			  "1G", "SIZE", "largest size of the block cache"},
	[O_BLOCK_SIZE] = {"block_size", K_BLOCK, CFG(block_size), 4 * KIB,
			  64 * MIB, "4M", "SIZE",
			  "cache block, a power of two from 4K to 64M"},
	[O_DIR_CACHE] = {"dir_cache", K_UINT, CFG(dir_cache), 0, UINT_MAX, "10",
			 "SECONDS", "how long a listing stays fresh"},
	[O_CHECKSUM] = {"checksum", K_CHECKSUM, CFG(checksum), 0, 0, "sha512",
			"ALGO", "sha512, sha256 or none"},
	[O_TRANSFERS] = {"transfers", K_UINT, CFG(transfers), 1, 64, "4", "N",
			 "parallel requests, 1 to 64"},
	[O_TIMEOUT] = {"timeout", K_UINT, CFG(timeout), 1, 86400, "30",
		       "SECONDS", "a request that moves no data this long "
				  "fails (connecting: at most 10 s)"},
	[O_CACERT] = {"cacert", K_FILE, CFG(cacert), 0, 0, NULL, "FILE",
		      "CA certificates to verify TLS servers with"},
	[O_INSECURE] = {"insecure", K_BOOL, CFG(insecure), 0, 0, "false", NULL,
			"do not verify TLS certificates"},
	[O_ADVISORY_LOCKS] = {"advisory_locks", K_BOOL, CFG(advisory_locks), 0,
			      0, "false", NULL,
			      "mount for writing on a server that has no "
			      "exclusive step (unsafe with concurrent "
			      "writers)"},
	[O_IDENTITY] = {"identity", K_FILE, CFG(identity), 0, 0, NULL, "FILE",
			"SSH private key for sftp://"},
	[O_KNOWN_HOSTS] = {"known_hosts", K_FILE, CFG(known_hosts), 0, 0, NULL,
			   "FILE", "SSH host keys for sftp:// (default "
				   "~/.ssh/known_hosts)"},
	[O_USER] = {"user", K_TEXT, CFG(user), 0, 0, NULL, "NAME",
		    "user name on the relay server"},
	[O_PASSWORD_FILE] = {"password_file", K_SECRET, CFG(password_file), 0,
			     0, NULL, "FILE",
			     "its first line is the password; mode 600"},
	[O_ENDPOINT] = {"endpoint", K_TEXT, CFG(endpoint), 0, 0, NULL, "URL",
			"S3 endpoint"},
	[O_REGION] = {"region", K_TEXT, CFG(region), 0, 0, NULL, "NAME",
		      "S3 region"},
};

/* What fuse_opt_parse() fills in; value[] strings are malloc()ed by it. */
struct cmdline {
	char *value[N_OPTS];
	char *arg[2];		/* positional arguments */
	int nargs;
	bool foreground, debug, fsname, subtype, help, version;
	bool read_only;		/* -o ro (the last of ro and rw) */
	enum relayfs_parse_result stop;	/* why opt_proc() ended the parse */
};

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_INSECURE,
	KEY_ADVISORY_LOCKS,
};

#define VALUE(t, id) {t, offsetof(struct cmdline, value[id]), 0}

/* "--relay %s" also matches "--relay=URL" (giving "=URL"); the
 * "--relay=%s" after it then overwrites that with "URL". */
static const struct fuse_opt cmdline_opts[] = {
	VALUE("relay=%s", O_RELAY),
	VALUE("--relay %s", O_RELAY),
	VALUE("--relay=%s", O_RELAY),
	VALUE("client=%s", O_CLIENT),
	VALUE("pullers=%s", O_PULLERS),
	VALUE("lock_timeout=%s", O_LOCK_TIMEOUT),
	VALUE("lock_wait=%s", O_LOCK_WAIT),
	VALUE("cache_dir=%s", O_CACHE_DIR),
	VALUE("cache_size=%s", O_CACHE_SIZE),
	VALUE("block_size=%s", O_BLOCK_SIZE),
	VALUE("dir_cache=%s", O_DIR_CACHE),
	VALUE("checksum=%s", O_CHECKSUM),
	VALUE("transfers=%s", O_TRANSFERS),
	VALUE("timeout=%s", O_TIMEOUT),
	VALUE("cacert=%s", O_CACERT),
	VALUE("insecure=%s", O_INSECURE),
	VALUE("advisory_locks=%s", O_ADVISORY_LOCKS),
	VALUE("identity=%s", O_IDENTITY),
	VALUE("known_hosts=%s", O_KNOWN_HOSTS),
	VALUE("user=%s", O_USER),
	VALUE("password_file=%s", O_PASSWORD_FILE),
	VALUE("endpoint=%s", O_ENDPOINT),
	VALUE("region=%s", O_REGION),
	FUSE_OPT_KEY("insecure", KEY_INSECURE),
	FUSE_OPT_KEY("advisory_locks", KEY_ADVISORY_LOCKS),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_END
};

/* How a FUSE option's value is checked, as libfuse would scan it. */
enum fuse_value { FV_NONE, FV_UINT, FV_INT, FV_OCTAL, FV_SECONDS, FV_TEXT };

/* The -o options that fuse_main() of libfuse 3.14 accepts (helper.c,
 * fuse.c, mount.c); checked against fuse_new() by tests/unit. Options of
 * fuse_parse_conn_info_opts() (max_write, writeback_cache, ...) and the
 * fuse_config ones (use_ino, direct_io, ...) make fuse_new() fail. */
static const struct {
	const char *name;
	enum fuse_value value;
} fuse_options[] = {
	{"allow_other", FV_NONE},	{"allow_root", FV_NONE},
	{"auto_unmount", FV_NONE},	{"default_permissions", FV_NONE},
	{"blkdev", FV_NONE},		{"ro", FV_NONE},
	{"rw", FV_NONE},		{"sync", FV_NONE},
	{"async", FV_NONE},		{"atime", FV_NONE},
	{"noatime", FV_NONE},		{"dirsync", FV_NONE},
	{"kernel_cache", FV_NONE},	{"auto_cache", FV_NONE},
	{"noauto_cache", FV_NONE},	{"noforget", FV_NONE},
	{"no_rofd_flush", FV_NONE},	{"clone_fd", FV_NONE},
	{"fsname", FV_TEXT},		{"subtype", FV_TEXT},
	{"blksize", FV_UINT},		{"max_read", FV_UINT},
	{"umask", FV_OCTAL},		{"uid", FV_INT},
	{"gid", FV_INT},		{"entry_timeout", FV_SECONDS},
	{"negative_timeout", FV_SECONDS}, {"attr_timeout", FV_SECONDS},
	{"ac_attr_timeout", FV_SECONDS}, {"remember", FV_UINT},
	{"max_idle_threads", FV_UINT},	{"max_threads", FV_UINT},
	{"context", FV_TEXT},		{"fscontext", FV_TEXT},
	{"defcontext", FV_TEXT},	{"rootcontext", FV_TEXT},
};

/* Words of fstab and mount(8) that are not for the filesystem. "nonempty"
 * was a FUSE 2 option; FUSE 3 always allows it and refuses the word. */
static const char *const dropped_words[] = {
	"_netdev", "auto", "noauto", "user", "users", "nouser", "owner",
	"group", "nofail", "defaults", "exec", "noexec", "suid", "nosuid",
	"dev", "nodev", "nonempty",
};


/* Prints "relayfs: MESSAGE" as one line: control characters in it (from
 * file names, URLs or GLib messages) are shown escaped. */
static void G_GNUC_PRINTF(1, 0) vsay(const char *fmt, va_list ap)
{
	char *msg = g_strdup_vprintf(fmt, ap);
	GString *line = g_string_new("relayfs: ");

	for (const char *p = msg; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			g_string_append_printf(line, "\\x%02x", c);
		else
			g_string_append_c(line, *p);
	}
	fprintf(stderr, "%s\n", line->str);
	g_free(msg);
	g_string_free(line, TRUE);
}

static void G_GNUC_PRINTF(1, 2) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* fuse_opt_parse() reports its own errors through fuse_log(); keep the
 * first one to print it our way. Parsing happens once, before threads. */
static char fuse_message[256];

static void capture_log(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	if (fuse_message[0] == '\0')
		vsnprintf(fuse_message, sizeof(fuse_message), fmt, ap);
}

/* The URL without "user:password@", for fsname, cache_dir and messages. */
static char *strip_credentials(const char *url)
{
	const char *auth = strstr(url, "://");
	const char *end, *at;
	GString *s;

	if (auth == NULL)
		return g_strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = g_strrstr_len(auth, end - auth, "@");
	if (at == NULL)
		return g_strdup(url);
	s = g_string_new_len(url, auth - url);
	g_string_append(s, at + 1);
	return g_string_free(s, FALSE);
}

bool relayfs_parse_size(const char *text, uint64_t *out)
{
	static const char units[] = "KMGT";
	const char *p = text;
	const char *unit;
	uint64_t n = 0;
	unsigned shift = 0;

	if (p == NULL || !g_ascii_isdigit(*p))
		return false;
	for (; g_ascii_isdigit(*p); p++) {
		unsigned digit = *p - '0';

		if (n > (UINT64_MAX - digit) / 10)
			return false;
		n = n * 10 + digit;
	}
	unit = *p ? strchr(units, g_ascii_toupper(*p)) : NULL;
	if (unit != NULL) {
		shift = 10 * (unsigned)(unit - units + 1);
		p++;
		if (g_ascii_toupper(p[0]) == 'I' &&
		    g_ascii_toupper(p[1]) == 'B')
			p++;
	}
	if (g_ascii_toupper(*p) == 'B')
		p++;
	if (*p != '\0' || (shift && n > (UINT64_MAX >> shift)))
		return false;
	*out = n << shift;
	return true;
}

static bool valid_client(const char *name)
{
	size_t len = strlen(name);

	/* A line starting with one of -=+#% opens a section of a
	 * placeholder (PROTOCOL.md), so no name may start with one. */
	if (len == 0 || len > CLIENT_NAME_MAX || strchr(":-=+#%", name[0]) ||
	    g_ascii_isspace(name[0]) || g_ascii_isspace(name[len - 1]) ||
	    !g_utf8_validate(name, -1, NULL))
		return false;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/')
			return false;
	return true;
}

static bool has_control(const char *text)
{
	for (const char *p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

static void bad_value(const struct spec *s, const char *text,
		      const char *where)
{
	char *hint;

	switch (s->kind) {
	case K_UINT:
		if (s->max != UINT_MAX)
			hint = g_strdup_printf("a whole number from %" PRIu64
					       " to %" PRIu64, s->min, s->max);
		else if (s->min > 0)
			hint = g_strdup_printf("a whole number >= %" PRIu64,
					       s->min);
		else
			hint = g_strdup("a whole number");
		break;
	case K_SIZE:
		hint = g_strdup("a size such as 512M or 1G");
		break;
	case K_BLOCK:
		hint = g_strdup("a power of two from 4K to 64M, such as 4M");
		break;
	case K_CHECKSUM:
		hint = g_strdup("sha512, sha256 or none");
		break;
	case K_BOOL:
		hint = g_strdup("true or false");
		break;
	case K_NAME:
		hint = g_strdup("at most 255 bytes, no '/' or control "
				"characters, not starting with a space or one "
				"of :-=+#%, not ending with a space");
		break;
	case K_TEXT:
		hint = g_strdup("not empty, no control characters");
		break;
	default:
		hint = g_strdup("a file name");
		break;
	}
	say("%sbad value for %s: '%s' (%s)", where, s->name, text, hint);
	g_free(hint);
}

static int set_uint(const struct spec *s, const char *text,
		    const char *where, unsigned *field)
{
	guint64 value;

	if (!g_ascii_string_to_unsigned(text, 10, s->min, s->max, &value,
					NULL)) {
		bad_value(s, text, where);
		return -1;
	}
	*field = (unsigned)value;
	return 0;
}

static int set_size(const struct spec *s, const char *text,
		    const char *where, uint64_t *field)
{
	uint64_t value;

	if (!relayfs_parse_size(text, &value) || value < s->min ||
	    value > s->max ||
	    (s->kind == K_BLOCK && (value & (value - 1)) != 0)) {
		bad_value(s, text, where);
		return -1;
	}
	*field = value;
	return 0;
}

static int set_checksum(const struct spec *s, const char *text,
			const char *where, enum cache_hash *field)
{
	static const char *const names[] = {
		[CACHE_HASH_SHA512] = "sha512",
		[CACHE_HASH_SHA256] = "sha256",
		[CACHE_HASH_NONE] = "none",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (g_ascii_strcasecmp(text, names[i]) == 0) {
			*field = (enum cache_hash)i;
			return 0;
		}
	}
	bad_value(s, text, where);
	return -1;
}

static int set_bool(const struct spec *s, const char *text,
		    const char *where, bool *field)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0) {
		*field = true;
	} else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) {
		*field = false;
	} else {
		bad_value(s, text, where);
		return -1;
	}
	return 0;
}

static int set_text(const struct spec *s, const char *text,
		    const char *where, char **field)
{
	bool ok = s->kind == K_NAME ? valid_client(text)
				    : text[0] != '\0' && !has_control(text);

	if (!ok) {
		bad_value(s, text, where);
		return -1;
	}
	g_free(*field);
	*field = g_strdup(text);
	return 0;
}

/* "~/x" -> "$HOME/x"; anything else unchanged. */
static char *expand_home(const char *text)
{
	if (text[0] == '~' && (text[1] == '/' || text[1] == '\0'))
		return g_build_filename(g_get_home_dir(), text + 1, NULL);
	return g_strdup(text);
}

/* Absolute, since the daemon's working directory becomes "/". */
static char *absolute_path(const char *text)
{
	char *home = expand_home(text);
	char *path = g_canonicalize_filename(home, NULL);

	g_free(home);
	return path;
}

/* 0 if path is a regular file we can read, else a negative errno. */
static int readable_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return access(path, R_OK) == 0 ? 0 : -errno;
}

static int set_path(const struct spec *s, const char *text,
		    const char *where, char **field)
{
	char *path;
	int err;

	if (text[0] == '\0') {
		bad_value(s, text, where);
		return -1;
	}
	path = absolute_path(text);
	err = s->kind == K_PATH ? 0 : readable_file(path);
	if (err != 0) {
		say("%s%s %s: %s", where, s->name, text,
		    err == -EINVAL ? "not a regular file" : g_strerror(-err));
		g_free(path);
		return -1;
	}
	g_free(*field);
	*field = path;
	return 0;
}

/* Reads the first line of an open password file into *password. */
static int read_first_line(int fd, size_t size, const char *shown,
			   const char *where, char **password)
{
	char *buf = g_malloc0(size + 1);
	size_t got = 0, len;
	ssize_t n = 0;

	while (got < size) {
		n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	len = strcspn(buf, "\n");
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (n < 0)
		say("%spassword_file %s: %s", where, shown, g_strerror(errno));
	else if (len == 0)
		say("%spassword_file %s: its first line is empty", where,
		    shown);
	else
		*password = g_strndup(buf, len);
	explicit_bzero(buf, size);
	g_free(buf);
	return *password ? 0 : -1;
}

/* password_file must be a regular file that only its owner may read or
 * write; its first line, without the newline, is the password. */
static int set_secret(const struct spec *s, const char *text,
		      const char *where, struct relayfs_config *cfg)
{
	struct stat st;
	int fd, rc = -1;

	if (set_path(s, text, where, &cfg->password_file) != 0)
		return -1;
	/* O_NONBLOCK: should it have become a FIFO since set_path() */
	fd = open(cfg->password_file,
		  O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) != 0)
		say("%spassword_file %s: %s", where, text, g_strerror(errno));
	else if (!S_ISREG(st.st_mode))
		say("%spassword_file %s: not a regular file", where, text);
	else if (st.st_mode & 077)
		say("%spassword_file %s is %s by others (mode %04o); "
		    "chmod 600 it", where, text,
		    st.st_mode & 044 ? "readable" : "writable",
		    (unsigned)(st.st_mode & 07777));
	else if (st.st_size > PASSWORD_FILE_MAX)
		say("%spassword_file %s: too large for a password file", where,
		    text);
	else
		rc = read_first_line(fd, (size_t)st.st_size, text, where,
				     &cfg->password);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int apply(const struct spec *s, const char *text, const char *where,
		 struct relayfs_config *cfg)
{
	void *field = (char *)cfg + s->field;

	switch (s->kind) {
	case K_UINT:
		return set_uint(s, text, where, field);
	case K_SIZE:
	case K_BLOCK:
		return set_size(s, text, where, field);
	case K_CHECKSUM:
		return set_checksum(s, text, where, field);
	case K_BOOL:
		return set_bool(s, text, where, field);
	case K_NAME:
	case K_TEXT:
		return set_text(s, text, where, field);
	case K_PATH:
	case K_FILE:
		return set_path(s, text, where, field);
	case K_SECRET:
		return set_secret(s, text, where, cfg);
	case K_URL:
		break;
	}
	return 0;
}

/* What is wrong with a remote relay URL's form, or NULL; the server is
 * not contacted. The result may point into *error. */
static const char *url_problem(const char *text, GError **error)
{
	char *scheme = g_uri_parse_scheme(text);
	const char *why = NULL;
	const char *host;
	GUri *uri;
	static char *unknown;	/* made once: options are parsed once */
	bool known, s3;

	if (scheme == NULL)
		return "neither an absolute path nor a URL";
	known = backend_scheme_known(scheme);
	s3 = g_ascii_strcasecmp(scheme, "s3") == 0;
	g_free(scheme);
	if (!known) {
		if (!unknown) {
			char *list = backend_schemes_text();

			unknown = g_strdup_printf("unknown scheme (%s)", list);
			g_free(list);
		}
		return unknown;
	}
	uri = g_uri_parse(text, G_URI_FLAGS_NONE, error);
	if (uri == NULL)
		return (*error)->message;	/* quotes at most host, port */
	host = g_uri_get_host(uri);
	if (host == NULL || host[0] == '\0')
		why = s3 ? "no bucket" : "no host";
	else if (g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri))
		why = "a query or fragment is not supported";
	g_uri_unref(uri);
	return why;
}

static int check_url(const char *text, const char *where)
{
	GError *error = NULL;
	const char *why = url_problem(text, &error);
	char *shown;

	if (why != NULL) {
		shown = strip_credentials(text);
		say("%sbad relay URL '%s': %s", where, shown, why);
		g_free(shown);
	}
	g_clear_error(&error);
	return why != NULL ? -1 : 0;
}

/* file:///p -> "/p" (percent-decoded), or NULL after a message. */
static char *file_url_path(const char *text, const char *where)
{
	GError *error = NULL;
	char *host = NULL;
	char *path = g_filename_from_uri(text, &host, &error);

	if (path == NULL) {
		say("%sbad relay URL '%s': %s", where, text, error->message);
		g_error_free(error);
	} else if (host != NULL && g_ascii_strcasecmp(host, "localhost") != 0) {
		say("%sbad relay URL '%s': a file URL names no host, as in "
		    "file:///path", where, text);
		g_clear_pointer(&path, g_free);
	}
	g_free(host);
	return path;
}

static int check_relay_dir(const char *path, const char *where)
{
	struct stat st;
	int err = 0;

	if (stat(path, &st) != 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	else if (access(path, R_OK | X_OK) != 0)
		err = errno;
	if (err != 0)
		say("%srelay directory %s: %s", where, path, g_strerror(err));
	return err != 0 ? -1 : 0;
}

/* Sets cfg->relay_url from text: a URL as given, a local directory as
 * its path (file:///p becomes /p, ~/ is expanded). The default directory
 * is created first. */
static int set_relay(const char *text, const char *where, bool is_default,
		     struct relayfs_config *cfg)
{
	char *path;

	if (text[0] == '/' || text[0] == '~') {
		path = expand_home(text);
	} else if (g_ascii_strncasecmp(text, "file:", 5) == 0) {
		path = file_url_path(text, where);
		if (path == NULL)
			return -1;
	} else {
		if (check_url(text, where) != 0)
			return -1;
		cfg->relay_url = g_strdup(text);
		return 0;
	}
	if (path[0] != '/') {
		say("%sbad relay URL '%s': a relative path", where, text);
		g_free(path);
		return -1;
	}
	if (is_default && g_mkdir_with_parents(path, 0700) != 0) {
		say("relay directory %s: %s", path, g_strerror(errno));
		g_free(path);
		return -1;
	}
	cfg->relay_url = path;
	return check_relay_dir(path, where);
}

static int set_mountpoint(const char *text, struct relayfs_config *cfg)
{
	char *real = realpath(text, NULL);
	struct stat st;
	int err = 0;

	if (real == NULL)
		err = errno;
	else if (stat(real, &st) != 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	if (err != 0)
		say("mountpoint %s: %s", text, g_strerror(err));
	else
		cfg->mountpoint = g_strdup(real);
	free(real);
	return err != 0 ? -1 : 0;
}

/* path is dir or below it. */
static bool is_inside(const char *path, const char *dir)
{
	size_t len = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, len) == 0 &&
	       (path[len] == '\0' || path[len] == '/');
}

/* The daemon must never reach its relay or cache through its own mount:
 * that would deadlock, or show the mount inside itself. And the cache
 * must hold at least one block. */
static int check_consistency(const struct relayfs_config *cfg)
{
	const char *mnt = cfg->mountpoint;
	char *relay = NULL;
	int rc = -1;

	if (cfg->relay_url[0] == '/')
		relay = realpath(cfg->relay_url, NULL);
	if (relay != NULL && is_inside(relay, mnt))
		say("relay directory %s is %s the mountpoint %s",
		    cfg->relay_url, strcmp(relay, mnt) ? "inside" : "also",
		    mnt);
	else if (relay != NULL && is_inside(mnt, relay))
		say("mountpoint %s is inside the relay directory %s", mnt,
		    cfg->relay_url);
	else if (is_inside(cfg->cache_dir, mnt))
		say("cache_dir %s is inside the mountpoint %s", cfg->cache_dir,
		    mnt);
	else if (cfg->cache_size < cfg->block_size)
		say("cache_size %" G_GUINT64_FORMAT " is smaller than "
		    "block_size %" G_GUINT64_FORMAT, cfg->cache_size,
		    cfg->block_size);
	else
		rc = 0;
	free(relay);
	return rc;
}

/* $XDG_CACHE_HOME/relayfs/<16 hex digits>: one per relay and client, so
 * that two mounts of one relay as two clients do not share a journal. */
static char *default_cache_dir(const struct relayfs_config *cfg)
{
	char *url = strip_credentials(cfg->relay_url);
	char *key = g_strconcat(url, "\n", cfg->client, NULL);
	char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, key, -1);
	char *dir;

	hex[16] = '\0';
	dir = g_build_filename(g_get_user_cache_dir(), "relayfs", hex, NULL);
	g_free(hex);
	g_free(key);
	g_free(url);
	return dir;
}

static char *config_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "relayfs",
				"relayfs.conf", NULL);
}

static char *default_relay(void)
{
	return g_build_filename(g_get_user_data_dir(), "relayfs", "relay",
				NULL);
}

static int find_spec(const char *name, size_t len)
{
	for (int id = 0; id < N_OPTS; id++)
		if (strlen(specs[id].name) == len &&
		    strncmp(specs[id].name, name, len) == 0)
			return id;
	return -1;
}

/* Reads the keys of [relay] into conf[] (g_free()d strings). */
static int read_keys(GKeyFile *kf, const char *path, char **conf)
{
	char **keys = g_key_file_get_keys(kf, "relay", NULL, NULL);
	int rc = 0;

	for (char **k = keys; k != NULL && *k != NULL && rc == 0; k++) {
		int id = find_spec(*k, strlen(*k));
		GError *error = NULL;
		char *value;

		if (id < 0) {
			say("%s: unknown key '%s' in [relay]", path, *k);
			rc = -1;
			continue;
		}
		/* on a bad escape it sets error and still returns a value */
		value = g_key_file_get_string(kf, "relay", *k, &error);
		if (error != NULL) {
			say("%s: bad value for %s: %s", path, *k,
			    error->message);
			g_error_free(error);
			g_free(value);
			rc = -1;
			continue;
		}
		g_free(conf[id]);
		conf[id] = g_strchomp(value);
	}
	g_strfreev(keys);
	return rc;
}

/* Reads the config file's [relay] group into conf[]. A missing file is
 * fine; any other group is refused, as a likely typo. */
static int load_config(const char *path, char **conf)
{
	GKeyFile *kf = g_key_file_new();
	GError *error = NULL;
	char **groups = NULL;
	int rc = -1;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
		if (g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			rc = 0;
		else
			say("%s: %s", path, error->message);
		goto out;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g != NULL; g++) {
		if (strcmp(*g, "relay") != 0) {
			say("%s: unknown group [%s] (only [relay] is read)",
			    path, *g);
			goto out;
		}
	}
	rc = read_keys(kf, path, conf);
out:
	g_strfreev(groups);
	g_clear_error(&error);
	g_key_file_free(kf);
	return rc;
}

/* Prints a message and ends fuse_opt_parse() with result why. */
static int G_GNUC_PRINTF(3, 4) stop(struct cmdline *cl,
				    enum relayfs_parse_result why,
				    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	cl->stop = why;
	return -1;
}

/* Also "", as in "-o rw,,ro". */
static bool is_dropped(const char *opt)
{
	if (opt[0] == '\0' || g_str_has_prefix(opt, "x-") ||
	    g_str_has_prefix(opt, "comment="))
		return true;
	for (size_t i = 0; i < G_N_ELEMENTS(dropped_words); i++)
		if (strcmp(opt, dropped_words[i]) == 0)
			return true;
	return false;
}

static bool fuse_value_ok(enum fuse_value kind, const char *text)
{
	guint64 u;
	gint64 i;
	char *end;
	double d;

	switch (kind) {
	case FV_UINT:
		return g_ascii_string_to_unsigned(text, 10, 0, UINT_MAX, &u,
						  NULL);
	case FV_INT:
		return g_ascii_string_to_signed(text, 10, 0, INT_MAX, &i, NULL);
	case FV_OCTAL:
		return g_ascii_string_to_unsigned(text, 8, 0, 0777, &u, NULL);
	case FV_SECONDS:
		if (!g_ascii_isdigit(text[0]) && text[0] != '.')
			return false;
		d = g_ascii_strtod(text, &end);
		return *end == '\0' && d >= 0 && d < 1e9;
	case FV_TEXT:
		return true;
	case FV_NONE:
		break;
	}
	return false;
}

/* A standard FUSE option: checked the way libfuse will scan it, so that
 * a bad one fails here with one line rather than at mount time. */
static int fuse_option(struct cmdline *cl, size_t i, const char *arg,
		       size_t len)
{
	static const char *const hints[] = {
		[FV_UINT] = "a whole number",
		[FV_INT] = "a whole number",
		[FV_OCTAL] = "an octal mode such as 022",
		[FV_SECONDS] = "seconds, such as 1.5",
		[FV_TEXT] = "text",
	};
	enum fuse_value kind = fuse_options[i].value;
	const char *name = fuse_options[i].name;

	if (kind == FV_NONE && arg[len] == '=')
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "option '%s' takes no value", name);
	if (kind != FV_NONE && arg[len] != '=')
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "option '%s' needs a value (%s=...)", name, name);
	if (kind != FV_NONE && !fuse_value_ok(kind, arg + len + 1))
		return stop(cl, RELAYFS_PARSE_ERROR,
			    "bad value for %s: '%s' (%s)", name, arg + len + 1,
			    hints[kind]);
	cl->fsname |= strcmp(name, "fsname") == 0;
	cl->subtype |= strcmp(name, "subtype") == 0;
	return 1;
}

/* An -o option or a dash argument that none of cmdline_opts matched. */
static int other_option(struct cmdline *cl, const char *arg)
{
	size_t len = strcspn(arg, "=");
	int id;

	if (arg[0] == '-')
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "unknown option '%s' (relayfs --help)", arg);
	if (is_dropped(arg))
		return 0;
	if (strcmp(arg, "ro") == 0 || strcmp(arg, "rw") == 0)
		cl->read_only = arg[1] == 'o';
	for (size_t i = 0; i < G_N_ELEMENTS(fuse_options); i++)
		if (strlen(fuse_options[i].name) == len &&
		    strncmp(fuse_options[i].name, arg, len) == 0)
			return fuse_option(cl, i, arg, len);
	id = find_spec(arg, len);
	if (id >= 0 && arg[len] == '\0')
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "option '%s' needs a value (%s=%s)", arg, arg,
			    specs[id].meta);
	return stop(cl, RELAYFS_PARSE_USAGE,
		    "unknown option '%s' (relayfs --help)", arg);
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct cmdline *cl = data;

	switch (key) {
	case KEY_HELP:
	case KEY_VERSION:
		cl->help = key == KEY_HELP;
		cl->version = key == KEY_VERSION;
		cl->stop = RELAYFS_PARSE_EXIT_OK;
		return -1;
	case KEY_FOREGROUND:
		cl->foreground = true;
		return 1;
	case KEY_DEBUG:
		cl->debug = cl->foreground = true;
		return 1;
	case KEY_INSECURE:
	case KEY_ADVISORY_LOCKS: {
		int id = key == KEY_INSECURE ? O_INSECURE : O_ADVISORY_LOCKS;

		free(cl->value[id]);
		cl->value[id] = strdup("true");
		return 0;
	}
	case FUSE_OPT_KEY_NONOPT:
		if (cl->nargs == 2)
			return stop(cl, RELAYFS_PARSE_USAGE,
				    "unexpected argument '%s' (relayfs --help)",
				    arg);
		cl->arg[cl->nargs++] = g_strdup(arg);
		return 0;
	default:
		return other_option(cl, arg);
	}
}

static void print_fuse_options(void)
{
	GString *line = g_string_new("   ");

	for (size_t i = 0; i < G_N_ELEMENTS(fuse_options); i++) {
		const char *name = fuse_options[i].name;
		const char *eq = fuse_options[i].value == FV_NONE ? "" : "=";
		bool last = i + 1 == G_N_ELEMENTS(fuse_options);

		if (line->len + strlen(name) + 3 > 78) {
			printf("%s\n", line->str);
			g_string_assign(line, "   ");
		}
		g_string_append_printf(line, " %s%s%s", name, eq,
				       last ? "" : ",");
	}
	printf("%s\n", line->str);
	g_string_free(line, TRUE);
}

/* "    -o name=META   help (default x)", the text wrapped at 79 columns. */
static void print_spec(const struct spec *s)
{
	char *opt = s->meta ? g_strdup_printf("%s=%s", s->name, s->meta)
			    : g_strdup(s->name);
	char *text = s->def ? g_strdup_printf("%s (default %s)", s->help,
					      s->def)
			    : g_strdup(s->help);
	const char *p = text;
	const int indent = 29, width = 79 - indent;

	printf("    -o %-21s ", opt);
	while ((int)strlen(p) > width) {
		int cut = width;

		while (cut > 0 && p[cut] != ' ')
			cut--;
		if (cut == 0)
			break;
		printf("%.*s\n%*s", cut, p, indent, "");
		p += cut + 1;
	}
	printf("%s\n", p);
	g_free(text);
	g_free(opt);
}

static void print_help(void)
{
	char *conf = config_path();
	char *relay = default_relay();

	printf("usage: relayfs [options] [--relay URL] MOUNTPOINT\n"
	       "       relayfs [options] RELAY_URL MOUNTPOINT\n"
	       "\n"
	       "Shows a relay, a folder that several machines share, as a "
	       "directory.\n"
	       "RELAY_URL: /path, file:///path, webdav[s]://host[:port]/path "
	       "(or http[s]://),\n"
	       "ftp[s]://[user@]host[:port]/path or "
	       "sftp://[user@]host[:port]/path. Without one:\n"
	       "relay= of the config file, else %s.\n"
	       "Config file: %s\n"
	       "(group [relay], keys named like the -o options; the command "
	       "line wins).\n"
	       "\n"
	       "general options:\n"
	       "    -h, --help             print this help and exit\n"
	       "    -V, --version          print the version and exit\n"
	       "    -f                     stay in the foreground\n"
	       "    -d, -o debug           print debugging output "
	       "(implies -f)\n"
	       "    -s                     run single-threaded\n"
	       "    --relay URL            the relay (same as -o relay=URL)\n"
	       "\n"
	       "relayfs options:\n",
	       relay, conf);
	for (int id = 0; id < N_OPTS; id++)
		print_spec(&specs[id]);
	printf("\nFUSE options (see mount.fuse3(8)):\n");
	print_fuse_options();
	printf("fstab words (_netdev, auto, noauto, nofail, user, users, "
	       "defaults, x-*, ...)\nare ignored.\n");
	g_free(relay);
	g_free(conf);
}

static void print_version(void)
{
	printf("relayfs %s\nlibfuse %s\n", RELAYFS_VERSION, fuse_pkgversion());
}

/* Runs fuse_opt_parse() over argv into cl and args; handles --help,
 * --version and the positional count. */
static enum relayfs_parse_result parse_cmdline(int argc, char **argv,
					       struct cmdline *cl,
					       struct fuse_args *args)
{
	static char name[] = "relayfs";
	char *fallback[] = {name, NULL};
	struct fuse_args in = FUSE_ARGS_INIT(argc, argv);
	int rc;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		in = (struct fuse_args)FUSE_ARGS_INIT(1, fallback);
	fuse_message[0] = '\0';
	fuse_set_log_func(capture_log);
	rc = fuse_opt_parse(&in, cl, cmdline_opts, opt_proc);
	fuse_set_log_func(NULL);
	if (rc == 0) {
		*args = in;
	} else if (cl->help) {
		print_help();
	} else if (cl->version) {
		print_version();
	} else if (cl->stop == RELAYFS_PARSE_OK) {
		char *msg = g_strstrip(fuse_message);

		if (g_str_has_prefix(msg, "fuse: "))
			msg += strlen("fuse: ");
		say("%s (relayfs --help)", msg[0] ? msg : "bad command line");
		cl->stop = RELAYFS_PARSE_USAGE;
	}
	if (rc != 0)
		return cl->stop;
	/* "relayfs URL" alone: the URL is no mountpoint */
	if (cl->nargs == 0 || (cl->nargs == 1 && strstr(cl->arg[0], "://"))) {
		say("missing mountpoint (relayfs --help)");
		return RELAYFS_PARSE_USAGE;
	}
	return RELAYFS_PARSE_OK;
}

/* The text of option id: command line, else config file (*where becomes
 * "CONFIGPATH: " for messages), else the default. */
static const char *pick(const struct cmdline *cl, char **conf, int id,
			const char *conf_where, const char **where)
{
	*where = "";
	if (cl->value[id] != NULL)
		return cl->value[id];
	if (conf[id] != NULL) {
		*where = conf_where;
		return conf[id];
	}
	if (id == O_CLIENT)
		return g_get_host_name();
	return specs[id].def;
}

static int resolve(const struct cmdline *cl, char **conf,
		   const char *conf_path, struct relayfs_config *cfg)
{
	char *conf_where = g_strdup_printf("%s: ", conf_path);
	char *relay = NULL;
	const char *text, *where;
	int rc = 0;

	for (int id = 0; id < N_OPTS && rc == 0; id++) {
		text = pick(cl, conf, id, conf_where, &where);
		if (id != O_RELAY && text != NULL)
			rc = apply(&specs[id], text, where, cfg);
	}
	if (rc == 0 && cl->nargs == 2) {
		rc = set_relay(cl->arg[0], "", false, cfg);
	} else if (rc == 0) {
		text = pick(cl, conf, O_RELAY, conf_where, &where);
		if (text == NULL)
			text = relay = default_relay();
		rc = set_relay(text, where, relay != NULL, cfg);
	}
	if (rc == 0)
		rc = set_mountpoint(cl->arg[cl->nargs - 1], cfg);
	if (rc == 0 && cfg->cache_dir == NULL)
		cfg->cache_dir = default_cache_dir(cfg);
	if (rc == 0)
		rc = check_consistency(cfg);
	g_free(relay);
	g_free(conf_where);
	return rc;
}

/* Appends -o fsname=relayfs:URL (without credentials), -o subtype=relayfs
 * (unless the user gave either) and the mountpoint. */
static int finish_args(const struct cmdline *cl,
		       const struct relayfs_config *cfg, struct fuse_args *args)
{
	char *url = strip_credentials(cfg->relay_url);
	char *fsname = g_strconcat("fsname=relayfs:", url, NULL);
	char *escaped = NULL;
	int rc = 0;

	if (!cl->fsname && (fuse_opt_add_opt_escaped(&escaped, fsname) != 0 ||
			    fuse_opt_add_arg(args, "-o") != 0 ||
			    fuse_opt_add_arg(args, escaped) != 0))
		rc = -1;
	if (rc == 0 && !cl->subtype &&
	    (fuse_opt_add_arg(args, "-o") != 0 ||
	     fuse_opt_add_arg(args, "subtype=relayfs") != 0))
		rc = -1;
	if (rc == 0 && fuse_opt_add_arg(args, cfg->mountpoint) != 0)
		rc = -1;
	if (rc != 0)
		say("out of memory");
	free(escaped);
	g_free(fsname);
	g_free(url);
	return rc;
}

enum relayfs_parse_result relayfs_options_parse(int argc, char **argv,
						struct relayfs_config *cfg,
						struct fuse_args *args)
{
	struct cmdline cl = {0};
	char *conf[N_OPTS] = {0};
	char *path = NULL;
	enum relayfs_parse_result res;

	memset(cfg, 0, sizeof(*cfg));
	*args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	res = parse_cmdline(argc, argv, &cl, args);
	if (res == RELAYFS_PARSE_OK) {
		path = config_path();
		if (load_config(path, conf) != 0 ||
		    resolve(&cl, conf, path, cfg) != 0 ||
		    finish_args(&cl, cfg, args) != 0)
			res = RELAYFS_PARSE_ERROR;
	}
	cfg->foreground = cl.foreground;
	cfg->debug = cl.debug;
	cfg->read_only = cl.read_only;
	if (res != RELAYFS_PARSE_OK) {
		relayfs_config_clear(cfg);
		fuse_opt_free_args(args);
	}
	for (int id = 0; id < N_OPTS; id++) {
		free(cl.value[id]);
		g_free(conf[id]);
	}
	g_free(cl.arg[0]);
	g_free(cl.arg[1]);
	g_free(path);
	return res;
}

void relayfs_config_clear(struct relayfs_config *cfg)
{
	if (cfg->password != NULL)
		explicit_bzero(cfg->password, strlen(cfg->password));
	g_free(cfg->relay_url);
	g_free(cfg->mountpoint);
	g_free(cfg->client);
	g_free(cfg->cache_dir);
	g_free(cfg->cacert);
	g_free(cfg->identity);
	g_free(cfg->known_hosts);
	g_free(cfg->user);
	g_free(cfg->password_file);
	g_free(cfg->password);
	g_free(cfg->endpoint);
	g_free(cfg->region);
	memset(cfg, 0, sizeof(*cfg));
}
