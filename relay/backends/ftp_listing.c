/* Parsing of FTP and SFTP directory listings: MLSD/MLST fact lines and the
 * Unix "ls -l" lines of LIST and sftp-server, into backend entries. */
#include "relay/backends/ftp_listing.h"

#include <string.h>

/* A piece of a line: not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

static bool in_set(char c, const char *set)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static bool span_is(struct span s, const char *word)
{
	return s.n == strlen(word) && g_ascii_strncasecmp(s.p, word, s.n) == 0;
}

static bool is_dot_name(struct span s)
{
	return (s.n == 1 && s.p[0] == '.') ||
	       (s.n == 2 && s.p[0] == '.' && s.p[1] == '.');
}

static bool all_digits(struct span s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!g_ascii_isdigit(s.p[i]))
			return false;
	return true;
}

/* A decimal number, digits only (no sign, no spaces, no overflow). */
static bool parse_u64(struct span s, uint64_t *out)
{
	g_autofree char *text = NULL;
	guint64 v;

	if (!all_digits(s))
		return false;
	text = g_strndup(s.p, s.n);
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT64, &v, NULL))
		return false;
	*out = v;
	return true;
}

/* Digits only, at most 9 of them, into an int. */
static bool parse_small(struct span s, int *out)
{
	uint64_t v;

	if (s.n > 9 || !parse_u64(s, &v))
		return false;
	*out = (int)v;
	return true;
}

static struct span sub(struct span s, size_t from, size_t n)
{
	return (struct span){s.p + from, n};
}

/* UTC seconds of a calendar date and time; false when there is no such. */
static bool utc_seconds(int year, int month, int day, int hour, int minute,
			int second, int64_t *out)
{
	GDateTime *dt = g_date_time_new_utc(year, month, day, hour, minute,
					    second);

	if (!dt)
		return false;
	*out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return true;
}

/* ---- MLSD / MLST ---- */

/* The facts a listing needs, as the server wrote them ("" when absent). */
struct mlsx_facts {
	struct span type, size, modify, unique;
	bool has_type, has_size, has_modify, has_unique;
};

/* One "name=value" fact; names the entry does not need are ignored. */
static bool mlsx_fact(struct span fact, struct mlsx_facts *f)
{
	const char *eq = memchr(fact.p, '=', fact.n);
	struct span name, value;

	if (!eq || eq == fact.p)
		return false;
	name = sub(fact, 0, (size_t)(eq - fact.p));
	value = sub(fact, name.n + 1, fact.n - name.n - 1);
	if (span_is(name, "type")) {
		f->type = value;
		f->has_type = true;
	} else if (span_is(name, "size")) {
		f->size = value;
		f->has_size = true;
	} else if (span_is(name, "modify")) {
		f->modify = value;
		f->has_modify = true;
	} else if (span_is(name, "unique")) {
		f->unique = value;
		f->has_unique = true;
	}
	return true;
}

/* "fact;fact;...;" (each fact ends in ';'); false on an empty or
 * malformed fact. */
static bool mlsx_facts(struct span facts, struct mlsx_facts *f)
{
	size_t start = 0;

	for (size_t i = 0; i < facts.n; i++) {
		if (facts.p[i] != ';')
			continue;
		if (!mlsx_fact(sub(facts, start, i - start), f))
			return false;
		start = i + 1;
	}
	return start == facts.n;
}

/* "YYYYMMDDHHMMSS" with an optional ".sss" fraction (ignored), UTC. */
static bool mlsx_time(struct span s, int64_t *out)
{
	int v[6];
	static const size_t at[6] = {0, 4, 6, 8, 10, 12};
	static const size_t width[6] = {4, 2, 2, 2, 2, 2};

	if (s.n < 14 || (s.n > 14 && (s.p[14] != '.' ||
				      !all_digits(sub(s, 15, s.n - 15)))))
		return false;
	for (int i = 0; i < 6; i++)
		if (!parse_small(sub(s, at[i], width[i]), &v[i]))
			return false;
	return utc_seconds(v[0], v[1], v[2], v[3], v[4], v[5], out);
}

/* 1 for type=file, 2 for type=dir, 0 for everything else. */
static int mlsx_kind(const struct mlsx_facts *f)
{
	if (!f->has_type)
		return 0;
	if (span_is(f->type, "file"))
		return 1;
	if (span_is(f->type, "dir"))
		return 2;
	return 0;
}

