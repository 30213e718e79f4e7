/* Static files of the browser UI (web/): safe path mapping, ETag revalidation, no-cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "net/server_internal.h"

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".webp", "image/webp"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".woff2", "font/woff2"},
    {".wasm", "application/wasm"},
};

static const char *mime_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot)
        for (size_t i = 0; i < sizeof mime_types / sizeof mime_types[0]; i++)
            if (!strcmp(dot, mime_types[i].ext))
                return mime_types[i].type;
    return "application/octet-stream";
}

/* Refuses anything that could leave web_dir: "..", backslashes, NUL, hidden files. */
static int path_safe(const char *path)
{
    if (path[0] != '/' || strlen(path) > 512)
        return 0;
    for (const char *p = path; *p; p++) {
        if (*p == '\\')
            return 0;
        if (p[0] == '/' && p[1] == '.')
            return 0; /* "..", "." and dot-files */
    }
    return 1;
}

int static_path_is_own(const char *const *own, const char *path)
{
    for (; own && *own; own++) {
        size_t n = strlen(*own);
        if (!strncmp(path, *own, n) || (n > 1 && (*own)[n - 1] == '/' && !strncmp(path, *own, n - 1) && !path[n - 1]))
            return 1;
    }
    return 0;
}

/* A client-side route of the single-page app (/legacy/{slug}, /avatars/{id}, …): no file extension in
 * its last segment and none of the application's own prefixes. Such a path gets index.html when no
 * file has its name, so that a reload or a shared link opens the app at that place. */
static int spa_route(const char *const *own, const char *path)
{
    if (static_path_is_own(own, path))
        return 0;
    const char *last = strrchr(path, '/');
    return last && !strchr(last, '.');
}

/* Opens a regular file under web_dir; -1 when there is none. */
static int open_regular(const char *web_dir, const char *path, int dir_index, char *full, size_t cap, struct stat *st)
{
    int n = snprintf(full, cap, "%s%s%s", web_dir, path, dir_index ? "index.html" : "");
    if (n < 0 || (size_t)n >= cap)
        return -1;
    int fd = open(full, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

int static_serve(const char *web_dir, const char *const *own, const char *path, const struct request *req,
                 struct response *res)
{
    if (!path_safe(path))
        return DP_ERR_NOT_FOUND;
    char full[1024];
    size_t plen = strlen(path);
    struct stat st;
    int fd = open_regular(web_dir, path, path[plen - 1] == '/', full, sizeof full, &st);
    if (fd < 0 && spa_route(own, path))
        fd = open_regular(web_dir, "/index.html", 0, full, sizeof full, &st);
    if (fd < 0)
        return DP_ERR_NOT_FOUND;
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    /* No build step means no hashed names: let browsers cache but revalidate every time. */
    res_header(res, "ETag", etag);
    res_header(res, "Cache-Control", "no-cache");
    if (req->if_none_match && strstr(req->if_none_match, etag)) {
        close(fd);
        res_body(res, 304, "", NULL, 0);
        res->content_type[0] = 0;
        return DP_OK;
    }
    res->status = 200;
    res->fd = fd;
    res->fd_off = 0;
    res->fd_len = (uint64_t)st.st_size;
    snprintf(res->content_type, sizeof res->content_type, "%s", mime_for(full));
    return DP_OK;
}
