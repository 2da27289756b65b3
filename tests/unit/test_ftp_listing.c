/* Unit tests of the FTP/SFTP listing parser: MLSD/MLST fact lines and the
 * Unix "ls -l" lines of pure-ftpd, vsftpd and OpenSSH's sftp-server. */
#include <glib.h>
#include <string.h>

#include "relay/backends/ftp_listing.h"

static int64_t utc(int year, int month, int day, int hour, int minute,
		   int second)
{
	GDateTime *dt = g_date_time_new_utc(year, month, day, hour, minute,
					    second);
	int64_t t;

	g_assert_nonnull(dt);
	t = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return t;
}

/* 2026-12-02 07:00:00 UTC, just after the sample listings were taken. */
static int64_t listing_now(void)
{
	return utc(2026, 12, 2, 7, 0, 0);
}

static GPtrArray *parse(const char *body, size_t len,
			enum ftp_listing_form form, int64_t now, unsigned *bad)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func(
		(GDestroyNotify)backend_entry_free);

	*bad = 0;
	ftp_listing_parse(body, len, form, now, entries, bad);
	return entries;
}

static const struct backend_entry *entry(GPtrArray *entries, guint i)
{
	g_assert_cmpuint(i, <, entries->len);
	return g_ptr_array_index(entries, i);
}

static void assert_entry(const struct backend_entry *e, const char *name,
			 bool is_dir, uint64_t size, int64_t mtime)
{
	g_assert_cmpstr(e->name, ==, name);
	g_assert_cmpint(e->is_dir, ==, is_dir);
	g_assert_cmpuint(e->size, ==, size);
	g_assert_cmpint(e->mtime, ==, mtime);
}

/* One line through a line parser: its return, and e filled when 1. */
static int mlsx(const char *line, struct backend_entry *e)
{
	memset(e, 0, sizeof(*e));
	return ftp_listing_parse_mlsx(line, strlen(line), e);
}

static int unix_line(const char *line, int64_t now, struct backend_entry *e)
{
	memset(e, 0, sizeof(*e));
	return ftp_listing_parse_unix(line, strlen(line), now, e);
}

static void test_mlsd_files_folders_and_skips(void)
{
	static const char body[] =
	    "type=cdir;sizd=4096;modify=20261202061853;UNIX.mode=0755;"
	    "UNIX.uid=65534;UNIX.gid=65534;unique=fe00ga72122; .\r\n"
	    "type=pdir;sizd=4096;modify=20261202061000;UNIX.mode=0755;"
	    "UNIX.uid=0;UNIX.gid=0;unique=fe00g2; ..\r\n"
	    "type=file;size=3;modify=20261202061856;UNIX.mode=0644;"
	    "UNIX.uid=65534;UNIX.gid=65534;unique=fe00ga72127; hostname\r\n"
	    "type=dir;sizd=4096;modify=20261202061853;UNIX.mode=0755;"
	    "UNIX.uid=65534;UNIX.gid=65534;unique=fe00ga72128; sub\r\n"
	    "type=OS.unix=symlink;modify=20261202061853;unique=fe00g9; link\r\n"
	    "type=OS.unix=slink:/etc/hosts;modify=20261202061853; hosts\r\n"
	    "type=device;modify=20261202061853; null\r\n"
	    "type=dir;size=0;modify=20261202061853; .\r\n"
	    "type=file;size=7;modify=20261202061853; ..\r\n";
	unsigned bad;
	GPtrArray *entries = parse(body, sizeof(body) - 1, FTP_LISTING_MLSD,
				   listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 2);
	assert_entry(entry(entries, 0), "hostname", false, 3,
		     utc(2026, 12, 2, 6, 18, 56));
	assert_entry(entry(entries, 1), "sub", true, 0,
		     utc(2026, 12, 2, 6, 18, 53));
	g_ptr_array_unref(entries);
}

static void test_mlst_leading_space(void)
{
	struct backend_entry e;

	g_assert_cmpint(mlsx(" type=file;size=3;modify=20261202061856;"
			     "UNIX.mode=0644;unique=fe00ga72127; .x.lock",
			     &e),
			==, 1);
	assert_entry(&e, ".x.lock", false, 3, utc(2026, 12, 2, 6, 18, 56));
	g_assert_cmpstr(e.etag, ==, "\"fe00ga72127-20261202061856-3\"");
	backend_entry_clear(&e);
}

