/* Placeholder files: parse every form escale wrote, write the current one,
 * and register a puller by appending a line (never by re-serialising). */
#ifndef RELAY_PLACEHOLDER_H
#define RELAY_PLACEHOLDER_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

struct relay_placeholder {
	char *version;		/* "1.0"; NULL for legacy forms */
	char *pusher;		/* NULL when absent */
	bool has_timestamp;
	int64_t timestamp;	/* seconds since the epoch */
	char *checksum;		/* lowercase hex, or NULL */
	int parts;		/* -1 when absent */
	/* pullers in file order (char *), NULL when unknown (a corrupt file
	 * whose puller section could not be found) */
	GPtrArray *pullers;
	/* unknown "key: value" pairs in order: key, value, key, value... */
	GPtrArray *unknown;
	bool valid;		/* false: corrupt (see PROTOCOL.md) */
};

/* Never fails; a corrupt file gives valid = false with what could be read
 * (known fields before the bad line, and after a skipped bad meta line).
 * An empty file is valid with no meta information and no pullers. */
struct relay_placeholder *relay_placeholder_parse(const char *data,
						  size_t len);
void relay_placeholder_free(struct relay_placeholder *ph);

/* True when name is in the pullers list. */
bool relay_placeholder_has_puller(const struct relay_placeholder *ph,
				  const char *name);
/* Distinct names in the pullers list, the pusher excluded. */
unsigned relay_placeholder_count_pullers(const struct relay_placeholder *ph);

/* A new version's placeholder: header, pusher, timestamp, checksum (line
 * left out when NULL), empty pullers section; no final newline. */
char *relay_placeholder_format(const char *pusher, int64_t timestamp,
			       const char *checksum, size_t *len);

/* data + "\n" + name: registration as escale does it, keeping everything
 * else byte for byte. An empty data gives just name. */
GBytes *relay_placeholder_append_puller(const char *data, size_t len,
					const char *name);

#endif
