/* The backend tables linked in: only the dispatcher (relay/backend.c) and
 * tests of one backend name them; everything else goes by URL scheme. */
#ifndef RELAY_BACKENDS_REGISTRY_H
#define RELAY_BACKENDS_REGISTRY_H

#include "relay/backend.h"

extern const struct backend_ops backend_local;
extern const struct backend_ops backend_webdav;
extern const struct backend_ops backend_ftp;
extern const struct backend_ops backend_sftp;

/* Every table above, NULL-terminated: adding a backend is its file and
 * its line in registry.c. */
extern const struct backend_ops *const backend_registry[];

#endif
