/* Answering with a stored media's bytes, the same way wherever they are read (the avatar's media,
 * a chat attachment): validators, Range, and a disposition that never renders documents inline. */
#include <stdio.h>
#include <string.h>

#include "api/api_util.h"
#include "api/schemas.h"
#include "core/err.h"
#include "store/blob.h"

const char api_media_bytes_doc[] = J({
    "query" : {"variant" : {"type" : "string", "enum" : ["thumbnail"]}},
    "responses" : {
        "200" :
            {"description" : "the bytes, of the media's type", "content" : {"*/*" : {"schema" : {"type" : "string"}}}},
        "206" : {"description" : "the range asked for", "content" : {"*/*" : {"schema" : {"type" : "string"}}}},
        "304" : {"description" : "not modified (If-None-Match)"}
    },
    "errors" : [416]
});

/* Content-Disposition with an ASCII fallback name and the exact name as RFC 5987 UTF-8. */
static void content_disposition(char *out, size_t cap, const char *type, const char *name)
{
    char ascii[128], utf8[3 * 256 + 1];
    size_t a = 0, u = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (a + 1 < sizeof ascii)
            ascii[a++] = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\' ? (char)*p : '_';
        if (u + 4 < sizeof utf8) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                *p == '-' || *p == '_')
                utf8[u++] = (char)*p;
            else
                u += (size_t)snprintf(utf8 + u, sizeof utf8 - u, "%%%02X", *p);
        }
    }
    ascii[a] = 0;
    utf8[u] = 0;
    snprintf(out, cap, "%s; filename=\"%s\"; filename*=UTF-8''%s", type, ascii, utf8);
}

int api_blob_unless_cached(struct request *req, struct response *res, struct blob_store *blobs, const char *key,
                           struct blob_reader **br, uint64_t *size)
{
    *br = NULL;
    if (req->if_none_match && strstr(req->if_none_match, key)) {
        res_body(res, 304, "", NULL, 0);
        res->content_type[0] = 0;
        return DP_OK;
    }
    int err = blob_reader_open(blobs, key, br, size);
    if (err)
        *br = NULL;
    /* The row names a blob the store does not have: the server's fault, not a missing resource. */
    return err == DP_ERR_NOT_FOUND ? DP_ERR_INTERNAL : err;
}

int api_send_media(struct request *req, struct response *res, struct blob_store *blobs, const char *key,
                   const char *mime, const char *kind, const char *filename)
{
    char etag[BLOB_KEY_LEN + 3], disp[1024];
    int inline_ok = !strcmp(kind, "audio") || !strcmp(kind, "video") || !strcmp(kind, "image");
    /* Documents are never rendered from our origin (stored HTML would run as us). */
    content_disposition(disp, sizeof disp, inline_ok ? "inline" : "attachment", filename ? filename : "media");
    snprintf(etag, sizeof etag, "\"%s\"", key);
    res_header(res, "ETag", etag);
    res_header(res, "Accept-Ranges", "bytes");
    res_header(res, "Cache-Control", "private, max-age=3600");
    res_header(res, "Content-Disposition", disp);
    struct blob_reader *br;
    uint64_t size;
    int err = api_blob_unless_cached(req, res, blobs, key, &br, &size);
    if (err || !br)
        return err;
    int sent = api_send_range(req, res, br, size);
    if (sent)
        return sent > 0 ? DP_OK : DP_ERR_NOMEM; /* 416 answered, or the body could not be set */
    snprintf(res->content_type, sizeof res->content_type, "%.95s", inline_ok ? mime : "application/octet-stream");
    return DP_OK;
}
