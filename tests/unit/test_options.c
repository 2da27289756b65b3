/* Unit tests of fs/options.c: both command line forms, -o lists, the config
 * file and its precedence, every refusal's one-line message, sizes, and the
 * arguments left for libfuse (checked by fuse_new() itself). */
#include "fs/options.h"

#include <fuse_lowlevel.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ARGS 12

/* Under AddressSanitizer: GLib's per-test directory isolation
 * (g_set_user_dirs) keeps the old paths on purpose; GLib has no frame
 * pointers, so the suppression needs the slow unwinder to see its name. */
const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void);

const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

const char *__lsan_default_suppressions(void)
{
	return "leak:g_set_user_dirs\n";
}

/* "@/" in argv and config text stands for the test's scratch directory:
 * the isolated $HOME that G_TEST_OPTION_ISOLATE_DIRS gives each test. */
static char *expand(const char *text)
{
	char **parts = g_strsplit(text, "@/", -1);
	char *home = g_strconcat(g_get_home_dir(), "/", NULL);
	char *out = g_strjoinv(home, parts);

	g_free(home);
	g_strfreev(parts);
	return out;
}

static void put_file(const char *name, const char *content, mode_t mode)
{
	char *path = expand(name);

	g_assert_true(g_file_set_contents(path, content, -1, NULL));
	g_assert_cmpint(g_chmod(path, mode), ==, 0);
	g_free(path);
}

static void put_dir(const char *name)
{
	char *path = expand(name);

	g_assert_cmpint(g_mkdir_with_parents(path, 0755), ==, 0);
	g_free(path);
}

/* The scratch tree every test starts from. */
static void make_tree(void)
{
	g_assert_true(g_str_has_prefix(g_get_home_dir(), g_get_tmp_dir()));
	put_dir("@/mnt/inner");
	put_dir("@/relay");
	put_dir("@/a,b");
	put_file("@/file", "not a directory\n", 0644);
	put_file("@/secret", "s3cret\nsecond line\n", 0600);
	put_file("@/crlf", "pass word\r\n", 0400);
	put_file("@/nonl", "nonewline", 0600);
	put_file("@/open", "hunter2\n", 0644);
	put_file("@/gw", "hunter2\n", 0620);
	put_file("@/empty", "", 0600);
	put_file("@/ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
}

static char *config_file(void)
{
	return g_build_filename(g_get_user_config_dir(), "relayfs",
				"relayfs.conf", NULL);
}

static void write_config(const char *text)
{
	char *path = config_file();
	char *dir = g_path_get_dirname(path);
	char *content = expand(text);

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(path, content, -1, NULL));
	g_free(content);
	g_free(dir);
	g_free(path);
}

/* Parses {"relayfs", argv...} after expanding "@/". */
static enum relayfs_parse_result parse(const char *const *argv,
				       struct relayfs_config *cfg,
				       struct fuse_args *args)
{
	char *real[MAX_ARGS + 2] = {g_strdup("relayfs")};
	int argc = 1;
	enum relayfs_parse_result res;

	for (; argc <= MAX_ARGS && argv[argc - 1] != NULL; argc++)
		real[argc] = expand(argv[argc - 1]);
	res = relayfs_options_parse(argc, real, cfg, args);
	for (int i = 0; i < argc; i++)
		g_free(real[i]);
	return res;
}

static char *real_path(const char *name)
{
	char *path = expand(name);
	char *real = realpath(path, NULL);
	char *copy = g_strdup(real);

	g_assert_nonnull(real);
	free(real);
	g_free(path);
	return copy;
}

static void assert_args(const struct fuse_args *args, const char *const *want)
{
	int i = 0;

	for (; want[i] != NULL; i++) {
		char *w = expand(want[i]);

		g_assert_cmpint(i, <, args->argc);
		g_assert_cmpstr(args->argv[i], ==, w);
		g_free(w);
	}
	g_assert_cmpint(args->argc, ==, i);
}

static bool has_arg(const struct fuse_args *args, const char *arg)
{
	for (int i = 0; i < args->argc; i++)
		if (strcmp(args->argv[i], arg) == 0)
			return true;
	return false;
}

/* ---- refusals: each prints exactly one line and returns a code ---- */

struct bad_case {
	const char *name;
	const char *config;	/* relayfs.conf content, NULL: none */
	const char *argv[MAX_ARGS];
	enum relayfs_parse_result result;
	const char *stderr_glob;	/* the whole stderr */
};

#define E RELAYFS_PARSE_ERROR
#define U RELAYFS_PARSE_USAGE
#define CONF "relayfs: */relayfs/relayfs.conf: "

