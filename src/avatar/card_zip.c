/* The .charx container: a zip read defensively (names, sizes, ratios capped) and written. */
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "avatar/card.h"
#include "avatar/card_impl.h"
#include "core/buf.h"
#include "core/err.h"

#define ZIP_LOCAL_SIG 0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_END_SIG 0x06054b50u

void card_zip_close(struct card_zip *z)
{
    for (size_t i = 0; z->entries && i < z->count; i++)
        free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

/* 1 when an entry name is safe to think of as a relative path: no absolute path, drive letter,
 * backslash, control character, "." or ".." segment, or empty segment (but a trailing '/'). */
static int zip_name_safe(const char *s, size_t n)
{
    if (n == 0 || s[0] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\' || c == ':')
            return 0;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && s[j] != '/')
            j++;
        size_t seg = j - i;
        if ((seg == 0 && j < n) || (seg == 1 && s[i] == '.') || (seg == 2 && s[i] == '.' && s[i + 1] == '.'))
            return 0;
        i = j + 1;
    }
    return 1;
}

/* A printable, shortened copy of an entry name for messages. */
static void zip_name_show(const char *s, size_t n, char out[64])
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < 60; i++)
        out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > 60)
        out[k - 1] = '~';
    out[k] = 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int card_zip_open(struct card_zip *z, const void *p, size_t n, char *msg, size_t msglen)
{
    memset(z, 0, sizeof *z);
    const unsigned char *q = p;
    z->p = q;
    z->n = n;
    if (n < 22)
        return card_fail(msg, msglen, DP_ERR_INVALID, "not a zip file (too short)");
    /* The end record is in the last 22 + 65535 bytes; the last signature that fits wins. */
    size_t eocd = 0;
    int found = 0;
    for (size_t i = n - 22;; i--) {
        if (card_rd32le(q + i) == ZIP_END_SIG && i + 22 + card_rd16le(q + i + 20) <= n) {
            eocd = i;
            found = 1;
            break;
        }
        if (i == 0 || n - 22 - i >= 65535)
            break;
    }
    if (!found)
        return card_fail(msg, msglen, DP_ERR_INVALID, "not a zip file (no end of central directory; truncated?)");
    const unsigned char *e = q + eocd;
    uint16_t disk = card_rd16le(e + 4), cd_disk = card_rd16le(e + 6), on_disk = card_rd16le(e + 8),
             total = card_rd16le(e + 10);
    uint32_t cd_size = card_rd32le(e + 12), cd_off = card_rd32le(e + 16);
    if (total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "zip64 archives are not supported");
    if (disk || cd_disk || on_disk != total)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "multi-part zip archives are not supported");
    if (total > CARD_ZIP_ENTRIES_MAX)
        return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "the zip has %u entries; at most %d", total,
                         CARD_ZIP_ENTRIES_MAX);
    if (cd_off > eocd || cd_size > eocd - cd_off)
        return card_fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory lies outside the file (truncated?)");
    if (total == 0)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the zip is empty");
    z->entries = calloc(total, sizeof *z->entries);
    if (!z->entries)
        return DP_ERR_NOMEM;
    size_t pos = cd_off, cd_end = (size_t)cd_off + cd_size;
    char shown[64];
    for (size_t k = 0; k < total; k++) {
        if (cd_end - pos < 46 || card_rd32le(q + pos) != ZIP_CENTRAL_SIG)
            return card_fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory is damaged (entry %zu)", k);
        const unsigned char *c = q + pos;
        uint16_t flags = card_rd16le(c + 8), method = card_rd16le(c + 10), nlen = card_rd16le(c + 28),
                 xlen = card_rd16le(c + 30), clen = card_rd16le(c + 32);
        uint32_t crc = card_rd32le(c + 16), csize = card_rd32le(c + 20), usize = card_rd32le(c + 24),
                 lho = card_rd32le(c + 42);
        if ((size_t)46 + nlen + xlen + clen > cd_end - pos)
            return card_fail(msg, msglen, DP_ERR_INVALID, "the zip's central directory is damaged (entry %zu)", k);
        const char *name = (const char *)c + 46;
        zip_name_show(name, nlen, shown);
        if (nlen > CARD_ZIP_NAME_MAX || !zip_name_safe(name, nlen))
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                             "unsafe zip entry name \"%s\" (absolute, \"..\" or odd)", shown);
        if (memchr(name, 0, nlen))
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "unsafe zip entry name \"%s\"", shown);
        if (flags & 0x41)
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "encrypted zip entries are not supported (\"%s\")",
                             shown);
        if (csize == 0xffffffffu || usize == 0xffffffffu || lho == 0xffffffffu)
            return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "zip64 entries are not supported (\"%s\")", shown);
        if (method == 0 && csize != usize)
            return card_fail(msg, msglen, DP_ERR_INVALID, "stored zip entry \"%s\" has different sizes", shown);
        z->total += usize;
        if (z->total > CARD_ZIP_TOTAL_MAX)
            return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "the zip declares more than %u MiB uncompressed",
                             CARD_ZIP_TOTAL_MAX >> 20);
        /* The local header must be where the directory says, say the same name, and its data must
         * end before the directory starts. */
        if (lho > cd_off || cd_off - lho < 30 || card_rd32le(q + lho) != ZIP_LOCAL_SIG)
            return card_fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" has no local header", shown);
        uint16_t lnlen = card_rd16le(q + lho + 26), lxlen = card_rd16le(q + lho + 28);
        size_t data_off = (size_t)lho + 30 + lnlen + lxlen;
        if (data_off > cd_off || csize > cd_off - data_off)
            return card_fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" runs past its bounds (truncated?)", shown);
        if (lnlen != nlen || memcmp(q + lho + 30, name, nlen))
            return card_fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\": local header and directory disagree",
                             shown);
        struct card_zip_entry *en = &z->entries[z->count];
        if (!(en->name = malloc((size_t)nlen + 1)))
            return DP_ERR_NOMEM;
        memcpy(en->name, name, nlen);
        en->name[nlen] = 0;
        en->method = method;
        en->flags = flags;
        en->crc = crc;
        en->csize = csize;
        en->usize = usize;
        en->data_off = data_off;
        z->count++;
        pos += (size_t)46 + nlen + xlen + clen;
    }
    /* Two entries of one name would make "which card.json?" ambiguous. */
    char **names = malloc(z->count * sizeof *names);
    if (!names)
        return DP_ERR_NOMEM;
    for (size_t i = 0; i < z->count; i++)
        names[i] = z->entries[i].name;
    qsort(names, z->count, sizeof *names, name_cmp);
    int dup = 0;
    for (size_t i = 1; i < z->count && !dup; i++)
        if (!strcmp(names[i - 1], names[i])) {
            dup = 1;
            zip_name_show(names[i], strlen(names[i]), shown);
        }
    free(names);
    if (dup)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE, "the zip holds two entries named \"%s\"", shown);
    return DP_OK;
}