static void test_mlsd_etag_from_unique_modify_size(void)
{
	struct backend_entry e;

	g_assert_cmpint(mlsx("type=file;size=3;modify=20261202061856;"
			     "UNIX.mode=0644;unique=fe00ga72127; hostname",
			     &e),
			==, 1);
	g_assert_cmpstr(e.etag, ==, "\"fe00ga72127-20261202061856-3\"");
	backend_entry_clear(&e);
	/* the raw texts, fraction and all */
	g_assert_cmpint(mlsx("Unique=801U1;Modify=20240115103000.123;"
			     "Size=12;Type=file; a",
			     &e),
			==, 1);
	g_assert_cmpstr(e.etag, ==, "\"801U1-20240115103000.123-12\"");
	backend_entry_clear(&e);
	/* a folder: no size fact, the tag still says which folder it is */
	g_assert_cmpint(mlsx("type=dir;sizd=4096;modify=20261202061853;"
			     "unique=fe00ga72128; sub",
			     &e),
			==, 1);
	g_assert_cmpstr(e.etag, ==, "\"fe00ga72128-20261202061853-\"");
	backend_entry_clear(&e);
	/* no unique fact: no tag */
	g_assert_cmpint(mlsx("type=file;size=3;modify=20261202061856; x", &e),
			==, 1);
	g_assert_null(e.etag);
	backend_entry_clear(&e);
}

static void test_mlsd_fact_names_case_insensitive(void)
{
	struct backend_entry e;

	g_assert_cmpint(mlsx("Type=File;SIZE=42;Modify=20240115103000; A.TXT",
			     &e),
			==, 1);
	assert_entry(&e, "A.TXT", false, 42, utc(2024, 1, 15, 10, 30, 0));
	backend_entry_clear(&e);
	g_assert_cmpint(mlsx("TYPE=DIR;Modify=20240115103000; Docs", &e), ==,
			1);
	assert_entry(&e, "Docs", true, 0, utc(2024, 1, 15, 10, 30, 0));
	backend_entry_clear(&e);
	g_assert_cmpint(mlsx("TYPE=CDir;Modify=20240115103000; /srv", &e), ==,
			0);
	g_assert_null(e.name);
}

static void test_mlsd_names_with_spaces_semicolons_and_utf8(void)
{
	static const char *const names[] = {
	    "my file.txt", "two  spaces", "trailing ", " leading",
	    "a; b", "x=y;z", "été 日本語.txt", ";",
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *line = g_strdup_printf(
		    "type=file;size=1;modify=20261202061856; %s", names[i]);

		g_test_message("line \"%s\"", line);
		g_assert_cmpint(mlsx(line, &e), ==, 1);
		g_assert_cmpstr(e.name, ==, names[i]);
		backend_entry_clear(&e);
	}
}

static void test_mlsd_modify_utc_fraction_or_missing(void)
{
	struct backend_entry e;

	g_assert_cmpint(mlsx("type=file;size=5;modify=20240229235959.999; f",
			     &e),
			==, 1);
	g_assert_cmpint(e.mtime, ==, utc(2024, 2, 29, 23, 59, 59));
	backend_entry_clear(&e);
	g_assert_cmpint(mlsx("type=file;size=5; f", &e), ==, 1);
	assert_entry(&e, "f", false, 5, 0);
	backend_entry_clear(&e);
	g_assert_cmpint(mlsx("type=file;modify=20240229235959; f", &e), ==, 1);
	g_assert_cmpuint(e.size, ==, 0);
	backend_entry_clear(&e);
}

