/* extract_text(): picks the extractor for a file's type; PDF, DOCX and EPUB go through sandboxed
 * subprocesses (pdftotext, unzip), the text formats are converted in-process. */
#include "ingest/extract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/text.h"
#include "core/utf8.h"
#include "ingest/extract_impl.h"
#include "ingest/subprocess.h"

#define PDF_OUTPUT_MAX ((size_t)128 << 20)  /* pdftotext -layout pads with spaces */
#define XML_OUTPUT_MAX ((size_t)128 << 20)  /* one DOCX/EPUB member, decompressed */
#define LIST_OUTPUT_MAX ((size_t)4 << 20)   /* unzip -Z1 */
#define OPF_MAX ((size_t)4 << 20)
#define EPUB_MAX_CHAPTERS 2000
#define EPUB_BUDGET_MS 120000               /* all unzip calls of one EPUB together */
#define EPUB_MAX_ENTRIES 10000              /* files in the archive, items in the manifest */
#define EPUB_MAX_ITEMREFS 4000              /* spine entries looked at */
#define PATH_ARG_MAX 4096

enum kind { K_NONE, K_TEXT, K_MARKDOWN, K_HTML, K_PDF, K_DOCX, K_EPUB };

void extracted_cleanup(struct extracted *x)
{
    free(x->text);
    free(x->page_starts);
    memset(x, 0, sizeof *x);
}

static void set_err(char *err, size_t errlen, const char *msg, const char *detail)
{
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s", msg, detail && detail[0] ? ": " : "", detail ? detail : "");
}