long card_zip_find(const struct card_zip *z, const char *name)
{
    for (size_t i = 0; i < z->count; i++)
        if (!strcmp(z->entries[i].name, name))
            return (long)i;
    return -1;
}

int card_zip_read(const struct card_zip *z, size_t i, size_t max, char **out, size_t *out_len, char *msg, size_t msglen)
{
    const struct card_zip_entry *e = &z->entries[i];
    char shown[64];
    zip_name_show(e->name, strlen(e->name), shown);
    if (e->usize > max)
        return card_fail(msg, msglen, DP_ERR_TOO_LARGE, "zip entry \"%s\" is %u bytes; at most %zu", shown, e->usize,
                         max);
    if (e->method != 0 && e->method != 8)
        return card_fail(msg, msglen, DP_ERR_UNPROCESSABLE,
                         "zip entry \"%s\" uses compression method %u (only stored and "
                         "deflate are supported)",
                         shown, e->method);
    /* One byte more than declared, so that a stream that would go on is caught. */
    char *buf = malloc((size_t)e->usize + 1);
    if (!buf)
        return DP_ERR_NOMEM;
    const unsigned char *src = z->p + e->data_off;
    if (e->method == 0) {
        memcpy(buf, src, e->usize);
    } else {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -15) != Z_OK) {
            free(buf);
            return DP_ERR_NOMEM;
        }
        s.next_in = (Bytef *)src;
        s.avail_in = e->csize;
        s.next_out = (Bytef *)buf;
        s.avail_out = e->usize + 1;
        int rc = inflate(&s, Z_FINISH);
        uLong got = s.total_out;
        inflateEnd(&s);
        if (rc != Z_STREAM_END || got != e->usize) {
            free(buf);
            if (got > e->usize || (rc != Z_STREAM_END && s.avail_out == 0))
                return card_fail(msg, msglen, DP_ERR_INVALID,
                                 "zip entry \"%s\" inflates to more than the %u bytes it "
                                 "declares",
                                 shown, e->usize);
            return card_fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" is damaged (%s)", shown,
                             rc == Z_STREAM_END ? "shorter than declared" : "bad deflate data");
        }
    }
    if (card_crc32(0, buf, e->usize) != e->crc) {
        free(buf);
        return card_fail(msg, msglen, DP_ERR_INVALID, "zip entry \"%s\" fails its CRC check", shown);
    }
    buf[e->usize] = 0;
    *out = buf;
    *out_len = e->usize;
    return DP_OK;
}