static char *mlsx_etag(const struct mlsx_facts *f)
{
	if (!f->has_unique)
		return NULL;
	return g_strdup_printf("\"%.*s-%.*s-%.*s\"", (int)f->unique.n,
			       f->unique.p, (int)f->modify.n, f->modify.p,
			       (int)f->size.n, f->size.p);
}

int ftp_listing_parse_mlsx(const char *line, size_t len,
			   struct backend_entry *e)
{
	struct span s = {line, len}, name;
	struct mlsx_facts f = {
	    .type = {"", 0}, .size = {"", 0}, .modify = {"", 0},
	    .unique = {"", 0},
	};
	const char *sep;
	uint64_t size = 0;
	int64_t mtime = 0;
	int kind;

	if (s.n > 0 && s.p[0] == ' ')
		s = sub(s, 1, s.n - 1);
	if (memchr(s.p, '\0', s.n))
		return -1;
	sep = g_strstr_len(s.p, (gssize)s.n, "; ");
	if (!sep)
		return -1;
	name = sub(s, (size_t)(sep - s.p) + 2, s.n - (size_t)(sep - s.p) - 2);
	if (name.n == 0 || !mlsx_facts(sub(s, 0, (size_t)(sep - s.p) + 1), &f))
		return -1;
	kind = mlsx_kind(&f);
	if (kind == 0 || is_dot_name(name))
		return 0;
	if ((f.has_size && !parse_u64(f.size, &size)) ||
	    (f.has_modify && !mlsx_time(f.modify, &mtime)))
		return -1;
	e->name = g_strndup(name.p, name.n);
	e->is_dir = kind == 2;
	e->size = e->is_dir ? 0 : size;
	e->mtime = mtime;
	e->etag = mlsx_etag(&f);
	return 1;
}

/* ---- Unix "ls -l" ---- */

#define UNIX_FIELDS 16

/* The first fields of a line, split on runs of spaces and tabs. */
static size_t unix_fields(struct span s, struct span *fields, size_t max)
{
	size_t n = 0, i = 0;

	while (n < max) {
		size_t start;

		while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t'))
			i++;
		if (i == s.n)
			break;
		start = i;
		while (i < s.n && s.p[i] != ' ' && s.p[i] != '\t')
			i++;
		fields[n++] = sub(s, start, i - start);
	}
	return n;
}

/* The file type letter of a permission string such as "drwxr-xr-x+",
 * or 0 when the field is not one. */
static char unix_perms(struct span f)
{
	if (f.n == 11 && in_set(f.p[10], "+.@"))
		f.n = 10;
	if (f.n != 10)
		return 0;
	for (size_t i = 1; i < 10; i++)
		if (!in_set(f.p[i], "rwxsStTlL-"))
			return 0;
	return g_ascii_isalpha(f.p[0]) || f.p[0] == '-' ? f.p[0] : 0;
}

/* 1..12 for "Jan".."Dec" (any case), else 0. */
static int unix_month(struct span f)
{
	static const char *const months[12] = {
	    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};

	for (int i = 0; i < 12; i++)
		if (span_is(f, months[i]))
			return i + 1;
	return 0;
}

/* "HH:MM" (or "H:MM") into hour and minute. */
static bool unix_clock(struct span f, int *hour, int *minute)
{
	const char *colon = memchr(f.p, ':', f.n);
	size_t h;

	if (!colon)
		return false;
	h = (size_t)(colon - f.p);
	return h >= 1 && h <= 2 && f.n - h - 1 == 2 &&
	       parse_small(sub(f, 0, h), hour) &&
	       parse_small(sub(f, h + 1, 2), minute);
}

/* The date fields "Mon DD HH:MM" or "Mon DD YYYY". */
struct unix_date {
	int month, day, year, hour, minute; /* year 0: "HH:MM" form */
};

static bool unix_date_at(const struct span *f, struct unix_date *d)
{
	d->month = unix_month(f[0]);
	if (!d->month || f[1].n > 2 || !parse_small(f[1], &d->day) ||
	    d->day < 1 || d->day > 31)
		return false;
	d->year = d->hour = d->minute = 0;
	if (f[2].n == 4 && all_digits(f[2]))
		return parse_small(f[2], &d->year) && d->year > 0;
	return unix_clock(f[2], &d->hour, &d->minute);
}