static void test_mlsd_bad_lines(void)
{
	static const char *const lines[] = {
	    "",
	    "hostname",
	    "type=file;size=3;modify=20261202061856 hostname",
	    "type=file;size=3;modify=20261202061856;hostname",
	    "type=file;size=3;modify=20261202061856; ",
	    "type=file;size=-3; f",
	    "type=file;size=+3; f",
	    "type=file;size=3x; f",
	    "type=file;size=; f",
	    "type=file;size=18446744073709551616; f",
	    "type=file;size=1;modify=2026120206185; f",
	    "type=file;size=1;modify=20261302061856; f",
	    "type=file;size=1;modify=20240230000000; f",
	    "type=file;size=1;modify=20261202061856.; f",
	    "type=file;size=1;modify=20261202061856Z; f",
	    "type=file;size=1;modify=2026-12-02T06; f",
	    "type=file;;size=1; f",
	    "type=file;size=1;garbage; f",
	    "type=file;=1; f",
	    "; f",
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
		g_test_message("line \"%s\"", lines[i]);
		g_assert_cmpint(mlsx(lines[i], &e), ==, -1);
		g_assert_null(e.name);
		g_assert_null(e.etag);
	}
}

static void test_unix_files_and_folders(void)
{
	/* pure-ftpd LIST, then vsftpd LIST (two-digit days, numeric ids) */
	static const char body[] =
	    "total 12\r\n"
	    "drwxr-xr-x    2 65534      nogroup          4096 "
	    "Dec  2 06:18 .\r\n"
	    "drwxr-xr-x    3 0          0                4096 "
	    "Dec  2 06:10 ..\r\n"
	    "-rw-r--r--    1 65534      nogroup             3 Dec  2 06:18 "
	    "hostname\r\n"
	    "drwxr-xr-x 2 root root 4096 Dec  2 06:19 sub dir\r\n"
	    "-rw-r--r--    1 1000     1000     1234567890123 "
	    "Dec 02 06:19 big\r\n"
	    "drwxrwxr-x    2 1000     1000         4096 Jan 15  2024 old\r\n";
	unsigned bad;
	GPtrArray *entries = parse(body, sizeof(body) - 1, FTP_LISTING_UNIX,
				   listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 4);
	assert_entry(entry(entries, 0), "hostname", false, 3,
		     utc(2026, 12, 2, 6, 18, 0));
	assert_entry(entry(entries, 1), "sub dir", true, 0,
		     utc(2026, 12, 2, 6, 19, 0));
	assert_entry(entry(entries, 2), "big", false, 1234567890123ULL,
		     utc(2026, 12, 2, 6, 19, 0));
	assert_entry(entry(entries, 3), "old", true, 0,
		     utc(2024, 1, 15, 0, 0, 0));
	for (guint i = 0; i < entries->len; i++)
		g_assert_null(entry(entries, i)->etag);
	g_ptr_array_unref(entries);
}

static void test_unix_sftp_long_names(void)
{
	static const char body[] =
	    "-rw-r--r--    1 root     root            3 Dec  2 06:19 a\n"
	    "drwxr-xr-x    2 root     root         4096 Dec  2 06:19 .m\n"
	    "-rw-------    1 1000     1000            0 Jan  1  1970 epoch\n";
	unsigned bad;
	GPtrArray *entries = parse(body, sizeof(body) - 1, FTP_LISTING_UNIX,
				   listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 3);
	assert_entry(entry(entries, 0), "a", false, 3,
		     utc(2026, 12, 2, 6, 19, 0));
	assert_entry(entry(entries, 1), ".m", true, 0,
		     utc(2026, 12, 2, 6, 19, 0));
	assert_entry(entry(entries, 2), "epoch", false, 0, 0);
	g_ptr_array_unref(entries);
}

