/* What the option files share: the table of relayfs's options, the value
 * checks, and the one-line messages. Only fs/option*.c include this. */
#ifndef FS_OPTIONS_PRIVATE_H
#define FS_OPTIONS_PRIVATE_H

#include "fs/options.h"

#include <glib.h>
#include <stdarg.h>
#include <stddef.h>

/* Our options; each is also a key of the config file's [relay] group. */
enum opt_id {
	O_RELAY,
	O_MOUNTPOINT,
	O_CONFIG,
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
	O_WRITEBACK,
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
	K_URL,		/* relay: set by option_set_relay() */
	K_MOUNT,	/* mountpoint: set by option_set_mountpoint() */
	K_NAME,		/* client name */
	K_UINT,		/* unsigned, min..max */
	K_MSECS,	/* seconds with up to 3 decimals, kept as unsigned
			 * milliseconds, min..max (in ms) */
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


extern const struct spec option_specs[N_OPTS];

/* "relayfs: MESSAGE" on stderr, control characters escaped. */
void G_GNUC_PRINTF(1, 0) option_vsay(const char *fmt, va_list ap);
void G_GNUC_PRINTF(1, 2) option_say(const char *fmt, ...);

/* The URL without "user:password@", for fsname, cache_dir and messages. */
char *option_strip_credentials(const char *url);

/* Checks text as option s and stores it in cfg; where ("" or "FILE: ")
 * starts the message of a refusal. 0, or -1 after one message. */
int option_apply(const struct spec *s, const char *text, const char *where,
		 struct relayfs_config *cfg);
int option_set_relay(const char *text, const char *where, bool is_default,
		     struct relayfs_config *cfg);
int option_set_mountpoint(const char *text, const char *where,
			  struct relayfs_config *cfg);
int option_check_consistency(const struct relayfs_config *cfg);
char *option_default_cache_dir(const struct relayfs_config *cfg);

/* $XDG_CONFIG_HOME/relayfs/relayfs.conf and $XDG_DATA_HOME/relayfs/relay */
char *option_config_path(void);
char *option_default_relay(void);

void option_print_help(void);
void option_print_version(void);

#endif
