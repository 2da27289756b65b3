/* relayfs's GLib log writer: each message gains the relay's fields and
 * goes to the journal when the daemon has no terminal, else to stderr. */
#include "fs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char *log_relay, *log_client;	/* set once, before threads */
static bool log_to_journal;

#define MAX_FIELDS 16

static GLogWriterOutput write_log(GLogLevelFlags level,
				  const GLogField *fields, gsize n_fields,
				  gpointer data)
{
	GLogField all[MAX_FIELDS + 2];
	gsize n = MIN(n_fields, (gsize)MAX_FIELDS);

	(void)data;
	if (g_log_writer_default_would_drop(level, "relayfs"))
		return G_LOG_WRITER_HANDLED;
	if (!log_to_journal)
		return g_log_writer_standard_streams(level, fields, n_fields,
						     NULL);
	memcpy(all, fields, n * sizeof(*all));
	all[n++] = (GLogField){"RELAYFS_RELAY", log_relay, -1};
	all[n++] = (GLogField){"RELAYFS_CLIENT", log_client, -1};
	if (g_log_writer_journald(level, all, n, NULL) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(level, fields, n_fields, NULL);
}

void fs_log_setup(const char *relay, const char *client, bool to_journal)
{
	g_free(log_relay);
	g_free(log_client);
	log_relay = g_strdup(relay);
	log_client = g_strdup(client);
	log_to_journal = to_journal;
	g_log_set_writer_func(write_log, NULL, NULL);
}

/* syslog's priorities, as GLib gives them to its own messages */
static const char *priority(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return "3";
	if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		return "4";
	if (level & G_LOG_LEVEL_MESSAGE)
		return "5";
	if (level & G_LOG_LEVEL_INFO)
		return "6";
	return "7";
}

void fs_log_file(GLogLevelFlags level, const char *path, int err,
		 const char *fmt, ...)
{
	char errno_text[16];
	char *message;
	va_list ap;
	GLogField fields[] = {
		{"MESSAGE", NULL, -1},
		{"PRIORITY", priority(level), -1},
		{"GLIB_DOMAIN", "relayfs", -1},
		{"RELAYFS_PATH", path, -1},
		{"ERRNO", errno_text, -1},
	};

	va_start(ap, fmt);
	message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fields[0].value = message;
	snprintf(errno_text, sizeof(errno_text), "%d", err < 0 ? -err : err);
	g_log_structured_array(level, fields,
			       G_N_ELEMENTS(fields) - (err == 0 ? 1 : 0));
	g_free(message);
}
