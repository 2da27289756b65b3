/* GFileError codes back to errno: GLib maps errno to its codes
 * (g_file_error_from_errno) but not the other way. */
#include "cache/file_error.h"

#include <errno.h>

int cache_errno_of(const GError *error)
{
	static const int errnos[] = {
		[G_FILE_ERROR_EXIST] = EEXIST,
		[G_FILE_ERROR_ISDIR] = EISDIR,
		[G_FILE_ERROR_ACCES] = EACCES,
		[G_FILE_ERROR_NAMETOOLONG] = ENAMETOOLONG,
		[G_FILE_ERROR_NOENT] = ENOENT,
		[G_FILE_ERROR_NOTDIR] = ENOTDIR,
		[G_FILE_ERROR_ROFS] = EROFS,
		[G_FILE_ERROR_NOSPC] = ENOSPC,
		[G_FILE_ERROR_NOMEM] = ENOMEM,
		[G_FILE_ERROR_MFILE] = EMFILE,
		[G_FILE_ERROR_NFILE] = ENFILE,
		[G_FILE_ERROR_PERM] = EPERM,
		[G_FILE_ERROR_IO] = EIO,
	};

	if (!error || error->domain != G_FILE_ERROR || error->code < 0 ||
	    (size_t)error->code >= G_N_ELEMENTS(errnos) ||
	    errnos[error->code] == 0)
		return -EIO;
	return -errnos[error->code];
}