/* A date without a year is the latest one not more than a day after now. */
static bool unix_mtime(const struct unix_date *d, int64_t now, int64_t *out)
{
	GDateTime *today;
	int year;

	if (d->year)
		return utc_seconds(d->year, d->month, d->day, 0, 0, 0, out);
	today = g_date_time_new_from_unix_utc(now);
	if (!today)
		return false;
	year = g_date_time_get_year(today);
	g_date_time_unref(today);
	if (utc_seconds(year, d->month, d->day, d->hour, d->minute, 0, out) &&
	    *out <= now + 86400)
		return true;
	return utc_seconds(year - 1, d->month, d->day, d->hour, d->minute, 0,
			   out);
}

/* "total N" as ls prints it before the entries. */
static bool unix_total(const struct span *f, size_t n)
{
	return n == 2 && span_is(f[0], "total") && all_digits(f[1]);
}

/* The index of the month field: the first "Mon DD time" that follows a
 * size (a number) after the permissions and at least one more word (links,
 * owner, group: some servers leave out one); 0 when there is none. */
static size_t unix_find_date(const struct span *f, size_t n,
			     struct unix_date *d)
{
	for (size_t i = 3; i + 2 < n; i++)
		if (all_digits(f[i - 1]) && unix_date_at(&f[i], d))
			return i;
	return 0;
}

int ftp_listing_parse_unix(const char *line, size_t len, int64_t now,
			   struct backend_entry *e)
{
	struct span s = {line, len}, f[UNIX_FIELDS], name;
	struct unix_date d;
	size_t n, at, end;
	uint64_t size;
	int64_t mtime;
	char type;

	if (memchr(s.p, '\0', s.n))
		return -1;
	n = unix_fields(s, f, UNIX_FIELDS);
	if (n == 0 || unix_total(f, n))
		return 0;
	type = unix_perms(f[0]);
	if (!type)
		return -1;
	if (type != '-' && type != 'd')
		return 0;
	at = unix_find_date(f, n, &d);
	if (!at || !parse_u64(f[at - 1], &size) || !unix_mtime(&d, now, &mtime))
		return -1;
	end = (size_t)(f[at + 2].p + f[at + 2].n - s.p);
	if (end + 1 >= s.n || s.p[end] != ' ')
		return -1;
	name = sub(s, end + 1, s.n - end - 1);
	if (is_dot_name(name))
		return 0;
	e->name = g_strndup(name.p, name.n);
	e->is_dir = type == 'd';
	e->size = e->is_dir ? 0 : size;
	e->mtime = mtime;
	e->etag = NULL;
	return 1;
}

/* ---- whole listings ---- */

static int parse_line(const char *line, size_t len,
		      enum ftp_listing_form form, int64_t now,
		      struct backend_entry *e)
{
	if (form == FTP_LISTING_MLSD)
		return ftp_listing_parse_mlsx(line, len, e);
	return ftp_listing_parse_unix(line, len, now, e);
}

/* One line without its end: empty lines are skipped in either form. */
static void add_line(const char *line, size_t len, enum ftp_listing_form form,
		     int64_t now, GPtrArray *entries, unsigned *bad)
{
	struct backend_entry *e;
	int ret;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return;
	e = g_new0(struct backend_entry, 1);
	ret = parse_line(line, len, form, now, e);
	/* the line parsers refuse NUL bytes already; a name cut short at
	 * one must never reach a listing whatever they do */
	if (ret == 1 && memchr(line, '\0', len))
		ret = -1;
	if (ret == 1) {
		g_ptr_array_add(entries, e);
		return;
	}
	backend_entry_free(e);
	if (ret < 0)
		(*bad)++;
}

void ftp_listing_parse(const char *body, size_t len,
		       enum ftp_listing_form form, int64_t now,
		       GPtrArray *entries, unsigned *bad)
{
	size_t start = 0;

	while (start < len) {
		const char *nl = memchr(body + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - body) : len;

		add_line(body + start, end - start, form, now, entries, bad);
		start = end + 1;
	}
}
