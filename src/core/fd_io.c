/* Whole reads and writes (fd_io.h). */
#include "core/fd_io.h"

#include <errno.h>
#include <unistd.h>

#include "core/err.h"

int fd_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return DP_ERR_IO;
        c += w;
        n -= (size_t)w;
    }
    return DP_OK;
}

int fd_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return DP_ERR_IO;
        c += r;
        n -= (size_t)r;
    }
    return DP_OK;
}
