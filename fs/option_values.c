/* Each kind of option value checked and stored into struct relayfs_config
 * (sizes, names, paths, the password file, the relay URL, the mountpoint). */
#include "fs/options_private.h"
#include "relay/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASSWORD_FILE_MAX 4096
#define CLIENT_NAME_MAX 255

/* Prints "relayfs: MESSAGE" as one line: control characters in it (from
 * file names, URLs or GLib messages) are shown escaped. */
void option_vsay(const char *fmt, va_list ap)
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

void option_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	option_vsay(fmt, ap);
	va_end(ap);
}

/* The URL without "user:password@", for fsname, cache_dir and messages. */
char *option_strip_credentials(const char *url)
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
	case K_MSECS:
		hint = g_strdup_printf("seconds from %" PRIu64 " to %" PRIu64
				       ", with at most 3 decimals, such as "
				       "0.5", s->min / 1000, s->max / 1000);
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
	option_say("%sbad value for %s: '%s' (%s)", where, s->name, text, hint);
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

/* "2", "0.5" or "1.250" seconds, as milliseconds; no sign, exponent or
 * more than 3 decimals, so that no rounding happens. */
static bool parse_msecs(const char *text, guint64 *ms)
{
	const char *dot = strchr(text, '.');
	g_autofree char *whole = g_strndup(text, dot ? (gsize)(dot - text)
						     : strlen(text));
	guint64 secs, frac = 0;
	size_t decimals = dot ? strlen(dot + 1) : 0;

	if (!g_ascii_string_to_unsigned(whole, 10, 0, G_MAXUINT32, &secs,
					NULL))
		return false;
	if (dot && (decimals < 1 || decimals > 3 ||
		    !g_ascii_isdigit(dot[1]) ||
		    !g_ascii_string_to_unsigned(dot + 1, 10, 0, 999, &frac,
						NULL)))
		return false;
	for (size_t i = decimals; i < 3; i++)
		frac *= 10;
	*ms = secs * 1000 + frac;
	return true;
}

static int set_msecs(const struct spec *s, const char *text,
		     const char *where, unsigned *field)
{
	guint64 value;

	if (!parse_msecs(text, &value) || value < s->min || value > s->max) {
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
		option_say("%s%s %s: %s", where, s->name, text,
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
		option_say("%spassword_file %s: %s", where, shown, g_strerror(errno));
	else if (len == 0)
		option_say("%spassword_file %s: its first line is empty", where,
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
		option_say("%spassword_file %s: %s", where, text, g_strerror(errno));
	else if (!S_ISREG(st.st_mode))
		option_say("%spassword_file %s: not a regular file", where, text);
	else if (st.st_mode & 077)
		option_say("%spassword_file %s is %s by others (mode %04o); "
		    "chmod 600 it", where, text,
		    st.st_mode & 044 ? "readable" : "writable",
		    (unsigned)(st.st_mode & 07777));
	else if (st.st_size > PASSWORD_FILE_MAX)
		option_say("%spassword_file %s: too large for a password file", where,
		    text);
	else
		rc = read_first_line(fd, (size_t)st.st_size, text, where,
				     &cfg->password);
	if (fd >= 0)
		close(fd);
	return rc;
}

int option_apply(const struct spec *s, const char *text, const char *where,
		 struct relayfs_config *cfg)
{
	void *field = (char *)cfg + s->field;

	switch (s->kind) {
	case K_UINT:
		return set_uint(s, text, where, field);
	case K_MSECS:
		return set_msecs(s, text, where, field);
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
	case K_MOUNT:
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
		shown = option_strip_credentials(text);
		option_say("%sbad relay URL '%s': %s", where, shown, why);
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
		option_say("%sbad relay URL '%s': %s", where, text, error->message);
		g_error_free(error);
	} else if (host != NULL && g_ascii_strcasecmp(host, "localhost") != 0) {
		option_say("%sbad relay URL '%s': a file URL names no host, as in "
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
		option_say("%srelay directory %s: %s", where, path, g_strerror(err));
	return err != 0 ? -1 : 0;
}

/* Sets cfg->relay_url from text: a URL as given, a local directory as
 * its path (file:///p becomes /p, ~/ is expanded). The default directory
 * is created first. */
int option_set_relay(const char *text, const char *where, bool is_default,
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
		option_say("%sbad relay URL '%s': a relative path", where, text);
		g_free(path);
		return -1;
	}
	if (is_default && g_mkdir_with_parents(path, 0700) != 0) {
		option_say("relay directory %s: %s", path, g_strerror(errno));
		g_free(path);
		return -1;
	}
	cfg->relay_url = path;
	return check_relay_dir(path, where);
}

int option_set_mountpoint(const char *text, const char *where,
			  struct relayfs_config *cfg)
{
	char *path = expand_home(text);
	char *real = realpath(path, NULL);
	struct stat st;
	int err = 0;

	if (real == NULL)
		err = errno;
	else if (stat(real, &st) != 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	if (err != 0)
		option_say("%smountpoint %s: %s", where, text, g_strerror(err));
	else
		cfg->mountpoint = g_strdup(real);
	free(real);
	g_free(path);
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
int option_check_consistency(const struct relayfs_config *cfg)
{
	const char *mnt = cfg->mountpoint;
	char *relay = NULL;
	int rc = -1;

	if (cfg->relay_url[0] == '/')
		relay = realpath(cfg->relay_url, NULL);
	if (relay != NULL && is_inside(relay, mnt))
		option_say("relay directory %s is %s the mountpoint %s",
		    cfg->relay_url, strcmp(relay, mnt) ? "inside" : "also",
		    mnt);
	else if (relay != NULL && is_inside(mnt, relay))
		option_say("mountpoint %s is inside the relay directory %s", mnt,
		    cfg->relay_url);
	else if (is_inside(cfg->cache_dir, mnt))
		option_say("cache_dir %s is inside the mountpoint %s", cfg->cache_dir,
		    mnt);
	else if (cfg->cache_size < cfg->block_size)
		option_say("cache_size %" G_GUINT64_FORMAT " is smaller than "
		    "block_size %" G_GUINT64_FORMAT, cfg->cache_size,
		    cfg->block_size);
	else
		rc = 0;
	free(relay);
	return rc;
}

/* $XDG_CACHE_HOME/relayfs/<16 hex digits>: one per relay and client, so
 * that two mounts of one relay as two clients do not share a journal. */
char *option_default_cache_dir(const struct relayfs_config *cfg)
{
	char *url = option_strip_credentials(cfg->relay_url);
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

