/* libFuzzer target: any bytes as a placeholder; parsing, counting and
 * registering by appending must neither crash nor leak, and an appended
 * puller must read back. */
#include "relay/placeholder.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_placeholder *ph = relay_placeholder_parse(
		(const char *)data, size);
	GBytes *appended;
	gsize len;
	const char *text;

	relay_placeholder_count_pullers(ph);
	relay_placeholder_has_puller(ph, "fuzzer");
	appended = relay_placeholder_append_puller((const char *)data, size,
						   "fuzzer");
	relay_placeholder_free(ph);
	text = g_bytes_get_data(appended, &len);
	ph = relay_placeholder_parse(text, len);
	/* a valid placeholder with a known pullers list must list us now */
	if (ph->valid && ph->pullers &&
	    !relay_placeholder_has_puller(ph, "fuzzer"))
		abort();
	relay_placeholder_free(ph);
	g_bytes_unref(appended);
	return 0;
}