static const char *extension(const char *filename)
{
    if (!filename)
        return "";
    const char *slash = strrchr(filename, '/');
    const char *base = slash ? slash + 1 : filename;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

static enum kind kind_of(const char *mime, const char *filename)
{
    char m[128] = "";
    if (mime) {
        while (*mime == ' ')
            mime++;
        size_t k = 0;
        for (; mime[k] && mime[k] != ';' && mime[k] != ' ' && k + 1 < sizeof m; k++)
            m[k] = (char)(mime[k] >= 'A' && mime[k] <= 'Z' ? mime[k] - 'A' + 'a' : mime[k]);
        m[k] = 0;
    }
    const char *ext = extension(filename);
    size_t el = strlen(ext);
    int md = ex_ieq(ext, el, "md") || ex_ieq(ext, el, "markdown") || ex_ieq(ext, el, "mdown") ||
             ex_ieq(ext, el, "mkd");
    int html = ex_ieq(ext, el, "html") || ex_ieq(ext, el, "htm") || ex_ieq(ext, el, "xhtml");

    if (!strcmp(m, "text/markdown") || !strcmp(m, "text/x-markdown"))
        return K_MARKDOWN;
    if (!strcmp(m, "text/html") || !strcmp(m, "application/xhtml+xml"))
        return K_HTML;
    if (!strcmp(m, "application/pdf"))
        return K_PDF;
    if (!strcmp(m, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
        return K_DOCX;
    if (!strcmp(m, "application/epub+zip"))
        return K_EPUB;
    if (!strcmp(m, "text/plain"))
        return md ? K_MARKDOWN : html ? K_HTML : K_TEXT;
    if (!strcmp(m, "text/csv") || !strcmp(m, "text/tab-separated-values"))
        return K_TEXT;
    if (!strcmp(m, "application/zip") || !strcmp(m, "application/octet-stream") || !m[0]) {
        if (ex_ieq(ext, el, "docx"))
            return K_DOCX;
        if (ex_ieq(ext, el, "epub"))
            return K_EPUB;
        if (strcmp(m, "application/zip") == 0)
            return K_NONE;
        if (ex_ieq(ext, el, "pdf"))
            return K_PDF;
        if (md)
            return K_MARKDOWN;
        if (html)
            return K_HTML;
        if (ex_ieq(ext, el, "txt") || ex_ieq(ext, el, "text"))
            return K_TEXT;
    }
    return K_NONE;
}

/* Reads a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        set_err(err, errlen, "cannot open the file", strerror(errno));
        return DP_ERR_IO;
    }
    struct stat sb;
    int rc = DP_OK;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "not a regular file", NULL);
        rc = DP_ERR_IO;
        goto out_close;
    }
    if ((uint64_t)sb.st_size > max) {
        set_err(err, errlen, "file too large for text extraction", NULL);
        rc = DP_ERR_TOO_LARGE;
        goto out_close;
    }
    buf_init(out, max);
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, errlen, "read failed", strerror(errno));
            rc = DP_ERR_IO;
            break;
        }
        if (r == 0)
            break;
        rc = buf_append(out, chunk, (size_t)r);
        if (rc) {
            set_err(err, errlen, "file too large for text extraction", NULL);
            break;
        }
    }
out_close:
    close(fd);
    return rc;
}

/* A path as a program argument: absolute, since the child runs in "/" (which also keeps a name
 * starting with '-' from reading as an option). */
static int path_arg(const char *path, char *out, size_t outlen)
{
    char cwd[PATH_ARG_MAX];
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd))
        return DP_ERR_INVALID;
    int n = path[0] == '/' ? snprintf(out, outlen, "%s", path) : snprintf(out, outlen, "%s/%s", cwd, path);
    return n > 0 && (size_t)n < outlen ? DP_OK : DP_ERR_INVALID;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void decoder_limits(struct subproc_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->cpu_seconds = 30;
    lim->mem_bytes = (size_t)512 << 20;
    lim->nofile = 32;
    lim->timeout_ms = 30000;
    /* pdftotext and unzip are single-threaded and never fork: any new task is refused. */
    lim->nproc = 1;
}

/* ---- PDF ------------------------------------------------------------------------------------ */

static int extract_pdf(const char *path, struct buf *text, size_t **pages, int *npages, char *err, size_t errlen)
{
    char parg[PATH_ARG_MAX];
    if (path_arg(path, parg, sizeof parg)) {
        set_err(err, errlen, "path too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"pdftotext", "-layout", "-enc", "UTF-8", parg, "-", NULL};
    struct subproc_limits lim;
    decoder_limits(&lim);
    struct buf raw, fixed;
    buf_init(&raw, PDF_OUTPUT_MAX);
    buf_init(&fixed, PDF_OUTPUT_MAX + PDF_OUTPUT_MAX / 2);
    size_t *starts = NULL;
    int rc = subproc_run(argv, NULL, &lim, &raw, err, errlen);
    if (rc)
        goto out;
    /* pdftotext -enc UTF-8 should be valid; a broken font map must not make the text invalid. */
    if (utf8_valid(raw.data ? raw.data : "", raw.len)) {
        fixed = raw;
        buf_init(&raw, 0);
    } else {
        rc = ex_utf8_repair(raw.data ? raw.data : "", raw.len, &fixed);
        buf_cleanup(&raw);
        if (rc)
            goto out;
    }
    /* Each page ends with a form feed (the last one too). */
    size_t count = 0;
    for (size_t i = 0; i < fixed.len; i++)
        count += fixed.data[i] == '\f';
    if (fixed.len && fixed.data[fixed.len - 1] != '\f')
        count++;
    if (count > INT32_MAX) {
        rc = DP_ERR_TOO_LARGE;
        goto out;
    }
    starts = count ? calloc(count, sizeof *starts) : NULL;
    if (count && !starts) {
        rc = DP_ERR_NOMEM;
        goto out;
    }
    size_t pg = 0, a = 0;
    while (a < fixed.len && pg < count) {
        const char *ff = memchr(fixed.data + a, '\f', fixed.len - a);
        size_t e = ff ? (size_t)(ff - fixed.data) : fixed.len;
        /* A page starts after the blank line that ex_normalize puts before appended text. */
        size_t before = text->len;
        rc = ex_normalize(fixed.data + a, e - a, text);
        if (rc)
            goto out;
        size_t ps = before == text->len ? text->len : (before ? before + 2 : 0);
        /* pdftotext ends every printed line; a sentence must read as one (memories, quotes). */
        if (text->len > ps) {
            text->len = ps + extract_rejoin_lines(text->data + ps, text->len - ps);
            text->data[text->len] = 0;
        }
        starts[pg++] = ps;
        a = e + 1;
    }
    *pages = starts;
    *npages = (int)count;
    starts = NULL;
out:
    if (rc == DP_ERR_TOO_LARGE && err && !err[0])
        set_err(err, errlen, "the PDF's text is too large", NULL);
    free(starts);
    buf_cleanup(&raw);
    buf_cleanup(&fixed);
    return rc;
}

/* ---- ZIP members via unzip ------------------------------------------------------------------ */

/* unzip reads member names as wildcard patterns: escape the pattern characters (and a leading
 * '-', which would read as an option). */
static int member_arg(const char *name, char *out, size_t outlen)
{
    size_t k = 0;
    for (size_t i = 0; name[i]; i++) {
        char c = name[i];
        int esc = c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' || (i == 0 && c == '-');
        if (k + 2 + (size_t)esc >= outlen)
            return DP_ERR_INVALID;
        if (esc)
            out[k++] = '\\';
        out[k++] = c;
    }
    out[k] = 0;
    return DP_OK;
}

static int unzip_member(const char *zip, const char *member, size_t max, int64_t deadline, struct buf *out, char *err,
                        size_t errlen)
{
    char zarg[PATH_ARG_MAX], marg[PATH_ARG_MAX];
    if (path_arg(zip, zarg, sizeof zarg) || member_arg(member, marg, sizeof marg)) {
        set_err(err, errlen, "name too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"unzip", "-p", "-qq", zarg, marg, NULL};
    struct subproc_limits lim;
    decoder_limits(&lim);
    int64_t left = deadline - now_ms();
    if (left <= 0) {
        set_err(err, errlen, "unzip: time budget exhausted", NULL);
        return DP_ERR_TIMEOUT;
    }
    if (left < lim.timeout_ms)
        lim.timeout_ms = (unsigned)left;
    buf_init(out, max);
    return subproc_run(argv, NULL, &lim, out, err, errlen);
}

/* ---- DOCX ----------------------------------------------------------------------------------- */

static int extract_docx(const char *path, struct buf *text, char *err, size_t errlen)
{
    struct buf xml;
    int rc = unzip_member(path, "word/document.xml", XML_OUTPUT_MAX, now_ms() + 30000, &xml, err, errlen);
    if (!rc)
        rc = extract_docx_xml(xml.data ? xml.data : "", xml.len, text);
    buf_cleanup(&xml);
    return rc;
}

/* ---- EPUB ----------------------------------------------------------------------------------- */

/* A tag of an XML document: its local name and attribute text. */
struct xtag {
    const char *name; /* local name (after any prefix) */
    size_t name_len;
    const char *attrs;
    size_t attrs_len;
    int closing;
};

/* The next element tag in p[*pos..n) (comments, processing instructions, CDATA and doctype are
 * skipped); 0 at the end. */
static int xml_next(const char *p, size_t n, size_t *pos, struct xtag *t)
{
    size_t i = *pos;
    while (i < n) {
        const char *lt = memchr(p + i, '<', n - i);
        if (!lt)
            break;
        i = (size_t)(lt - p);
        if (i + 4 <= n && memcmp(p + i, "<!--", 4) == 0) {
            const char *e = memmem(p + i + 4, n - i - 4, "-->", 3);
            i = e ? (size_t)(e - p) + 3 : n;
            continue;
        }
        if (i + 9 <= n && memcmp(p + i, "<![CDATA[", 9) == 0) {
            const char *e = memmem(p + i + 9, n - i - 9, "]]>", 3);
            i = e ? (size_t)(e - p) + 3 : n;
            continue;
        }
        size_t j = i + 1;
        if (j < n && (p[j] == '?' || p[j] == '!')) {
            const char *gt = memchr(p + j, '>', n - j);
            i = gt ? (size_t)(gt - p) + 1 : n;
            continue;
        }
        t->closing = j < n && p[j] == '/';
        j += (size_t)t->closing;
        size_t nb = j;
        while (j < n && p[j] != ' ' && p[j] != '\t' && p[j] != '\n' && p[j] != '\r' && p[j] != '>' && p[j] != '/')
            j++;
        size_t ln = nb;
        for (size_t k = nb; k < j; k++)
            if (p[k] == ':')
                ln = k + 1;
        t->name = p + ln;
        t->name_len = j - ln;
        char quote = 0;
        size_t k = j;
        for (; k < n; k++) {
            if (quote) {
                if (p[k] == quote)
                    quote = 0;
            } else if (p[k] == '"' || p[k] == '\'') {
                quote = p[k];
            } else if (p[k] == '>') {
                break;
            }
        }
        t->attrs = p + j;
        t->attrs_len = k - j;
        *pos = k < n ? k + 1 : n;
        return 1;
    }
    *pos = n;
    return 0;
}

/* The value of attribute name (local name match) of t, without entity decoding; 0 if absent. */
static int xml_attr(const struct xtag *t, const char *name, const char **v, size_t *vlen)
{
    const char *a = t->attrs, *end = t->attrs + t->attrs_len;
    size_t nl = strlen(name);
    while (a < end) {
        while (a < end && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r' || *a == '/'))
            a++;
        const char *ns = a;
        while (a < end && *a != '=' && *a != ' ' && *a != '\t' && *a != '\n' && *a != '\r')
            a++;
        const char *ne = a, *ls = ns;
        for (const char *q = ns; q < ne; q++)
            if (*q == ':')
                ls = q + 1;
        while (a < end && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
            a++;
        if (a >= end || *a != '=') {
            if (a == ns)
                a++;
            continue;
        }
        a++;
        while (a < end && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
            a++;
        const char *vs, *ve;
        if (a < end && (*a == '"' || *a == '\'')) {
            char q = *a++;
            vs = a;
            while (a < end && *a != q)
                a++;
            ve = a;
            if (a < end)
                a++;
        } else {
            vs = a;
            while (a < end && *a != ' ' && *a != '\t' && *a != '\n' && *a != '\r')
                a++;
            ve = a;
        }
        if ((size_t)(ne - ls) == nl && memcmp(ls, name, nl) == 0) {
            *v = vs;
            *vlen = (size_t)(ve - vs);
            return 1;
        }
    }
    return 0;
}

static int name_is(const struct xtag *t, const char *name)
{
    return t->name_len == strlen(name) && memcmp(t->name, name, t->name_len) == 0;
}

/* An attribute value as a NUL-terminated string with the XML entities decoded. */
static char *attr_dup(const char *v, size_t n)
{
    struct buf b;
    buf_init(&b, PATH_ARG_MAX);
    for (size_t i = 0; i < n;) {
        size_t used = 0;
        int rc = v[i] == '&' ? ex_entity(v + i, n - i, &b, &used) : DP_OK;
        if (!rc && !used)
            rc = buf_append(&b, v + i, 1), used = 1;
        if (rc) {
            buf_cleanup(&b);
            return NULL;
        }
        i += used;
    }
    if (!b.data && buf_append(&b, "", 0)) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_steal(&b, NULL);
}

/* Resolves an OPF href (a relative URL) against the OPF's folder into a ZIP member name:
 * fragment dropped, %XX decoded, "." and ".." segments applied. NULL when it leaves the archive
 * or is not a relative path. Caller frees. */
static char *resolve_href(const char *base_dir, const char *href)
{
    if (strstr(href, "://") || href[0] == '/' || !href[0])
        return NULL;
    size_t bl = strlen(base_dir), hl = strcspn(href, "#?");
    char *tmp = malloc(bl + hl + 2);
    char *res = malloc(bl + hl + 2);
    if (!tmp || !res) {
        free(tmp);
        free(res);
        return NULL;
    }
    memcpy(tmp, base_dir, bl);
    size_t k = bl;
    for (size_t i = 0; i < hl; i++) {
        if (href[i] == '%' && i + 2 < hl && text_hexval(href[i + 1]) >= 0 && text_hexval(href[i + 2]) >= 0) {
            tmp[k] = (char)(text_hexval(href[i + 1]) * 16 + text_hexval(href[i + 2]));
            if (!tmp[k++]) {
                free(tmp);
                free(res);
                return NULL;
            }
            i += 2;
        } else {
            tmp[k++] = href[i];
        }
    }
    tmp[k] = 0;
    /* Apply the segments. */
    size_t r = 0;
    char *seg = tmp;
    while (seg) {
        char *slash = strchr(seg, '/');
        size_t sl = slash ? (size_t)(slash - seg) : strlen(seg);
        if ((sl == 1 && seg[0] == '.') || sl == 0) {
            /* nothing */
        } else if (sl == 2 && seg[0] == '.' && seg[1] == '.') {
            if (r == 0) {
                free(tmp);
                free(res);
                return NULL;
            }
            while (r > 0 && res[r - 1] != '/')
                r--;
            if (r > 0)
                r--; /* the slash */
        } else {
            if (r)
                res[r++] = '/';
            memcpy(res + r, seg, sl);
            r += sl;
        }
        seg = slash ? slash + 1 : NULL;
    }
    res[r] = 0;
    free(tmp);
    if (!r) {
        free(res);
        return NULL;
    }
    return res;
}

struct names {
    char **v;
    size_t n, cap;
};

static void names_free(struct names *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int names_add(struct names *s, char *name)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 32;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            free(name);
            return DP_ERR_NOMEM;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = name;
    return DP_OK;
}

static int names_has(const struct names *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], name) == 0)
            return 1;
    return 0;
}

static int is_chapter_name(const char *name)
{
    const char *ext = extension(name);
    size_t el = strlen(ext);
    return ex_ieq(ext, el, "xhtml") || ex_ieq(ext, el, "html") || ex_ieq(ext, el, "htm");
}

/* The chapters of the EPUB in spine order, each checked against the archive's listing; falls
 * back to the listing's (X)HTML files in archive order when there is no usable OPF spine. */
static int epub_chapters(const char *path, const struct names *listing, int64_t deadline, struct names *out,
                         char *err, size_t errlen)
{
    struct buf container, opf;
    buf_init(&container, 0);
    buf_init(&opf, 0);
    char *opf_path = NULL;
    struct names ids = {0}, hrefs = {0};
    int rc = DP_OK;

    if (names_has(listing, "META-INF/container.xml") &&
        unzip_member(path, "META-INF/container.xml", OPF_MAX, deadline, &container, err, errlen) == DP_OK) {
        size_t pos = 0;
        struct xtag t;
        while (!opf_path && xml_next(container.data, container.len, &pos, &t)) {
            const char *v;
            size_t vl;
            if (!t.closing && name_is(&t, "rootfile") && xml_attr(&t, "full-path", &v, &vl))
                opf_path = attr_dup(v, vl);
        }
    }
    if (opf_path && names_has(listing, opf_path) &&
        unzip_member(path, opf_path, OPF_MAX, deadline, &opf, err, errlen) == DP_OK) {
        char *slash = strrchr(opf_path, '/');
        char base[PATH_ARG_MAX];
        snprintf(base, sizeof base, "%.*s", slash ? (int)(slash - opf_path + 1) : 0, opf_path);
        size_t pos = 0, itemrefs = 0;
        struct xtag t;
        while (xml_next(opf.data, opf.len, &pos, &t)) {
            const char *v, *mt, *props;
            size_t vl, mtl, pl;
            if (t.closing)
                continue;
            if (name_is(&t, "item") && ids.n < EPUB_MAX_ENTRIES && xml_attr(&t, "id", &v, &vl)) {
                const char *h;
                size_t hl;
                if (!xml_attr(&t, "href", &h, &hl) || !xml_attr(&t, "media-type", &mt, &mtl))
                    continue;
                int html = ex_ieq(mt, mtl, "application/xhtml+xml") || ex_ieq(mt, mtl, "text/html");
                int nav = xml_attr(&t, "properties", &props, &pl) && memmem(props, pl, "nav", 3);
                if (!html || nav)
                    continue; /* images, styles, fonts; the EPUB 3 table of contents */
                char *id = attr_dup(v, vl), *href = attr_dup(h, hl);
                char *member = href ? resolve_href(base, href) : NULL;
                free(href);
                if (!id || !member) {
                    free(id);
                    free(member);
                    continue;
                }
                if ((rc = names_add(&ids, id)) || (rc = names_add(&hrefs, member)))
                    goto out;
            } else if (name_is(&t, "itemref") && itemrefs++ < EPUB_MAX_ITEMREFS && xml_attr(&t, "idref", &v, &vl)) {
                char *idref = attr_dup(v, vl);
                if (!idref)
                    continue;
                for (size_t i = 0; i < ids.n; i++) {
                    if (strcmp(ids.v[i], idref) == 0 && names_has(listing, hrefs.v[i]) &&
                        !names_has(out, hrefs.v[i]) && out->n < EPUB_MAX_CHAPTERS) {
                        char *dup = strdup(hrefs.v[i]);
                        if (!dup || (rc = names_add(out, dup))) {
                            free(idref);
                            rc = DP_ERR_NOMEM;
                            goto out;
                        }
                        break;
                    }
                }
                free(idref);
            }
        }
    }
    if (out->n == 0) {
        for (size_t i = 0; i < listing->n && out->n < EPUB_MAX_CHAPTERS; i++) {
            if (!is_chapter_name(listing->v[i]))
                continue;
            char *dup = strdup(listing->v[i]);
            if (!dup || (rc = names_add(out, dup))) {
                rc = DP_ERR_NOMEM;
                goto out;
            }
        }
    }
    if (out->n == 0) {
        set_err(err, errlen, "the EPUB has no XHTML chapters", NULL);
        rc = DP_ERR_UNSUPPORTED;
    } else if (err) {
        err[0] = 0;
    }
out:
    names_free(&ids);
    names_free(&hrefs);
    free(opf_path);
    buf_cleanup(&container);
    buf_cleanup(&opf);
    return rc;
}

static int extract_epub(const char *path, struct buf *text, char *err, size_t errlen)
{
    int64_t deadline = now_ms() + EPUB_BUDGET_MS;
    char zarg[PATH_ARG_MAX];
    if (path_arg(path, zarg, sizeof zarg)) {
        set_err(err, errlen, "path too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"unzip", "-Z1", zarg, NULL};
    struct subproc_limits lim;
    decoder_limits(&lim);
    struct buf list, html;
    buf_init(&list, LIST_OUTPUT_MAX);
    buf_init(&html, 0);
    struct names listing = {0}, chapters = {0};
    int rc = subproc_run(argv, NULL, &lim, &list, err, errlen);
    if (rc)
        goto out;
    for (size_t a = 0; a < list.len;) {
        const char *nl = memchr(list.data + a, '\n', list.len - a);
        size_t e = nl ? (size_t)(nl - list.data) : list.len;
        if (listing.n >= EPUB_MAX_ENTRIES) {
            set_err(err, errlen, "the EPUB has too many files", NULL);
            rc = DP_ERR_UNSUPPORTED;
            goto out;
        }
        if (e > a && (e - a) < PATH_ARG_MAX / 2 && list.data[e - 1] != '/') {
            char *name = strndup(list.data + a, e - a);
            if (!name || (rc = names_add(&listing, name))) {
                rc = DP_ERR_NOMEM;
                goto out;
            }
        }
        a = e + 1;
    }
    rc = epub_chapters(path, &listing, deadline, &chapters, err, errlen);
    if (rc)
        goto out;
    for (size_t i = 0; i < chapters.n; i++) {
        buf_cleanup(&html);
        rc = unzip_member(path, chapters.v[i], XML_OUTPUT_MAX, deadline, &html, err, errlen);
        if (rc)
            goto out;
        rc = extract_html(html.data ? html.data : "", html.len, text);
        if (rc)
            goto out;
    }
out:
    names_free(&listing);
    names_free(&chapters);
    buf_cleanup(&list);
    buf_cleanup(&html);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int extract_text(const char *path, const char *mime, const char *filename, struct extracted *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = 0;
    enum kind k = kind_of(mime, filename);
    if (k == K_NONE) {
        set_err(err, errlen, "no text extractor for this type", mime);
        return DP_ERR_UNSUPPORTED;
    }
    struct buf text, in;
    buf_init(&text, EXTRACT_MAX_TEXT);
    buf_init(&in, 0);
    size_t *pages = NULL;
    int npages = 0, rc;
    switch (k) {
    case K_TEXT:
    case K_MARKDOWN:
    case K_HTML:
        rc = read_file(path, EXTRACT_MAX_INPUT, &in, err, errlen);
        if (rc)
            break;
        const char *p = in.data ? in.data : "";
        rc = k == K_TEXT ? extract_plain(p, in.len, &text)
             : k == K_MARKDOWN ? extract_markdown(p, in.len, &text)
                               : extract_html(p, in.len, &text);
        break;
    case K_PDF:
        rc = extract_pdf(path, &text, &pages, &npages, err, errlen);
        break;
    case K_DOCX:
        rc = extract_docx(path, &text, err, errlen);
        break;
    case K_EPUB:
        rc = extract_epub(path, &text, err, errlen);
        break;
    default:
        rc = DP_ERR_UNSUPPORTED;
        break;
    }
    buf_cleanup(&in);
    if (rc) {
        if (rc == DP_ERR_TOO_LARGE && err && !err[0])
            set_err(err, errlen, "the extracted text is too large", NULL);
        else if (err && !err[0])
            set_err(err, errlen, dp_strerror(rc), NULL);
        free(pages);
        buf_cleanup(&text);
        return rc;
    }
    if (!text.data && (rc = buf_append(&text, "", 0))) {
        free(pages);
        return rc;
    }
    out->text = buf_steal(&text, &out->len);
    out->page_starts = pages;
    out->npages = npages;
    return DP_OK;
}
