/* Line handling shared by the lock and placeholder parsers: splitting
 * text into lines whatever their ends, and blank lines. */
#include "relay/text.h"

#include <glib.h>
#include <string.h>

char **relay_text_lines(const char *data, size_t len)
{
	GPtrArray *lines = g_ptr_array_new();
	const char *end = data + len;
	const char *p = data;
	const char *nl;
	size_t n;

	for (;;) {
		nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		g_ptr_array_add(lines, g_strndup(p, n));
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	g_ptr_array_add(lines, NULL);
	return (char **)g_ptr_array_free(lines, FALSE);
}

bool relay_text_blank(const char *line)
{
	for (; *line != '\0'; line++)
		if (!g_ascii_isspace(*line))
			return false;
	return true;
}
