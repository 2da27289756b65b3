/* Placeholder files: parse every form escale wrote (current, legacy
 * timestamp + pullers, empty), write the current one, append a puller. */
#include "relay/placeholder.h"
#include "relay/text.h"

#include <string.h>

#define PLACEHOLDER_HEADER "placeholder%"
#define SECTION_CHARS "-=+#%"

static struct relay_placeholder *placeholder_new(void)
{
	struct relay_placeholder *ph = g_new0(struct relay_placeholder, 1);

	ph->parts = -1;
	ph->pullers = g_ptr_array_new_with_free_func(g_free);
	ph->unknown = g_ptr_array_new_with_free_func(g_free);
	ph->valid = true;
	return ph;
}

/* Corrupt, and the pullers cannot be known. */
static void mark_pullers_unknown(struct relay_placeholder *ph)
{
	ph->valid = false;
	g_clear_pointer(&ph->pullers, g_ptr_array_unref);
}

/* A control character other than tab (the "\r" of "\r\n" is gone). */
static bool has_control_chars(const char *line)
{
	const unsigned char *p;

	for (p = (const unsigned char *)line; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return true;
	return false;
}

/* One line of a pullers list: blank lines skipped, names trimmed, a line
 * with control characters makes the file corrupt and is skipped. */
static void add_puller(struct relay_placeholder *ph, const char *line)
{
	if (relay_text_blank(line))
		return;
	if (has_control_chars(line)) {
		ph->valid = false;
		return;
	}
	if (ph->pullers != NULL)
		g_ptr_array_add(ph->pullers, g_strstrip(g_strdup(line)));
}

/* "key: value"; known keys fill fields (the last occurrence wins), others
 * are kept in order in ph->unknown. A bad line or value: corrupt. */
static void parse_meta_line(struct relay_placeholder *ph, const char *line)
{
	const char *sep = strstr(line, ": ");
	const char *value;
	char *key;
	gint64 num;

	if (sep == NULL || has_control_chars(line)) {
		ph->valid = false;
		return;
	}
	key = g_strndup(line, (gsize)(sep - line));
	value = sep + 2;
	if (strcmp(key, "pusher") == 0) {
		g_free(ph->pusher);
		ph->pusher = g_strdup(value);
	} else if (strcmp(key, "checksum") == 0) {
		g_free(ph->checksum);
		ph->checksum = g_strdup(value);
	} else if (strcmp(key, "timestamp") == 0) {
		if (g_ascii_string_to_signed(value, 10, G_MININT64, G_MAXINT64,
					     &num, NULL)) {
			ph->has_timestamp = true;
			ph->timestamp = num;
		} else {
			ph->valid = false;
		}
	} else if (strcmp(key, "parts") == 0) {
		if (g_ascii_string_to_signed(value, 10, 0, G_MAXINT, &num,
					     NULL))
			ph->parts = (int)num;
		else
			ph->valid = false;
	} else {
		g_ptr_array_add(ph->unknown, key);
		g_ptr_array_add(ph->unknown, g_strdup(value));
		return;
	}
	g_free(key);
}

/* The name of a section line: the line with SECTION_CHARS and spaces
 * stripped from both ends. Newly allocated. */
static char *section_name(const char *line)
{
	const char *start = line;
	const char *end = line + strlen(line);

	while (*start != '\0' && strchr(SECTION_CHARS, *start) != NULL)
		start++;
	while (end > start && strchr(SECTION_CHARS, end[-1]) != NULL)
		end--;
	return g_strstrip(g_strndup(start, (gsize)(end - start)));
}

/* Current format: lines[0] is the header. */
static void parse_current(struct relay_placeholder *ph, char **lines)
{
	bool in_pullers = false;
	char *name;
	bool known;
	int i;

	ph->version = g_strdup(lines[0] + strlen(PLACEHOLDER_HEADER));
	for (i = 1; lines[i] != NULL; i++) {
		if (in_pullers) {
			add_puller(ph, lines[i]);
			continue;
		}
		if (relay_text_blank(lines[i]))
			continue;
		if (strchr(SECTION_CHARS, lines[i][0]) == NULL) {
			parse_meta_line(ph, lines[i]);
			continue;
		}
		name = section_name(lines[i]);
		known = strcmp(name, "pullers") == 0 ||
			strcmp(name, "readers") == 0;
		g_free(name);
		if (!known) {
			mark_pullers_unknown(ph);
			return;
		}
		in_pullers = true;
	}
}

/* Whether line is "%y%m%d_%H%M%S": 6 digits, '_', 6 digits. */
static bool looks_like_legacy_time(const char *line)
{
	int i;

	if (strlen(line) != 13 || line[6] != '_')
		return false;
	for (i = 0; i < 13; i++)
		if (i != 6 && !g_ascii_isdigit(line[i]))
			return false;
	return true;
}

static int two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* "%y%m%d_%H%M%S" in UTC to seconds since the epoch; years 69-99 are the
 * 1900s, 00-68 the 2000s (as Python's strptime). False if no such time. */
static bool parse_legacy_time(const char *line, int64_t *out)
{
	int year = two_digits(line);
	GDateTime *dt;

	year += year < 69 ? 2000 : 1900;
	dt = g_date_time_new_utc(year, two_digits(line + 2),
				 two_digits(line + 4), two_digits(line + 7),
				 two_digits(line + 9), two_digits(line + 11));
	if (dt == NULL)
		return false;
	*out = g_date_time_to_unix(dt);
	g_date_time_unref(dt);
	return true;
}

/* Headerless: an optional legacy time line, then one puller a line. Text
 * with control characters is not such a file: corrupt, pullers unknown. */
static void parse_legacy(struct relay_placeholder *ph, char **lines)
{
	int i;

	for (i = 0; lines[i] != NULL; i++) {
		if (has_control_chars(lines[i])) {
			mark_pullers_unknown(ph);
			return;
		}
	}
	i = 0;
	if (looks_like_legacy_time(lines[0])) {
		if (parse_legacy_time(lines[0], &ph->timestamp))
			ph->has_timestamp = true;
		else
			ph->valid = false;
		i = 1;
	}
	for (; lines[i] != NULL; i++)
		add_puller(ph, lines[i]);
}

struct relay_placeholder *relay_placeholder_parse(const char *data, size_t len)
{
	struct relay_placeholder *ph = placeholder_new();
	const char *end = NULL;
	const char *last_nl;
	bool utf8_ok;
	size_t text_len;
	char **lines;

	if (data == NULL || len == 0)
		return ph;
	/* Invalid UTF-8 (or a NUL): read the whole lines before it only. */
	utf8_ok = g_utf8_validate(data, (gssize)len, &end);
	text_len = len;
	if (!utf8_ok) {
		last_nl = memrchr(data, '\n', (size_t)(end - data));
		text_len = last_nl != NULL ? (size_t)(last_nl - data) : 0;
	}
	lines = relay_text_lines(data, text_len);
	if (g_str_has_prefix(lines[0], PLACEHOLDER_HEADER))
		parse_current(ph, lines);
	else
		parse_legacy(ph, lines);
	g_strfreev(lines);
	if (!utf8_ok)
		mark_pullers_unknown(ph);
	return ph;
}

void relay_placeholder_free(struct relay_placeholder *ph)
{
	if (ph == NULL)
		return;
	g_free(ph->version);
	g_free(ph->pusher);
	g_free(ph->checksum);
	if (ph->pullers != NULL)
		g_ptr_array_unref(ph->pullers);
	g_ptr_array_unref(ph->unknown);
	g_free(ph);
}

bool relay_placeholder_has_puller(const struct relay_placeholder *ph,
				  const char *name)
{
	guint i;

	if (ph == NULL || ph->pullers == NULL || name == NULL)
		return false;
	for (i = 0; i < ph->pullers->len; i++)
		if (strcmp(g_ptr_array_index(ph->pullers, i), name) == 0)
			return true;
	return false;
}

unsigned relay_placeholder_count_pullers(const struct relay_placeholder *ph)
{
	GHashTable *seen;
	const char *name;
	unsigned count;
	guint i;

	if (ph == NULL || ph->pullers == NULL)
		return 0;
	seen = g_hash_table_new(g_str_hash, g_str_equal);
	for (i = 0; i < ph->pullers->len; i++) {
		name = g_ptr_array_index(ph->pullers, i);
		if (ph->pusher != NULL && strcmp(name, ph->pusher) == 0)
			continue;
		g_hash_table_add(seen, (gpointer)name);
	}
	count = g_hash_table_size(seen);
	g_hash_table_destroy(seen);
	return count;
}

char *relay_placeholder_format(const char *pusher, int64_t timestamp,
			       const char *checksum, size_t *len)
{
	GString *s = g_string_new(PLACEHOLDER_HEADER "1.0\n");

	if (pusher != NULL)
		g_string_append_printf(s, "pusher: %s\n", pusher);
	g_string_append_printf(s, "timestamp: %" G_GINT64_FORMAT "\n",
			       (gint64)timestamp);
	if (checksum != NULL)
		g_string_append_printf(s, "checksum: %s\n", checksum);
	g_string_append(s, "---pullers---");
	if (len != NULL)
		*len = s->len;
	return g_string_free(s, FALSE);
}

GBytes *relay_placeholder_append_puller(const char *data, size_t len,
					const char *name)
{
	size_t name_len = strlen(name);
	size_t total = len > 0 ? len + 1 + name_len : name_len;
	char *buf = g_malloc(total + 1);

	if (len > 0) {
		memcpy(buf, data, len);
		buf[len] = '\n';
		memcpy(buf + len + 1, name, name_len);
	} else {
		memcpy(buf, name, name_len);
	}
	return g_bytes_new_take(buf, total);
}
