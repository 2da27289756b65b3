/* Directory listings of FTP and SFTP servers turned into backend entries:
 * MLSD/MLST fact lines (RFC 3659) and the Unix "ls -l" form of LIST. */
#ifndef RELAY_BACKENDS_FTP_LISTING_H
#define RELAY_BACKENDS_FTP_LISTING_H

#include "relay/backend.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ftp_listing_form {
	FTP_LISTING_MLSD, /* "type=file;size=3;modify=20261202061856; name" */
	FTP_LISTING_UNIX, /* "-rw-r--r-- 1 u g 3 Dec  2 06:18 name" */
};

/* One MLSD or MLST line (without its line end; MLST's leading space
 * allowed) into e (name, is_dir, size, mtime, and an etag made of the
 * "unique", "modify" and "size" facts when the server gives "unique",
 * else NULL). Returns 1 for a file or folder, 0 for a line to skip
 * silently ("." and ".." as cdir/pdir, symlinks, other types), -1 for a
 * line that does not parse. e is only written when 1 is returned. */
int ftp_listing_parse_mlsx(const char *line, size_t len,
			   struct backend_entry *e);

/* One "ls -l" line into e (etag NULL; a date without a year is taken to
 * be within the year before now, UTC). Same returns; "total N" lines,
 * ".", ".." and symlinks give 0; e is only written when 1 is returned. */
int ftp_listing_parse_unix(const char *line, size_t len, int64_t now,
			   struct backend_entry *e);

/* A whole listing body (lines ending in "\r\n" or "\n"): appends one
 * struct backend_entry * per file or folder to entries (free func
 * backend_entry_free); a name holding a NUL byte is never appended.
 * *bad counts the lines that did not parse (the caller warns once). */
void ftp_listing_parse(const char *body, size_t len,
		       enum ftp_listing_form form, int64_t now,
		       GPtrArray *entries, unsigned *bad);

#endif