static const struct bad_case bad_cases[] = {
	/* the refusals test_cmdline.py shows through the program itself
	 * are not repeated here */
	{"pullers-zero", NULL, {"-opullers=0", "@/mnt"}, E,
	 "relayfs: bad value for pullers: '0' (a whole number >= 1)\n"},
	{"pullers-overflow", NULL, {"-o", "pullers=4294967296", "@/mnt"}, E,
	 "relayfs: bad value for pullers: '4294967296' (a whole number >= "
	 "1)\n"},
	{"writeback-4-decimals", NULL, {"-o", "writeback=0.1250", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '0.1250' (seconds from 0 to "
	 "86400, with at most 3 decimals, such as 0.5)\n"},
	{"writeback-unit", NULL, {"-o", "writeback=5s", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '5s' (*)\n"},
	{"writeback-no-decimal", NULL, {"-o", "writeback=1.", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '1.' (*)\n"},
	{"writeback-sign", NULL, {"-o", "writeback=1.-5", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '1.-5' (*)\n"},
	{"writeback-exponent", NULL, {"-o", "writeback=1e3", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '1e3' (*)\n"},
	{"writeback-too-long", NULL, {"-o", "writeback=86400.001", "@/mnt"}, E,
	 "relayfs: bad value for writeback: '86400.001' (*)\n"},
	{"transfers-0", NULL, {"-o", "transfers=0", "@/mnt"}, E,
	 "relayfs: bad value for transfers: '0' (a whole number from 1 to "
	 "64)\n"},
	{"timeout-0", NULL, {"-o", "timeout=0", "@/mnt"}, E,
	 "relayfs: bad value for timeout: '0' (a whole number from 1 to "
	 "86400)\n"},
	{"lock-timeout-0", NULL, {"-o", "lock_timeout=0", "@/mnt"}, E,
	 "relayfs: bad value for lock_timeout: '0' (a whole number >= 1)\n"},
	{"lock-wait", NULL, {"-o", "lock_wait=1s", "@/mnt"}, E,
	 "relayfs: bad value for lock_wait: '1s' (a whole number)\n"},
	{"dir-cache", NULL, {"-o", "dir_cache=+5", "@/mnt"}, E,
	 "relayfs: bad value for dir_cache: '+5' (a whole number)\n"},
	{"block-small", NULL, {"-o", "block_size=2K", "@/mnt"}, E,
	 "relayfs: bad value for block_size: '2K' (*)\n"},
	{"block-big", NULL, {"-o", "block_size=128M", "@/mnt"}, E,
	 "relayfs: bad value for block_size: '128M' (*)\n"},
	{"cache-size-junk", NULL, {"-o", "cache_size=lots", "@/mnt"}, E,
	 "relayfs: bad value for cache_size: 'lots' (a size such as 512M or "
	 "1G)\n"},
	{"cache-below-block", NULL, {"-o", "cache_size=1M", "@/mnt"}, E,
	 "relayfs: cache_size 1048576 is smaller than block_size 4194304\n"},
	{"insecure-value", NULL, {"-o", "insecure=maybe", "@/mnt"}, E,
	 "relayfs: bad value for insecure: 'maybe' (true or false)\n"},
	{"client-empty", NULL, {"-o", "client=", "@/mnt"}, E,
	 "relayfs: bad value for client: '' (*)\n"},
	{"client-colon", NULL, {"-o", "client=:x", "@/mnt"}, E,
	 "relayfs: bad value for client: ':x' (*)\n"},
	{"client-space", NULL, {"-o", "client= x", "@/mnt"}, E,
	 "relayfs: bad value for client: ' x' (*)\n"},
	{"client-trailing", NULL, {"-o", "client=x\t", "@/mnt"}, E,
	 "relayfs: bad value for client: 'x\\x09' (*)\n"},
	{"client-section", NULL, {"-o", "client=---", "@/mnt"}, E,
	 "relayfs: bad value for client: '---' (*)\n"},
	{"user-empty", NULL, {"-o", "user=", "@/mnt"}, E,
	 "relayfs: bad value for user: '' (not empty, no control "
	 "characters)\n"},
	{"cacert-dir", NULL, {"-o", "cacert=@/relay", "@/mnt"}, E,
	 "relayfs: cacert */relay: Is a directory\n"},
	{"identity-missing", NULL, {"-o", "identity=@/nothere", "@/mnt"}, E,
	 "relayfs: identity */nothere: No such file or directory\n"},
	{"password-writable", NULL, {"-o", "password_file=@/gw", "@/mnt"}, E,
	 "relayfs: password_file */gw is writable by others (mode 0620); "
	 "chmod 600 it\n"},
	{"password-empty", NULL, {"-o", "password_file=@/empty", "@/mnt"}, E,
	 "relayfs: password_file */empty: its first line is empty\n"},
	{"password-missing", NULL, {"-o", "password_file=@/no", "@/mnt"}, E,
	 "relayfs: password_file */no: No such file or directory\n"},
	{"unknown-short", NULL, {"-x", "@/mnt"}, U,
	 "relayfs: unknown option '-x' (relayfs --help)\n"},
	{"config-missing", NULL, {"--config", "@/nothere", "@/mnt"}, E,
	 "relayfs: config */nothere: No such file or directory\n"},
	{"config-names-config", "[relay]\nconfig=/etc/x\n", {"@/mnt"}, E,
	 CONF "unknown key 'config' in [relay]\n"},
	{"config-mountpoint-missing", "[relay]\nmountpoint=@/nope\n",
	 {"-f"}, E, CONF "mountpoint */nope: No such file or directory\n"},
	{"needs-value", NULL, {"-o", "client", "@/mnt"}, U,
	 "relayfs: option 'client' needs a value (client=NAME)\n"},
	{"only-options", NULL, {"-f", "-o", "client=x"}, U,
	 "relayfs: missing mountpoint (relayfs --help)\n"},
	{"url-only", NULL, {"webdav://host/x", "-f"}, U,
	 "relayfs: missing mountpoint (relayfs --help)\n"},
	{"three-args", NULL, {"@/relay", "@/mnt", "extra"}, U,
	 "relayfs: unexpected argument 'extra' (relayfs --help)\n"},
	{"relay-scheme", NULL, {"gopher://h/x", "@/mnt"}, E,
	 "relayfs: bad relay URL 'gopher://h/x': unknown scheme (*)\n"},
	{"relay-no-host", NULL, {"webdav:///x", "@/mnt"}, E,
	 "relayfs: bad relay URL 'webdav:///x': no host\n"},
	{"relay-no-backend", NULL, {"--relay", "s3://b/x", "@/mnt"}, E,
	 "relayfs: bad relay URL 's3://b/x': unknown scheme (webdav, "
	 "webdavs, http, https, ftp, ftps, sftp, file)\n"},
	{"relay-percent", NULL, {"-o", "relay=http://h/%zz", "@/mnt"}, E,
	 "relayfs: bad relay URL 'http://h/%zz': *\n"},
	{"relay-port", NULL, {"ftp://h:99999/", "@/mnt"}, E,
	 "relayfs: bad relay URL 'ftp://h:99999/': *\n"},
	{"relay-query", NULL, {"https://h/x?a=b", "@/mnt"}, E,
	 "relayfs: bad relay URL 'https://h/x?a=b': a query or fragment is "
	 "not supported\n"},
	{"relay-credentials-hidden", NULL,
	 {"webdavs://bob:hunter2@:8080/x", "@/mnt"}, E,
	 "relayfs: bad relay URL 'webdavs://:8080/x': no host\n"},
	{"relay-credentials-glib", NULL,
	 {"webdavs://bob:hunter2@h:99999/x", "@/mnt"}, E,
	 "relayfs: bad relay URL 'webdavs://h:99999/x': *\n"},
	{"relay-file-host", NULL, {"file://host/x", "@/mnt"}, E,
	 "relayfs: bad relay URL 'file://host/x': a file URL names no host*\n"},
	{"relay-dir-file", NULL, {"file://@/file", "@/mnt"}, E,
	 "relayfs: relay directory */file: Not a directory\n"},
	{"relay-is-mnt", NULL, {"@/relay", "@/relay"}, E,
	 "relayfs: relay directory */relay is also the mountpoint */relay\n"},
	{"mnt-in-relay", NULL, {"@/mnt", "@/mnt/inner"}, E,
	 "relayfs: mountpoint */mnt/inner is inside the relay directory "
	 "*/mnt\n"},
	{"cache-in-mnt", NULL, {"-o", "cache_dir=@/mnt/c", "@/mnt"}, E,
	 "relayfs: cache_dir */mnt/c is inside the mountpoint */mnt\n"},
	{"conf-bad-escape", "[relay]\nclient=\\q\n", {"@/mnt"}, E,
	 CONF "bad value for client: *\n"},
	{"conf-bool", "[relay]\ninsecure=yes please\n", {"@/mnt"}, E,
	 CONF "bad value for insecure: 'yes please' (true or false)\n"},
};

static void test_bad(gconstpointer data)
{
	const struct bad_case *c = data;
	char *want;

	if (g_test_subprocess()) {
		struct relayfs_config cfg;
		struct fuse_args args;

		make_tree();
		if (c->config != NULL)
			write_config(c->config);
		printf("result %d\n", parse(c->argv, &cfg, &args));
		relayfs_config_clear(&cfg);
		fuse_opt_free_args(&args);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	want = g_strdup_printf("result %d\n", c->result);
	g_test_trap_assert_stdout(want);
	g_test_trap_assert_stderr(c->stderr_glob);
	g_test_trap_assert_stderr_unmatched("*\n*\n*");
	g_test_trap_assert_stderr_unmatched("*hunter2*");
	g_free(want);
}

/* A config file that is a directory cannot be read. */
static void test_config_unreadable(void)
{
	if (g_test_subprocess()) {
		struct relayfs_config cfg;
		struct fuse_args args;
		char *path = config_file();

		make_tree();
		g_assert_cmpint(g_mkdir_with_parents(path, 0700), ==, 0);
		printf("result %d\n",
		       parse((const char *[]){"@/mnt", NULL}, &cfg, &args));
		g_free(path);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stdout("result 2\n");
	g_test_trap_assert_stderr(CONF "*\n");
	g_test_trap_assert_stderr_unmatched("*\n*\n*");
}

/* ---- accepted command lines ---- */

static void test_defaults(void)
{
	struct relayfs_config cfg;
	struct fuse_args args;
	char *relay = g_build_filename(g_get_user_data_dir(), "relayfs",
				       "relay", NULL);
	char *cache = g_build_filename(g_get_user_cache_dir(), "relayfs", NULL);
	char *mnt, *fsname;
	struct stat st;

	make_tree();
	g_assert_cmpint(parse((const char *[]){"@/mnt", NULL}, &cfg, &args),
			==, RELAYFS_PARSE_OK);
	mnt = real_path("@/mnt");
	g_assert_cmpstr(cfg.relay_url, ==, relay);
	g_assert_cmpint(stat(relay, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpint(st.st_mode & 0777, ==, 0700);
	g_assert_cmpstr(cfg.mountpoint, ==, mnt);
	g_assert_cmpstr(cfg.client, ==, g_get_host_name());
	g_assert_cmpuint(cfg.pullers, ==, 1);
	g_assert_cmpuint(cfg.lock_timeout, ==, 259200);
	g_assert_cmpuint(cfg.lock_wait, ==, 30);
	g_assert_cmpuint(cfg.cache_size, ==, 1ULL << 30);
	g_assert_cmpuint(cfg.block_size, ==, 4ULL << 20);
	g_assert_cmpuint(cfg.dir_cache, ==, 10);
	g_assert_cmpint(cfg.checksum, ==, CACHE_HASH_SHA512);
	g_assert_cmpuint(cfg.transfers, ==, 4);
	g_assert_cmpuint(cfg.timeout, ==, 30);
	g_assert_false(cfg.insecure);
	g_assert_false(cfg.foreground);
	g_assert_false(cfg.debug);
	g_assert_null(cfg.cacert);
	g_assert_null(cfg.password);
	g_assert_true(g_str_has_prefix(cfg.cache_dir, cache));
	g_assert_cmpuint(strlen(cfg.cache_dir), ==, strlen(cache) + 17);
	fsname = g_strconcat("fsname=relayfs:", relay, NULL);
	assert_args(&args, (const char *[]){"relayfs", "-o", fsname, "-o",
					    "subtype=relayfs", mnt, NULL});
	relayfs_config_clear(&cfg);
	g_assert_null(cfg.relay_url);
	fuse_opt_free_args(&args);
	g_free(fsname);
	g_free(mnt);
	g_free(cache);
	g_free(relay);
}

struct relay_case {
	const char *argv[6];
	const char *relay_url;	/* "@/" expanded */
	const char *fsname;
};

static const struct relay_case relay_cases[] = {
	{{"@/relay", "@/mnt"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"@/mnt", "--relay", "@/relay"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"--relay=@/relay", "@/mnt"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"-o", "relay=@/relay", "@/mnt"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"file://@/relay", "@/mnt"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"~/relay", "@/mnt"}, "@/relay", "fsname=relayfs:@/relay"},
	{{"@/a,b", "@/mnt"}, "@/a,b", "fsname=relayfs:@/a\\,b"},
	{{"--relay", "@/a,b", "@/mnt"}, "@/a,b", "fsname=relayfs:@/a\\,b"},
	{{"webdavs://bob:pw@dav.example:8443/r", "@/mnt"},
	 "webdavs://bob:pw@dav.example:8443/r",
	 "fsname=relayfs:webdavs://dav.example:8443/r"},
	{{"HTTPS://h/x", "@/mnt"}, "HTTPS://h/x", "fsname=relayfs:HTTPS://h/x"},
	{{"ftp://h/prefix", "@/mnt"}, "ftp://h/prefix",
	 "fsname=relayfs:ftp://h/prefix"},
	{{"sftp://me@host/home/me", "@/mnt"}, "sftp://me@host/home/me",
	 "fsname=relayfs:sftp://host/home/me"},
	{{"ftps://h/", "@/mnt"}, "ftps://h/", "fsname=relayfs:ftps://h/"},
	/* the positional relay wins over --relay */
	{{"--relay", "sftp://other/x", "webdav://h/x", "@/mnt"}, "webdav://h/x",
	 "fsname=relayfs:webdav://h/x"},
};

static void test_relay_forms(gconstpointer data)
{
	const struct relay_case *c = data;
	struct relayfs_config cfg;
	struct fuse_args args;
	char *url = expand(c->relay_url);
	char *mnt;

	make_tree();
	g_assert_cmpint(parse(c->argv, &cfg, &args), ==, RELAYFS_PARSE_OK);
	mnt = real_path("@/mnt");
	g_assert_cmpstr(cfg.relay_url, ==, url);
	assert_args(&args, (const char *[]){"relayfs", "-o", c->fsname, "-o",
					    "subtype=relayfs", mnt, NULL});
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(mnt);
	g_free(url);
}

/* What mount.fuse3 runs for an fstab line: options after the positionals,
 * fstab words among them. */
static void test_fstab_form(void)
{
	static const char *const argv[] = {
		"@/relay", "@/mnt", "-o",
		"rw,client=laptop,_netdev,noauto,auto,nofail,user,users,"
		"nouser,defaults,exec,noexec,suid,nosuid,dev,nodev,nonempty,"
		"x-systemd.automount,comment=x,,allow_other",
		NULL,
	};
	struct relayfs_config cfg;
	struct fuse_args args;
	char *mnt;

	make_tree();
	g_assert_cmpint(parse(argv, &cfg, &args), ==, RELAYFS_PARSE_OK);
	mnt = real_path("@/mnt");
	g_assert_cmpstr(cfg.client, ==, "laptop");
	assert_args(&args, (const char *[]){"relayfs", "-o", "rw,allow_other",
					    "-o", "fsname=relayfs:@/relay",
					    "-o", "subtype=relayfs", mnt,
					    NULL});
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(mnt);
}

static void test_o_lists(void)
{
	struct relayfs_config cfg;
	struct fuse_args args;
	char *secret = expand("@/secret");
	char *ca = expand("@/ca.pem");

	make_tree();
	g_assert_cmpint(
	    parse((const char *[]){"-o",
				   "pullers=3,transfers=64,block_size=1MiB,"
				   "cache_size=2g,checksum=none,insecure",
				   "-olock_wait=0,lock_timeout=60,dir_cache=0",
				   "-o", "advisory_locks,ro",
				   "-o", "user=bob,endpoint=http://minio:9000,"
					 "region=eu-west-1,cacert=@/ca.pem",
				   "-o", "password_file=@/secret,client=pc 2",
				   "@/mnt", NULL},
		  &cfg, &args),
	    ==, RELAYFS_PARSE_OK);
	g_assert_cmpuint(cfg.pullers, ==, 3);
	g_assert_cmpuint(cfg.transfers, ==, 64);
	g_assert_cmpuint(cfg.block_size, ==, 1 << 20);
	g_assert_cmpuint(cfg.cache_size, ==, 2ULL << 30);
	g_assert_cmpint(cfg.checksum, ==, CACHE_HASH_NONE);
	g_assert_true(cfg.insecure);
	g_assert_true(cfg.advisory_locks);
	g_assert_true(cfg.read_only);
	g_assert_cmpuint(cfg.lock_wait, ==, 0);
	g_assert_cmpuint(cfg.lock_timeout, ==, 60);
	g_assert_cmpuint(cfg.dir_cache, ==, 0);
	g_assert_cmpstr(cfg.user, ==, "bob");
	g_assert_cmpstr(cfg.endpoint, ==, "http://minio:9000");
	g_assert_cmpstr(cfg.region, ==, "eu-west-1");
	g_assert_cmpstr(cfg.cacert, ==, ca);
	g_assert_cmpstr(cfg.password_file, ==, secret);
	g_assert_cmpstr(cfg.password, ==, "s3cret");
	g_assert_cmpstr(cfg.client, ==, "pc 2");
	for (int i = 0; i < args.argc; i++)
		g_assert_null(strstr(args.argv[i], "s3cret"));
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(ca);
	g_free(secret);
}

struct password_case {
	const char *file;
	const char *password;
};

static const struct password_case password_cases[] = {
	{"@/secret", "s3cret"},
	{"@/crlf", "pass word"},
	{"@/nonl", "nonewline"},
};

static void test_password(gconstpointer data)
{
	const struct password_case *c = data;
	struct relayfs_config cfg;
	struct fuse_args args;
	char *opt = g_strconcat("password_file=", c->file, NULL);

	make_tree();
	g_assert_cmpint(parse((const char *[]){"-o", opt, "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpstr(cfg.password, ==, c->password);
	relayfs_config_clear(&cfg);
	g_assert_null(cfg.password);
	fuse_opt_free_args(&args);
	g_free(opt);
}

/* Command line > config file > defaults. */
static void test_config_precedence(void)
{
	struct relayfs_config cfg;
	struct fuse_args args;
	char *relay = expand("@/relay");

	make_tree();
	write_config("# relayfs\n[relay]\nclient = fromconf\npullers=5\n"
		     "transfers=7  \nrelay=@/relay\ninsecure=true\n"
		     "checksum=sha256\ncache_size=8G\n");
	g_assert_cmpint(parse((const char *[]){"-o", "pullers=2,insecure=false",
					       "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpstr(cfg.client, ==, "fromconf");
	g_assert_cmpuint(cfg.pullers, ==, 2);
	g_assert_cmpuint(cfg.transfers, ==, 7);
	g_assert_cmpstr(cfg.relay_url, ==, relay);
	g_assert_false(cfg.insecure);
	g_assert_cmpint(cfg.checksum, ==, CACHE_HASH_SHA256);
	g_assert_cmpuint(cfg.cache_size, ==, 8ULL << 30);
	g_assert_cmpuint(cfg.lock_wait, ==, 30);
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);

	/* a relay on the command line beats the config file's */
	g_assert_cmpint(parse((const char *[]){"sftp://b/x", "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpstr(cfg.relay_url, ==, "sftp://b/x");
	g_assert_true(cfg.insecure);
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(relay);
}

/* Two clients of one relay get two cache directories. */
/* A config file named by --config (as relayfs@.service does) may name
 * the mountpoint too; the default config file is then not read. */
static void test_config_names_mount(void)
{
	struct relayfs_config cfg;
	struct fuse_args args;
	char *relay, *mnt, *other, *text;

	make_tree();
	relay = real_path("@/relay");
	mnt = real_path("@/mnt");
	other = expand("@/other.conf");
	text = expand("[relay]\nrelay=@/relay\nmountpoint=@/mnt\n"
		      "client=byunit\n");
	write_config("[relay]\nclient=default\n");
	g_assert_true(g_file_set_contents(other, text, -1, NULL));
	g_assert_cmpint(parse((const char *[]){"-f", "--config", other, NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpstr(cfg.relay_url, ==, relay);
	g_assert_cmpstr(cfg.mountpoint, ==, mnt);
	g_assert_cmpstr(cfg.client, ==, "byunit");
	g_assert_cmpstr(cfg.config_file, ==, other);
	g_assert_cmpstr(args.argv[args.argc - 1], ==, mnt);
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(text);
	g_free(other);
	g_free(mnt);
	g_free(relay);
}

static void test_cache_dir(void)
{
	struct relayfs_config a, b;
	struct fuse_args args;
	char *mine = expand("@/cache");

	make_tree();
	g_assert_cmpint(parse((const char *[]){"-o", "client=a", "@/relay",
					       "@/mnt", NULL},
			      &a, &args),
			==, RELAYFS_PARSE_OK);
	fuse_opt_free_args(&args);
	g_assert_cmpint(parse((const char *[]){"-o", "client=b", "@/relay",
					       "@/mnt", NULL},
			      &b, &args),
			==, RELAYFS_PARSE_OK);
	fuse_opt_free_args(&args);
	g_assert_cmpstr(a.cache_dir, !=, b.cache_dir);
	relayfs_config_clear(&a);
	relayfs_config_clear(&b);
	g_assert_cmpint(parse((const char *[]){"-o", "cache_dir=~/x/../cache",
					       "@/mnt", NULL},
			      &a, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpstr(a.cache_dir, ==, mine);
	relayfs_config_clear(&a);
	fuse_opt_free_args(&args);
	g_free(mine);
}

static void test_flags(void)
{
	struct relayfs_config cfg;
	struct fuse_args args;

	make_tree();
	g_assert_cmpint(parse((const char *[]){"-f", "@/mnt", "-s", NULL}, &cfg,
			      &args),
			==, RELAYFS_PARSE_OK);
	g_assert_true(cfg.foreground);
	g_assert_false(cfg.debug);
	g_assert_true(has_arg(&args, "-f"));
	g_assert_true(has_arg(&args, "-s"));
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);

	g_assert_cmpint(parse((const char *[]){"-d", "@/mnt", NULL}, &cfg,
			      &args),
			==, RELAYFS_PARSE_OK);
	g_assert_true(cfg.foreground);
	g_assert_true(cfg.debug);
	g_assert_true(has_arg(&args, "-d"));
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);

	g_assert_cmpint(parse((const char *[]){"-o", "debug", "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_true(cfg.foreground);
	g_assert_true(cfg.debug);
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);

	/* the user's own fsname and subtype are kept, ours not added */
	g_assert_cmpint(parse((const char *[]){"-o", "fsname=mine,subtype=x",
					       "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	g_assert_cmpint(args.argc, ==, 4);
	g_assert_cmpstr(args.argv[2], ==, "fsname=mine,subtype=x");
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
}

/* Every option --help must list. */
static const char *const help_names[] = {
	"relay=", "client=", "pullers=", "lock_timeout=", "lock_wait=",
	"cache_dir=", "cache_size=", "block_size=", "dir_cache=", "checksum=",
	"transfers=", "timeout=", "cacert=", "insecure", "identity=", "known_hosts=",
	"user=",
	"password_file=", "endpoint=", "region=",
};

static void test_help_version(gconstpointer data)
{
	const char *flag = data;

	if (g_test_subprocess()) {
		struct relayfs_config cfg;
		struct fuse_args args;

		printf("result %d\n",
		       parse((const char *[]){flag, "--frobnicate", NULL}, &cfg,
			     &args));
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	g_test_trap_assert_stderr("");
	g_test_trap_assert_stdout("*result 1\n");
	if (flag[1] == 'V' || strcmp(flag, "--version") == 0) {
		g_test_trap_assert_stdout("relayfs 0.1.0\nlibfuse 3.*");
		return;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(help_names); i++) {
		char *glob = g_strdup_printf("*-o %s*", help_names[i]);

		g_test_trap_assert_stdout(glob);
		g_free(glob);
	}
	g_test_trap_assert_stdout("usage: relayfs*FUSE options*allow_other*");
}

/* ---- what libfuse gets: fuse_new() must accept every argument ---- */

static const char *const fuse_cases[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions",
	"ro", "rw", "sync", "async", "atime", "noatime", "dirsync",
	"kernel_cache", "auto_cache", "noauto_cache", "noforget",
	"no_rofd_flush", "clone_fd", "blkdev", "blksize=4096", "max_read=65536",
	"umask=022", "uid=0", "gid=0", "entry_timeout=1.5",
	"negative_timeout=0", "attr_timeout=2", "ac_attr_timeout=1",
	"remember=10", "max_idle_threads=4", "max_threads=8",
	"fsname=x,subtype=y", "rw,_netdev,allow_other,nofail",
};

static void test_fuse_accepts(gconstpointer data)
{
	static const struct fuse_operations ops;
	struct relayfs_config cfg;
	struct fuse_args args;
	struct fuse_cmdline_opts opts = {0};
	struct fuse *fuse;
	char *mnt;

	make_tree();
	g_assert_cmpint(parse((const char *[]){"-f", "-o", data, "--relay",
					       "@/a,b", "@/mnt", NULL},
			      &cfg, &args),
			==, RELAYFS_PARSE_OK);
	mnt = real_path("@/mnt");
	g_assert_cmpint(fuse_parse_cmdline(&args, &opts), ==, 0);
	g_assert_cmpstr(opts.mountpoint, ==, mnt);
	g_assert_true(opts.foreground);
	fuse = fuse_new(&args, &ops, sizeof(ops), NULL);
	g_assert_nonnull(fuse);
	fuse_destroy(fuse);
	free(opts.mountpoint);
	relayfs_config_clear(&cfg);
	fuse_opt_free_args(&args);
	g_free(mnt);
}

/* ---- sizes ---- */

struct size_case {
	const char *text;
	bool ok;
	uint64_t value;
};

static const struct size_case size_cases[] = {
	{"0", true, 0},
	{"4096", true, 4096},
	{"123B", true, 123},
	{"1K", true, 1024},
	{"1k", true, 1024},
	{"1KB", true, 1024},
	{"1KiB", true, 1024},
	{"1kib", true, 1024},
	{"4M", true, 4 << 20},
	{"4MiB", true, 4 << 20},
	{"1G", true, 1ULL << 30},
	{"2T", true, 2ULL << 40},
	{"007M", true, 7 << 20},
	{"16777215T", true, 16777215ULL << 40},
	{"18446744073709551615", true, UINT64_MAX},
	{"18446744073709551616", false, 0},
	{"16777216T", false, 0},
	{"99999999999999999999999", false, 0},
	{"", false, 0},
	{"-1", false, 0},
	{"+1", false, 0},
	{" 1", false, 0},
	{"1 ", false, 0},
	{"1.5G", false, 0},
	{"1KB2", false, 0},
	{"1iB", false, 0},
	{"1Ki", false, 0},
	{"1BB", false, 0},
	{"K", false, 0},
	{"1P", false, 0},
	{"0x10", false, 0},
	{"1e3", false, 0},
};

/* writeback takes whole or decimal seconds, kept exactly in ms */
static void test_writeback_seconds(void)
{
	static const struct {
		const char *text;
		unsigned ms;
	} cases[] = {
		{"0", 0}, {"5", 5000}, {"0.2", 200}, {"1.25", 1250},
		{"0.001", 1}, {"86400", 86400000}, {"007.5", 7500},
	};

	make_tree();
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct relayfs_config cfg;
		struct fuse_args args;
		g_autofree char *opt = g_strdup_printf("writeback=%s",
						       cases[i].text);

		g_test_message("writeback=%s", cases[i].text);
		g_assert_cmpint(parse((const char *[]){"-o", opt, "@/mnt",
						       NULL},
				      &cfg, &args),
				==, RELAYFS_PARSE_OK);
		g_assert_cmpuint(cfg.writeback_ms, ==, cases[i].ms);
		relayfs_config_clear(&cfg);
		fuse_opt_free_args(&args);
	}
}

static void test_sizes(void)
{
	uint64_t value;

	for (size_t i = 0; i < G_N_ELEMENTS(size_cases); i++) {
		const struct size_case *c = &size_cases[i];

		value = 42;
		g_test_message("size '%s'", c->text);
		g_assert_cmpint(relayfs_parse_size(c->text, &value), ==, c->ok);
		g_assert_cmpuint(value, ==, c->ok ? c->value : 42);
	}
	g_assert_false(relayfs_parse_size(NULL, &value));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		char *path = g_strdup_printf("/options/bad/%s",
					     bad_cases[i].name);

		g_test_add_data_func(path, &bad_cases[i], test_bad);
		g_free(path);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(relay_cases); i++) {
		char *path = g_strdup_printf("/options/relay/%zu", i);

		g_test_add_data_func(path, &relay_cases[i], test_relay_forms);
		g_free(path);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(password_cases); i++) {
		char *path = g_strdup_printf("/options/password/%zu", i);

		g_test_add_data_func(path, &password_cases[i], test_password);
		g_free(path);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(fuse_cases); i++) {
		char *path = g_strdup_printf("/options/fuse/%zu", i);

		g_test_add_data_func(path, fuse_cases[i], test_fuse_accepts);
		g_free(path);
	}
	g_test_add_data_func("/options/help", "--help", test_help_version);
	g_test_add_data_func("/options/help-short", "-h", test_help_version);
	g_test_add_data_func("/options/version", "--version",
			     test_help_version);
	g_test_add_data_func("/options/version-short", "-V", test_help_version);
	g_test_add_func("/options/config-unreadable", test_config_unreadable);
	g_test_add_func("/options/defaults", test_defaults);
	g_test_add_func("/options/fstab", test_fstab_form);
	g_test_add_func("/options/o-lists", test_o_lists);
	g_test_add_func("/options/config-precedence", test_config_precedence);
	g_test_add_func("/options/cache-dir", test_cache_dir);
	g_test_add_func("/options/config-names-mount", test_config_names_mount);
	g_test_add_func("/options/flags", test_flags);
	g_test_add_func("/options/sizes", test_sizes);
	g_test_add_func("/options/writeback-seconds", test_writeback_seconds);
	return g_test_run();
}