static void test_unix_recent_date_takes_the_year_before_now(void)
{
	const struct {
		int64_t now;
		const char *date;
		int64_t mtime;
	} cases[] = {
	    /* today, and up to a day ahead (clocks disagree): this year */
	    {listing_now(), "Dec  2 06:18", utc(2026, 12, 2, 6, 18, 0)},
	    {listing_now(), "Dec  3 06:00", utc(2026, 12, 3, 6, 0, 0)},
	    /* more than a day ahead: last year */
	    {listing_now(), "Dec  4 06:00", utc(2025, 12, 4, 6, 0, 0)},
	    {listing_now(), "Dec 31 23:59", utc(2025, 12, 31, 23, 59, 0)},
	    {listing_now(), "Jan  1 00:00", utc(2026, 1, 1, 0, 0, 0)},
	    /* early January: December is last year's */
	    {utc(2026, 1, 10, 12, 0, 0), "Dec 31 23:00",
	     utc(2025, 12, 31, 23, 0, 0)},
	    {utc(2026, 1, 10, 12, 0, 0), "Jan 11 11:59",
	     utc(2026, 1, 11, 11, 59, 0)},
	    {utc(2026, 1, 10, 12, 0, 0), "Jan 11 12:01",
	     utc(2025, 1, 11, 12, 1, 0)},
	    /* no Feb 29 this year: the leap year before */
	    {utc(2025, 3, 1, 0, 0, 0), "Feb 29 10:00",
	     utc(2024, 2, 29, 10, 0, 0)},
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *line = g_strdup_printf(
		    "-rw-r--r-- 1 u g 3 %s f", cases[i].date);

		g_test_message("line \"%s\"", line);
		g_assert_cmpint(unix_line(line, cases[i].now, &e), ==, 1);
		g_assert_cmpint(e.mtime, ==, cases[i].mtime);
		backend_entry_clear(&e);
	}
}

static void test_unix_year_form_is_midnight_utc(void)
{
	struct backend_entry e;

	g_assert_cmpint(unix_line("-rw-r--r-- 1 u g 12 Jan 15  2024 old file",
				  listing_now(), &e),
			==, 1);
	assert_entry(&e, "old file", false, 12, utc(2024, 1, 15, 0, 0, 0));
	backend_entry_clear(&e);
	/* a year in the future stays as given */
	g_assert_cmpint(unix_line("-rw-r--r-- 1 u g 12 Mar  1  2030 later",
				  listing_now(), &e),
			==, 1);
	g_assert_cmpint(e.mtime, ==, utc(2030, 3, 1, 0, 0, 0));
	backend_entry_clear(&e);
}

static void test_unix_names_with_spaces_and_utf8(void)
{
	static const char *const names[] = {
	    "sub dir", "two  inner  spaces", "trailing  ", " leading",
	    "été 日本語.txt", "Dec  2 06:18 x", "-rw-r--r--", "a\tb",
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree char *line = g_strdup_printf(
		    "-rw-r--r--    1 65534      nogroup             3 Dec  2 "
		    "06:18 %s",
		    names[i]);

		g_test_message("line \"%s\"", line);
		g_assert_cmpint(unix_line(line, listing_now(), &e), ==, 1);
		g_assert_cmpstr(e.name, ==, names[i]);
		g_assert_cmpuint(e.size, ==, 3);
		backend_entry_clear(&e);
	}
}

static void test_unix_symlinks_skipped(void)
{
	static const char body[] =
	    "lrwxrwxrwx    1 root     root           11 Dec  2 06:19 "
	    "hosts -> /etc/hosts\n"
	    "lrwxrwxrwx 1 root root 4 Jan 15  2024 l\n"
	    "crw-rw-rw-    1 root     root       1,   3 Dec  2 06:19 null\n"
	    "brw-rw----    1 root     disk       8,   0 Dec  2 06:19 sda\n"
	    "prw-r--r--    1 root     root            0 Dec  2 06:19 fifo\n"
	    "srwxrwxrwx    1 root     root            0 Dec  2 06:19 sock\n"
	    "-rw-r--r--    1 root     root            3 Dec  2 06:19 a\n";
	unsigned bad;
	GPtrArray *entries = parse(body, sizeof(body) - 1, FTP_LISTING_UNIX,
				   listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "a");
	g_ptr_array_unref(entries);
}

