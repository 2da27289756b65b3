/* Names in a relay: recognise special names (.x.lock, .x.placeholder,
 * .x[.sub].message), find the file they belong to, and build relay paths. */
#include "relay/names.h"
#include "relay/backend.h"

#include <glib.h>
#include <string.h>

#define LOCK_SUFFIX ".lock"
#define PLACEHOLDER_SUFFIX ".placeholder"
#define MESSAGE_SUFFIX ".message"
#define MUTEX_SUFFIX ".mutex"

/* The kind a name would have by its suffix alone (no check of the '.'). */
static enum relay_special_kind kind_by_suffix(const char *name)
{
	if (g_str_has_suffix(name, LOCK_SUFFIX))
		return RELAY_NAME_LOCK;
	if (g_str_has_suffix(name, PLACEHOLDER_SUFFIX))
		return RELAY_NAME_PLACEHOLDER;
	if (g_str_has_suffix(name, MESSAGE_SUFFIX))
		return RELAY_NAME_MESSAGE;
	if (g_str_has_suffix(name, MUTEX_SUFFIX))
		return RELAY_NAME_MUTEX;
	return RELAY_NAME_REGULAR;
}

static size_t suffix_len(enum relay_special_kind kind)
{
	switch (kind) {
	case RELAY_NAME_LOCK:
		return strlen(LOCK_SUFFIX);
	case RELAY_NAME_PLACEHOLDER:
		return strlen(PLACEHOLDER_SUFFIX);
	case RELAY_NAME_MESSAGE:
		return strlen(MESSAGE_SUFFIX);
	case RELAY_NAME_MUTEX:
		return strlen(MUTEX_SUFFIX);
	default:
		return 0;
	}
}

bool relay_name_is_special(const char *name)
{
	if (name == NULL || name[0] != '.')
		return false;
	return kind_by_suffix(name) != RELAY_NAME_REGULAR;
}

/* The target of a special name of the given kind, or NULL when nothing is
 * left between the leading '.' and the suffix. A message's sub-extension
 * (the last ".sub" of what is left) is dropped when there is one and
 * something remains before it. "." and ".." are no file's name: NULL. */
static char *special_target(const char *name, enum relay_special_kind kind)
{
	size_t len = strlen(name);
	size_t slen = suffix_len(kind);
	char *stem;
	char *dot;

	if (len <= slen + 1)
		return NULL;
	stem = g_strndup(name + 1, len - slen - 1);
	if (kind == RELAY_NAME_MESSAGE) {
		dot = strrchr(stem, '.');
		if (dot != NULL && dot != stem)
			*dot = '\0';
	}
	if (strcmp(stem, ".") == 0 || strcmp(stem, "..") == 0) {
		g_free(stem);
		return NULL;
	}
	return stem;
}

enum relay_special_kind relay_name_classify(const char *name, char **target)
{
	enum relay_special_kind kind;

	if (target != NULL)
		*target = NULL;
	if (!relay_name_is_special(name))
		return RELAY_NAME_REGULAR;
	kind = kind_by_suffix(name);
	if (target != NULL)
		*target = special_target(name, kind);
	return kind;
}

bool relay_name_is_clean(const char *name)
{
	/* the dispatcher's filter of listings, the same for user names */
	return name && !backend_name_problem(name);
}

bool relay_name_is_valid(const char *name)
{
	return relay_name_is_clean(name) && !relay_name_is_special(name);
}

/* path with its last segment x replaced by ".x<suffix>". */
static char *sibling_path(const char *path, const char *suffix)
{
	const char *base = relay_path_basename(path);
	int dir_len = (int)(base - path);

	return g_strdup_printf("%.*s.%s%s", dir_len, path, base, suffix);
}

char *relay_lock_path(const char *path)
{
	return sibling_path(path, LOCK_SUFFIX);
}

char *relay_mutex_path(const char *path)
{
	return sibling_path(path, MUTEX_SUFFIX);
}

char *relay_placeholder_path(const char *path)
{
	return sibling_path(path, PLACEHOLDER_SUFFIX);
}

char *relay_path_join(const char *dir, const char *name)
{
	if (dir == NULL || dir[0] == '\0')
		return g_strdup(name);
	if (g_str_has_suffix(dir, "/"))
		return g_strconcat(dir, name, NULL);
	return g_strconcat(dir, "/", name, NULL);
}

const char *relay_path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

char *relay_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return g_strdup("");
	if (slash == path)
		return g_strdup("/");
	return g_strndup(path, (gsize)(slash - path));
}
