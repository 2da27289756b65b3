/* Names in a relay: which are special (locks, placeholders, messages), and
 * the paths of a file's lock and placeholder. */
#ifndef RELAY_NAMES_H
#define RELAY_NAMES_H

#include <stdbool.h>

enum relay_special_kind {
	RELAY_NAME_REGULAR = 0,		/* not special */
	RELAY_NAME_LOCK,		/* .x.lock */
	RELAY_NAME_PLACEHOLDER,		/* .x.placeholder */
	RELAY_NAME_MESSAGE,		/* .x.message or .x.<sub>.message */
	RELAY_NAME_MUTEX,		/* .x.mutex: a folder, relayfs's own */
};

/* Special: starts with '.' and ends with .lock, .placeholder, .message or
 * .mutex. */
bool relay_name_is_special(const char *name);

/* Classify a name; for a special one with a target, *target (when not NULL)
 * gets the regular file's name it belongs to (newly allocated):
 * ".x.lock" -> "x", ".x.abc.message" -> "x" (the sub-extension dropped:
 * the shortest target). A special name with nothing before the suffix
 * (".lock") gets *target = NULL. */
enum relay_special_kind relay_name_classify(const char *name, char **target);

/* A name any client could have meant: non-empty, not "." or "..", valid
 * UTF-8 without '/' or control characters. Listings skip the others. */
bool relay_name_is_clean(const char *name);
/* The longest name a user may create: its placeholder's name
 * (".x.placeholder") must fit in the 255 bytes of a server's disk. */
#define RELAY_NAME_MAX (255 - 13)
/* A name a user may create: clean and not special. */
bool relay_name_is_valid(const char *name);

/* "dir/x" -> "dir/.x.lock"; "x" -> ".x.lock". Newly allocated. */
char *relay_lock_path(const char *path);
/* "dir/x" -> "dir/.x.mutex": the folder whose atomic creation decides
 * who may create or break .x.lock (relay/locking.c). */
char *relay_mutex_path(const char *path);
/* "dir/x" -> "dir/.x.placeholder". */
char *relay_placeholder_path(const char *path);
/* Join a directory path ("" for the root) and a name. */
char *relay_path_join(const char *dir, const char *name);
/* The last segment of path (points into path). */
const char *relay_path_basename(const char *path);
/* The directory part ("" for a top-level name). Newly allocated. */
char *relay_path_dirname(const char *path);

#endif
