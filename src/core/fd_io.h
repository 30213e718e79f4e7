/* Whole reads and writes on a file descriptor (a short count or EINTR is carried on, not failed). */
#ifndef DP_FD_IO_H
#define DP_FD_IO_H

#include <stddef.h>

/* Writes all n bytes of p: DP_OK, or DP_ERR_IO (errno from write). */
int fd_write_all(int fd, const void *p, size_t n);
/* Reads exactly n bytes into p: DP_OK, or DP_ERR_IO on an error or an end before n bytes. */
int fd_read_all(int fd, void *p, size_t n);

#endif
