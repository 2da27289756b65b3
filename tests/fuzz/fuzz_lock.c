/* libFuzzer target: any bytes as a lock file; the parser must neither
 * crash nor leak, and what it reads must be consistent. */
#include "relay/lockfile.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct relay_lock_info info;

	relay_lock_parse((const char *)data, size, &info);
	if (info.mode != RELAY_LOCK_UNKNOWN && info.mode != RELAY_LOCK_READ &&
	    info.mode != RELAY_LOCK_WRITE)
		abort();
	if (info.owner && strchr(info.owner, '\n'))
		abort();
	relay_lock_info_clear(&info);
	return 0;
}