static void test_unix_missing_group_and_acl_marks(void)
{
	static const struct {
		const char *line;
		const char *name;
		uint64_t size;
	} cases[] = {
	    {"-rw-r--r--   1 owner     77 Dec  2 06:18 nogroup", "nogroup", 77},
	    {"-rw-r--r--+  1 u g 5 Dec  2 06:18 acl", "acl", 5},
	    {"-rw-r--r--.  1 u g 6 Dec  2 06:18 selinux", "selinux", 6},
	    {"-rwsr-sr-t   1 u g 7 Dec  2 06:18 sticky", "sticky", 7},
	    /* an owner or group called like a month does not fool it */
	    {"-rw-r--r-- 1 Dec 20 9 Dec  2 06:18 m", "m", 9},
	    {"-rw-r--r-- 1 Jan Feb 9 Dec  2 06:18 m", "m", 9},
	    {"-rw-r--r-- 1 u g 9 dec  2 06:18 lower", "lower", 9},
	    {"-rw-r--r-- 1 u g 9 Dec  2 6:18 short-hour", "short-hour", 9},
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("line \"%s\"", cases[i].line);
		g_assert_cmpint(unix_line(cases[i].line, listing_now(), &e), ==,
				1);
		assert_entry(&e, cases[i].name, false, cases[i].size,
			     utc(2026, 12, 2, 6, 18, 0));
		backend_entry_clear(&e);
	}
}

static void test_unix_total_dots_and_empty_skipped(void)
{
	static const char *const lines[] = {
	    "", "   ", "total 0", "total 123456",
	    "drwxr-xr-x 2 u g 4096 Dec  2 06:18 .",
	    "drwxr-xr-x 2 u g 4096 Dec  2 06:18 ..",
	};
	struct backend_entry e;

	for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
		g_test_message("line \"%s\"", lines[i]);
		g_assert_cmpint(unix_line(lines[i], listing_now(), &e), ==, 0);
		g_assert_null(e.name);
	}
}

static void test_garbage_lines_counted_bad(void)
{
	static const char unix_body[] =
	    "hello world\n"
	    "total\n"
	    "total 12 extra\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 \n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18\tname\n"
	    "-rw-r--r-- 1 u g 3x Dec  2 06:18 f\n"
	    "-rw-r--r-- 1 u g 3 Dex  2 06:18 f\n"
	    "-rw-r--r-- 1 u g 3 Dec 32 06:18 f\n"
	    "-rw-r--r-- 1 u g 3 Feb 30  2024 f\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 24:00 f\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:60 f\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 0000 f\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06-18 f\n"
	    "-rw-r--r-- 3 Dec  2 06:18 nolinks\n"
	    "-rw-r--r-x- 1 u g 3 Dec  2 06:18 f\n"
	    "-rw-r--r-Q 1 u g 3 Dec  2 06:18 f\n"
	    "-rw-r--r-- 1 u g 99999999999999999999 Dec  2 06:18 f\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 good\n";
	static const char mlsd_body[] =
	    "550 No such directory\r\n"
	    "type=file;size=3;modify=20261202061856; good\r\n"
	    "type=file;size=three; f\r\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 f\r\n";
	unsigned bad;
	GPtrArray *entries = parse(unix_body, sizeof(unix_body) - 1,
				   FTP_LISTING_UNIX, listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 18);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "good");
	g_ptr_array_unref(entries);
	entries = parse(mlsd_body, sizeof(mlsd_body) - 1, FTP_LISTING_MLSD,
			listing_now(), &bad);
	g_assert_cmpuint(bad, ==, 3);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "good");
	g_ptr_array_unref(entries);
}

static void test_nul_in_name_never_listed(void)
{
	static const char mlsd_body[] =
	    "type=file;size=3;modify=20261202061856; a\0b\r\n"
	    "type=file;size=3;modify=20261202061856; \0\r\n"
	    "type=file;size=3;mod\0ify=20261202061856; c\r\n"
	    "type=file;size=3;modify=20261202061856; ok\r\n";
	static const char unix_body[] =
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 a\0b\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 \0\n"
	    "-rw-r--r-- 1 u g 3 Dec  2 06:18 ok\n";
	unsigned bad;
	GPtrArray *entries = parse(mlsd_body, sizeof(mlsd_body) - 1,
				   FTP_LISTING_MLSD, listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 3);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "ok");
	g_ptr_array_unref(entries);
	entries = parse(unix_body, sizeof(unix_body) - 1, FTP_LISTING_UNIX,
			listing_now(), &bad);
	g_assert_cmpuint(bad, ==, 2);
	g_assert_cmpuint(entries->len, ==, 1);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "ok");
	g_ptr_array_unref(entries);
}

