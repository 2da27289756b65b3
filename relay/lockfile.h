/* Lock files: parse what any escale version or relayfs wrote, write the
 * current format ("lock%1.0", owner, mode). */
#ifndef RELAY_LOCKFILE_H
#define RELAY_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>

enum relay_lock_mode {
	RELAY_LOCK_UNKNOWN = 0,	/* legacy or unreadable: mode not stated */
	RELAY_LOCK_READ = 'r',
	RELAY_LOCK_WRITE = 'w',
};

struct relay_lock_info {
	char *version;	/* "1.0", or NULL for the legacy forms */
	char *owner;	/* NULL: unclaimed (empty file) or unreadable */
	enum relay_lock_mode mode;
	bool valid;	/* false: unreadable (binary garbage, bad header) */
};

/* Never fails: unreadable content gives owner NULL, valid false.
 * Accepts "\r\n" line ends and no final newline. */
void relay_lock_parse(const char *data, size_t len,
		      struct relay_lock_info *out);
void relay_lock_info_clear(struct relay_lock_info *info);

/* "lock%1.0\nowner: NAME\nmode: M" (no final newline, as escale). */
char *relay_lock_format(const char *owner, enum relay_lock_mode mode,
			size_t *len);

#endif
