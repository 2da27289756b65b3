/* relayfs's entry point: parse the command line, open the relay and the
 * cache, and hand the operation table to libfuse. */
#include "fs/relayfs.h"

#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* While the relay is opened, what the backend logs is kept, not printed:
 * if opening fails its last warning is the one line that says why, else
 * everything is logged as it came (what the server was found to do). */
struct open_log {
	GPtrArray *lines; /* "L" + message, L the level's first letter */
	char *last_warning;
};

static void keep_log(const char *domain, GLogLevelFlags level,
		     const char *message, gpointer data)
{
	struct open_log *log = data;
	bool warning = level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);

	(void)domain;
	if (level & G_LOG_LEVEL_DEBUG)
		return;
	g_ptr_array_add(log->lines,
			g_strconcat(warning ? "W" : "M", message, NULL));
	if (warning) {
		g_free(log->last_warning);
		log->last_warning = g_strdup(message);
	}
}

static void replay_log(const struct open_log *log)
{
	for (guint i = 0; i < log->lines->len; i++) {
		const char *line = log->lines->pdata[i];

		if (line[0] == 'W')
			g_warning("%s", line + 1);
		else
			g_message("%s", line + 1);
	}
}

/* A relay whose locks two clients could both win is for reading only,
 * unless the user accepts that. */
static int check_exclusive(const struct relayfs_config *cfg,
			   struct relay *relay)
{
	if (relay_locks_exclusive(relay) || cfg->read_only)
		return 0;
	if (cfg->advisory_locks) {
		g_message("relay: locks are advisory (advisory_locks): two "
			  "clients writing one file at once may both win "
			  "its lock");
		return 0;
	}
	fprintf(stderr, "relayfs: %s offers no exclusive step, so two "
		"clients could both win one lock (the line above says what "
		"it lacks); mount it with -o ro, or accept advisory locks "
		"with -o advisory_locks (unsafe with concurrent writers)\n",
		cfg->relay_url);
	return -EPERM;
}

static int open_relay(const struct relayfs_config *cfg, struct relay **out)
{
	g_autofree char *facts_file = g_build_filename(cfg->cache_dir,
						       "server-facts.ini",
						       NULL);
	struct backend_options opt = {
		.url = cfg->relay_url,
		.user = cfg->user,
		.password = cfg->password,
		.cacert = cfg->cacert,
		.insecure = cfg->insecure,
		.identity = cfg->identity,
		.known_hosts = cfg->known_hosts,
		.endpoint = cfg->endpoint,
		.region = cfg->region,
		.transfers = cfg->transfers,
		.connect_timeout = MIN(10, cfg->timeout),
		.io_timeout = cfg->timeout,
		.facts_file = facts_file,
	};
	struct relay_params params = {
		.client = cfg->client,
		.pullers = cfg->pullers,
		.lock_timeout = cfg->lock_timeout,
		.lock_wait = cfg->lock_wait,
		/* a mutex is held for a request, which may take a timeout
		 * or two of silence before it fails */
		.mutex_stale = 2 * cfg->timeout + 10,
		.transfers = cfg->transfers,
	};
	g_autofree char *message = NULL;
	struct open_log log = {g_ptr_array_new_with_free_func(g_free), NULL};
	GLogFunc previous = g_log_set_default_handler(keep_log, &log);
	int ret = relay_open(&opt, &params, out, &message);

	g_log_set_default_handler(previous, NULL);
	if (ret < 0)
		fprintf(stderr, "relayfs: %s\n",
			log.last_warning ? log.last_warning : message);
	else
		replay_log(&log);
	if (ret == 0)
		ret = check_exclusive(cfg, *out);
	if (ret < 0 && *out) {
		relay_free(*out);
		*out = NULL;
	}
	g_ptr_array_free(log.lines, TRUE);
	g_free(log.last_warning);
	return ret;
}

static void journal_taken(void *ctx, const char *path)
{
	cache_journal_add(ctx, path);
}

static void journal_released(void *ctx, const char *path)
{
	cache_journal_remove(ctx, path);
}

