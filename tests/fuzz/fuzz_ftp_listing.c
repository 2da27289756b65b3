/* libFuzzer target: any bytes as an FTP/SFTP listing body, in the MLSD and
 * the Unix "ls -l" form; the parser must neither crash nor leak. */
#include "relay/backends/ftp_listing.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* relay/backend.c would bring every backend along (its registry); the
 * parser needs only this, as backend.c defines it. */
void backend_entry_free(struct backend_entry *entry)
{
	if (!entry)
		return;
	g_free(entry->name);
	g_free(entry->etag);
	g_free(entry);
}

/* What every listed entry must be: a non-empty name that is not "." or
 * "..", a folder of size 0. */
static void check(GPtrArray *entries)
{
	for (guint i = 0; i < entries->len; i++) {
		const struct backend_entry *e = entries->pdata[i];

		if (!e->name || !e->name[0] || !strcmp(e->name, ".") ||
		    !strcmp(e->name, "..") || (e->is_dir && e->size != 0))
			abort();
	}
}

static void parse(const uint8_t *data, size_t size,
		  enum ftp_listing_form form, int64_t now)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func(
		(GDestroyNotify)backend_entry_free);
	unsigned bad = 0;

	ftp_listing_parse((const char *)data, size, form, now, entries, &bad);
	check(entries);
	g_ptr_array_unref(entries);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	parse(data, size, FTP_LISTING_MLSD, 1796194800); /* 2026-12-02 */
	parse(data, size, FTP_LISTING_UNIX, 1796194800);
	parse(data, size, FTP_LISTING_UNIX, 0);
	return 0;
}
