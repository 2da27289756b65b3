/* Lock files: parse every form escale wrote ("lock%1.0" with owner and mode,
 * a bare owner line, an empty file) and write the current one. */
#include "relay/lockfile.h"
#include "relay/text.h"

#include <glib.h>
#include <string.h>

#define LOCK_HEADER "lock%"

/* True when data is text a lock may hold: valid UTF-8, no NUL and no
 * control character but tab, "\n", and "\r" right before "\n" or at the
 * end. */
static bool text_is_clean(const char *data, size_t len)
{
	size_t i;
	unsigned char c;

	if (!g_utf8_validate(data, (gssize)len, NULL))
		return false;
	for (i = 0; i < len; i++) {
		c = (unsigned char)data[i];
		if (c == '\r' && (i + 1 == len || data[i + 1] == '\n'))
			continue;
		if (c == '\n' || c == '\t')
			continue;
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

/* One "key: value" line of the current format; unknown keys are ignored,
 * a line that is not "key: value" or a bad mode makes the lock invalid. */
static void parse_key_line(const char *line, struct relay_lock_info *out)
{
	const char *sep = strstr(line, ": ");
	const char *value;
	size_t key_len;

	if (relay_text_blank(line))
		return;
	if (sep == NULL) {
		out->valid = false;
		return;
	}
	key_len = (size_t)(sep - line);
	value = sep + 2;
	if (key_len == 5 && strncmp(line, "owner", 5) == 0) {
		g_free(out->owner);
		out->owner = value[0] != '\0' ? g_strdup(value) : NULL;
	} else if (key_len == 4 && strncmp(line, "mode", 4) == 0) {
		if (strcmp(value, "w") == 0)
			out->mode = RELAY_LOCK_WRITE;
		else if (strcmp(value, "r") == 0)
			out->mode = RELAY_LOCK_READ;
		else {
			out->mode = RELAY_LOCK_UNKNOWN;
			out->valid = false;
		}
	}
}

/* Headerless: the first non-blank line is the owner; a file of blank lines
 * is unclaimed. A first line in the key form ("owner: x") is read as keys. */
static void parse_legacy(char **lines, struct relay_lock_info *out)
{
	int i;

	for (i = 0; lines[i] != NULL && relay_text_blank(lines[i]); i++)
		;
	if (lines[i] == NULL)
		return;
	if (g_str_has_prefix(lines[i], "owner: ") ||
	    g_str_has_prefix(lines[i], "mode: ")) {
		for (; lines[i] != NULL; i++)
			parse_key_line(lines[i], out);
		return;
	}
	out->owner = g_strstrip(g_strdup(lines[i]));
}

void relay_lock_parse(const char *data, size_t len, struct relay_lock_info *out)
{
	char **lines;

	memset(out, 0, sizeof(*out));
	out->mode = RELAY_LOCK_UNKNOWN;
	out->valid = true;
	if (len == 0)
		return;
	if (data == NULL || !text_is_clean(data, len)) {
		out->valid = false;
		return;
	}
	lines = relay_text_lines(data, len);
	if (g_str_has_prefix(lines[0], LOCK_HEADER)) {
		out->version = g_strdup(lines[0] + strlen(LOCK_HEADER));
		for (int i = 1; lines[i] != NULL; i++)
			parse_key_line(lines[i], out);
	} else {
		parse_legacy(lines, out);
	}
	g_strfreev(lines);
}

void relay_lock_info_clear(struct relay_lock_info *info)
{
	if (info == NULL)
		return;
	g_free(info->version);
	g_free(info->owner);
	memset(info, 0, sizeof(*info));
	info->mode = RELAY_LOCK_UNKNOWN;
}

char *relay_lock_format(const char *owner, enum relay_lock_mode mode,
			size_t *len)
{
	GString *s = g_string_new(LOCK_HEADER "1.0");

	g_string_append_printf(s, "\nowner: %s", owner != NULL ? owner : "");
	if (mode == RELAY_LOCK_READ || mode == RELAY_LOCK_WRITE)
		g_string_append_printf(s, "\nmode: %c", (char)mode);
	if (len != NULL)
		*len = s->len;
	return g_string_free(s, FALSE);
}