static void relayfs_free(struct relayfs *fs)
{
	if (fs->readahead)
		g_thread_pool_free(fs->readahead, FALSE, TRUE);
	if (fs->hashers)
		g_thread_pool_free(fs->hashers, FALSE, TRUE);
	fs_pull_finish_stop(fs);
	if (fs->relay) /* releases sent aside journal into the cache */
		relay_lock_settle_all(fs->relay);
	fs_nodes_free(fs);
	if (fs->relay) /* the streams given up with their nodes */
		relay_stream_settle(fs->relay);
	g_hash_table_destroy(fs->handles);
	g_mutex_clear(&fs->nodes_mutex);
	g_mutex_clear(&fs->retry_mutex);
	g_cond_clear(&fs->retry_cond);
	g_mutex_clear(&fs->finish_mutex);
	g_cond_clear(&fs->finish_cond);
	cache_meta_free(fs->meta);
	cache_close(fs->cache);
	relay_free(fs->relay);
	g_free(fs);
}

/* The filesystem's state, before anything is opened. */
static struct relayfs *relayfs_new(struct relayfs_config *cfg)
{
	struct relayfs *fs = g_new0(struct relayfs, 1);

	fs->cfg = cfg;
	fs->started = time(NULL);
	fs->hash_kind = cfg->checksum;
	g_mutex_init(&fs->nodes_mutex);
	g_mutex_init(&fs->retry_mutex);
	g_cond_init(&fs->retry_cond);
	fs->nodes = g_hash_table_new(g_str_hash, g_str_equal);
	fs->orphans = g_ptr_array_new();
	fs->handles = g_hash_table_new(NULL, NULL);
	fs->hidden = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   NULL);
	fs->meta = cache_meta_new(cfg->dir_cache);
	fs->readahead = g_thread_pool_new(fs_readahead_job, fs, cfg->transfers,
					  FALSE, NULL);
	fs->hashers = g_thread_pool_new(fs_pull_hash_job, fs, 2, FALSE, NULL);
	fs_pull_finish_start(fs);
	return fs;
}

/* Opens the cache and the relay; 0, or -1 after a one-line message. */
static int relayfs_open(struct relayfs *fs)
{
	const struct relayfs_config *cfg = fs->cfg;
	int ret = cache_open(cfg->cache_dir, cfg->block_size, cfg->cache_size,
			     &fs->cache);

	if (ret < 0)
		fprintf(stderr, "relayfs: cache directory %s: %s\n",
			cfg->cache_dir, g_strerror(-ret));
	if (ret == 0)
		ret = open_relay(cfg, &fs->relay);
	if (ret < 0)
		return -1;
	fs->journal.taken = journal_taken;
	fs->journal.released = journal_released;
	fs->journal.ctx = fs->cache;
	relay_set_lock_journal(fs->relay, &fs->journal);
	return 0;
}

/* The event loop of a mounted fs: the loop's result, which is the signal
 * that stopped it, if one did. */
