/* Command line, -o options and the config file: everything the user can
 * set, parsed and validated into one struct before anything is mounted. */
#ifndef FS_OPTIONS_H
#define FS_OPTIONS_H

#include <fuse.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/checksum.h"


struct relayfs_config {
	char *relay_url;	/* as given, or the embedded default path */
	char *relay_shown;	/* relay_url without user:password@ */
	char *mountpoint;	/* absolute */
	char *config_file;	/* absolute; the default if not given */
	char *client;		/* default: host name */
	unsigned pullers;	/* default 1, >= 1 */
	unsigned lock_timeout;	/* seconds, default 259200 */
	unsigned lock_wait;	/* seconds, default 30 */
	char *cache_dir;	/* default $XDG_CACHE_HOME/relayfs/<hash of url> */
	uint64_t cache_size;	/* bytes, default 1G */
	uint64_t block_size;	/* bytes, default 4M */
	unsigned dir_cache;	/* seconds, default 10 */
	enum cache_hash checksum;	/* checksum= */
	unsigned transfers;	/* default 4, >= 1 */
	unsigned timeout;	/* seconds without progress, default 30 */
	unsigned writeback_ms;	/* how long a closed copy rests, in ms; 0:
				 * push at close */
	char *cacert;
	bool insecure;
	bool advisory_locks;	/* mount for writing without an exclusive step */
	bool read_only;		/* -o ro */
	char *identity;
	char *known_hosts;	/* sftp host keys, default ~/.ssh/known_hosts */
	char *user;
	char *password_file;
	char *password;		/* read from password_file; never logged */
	char *endpoint;
	char *region;
	bool foreground;	/* -f */
	bool debug;		/* -d */
};

enum relayfs_parse_result {
	RELAYFS_PARSE_OK = 0,	/* mount with cfg and args */
	RELAYFS_PARSE_EXIT_OK,	/* --help or --version printed: exit 0 */
	RELAYFS_PARSE_ERROR,	/* one line printed on stderr: exit 1 */
	RELAYFS_PARSE_USAGE,	/* bad usage printed on stderr: exit 2 */
};

/*
 * Parse argv (relayfs's own options, -o options, the config file
 * $XDG_CONFIG_HOME/relayfs/relayfs.conf group [relay], defaults in that
 * order of precedence) into cfg, and leave in args what libfuse must see
 * (the program name, -f/-d/-s, the mountpoint and standard FUSE -o
 * options; fstab words such as _netdev, auto, noauto, user, users, nofail
 * are dropped). Prints its own messages ("relayfs: ..." one line).
 */
enum relayfs_parse_result relayfs_options_parse(int argc, char **argv,
						struct relayfs_config *cfg,
						struct fuse_args *args);
void relayfs_config_clear(struct relayfs_config *cfg);

/* "4M" -> 4194304; K, M, G, T suffixes (powers of 1024), optional "B"/"iB".
 * Returns false on anything else (negative, empty, overflow, junk). */
bool relayfs_parse_size(const char *text, uint64_t *out);

#endif
