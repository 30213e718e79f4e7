/* The file of a multipart/form-data upload buffered by a route (cards, transcriptions, voice
 * samples): the first part with a file name (what `curl -F file=@x` and browsers send), else the
 * first part named "file" or "card". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_util.h"
#include "core/err.h"
#include "net/multipart.h"

#define FORM_FIELDS_MAX 32  /* text fields kept beside the file */
#define FORM_FIELD_MAX 1024 /* bytes of one text field */

struct form_file {
    struct buf data;
    int state;       /* 0 before the file part, 1 inside it, 2 after it */
    int current;     /* 1 while the part being read is the file */
    json_t *fields;  /* NULL: text fields are not wanted */
    char name[128];  /* of the text field being read ("" when it is not kept) */
    struct buf text; /* its value */
};

static int form_begin(void *arg, const struct multipart_part *part)
{
    struct form_file *f = arg;
    f->current = f->state == 0 && (part->filename[0] || !strcmp(part->name, "file") || !strcmp(part->name, "card"));
    if (f->current)
        f->state = 1;
    f->name[0] = 0;
    if (!f->current && f->fields && !part->filename[0] && json_object_size(f->fields) < FORM_FIELDS_MAX) {
        snprintf(f->name, sizeof f->name, "%s", part->name);
        buf_cleanup(&f->text);
        buf_init(&f->text, FORM_FIELD_MAX);
    }
    return DP_OK;
}

static int form_data(void *arg, const char *p, size_t n)
{
    struct form_file *f = arg;
    if (f->current)
        return buf_append(&f->data, p, n);
    return f->name[0] ? buf_append(&f->text, p, n) : DP_OK;
}

static int form_end(void *arg)
{
    struct form_file *f = arg;
    if (f->current)
        f->state = 2;
    f->current = 0;
    if (f->name[0]) {
        /* A repeated name (timestamp_granularities[]) keeps its values joined by commas. */
        const char *was = json_string_value(json_object_get(f->fields, f->name));
        char *v = NULL;
        if (asprintf(&v, "%s%s%.*s", was ? was : "", was ? "," : "", (int)f->text.len,
                     f->text.data ? f->text.data : "") < 0)
            return DP_ERR_NOMEM;
        int err = json_object_set_new(f->fields, f->name, json_string(v)) ? DP_ERR_INVALID : DP_OK;
        free(v);
        f->name[0] = 0;
        return err; /* a value that is not UTF-8 is a malformed form */
    }
    return DP_OK;
}

static const struct multipart_cb form_cbs = {form_begin, form_data, form_end};

int api_form_file(struct request *req, struct response *res, size_t max, const char *what, struct buf *out)
{
    return api_form_file_fields(req, res, max, what, out, NULL);
}

int api_form_file_fields(struct request *req, struct response *res, size_t max, const char *what, struct buf *out,
                         json_t *fields)
{
    struct form_file f = {.state = 0, .fields = fields};
    buf_init(&f.data, max);
    buf_init(&f.text, FORM_FIELD_MAX);
    struct multipart *mp;
    int err = multipart_new(&mp, req->content_type, &form_cbs, &f);
    if (err) {
        buf_cleanup(&f.data);
        if (res)
            res_error(res, req, DP_ERR_INVALID, "multipart/form-data needs a boundary of 1 to 70 characters");
        return DP_ERR_INVALID;
    }
    err = multipart_feed(mp, req->body.data, req->body.len);
    if (!err)
        err = multipart_finish(mp);
    multipart_free(mp);
    buf_cleanup(&f.text);
    if (err == DP_ERR_NOMEM) {
        buf_cleanup(&f.data);
        return err;
    }
    if (err || f.state != 2) {
        buf_cleanup(&f.data);
        err = err == DP_ERR_TOO_LARGE ? err : DP_ERR_INVALID;
        if (!res)
            ; /* the caller words its own error */
        else if (err == DP_ERR_TOO_LARGE)
            res_error(res, req, err, "the %s in the form is over %zu MiB", what, max >> 20);
        else if (f.state == 0)
            res_error(res, req, err, "the multipart body has no file part (send the %s as a file: curl -F file=@…)",
                      what);
        else
            res_error(res, req, err, "the multipart body is malformed or ended early");
        return err;
    }
    *out = f.data;
    return DP_OK;
}

int api_upload_bytes(struct request *req, struct response *res, size_t max, const char *what, struct buf *form,
                     const char **body, size_t *len)
{
    buf_init(form, 0);
    *body = req->body.data;
    *len = req->body.len;
    if (req->content_type && !strncasecmp(req->content_type, "multipart/form-data", 19)) {
        int err = api_form_file(req, res, max, what, form);
        if (err)
            return err;
        *body = form->data ? form->data : "";
        *len = form->len;
    }
    if (!*len) {
        buf_cleanup(form);
        if (res)
            res_error(res, req, DP_ERR_INVALID, "the %s is empty", what);
        return DP_ERR_INVALID;
    }
    return DP_OK;
}