static int serve(struct fuse *fuse, const struct fuse_cmdline_opts *opts)
{
	struct fuse_loop_config *loop;
	int ret;

	if (opts->singlethread)
		return fuse_loop(fuse);
	loop = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(loop, opts->clone_fd);
	/* libfuse 3.14 leaves UINT_MAX when it is not given and then warns
	 * about its own default (libfuse #1003) */
	if (opts->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(loop, opts->max_idle_threads);
	fuse_loop_cfg_set_max_threads(loop, opts->max_threads);
	ret = fuse_loop_mt(fuse, loop);
	fuse_loop_cfg_destroy(loop);
	return ret;
}

/* fuse_new() reports through fuse_log() why it refuses its arguments
 * (an unknown or bad FUSE option); keep that line to print it our way. */
static char fuse_refusal[256];

static void keep_fuse_refusal(enum fuse_log_level level, const char *fmt,
			      va_list ap)
{
	size_t used = strlen(fuse_refusal);

	/* it says "unknown option(s): `", each option, "'" in pieces */
	if (level <= FUSE_LOG_ERR && !strchr(fuse_refusal, '\n'))
		vsnprintf(fuse_refusal + used, sizeof(fuse_refusal) - used,
			  fmt, ap);
}

/* Prints libfuse's refusal our way: "relayfs: LINE (relayfs --help)". */
static void say_fuse_refusal(void)
{
	char *line;

	fuse_refusal[strcspn(fuse_refusal, "\n")] = '\0';
	line = g_strstrip(fuse_refusal);
	if (g_str_has_prefix(line, "fuse: "))
		line += strlen("fuse: ");
	fprintf(stderr, "relayfs: %s (relayfs --help)\n",
		line[0] ? line : "libfuse refused the options");
}

/* libfuse checks its own options here, before the relay is contacted:
 * fuse_parse_cmdline() those of its loop, fuse_new() the others. NULL
 * after one line saying what it refused. */
static struct fuse *new_fuse(struct fuse_args *args, struct relayfs *fs,
			     struct fuse_cmdline_opts *opts)
{
	struct fuse *fuse = NULL;

	fuse_refusal[0] = '\0';
	fuse_set_log_func(keep_fuse_refusal);
	if (fuse_parse_cmdline(args, opts) == 0)
		fuse = fuse_new(args, &relayfs_operations,
				sizeof(relayfs_operations), fs);
	fuse_set_log_func(NULL);
	if (fuse == NULL)
		say_fuse_refusal();
	return fuse;
}

/* Tells systemd (Type=notify) how the mount is; nothing without it. */
static void notify(const char *state, const struct relayfs_config *cfg)
{
	sd_notifyf(0, "%s\nSTATUS=%s %s on %s", state,
		   strcmp(state, "READY=1") == 0 ? "serving" : "unmounting",
		   cfg->relay_shown, cfg->mountpoint);
}

/* What fuse_main() does, except that libfuse checks its options before
 * the relay is opened, systemd hears when the mount is live, and a stop
 * asked for by SIGTERM, SIGINT or SIGHUP (systemctl stop, Ctrl-C) is a
 * clean exit, as an unmount is. Returns the exit status. */
static int mount_and_serve(struct fuse_args *args, struct relayfs *fs)
{
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse *fuse;
	int ret = 1;

	fuse = new_fuse(args, fs, &opts);
	if (!fuse) {
		ret = 2;
		goto out;
	}
	if (relayfs_open(fs) != 0)
		goto out_destroy;
	if (fuse_mount(fuse, opts.mountpoint) != 0)
		goto out_destroy;
	fs_log_setup(fs->cfg->relay_shown, fs->cfg->client, !opts.foreground);
	if (fuse_daemonize(opts.foreground) == 0 &&
	    fuse_set_signal_handlers(fuse_get_session(fuse)) == 0) {
		notify("READY=1", fs->cfg);
		ret = serve(fuse, &opts);
		notify("STOPPING=1", fs->cfg);
		fuse_remove_signal_handlers(fuse_get_session(fuse));
		if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP)
			ret = 0;
		ret = ret ? 1 : 0;
	}
	fuse_unmount(fuse);
out_destroy:
	fuse_destroy(fuse);
out:
	free(opts.mountpoint);
	return ret;
}

int main(int argc, char **argv)
{
	struct relayfs_config cfg = { 0 };
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct relayfs *fs;
	int ret = 1;

	if (argc >= 2 && strcmp(argv[1], "status") == 0)
		return fs_status_main(argc - 1, argv + 1);
	switch (relayfs_options_parse(argc, argv, &cfg, &args)) {
	case RELAYFS_PARSE_OK:
		break;
	case RELAYFS_PARSE_EXIT_OK:
		ret = 0;
		goto out_args;
	case RELAYFS_PARSE_USAGE:
		ret = 2;
		goto out_args;
	default:
		goto out_args;
	}
	fs = relayfs_new(&cfg);
	ret = mount_and_serve(&args, fs);
	relayfs_free(fs);
out_args:
	fuse_opt_free_args(&args);
	relayfs_config_clear(&cfg);
	return ret;
}
