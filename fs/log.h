/* Where relayfs's messages go: stderr in the foreground, else the systemd
 * journal (GLib's structured logging), with the relay and file as fields. */
#ifndef FS_LOG_H
#define FS_LOG_H

#include <glib.h>
#include <stdbool.h>

/* Sets GLib's log writer: messages carry RELAYFS_RELAY (the URL without
 * credentials) and RELAYFS_CLIENT; to_journal sends them to journald,
 * falling back to stderr when no journal listens. Call once, before
 * any thread. */
void fs_log_setup(const char *relay, const char *client, bool to_journal);

/* A message about one file of the relay: MESSAGE, PRIORITY (from level),
 * RELAYFS_PATH and, when err is not 0, ERRNO (positive). */
void fs_log_file(GLogLevelFlags level, const char *path, int err,
		 const char *fmt, ...) G_GNUC_PRINTF(4, 5);

#endif
