/* The errno behind a GLib file error (g_file_set_contents and friends
 * report GFileError codes), so that ENOSPC reaches the caller as ENOSPC. */
#ifndef CACHE_FILE_ERROR_H
#define CACHE_FILE_ERROR_H

#include <glib.h>

/* A negative errno: the code of a G_FILE_ERROR, else -EIO. */
int cache_errno_of(const GError *error);

#endif
