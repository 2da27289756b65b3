/* The command line and the config file read into struct relayfs_config,
 * leaving in struct fuse_args what libfuse must see (and check) itself. */
#include "fs/options_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_log.h>

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
	KEY_FLAG,		/* KEY_FLAG + id: a K_BOOL option without value */
};

#define VALUE(t, id) {t, offsetof(struct cmdline, value[id]), 0}

/* "--relay %s" also matches "--relay=URL" (giving "=URL"); the
 * "--relay=%s" after it then overwrites that with "URL". */
static const struct fuse_opt fixed_templates[] = {
	VALUE("--relay %s", O_RELAY),
	VALUE("--relay=%s", O_RELAY),
	VALUE("--config %s", O_CONFIG),
	VALUE("--config=%s", O_CONFIG),
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

/* The fuse_opt_parse() templates, made from option_specs[]: "NAME=%s"
 * for each option, "NAME" alone for each flag, then fixed_templates.
 * Free with free_templates(). */
static struct fuse_opt *make_templates(void)
{
	size_t n = 0;
	struct fuse_opt *t = g_new0(struct fuse_opt,
				    2 * N_OPTS + G_N_ELEMENTS(fixed_templates));

	for (int id = 0; id < N_OPTS; id++) {
		t[n++] = (struct fuse_opt)VALUE(
			g_strdup_printf("%s=%%s", option_specs[id].name), id);
		if (option_specs[id].kind == K_BOOL)
			t[n++] = (struct fuse_opt)FUSE_OPT_KEY(
				g_strdup(option_specs[id].name), KEY_FLAG + id);
	}
	memcpy(t + n, fixed_templates, sizeof(fixed_templates));
	return t;
}

static void free_templates(struct fuse_opt *t)
{
	for (struct fuse_opt *o = t; o->templ != fixed_templates[0].templ; o++)
		g_free((char *)o->templ);
	g_free(t);
}

/* Words of fstab and mount(8) that are not for the filesystem. "nonempty"
 * was a FUSE 2 option; FUSE 3 always allows it and refuses the word. */
static const char *const dropped_words[] = {
	"_netdev", "auto", "noauto", "user", "users", "nouser", "owner",
	"group", "nofail", "defaults", "exec", "noexec", "suid", "nosuid",
	"dev", "nodev", "nonempty",
};

/* fuse_opt_parse() reports its own errors through fuse_log(); keep the
 * first one to print it our way. Parsing happens once, before threads. */
static char fuse_message[256];

static void capture_log(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	if (fuse_message[0] == '\0')
		vsnprintf(fuse_message, sizeof(fuse_message), fmt, ap);
}

char *option_config_path(void)
{
	return g_build_filename(g_get_user_config_dir(), "relayfs",
				"relayfs.conf", NULL);
}

char *option_default_relay(void)
{
	return g_build_filename(g_get_user_data_dir(), "relayfs", "relay",
				NULL);
}

static int find_spec(const char *name, size_t len)
{
	for (int id = 0; id < N_OPTS; id++)
		if (strlen(option_specs[id].name) == len &&
		    strncmp(option_specs[id].name, name, len) == 0)
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

		if (id < 0 || id == O_CONFIG) {
			option_say("%s: unknown key '%s' in [relay]", path, *k);
			rc = -1;
			continue;
		}
		/* on a bad escape it sets error and still returns a value */
		value = g_key_file_get_string(kf, "relay", *k, &error);
		if (error != NULL) {
			option_say("%s: bad value for %s: %s", path, *k,
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
			option_say("%s: %s", path, error->message);
		goto out;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (char **g = groups; *g != NULL; g++) {
		if (strcmp(*g, "relay") != 0) {
			option_say("%s: unknown group [%s] (only [relay] is read)",
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
	option_vsay(fmt, ap);
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

/* An -o option or a dash argument that none of the templates matched:
 * fstab words are dropped, and the rest is left for libfuse to check
 * (fuse_new() refuses what it does not know, in main.c). */
static int other_option(struct cmdline *cl, const char *arg)
{
	size_t len = strcspn(arg, "=");
	int id;

	if (arg[0] == '-')
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "unknown option '%s' (relayfs --help)", arg);
	if (is_dropped(arg))
		return 0;
	id = find_spec(arg, len);
	if (id >= 0)
		return stop(cl, RELAYFS_PARSE_USAGE,
			    "option '%s' needs a value (%s=%s)", arg, arg,
			    option_specs[id].meta);
	if (strcmp(arg, "ro") == 0 || strcmp(arg, "rw") == 0)
		cl->read_only = arg[1] == 'o';
	cl->fsname |= len == 6 && strncmp(arg, "fsname", len) == 0;
	cl->subtype |= len == 7 && strncmp(arg, "subtype", len) == 0;
	return 1;
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
	case FUSE_OPT_KEY_NONOPT:
		if (cl->nargs == 2)
			return stop(cl, RELAYFS_PARSE_USAGE,
				    "unexpected argument '%s' (relayfs --help)",
				    arg);
		cl->arg[cl->nargs++] = g_strdup(arg);
		return 0;
	case FUSE_OPT_KEY_OPT:
		return other_option(cl, arg);
	default:
		if (key >= KEY_FLAG && key < KEY_FLAG + N_OPTS) {
			free(cl->value[key - KEY_FLAG]);
			cl->value[key - KEY_FLAG] = strdup("true");
			return 0;
		}
		return other_option(cl, arg);
	}
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
	struct fuse_opt *templates = make_templates();
	int rc;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		in = (struct fuse_args)FUSE_ARGS_INIT(1, fallback);
	fuse_message[0] = '\0';
	fuse_set_log_func(capture_log);
	rc = fuse_opt_parse(&in, cl, templates, opt_proc);
	fuse_set_log_func(NULL);
	free_templates(templates);
	if (rc == 0) {
		*args = in;
	} else if (cl->help) {
		option_print_help();
	} else if (cl->version) {
		option_print_version();
	} else if (cl->stop == RELAYFS_PARSE_OK) {
		char *msg = g_strstrip(fuse_message);

		if (g_str_has_prefix(msg, "fuse: "))
			msg += strlen("fuse: ");
		option_say("%s (relayfs --help)",
			   msg[0] ? msg : "bad command line");
		cl->stop = RELAYFS_PARSE_USAGE;
	}
	return rc != 0 ? cl->stop : RELAYFS_PARSE_OK;
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
	return option_specs[id].def;
}

/* "relayfs URL" alone names no mountpoint: a URL is no directory. */
static const char *positional_mountpoint(const struct cmdline *cl)
{
	if (cl->nargs == 0 || (cl->nargs == 1 && strstr(cl->arg[0], "://")))
		return NULL;
	return cl->arg[cl->nargs - 1];
}

static int resolve_mountpoint(const struct cmdline *cl, char **conf,
			      const char *conf_where,
			      struct relayfs_config *cfg)
{
	const char *text = positional_mountpoint(cl);
	const char *where = "";

	if (text == NULL)
		text = pick(cl, conf, O_MOUNTPOINT, conf_where, &where);
	if (text == NULL) {
		option_say("missing mountpoint (relayfs --help)");
		return -2;
	}
	return option_set_mountpoint(text, where, cfg);
}

static int resolve_relay(const struct cmdline *cl, char **conf,
			 const char *conf_where, struct relayfs_config *cfg)
{
	char *relay = NULL;
	const char *text, *where = "";
	int rc;

	if (cl->nargs == 2 || (cl->nargs == 1 && strstr(cl->arg[0], "://")))
		return option_set_relay(cl->arg[0], "", false, cfg);
	text = pick(cl, conf, O_RELAY, conf_where, &where);
	if (text == NULL)
		text = relay = option_default_relay();
	rc = option_set_relay(text, where, relay != NULL, cfg);
	g_free(relay);
	return rc;
}

/* 0, -1 after a message, or -2 after a usage message. */
static int resolve(const struct cmdline *cl, char **conf,
		   struct relayfs_config *cfg)
{
	char *conf_where = g_strdup_printf("%s: ", cfg->config_file);
	const char *text, *where;
	int rc = resolve_mountpoint(cl, conf, conf_where, cfg);

	for (int id = 0; id < N_OPTS && rc == 0; id++) {
		text = pick(cl, conf, id, conf_where, &where);
		if (id != O_RELAY && id != O_MOUNTPOINT && id != O_CONFIG &&
		    text != NULL)
			rc = option_apply(&option_specs[id], text, where, cfg);
	}
	if (rc == 0)
		rc = resolve_relay(cl, conf, conf_where, cfg);
	if (rc == 0)
		cfg->relay_shown = option_strip_credentials(cfg->relay_url);
	if (rc == 0 && cfg->cache_dir == NULL)
		cfg->cache_dir = option_default_cache_dir(cfg);
	if (rc == 0)
		rc = option_check_consistency(cfg);
	g_free(conf_where);
	return rc;
}

/* The config file: -o config=FILE (which must be there), else the
 * default path (which need not be). */
static int find_config(const struct cmdline *cl, struct relayfs_config *cfg)
{
	if (cl->value[O_CONFIG] == NULL) {
		cfg->config_file = option_config_path();
		return 0;
	}
	return option_apply(&option_specs[O_CONFIG], cl->value[O_CONFIG], "",
			    cfg);
}

/* Appends -o fsname=relayfs:URL (without credentials), -o subtype=relayfs
 * (unless the user gave either) and the mountpoint. */
static int finish_args(const struct cmdline *cl,
		       const struct relayfs_config *cfg, struct fuse_args *args)
{
	char *url = option_strip_credentials(cfg->relay_url);
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
		option_say("out of memory");
	free(escaped);
	g_free(fsname);
	g_free(url);
	return rc;
}

static enum relayfs_parse_result read_all(const struct cmdline *cl,
					  char **conf,
					  struct relayfs_config *cfg,
					  struct fuse_args *args)
{
	int rc = find_config(cl, cfg);

	if (rc == 0)
		rc = load_config(cfg->config_file, conf);
	if (rc == 0)
		rc = resolve(cl, conf, cfg);
	if (rc == 0)
		rc = finish_args(cl, cfg, args);
	if (rc == -2)
		return RELAYFS_PARSE_USAGE;
	return rc == 0 ? RELAYFS_PARSE_OK : RELAYFS_PARSE_ERROR;
}

enum relayfs_parse_result relayfs_options_parse(int argc, char **argv,
						struct relayfs_config *cfg,
						struct fuse_args *args)
{
	struct cmdline cl = {0};
	char *conf[N_OPTS] = {0};
	enum relayfs_parse_result res;

	memset(cfg, 0, sizeof(*cfg));
	*args = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	res = parse_cmdline(argc, argv, &cl, args);
	if (res == RELAYFS_PARSE_OK)
		res = read_all(&cl, conf, cfg, args);
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
	return res;
}

void relayfs_config_clear(struct relayfs_config *cfg)
{
	if (cfg->password != NULL)
		explicit_bzero(cfg->password, strlen(cfg->password));
	g_free(cfg->relay_url);
	g_free(cfg->relay_shown);
	g_free(cfg->mountpoint);
	g_free(cfg->config_file);
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
