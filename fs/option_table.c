/* The one table of relayfs's own options (name, kind, limits, default,
 * help), and --help and --version printed from it and from libfuse. */
#include "fs/options_private.h"

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef RELAYFS_VERSION
#define RELAYFS_VERSION "0.1.0"
#endif

#define CFG(f) offsetof(struct relayfs_config, f)
#define KIB 1024ULL
#define MIB (1024ULL * 1024)

const struct spec option_specs[N_OPTS] = {
	[O_RELAY] = {"relay", K_URL, CFG(relay_url), 0, 0, NULL, "URL",
		     "the relay (also a first argument, or --relay URL)"},
	[O_MOUNTPOINT] = {"mountpoint", K_MOUNT, CFG(mountpoint), 0, 0, NULL,
			  "PATH", "where to mount (also the last argument); "
				  "for a config file that names its mount"},
	[O_CONFIG] = {"config", K_FILE, CFG(config_file), 0, 0, NULL, "FILE",
		      "the config file (also --config FILE; default: see "
		      "above)"},
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
	[O_WRITEBACK] = {"writeback", K_MSECS, CFG(writeback_ms), 0,
			 86400000, "0", "SECONDS",
			 "close returns once the copy is safe on disk, and "
			 "the push starts after SECONDS without writes "
			 "(such as 5 or 0.2; 0: close pushes and returns the "
			 "push's result)"},
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

void option_print_help(void)
{
	static char name[] = "relayfs";
	char *argv[] = {name, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	char *conf = option_config_path();
	char *relay = option_default_relay();

	printf("usage: relayfs [options] [--relay URL] MOUNTPOINT\n"
	       "       relayfs [options] RELAY_URL MOUNTPOINT\n"
	       "       relayfs status [MOUNTPOINT]\n"
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
	       "'relayfs status' shows what a mount is doing (man relayfs).\n"
	       "\n"
	       "general options:\n"
	       "    --relay URL            the relay (same as -o relay=URL)\n"
	       "    --config FILE          the config file (same as -o "
	       "config=FILE)\n",
	       relay, conf);
	fuse_cmdline_help();
	printf("\nrelayfs options:\n");
	for (int id = 0; id < N_OPTS; id++)
		print_spec(&option_specs[id]);
	printf("\nFUSE options (libfuse's, see mount.fuse3(8)):\n");
	fuse_lib_help(&args);
	printf("\nfstab words (_netdev, auto, noauto, nofail, user, users, "
	       "defaults, x-*, ...)\nare ignored.\n");
	fuse_opt_free_args(&args);
	g_free(relay);
	g_free(conf);
}

void option_print_version(void)
{
	printf("relayfs %s\nlibfuse %s\n", RELAYFS_VERSION, fuse_pkgversion());
}
