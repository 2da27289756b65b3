/* libFuzzer target: any bytes as a PROPFIND answer; the multistatus
 * parser must neither crash nor leak. */
#include "relay/backends/webdav_xml.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(
		(GDestroyNotify)webdav_resource_free);
	char *why = NULL;

	webdav_parse_multistatus((const char *)data, size, out, &why);
	g_free(why);
	g_ptr_array_unref(out);
	return 0;
}
