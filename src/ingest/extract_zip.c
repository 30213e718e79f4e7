/* The ZIP-based formats: DOCX (word/document.xml) and EPUB (container → package → spine → XHTML
 * chapters), each member read through unzip in a sandboxed subprocess. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/text.h"
#include "core/utf8.h"
#include "ingest/extract.h"
#include "ingest/extract_impl.h"
#include "ingest/subprocess.h"

#define XML_OUTPUT_MAX ((size_t)128 << 20) /* one DOCX/EPUB member, decompressed */
#define LIST_OUTPUT_MAX ((size_t)4 << 20)  /* unzip -Z1 */
#define OPF_MAX ((size_t)4 << 20)
#define EPUB_MAX_CHAPTERS 2000
#define EPUB_BUDGET_MS 120000  /* all unzip calls of one EPUB together */
#define EPUB_MAX_ENTRIES 10000 /* files in the archive, items in the manifest */
#define EPUB_MAX_ITEMREFS 4000 /* spine entries looked at */

/* ---- DOCX ----------------------------------------------------------------------------------- */

int ex_extract_docx(const char *path, struct buf *text, char *err, size_t errlen)
{
    struct buf xml;
    int rc = ex_unzip_member(path, "word/document.xml", XML_OUTPUT_MAX, ex_now_ms() + 30000, &xml, err, errlen);
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
    const char *ext = ex_extension(name);
    size_t el = strlen(ext);
    return ex_ieq(ext, el, "xhtml") || ex_ieq(ext, el, "html") || ex_ieq(ext, el, "htm");
}

/* The chapters of the EPUB in spine order, each checked against the archive's listing; falls
 * back to the listing's (X)HTML files in archive order when there is no usable OPF spine. */
static int epub_chapters(const char *path, const struct names *listing, int64_t deadline, struct names *out, char *err,
                         size_t errlen)
{
    struct buf container, opf;
    buf_init(&container, 0);
    buf_init(&opf, 0);
    char *opf_path = NULL;
    struct names ids = {0}, hrefs = {0};
    int rc = DP_OK;

    if (names_has(listing, "META-INF/container.xml") &&
        ex_unzip_member(path, "META-INF/container.xml", OPF_MAX, deadline, &container, err, errlen) == DP_OK) {
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
        ex_unzip_member(path, opf_path, OPF_MAX, deadline, &opf, err, errlen) == DP_OK) {
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
                    if (strcmp(ids.v[i], idref) == 0 && names_has(listing, hrefs.v[i]) && !names_has(out, hrefs.v[i]) &&
                        out->n < EPUB_MAX_CHAPTERS) {
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
        ex_set_err(err, errlen, "the EPUB has no XHTML chapters", NULL);
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

int ex_extract_epub(const char *path, struct buf *text, char *err, size_t errlen)
{
    int64_t deadline = ex_now_ms() + EPUB_BUDGET_MS;
    char zarg[PATH_ARG_MAX];
    if (ex_path_arg(path, zarg, sizeof zarg)) {
        ex_set_err(err, errlen, "path too long", NULL);
        return DP_ERR_INVALID;
    }
    const char *argv[] = {"unzip", "-Z1", zarg, NULL};
    struct subproc_limits lim;
    ex_decoder_limits(&lim);
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
            ex_set_err(err, errlen, "the EPUB has too many files", NULL);
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
        rc = ex_unzip_member(path, chapters.v[i], XML_OUTPUT_MAX, deadline, &html, err, errlen);
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