int card_zip_write(const struct card_zip_file *files, size_t n, char **out, size_t *out_len)
{
    if (n > 0xffff)
        return DP_ERR_TOO_LARGE;
    struct meta {
        uint32_t crc, csize, off;
        uint16_t method;
    } *m = calloc(n ? n : 1, sizeof *m);
    if (!m)
        return DP_ERR_NOMEM;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (tm.tm_year < 80) /* DOS dates start in 1980 */
        tm = (struct tm){.tm_year = 80, .tm_mday = 1};
    uint32_t dtime = (uint32_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
    uint32_t ddate = (uint32_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
    struct buf b;
    buf_init(&b, 0);
    int err = DP_OK;
    unsigned char h[46];
    for (size_t i = 0; i < n && !err; i++) {
        const struct card_zip_file *f = &files[i];
        size_t nlen = strlen(f->name);
        if (nlen > 0xffff || f->len > 0xfffffffeu || b.len > 0xfffffffeu) {
            err = DP_ERR_TOO_LARGE;
            break;
        }
        m[i].crc = card_crc32(0, f->data, f->len);
        m[i].off = (uint32_t)b.len;
        const void *data = f->data;
        size_t dlen = f->len;
        unsigned char *z = NULL;
        if (f->deflate && f->len) {
            z_stream s;
            memset(&s, 0, sizeof s);
            if (deflateInit2(&s, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
                err = DP_ERR_NOMEM;
                break;
            }
            uLong bound = deflateBound(&s, (uLong)f->len);
            z = malloc(bound);
            s.next_in = (Bytef *)f->data;
            s.avail_in = (uInt)f->len;
            s.next_out = z;
            s.avail_out = (uInt)bound;
            int rc = z ? deflate(&s, Z_FINISH) : Z_MEM_ERROR;
            if (rc == Z_STREAM_END && s.total_out < f->len) {
                data = z;
                dlen = s.total_out;
                m[i].method = 8;
            }
            deflateEnd(&s);
        }
        m[i].csize = (uint32_t)dlen;
        memset(h, 0, 30);
        card_wr32le(h, ZIP_LOCAL_SIG);
        card_wr16le(h + 4, 20);
        card_wr16le(h + 6, 0x0800); /* names are UTF-8 */
        card_wr16le(h + 8, m[i].method);
        card_wr16le(h + 10, dtime);
        card_wr16le(h + 12, ddate);
        card_wr32le(h + 14, m[i].crc);
        card_wr32le(h + 18, m[i].csize);
        card_wr32le(h + 22, (uint32_t)f->len);
        card_wr16le(h + 26, (uint32_t)nlen);
        err = buf_append(&b, h, 30);
        if (!err)
            err = buf_append(&b, f->name, nlen);
        if (!err && dlen)
            err = buf_append(&b, data, dlen);
        free(z);
    }
    size_t cd_off = b.len;
    for (size_t i = 0; i < n && !err; i++) {
        size_t nlen = strlen(files[i].name);
        memset(h, 0, 46);
        card_wr32le(h, ZIP_CENTRAL_SIG);
        card_wr16le(h + 4, 3 << 8 | 20); /* made by: Unix, 2.0 */
        card_wr16le(h + 6, 20);
        card_wr16le(h + 8, 0x0800);
        card_wr16le(h + 10, m[i].method);
        card_wr16le(h + 12, dtime);
        card_wr16le(h + 14, ddate);
        card_wr32le(h + 16, m[i].crc);
        card_wr32le(h + 20, m[i].csize);
        card_wr32le(h + 24, (uint32_t)files[i].len);
        card_wr16le(h + 28, (uint32_t)nlen);
        card_wr32le(h + 38, 0100644u << 16); /* -rw-r--r-- */
        card_wr32le(h + 42, m[i].off);
        err = buf_append(&b, h, 46);
        if (!err)
            err = buf_append(&b, files[i].name, nlen);
    }
    if (!err && b.len > 0xfffffff0u)
        err = DP_ERR_TOO_LARGE;
    if (!err) {
        memset(h, 0, 22);
        card_wr32le(h, ZIP_END_SIG);
        card_wr16le(h + 8, (uint32_t)n);
        card_wr16le(h + 10, (uint32_t)n);
        card_wr32le(h + 12, (uint32_t)(b.len - cd_off));
        card_wr32le(h + 16, (uint32_t)cd_off);
        err = buf_append(&b, h, 22);
    }
    free(m);
    if (err) {
        buf_cleanup(&b);
        return err;
    }
    *out = buf_steal(&b, out_len);
    return DP_OK;
}
