/* Line handling shared by the lock and placeholder parsers. */
#ifndef RELAY_TEXT_H
#define RELAY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Lines of data (which holds no NUL), each without its "\r\n" or "\n";
 * at least one (empty) line, even for empty data; NULL-terminated, for
 * g_strfreev. Linear in len (unlike g_strsplit under ASan, whose strstr
 * interceptor rescans the rest). */
char **relay_text_lines(const char *data, size_t len);
/* Only spaces and tabs (or nothing). */
bool relay_text_blank(const char *line);

#endif
