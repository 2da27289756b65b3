/* relayfs's entry point: parse the command line, open the relay and the
 * cache, and hand the operation table to libfuse. */
#include "fs/relayfs.h"

#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* While the relay is opened, a backend's warning is kept, not printed
 * (nor its notes about retrying): if opening fails it is the one line
 * that says why. */
static void keep_last_warning(const char *domain, GLogLevelFlags level,
			      const char *message, gpointer data)
{
	char **last = data;

	if (!(level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)))
		return;
	g_free(*last);
	*last = g_strdup(message);
}

static int open_relay(const struct relayfs_config *cfg, struct relay **out)
{
	struct backend_options opt = {
		.url = cfg->relay_url,
		.user = cfg->user,
		.password = cfg->password,
		.cacert = cfg->cacert,
		.insecure = cfg->insecure,
		.identity = cfg->identity,
		.endpoint = cfg->endpoint,
		.region = cfg->region,
		.transfers = cfg->transfers,
		.connect_timeout = MIN(10, cfg->timeout),
		.io_timeout = cfg->timeout,
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
	g_autofree char *reason = NULL;
	GLogFunc previous = g_log_set_default_handler(keep_last_warning,
						      &reason);
	int ret = relay_open(&opt, &params, out, &message);

	g_log_set_default_handler(previous, NULL);
	if (ret < 0)
		fprintf(stderr, "relayfs: %s\n", reason ? reason : message);
	else if (reason)
		g_warning("%s", reason);
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
	fs_nodes_free(fs);
	g_hash_table_destroy(fs->handles);
	g_mutex_clear(&fs->nodes_mutex);
	g_mutex_clear(&fs->retry_mutex);
	g_cond_clear(&fs->retry_cond);
	cache_meta_free(fs->meta);
	cache_close(fs->cache);
	relay_free(fs->relay);
	g_free(fs);
}

static struct relayfs *relayfs_new(struct relayfs_config *cfg)
{
	struct relayfs *fs = g_new0(struct relayfs, 1);
	int ret;

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
	ret = cache_open(cfg->cache_dir, cfg->block_size, cfg->cache_size,
			 &fs->cache);
	if (ret < 0)
		fprintf(stderr, "relayfs: cache directory %s: %s\n",
			cfg->cache_dir, g_strerror(-ret));
	if (ret == 0)
		ret = open_relay(cfg, &fs->relay);
	if (ret < 0) {
		relayfs_free(fs);
		return NULL;
	}
	fs->journal.taken = journal_taken;
	fs->journal.released = journal_released;
	fs->journal.ctx = fs->cache;
	relay_set_lock_journal(fs->relay, &fs->journal);
	return fs;
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

/* What fuse_main() does, except that a stop asked for by SIGTERM, SIGINT
 * or SIGHUP (systemctl stop, Ctrl-C) is a clean exit, as an unmount is. */
static int mount_and_serve(struct fuse_args *args, struct relayfs *fs)
{
	struct fuse_cmdline_opts opts = { 0 };
	struct fuse *fuse;
	int ret = 1;

	if (fuse_parse_cmdline(args, &opts) != 0)
		return 1;
	fuse = fuse_new(args, &relayfs_operations, sizeof(relayfs_operations),
			fs);
	if (!fuse)
		goto out;
	if (fuse_mount(fuse, opts.mountpoint) != 0)
		goto out_destroy;
	if (fuse_daemonize(opts.foreground) == 0 &&
	    fuse_set_signal_handlers(fuse_get_session(fuse)) == 0) {
		ret = serve(fuse, &opts);
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
	if (!fs)
		goto out_args;
	ret = mount_and_serve(&args, fs);
	relayfs_free(fs);
out_args:
	fuse_opt_free_args(&args);
	relayfs_config_clear(&cfg);
	return ret;
}
