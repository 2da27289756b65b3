/* The one list of backends: a new backend is its file and one line here.
 * URL schemes, --help and option checks are read from it. */
#include "relay/backends/registry.h"

const struct backend_ops *const backend_registry[] = {
	&backend_webdav,
	&backend_ftp,
	&backend_sftp,
	&backend_local,
	NULL,
};