static void test_line_ends_and_last_line(void)
{
	/* "\r\n" or "\n", one "\r" taken off, the last line without an end,
	 * blank lines skipped in either form */
	static const char mlsd_body[] =
	    "type=file;size=1; a\r\n"
	    "\r\n"
	    "\n"
	    "type=file;size=2; b\r\r\n"
	    "type=file;size=3; c";
	static const char unix_body[] =
	    "-rw-r--r-- 1 u g 1 Dec  2 06:18 a\n"
	    "\r\n"
	    "-rw-r--r-- 1 u g 2 Dec  2 06:18 b\r";
	unsigned bad;
	GPtrArray *entries = parse(mlsd_body, sizeof(mlsd_body) - 1,
				   FTP_LISTING_MLSD, listing_now(), &bad);

	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 3);
	g_assert_cmpstr(entry(entries, 0)->name, ==, "a");
	g_assert_cmpstr(entry(entries, 1)->name, ==, "b\r");
	g_assert_cmpstr(entry(entries, 2)->name, ==, "c");
	g_assert_cmpuint(entry(entries, 2)->size, ==, 3);
	g_ptr_array_unref(entries);
	entries = parse(unix_body, sizeof(unix_body) - 1, FTP_LISTING_UNIX,
			listing_now(), &bad);
	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 2);
	g_assert_cmpstr(entry(entries, 1)->name, ==, "b");
	g_ptr_array_unref(entries);
	entries = parse("", 0, FTP_LISTING_MLSD, listing_now(), &bad);
	g_assert_cmpuint(bad, ==, 0);
	g_assert_cmpuint(entries->len, ==, 0);
	g_ptr_array_unref(entries);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ftp-listing/mlsd-files-folders-and-skips",
			test_mlsd_files_folders_and_skips);
	g_test_add_func("/ftp-listing/mlst-leading-space",
			test_mlst_leading_space);
	g_test_add_func("/ftp-listing/mlsd-etag-from-unique-modify-size",
			test_mlsd_etag_from_unique_modify_size);
	g_test_add_func("/ftp-listing/mlsd-fact-names-case-insensitive",
			test_mlsd_fact_names_case_insensitive);
	g_test_add_func(
	    "/ftp-listing/mlsd-names-with-spaces-semicolons-and-utf8",
	    test_mlsd_names_with_spaces_semicolons_and_utf8);
	g_test_add_func("/ftp-listing/mlsd-modify-utc-fraction-or-missing",
			test_mlsd_modify_utc_fraction_or_missing);
	g_test_add_func("/ftp-listing/mlsd-bad-lines", test_mlsd_bad_lines);
	g_test_add_func("/ftp-listing/unix-files-and-folders",
			test_unix_files_and_folders);
	g_test_add_func("/ftp-listing/unix-sftp-long-names",
			test_unix_sftp_long_names);
	g_test_add_func(
	    "/ftp-listing/unix-recent-date-takes-the-year-before-now",
	    test_unix_recent_date_takes_the_year_before_now);
	g_test_add_func("/ftp-listing/unix-year-form-is-midnight-utc",
			test_unix_year_form_is_midnight_utc);
	g_test_add_func("/ftp-listing/unix-names-with-spaces-and-utf8",
			test_unix_names_with_spaces_and_utf8);
	g_test_add_func("/ftp-listing/unix-symlinks-skipped",
			test_unix_symlinks_skipped);
	g_test_add_func("/ftp-listing/unix-missing-group-and-acl-marks",
			test_unix_missing_group_and_acl_marks);
	g_test_add_func("/ftp-listing/unix-total-dots-and-empty-skipped",
			test_unix_total_dots_and_empty_skipped);
	g_test_add_func("/ftp-listing/garbage-lines-counted-bad",
			test_garbage_lines_counted_bad);
	g_test_add_func("/ftp-listing/nul-in-name-never-listed",
			test_nul_in_name_never_listed);
	g_test_add_func("/ftp-listing/line-ends-and-last-line",
			test_line_ends_and_last_line);
	return g_test_run();
}
