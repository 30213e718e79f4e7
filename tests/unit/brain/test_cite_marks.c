/* Citation marks taken out of a streamed reply: offered ones cited, others dropped, the text
 * around them passed on whole, whatever the pieces' boundaries. */
#include <stdlib.h>
#include <string.h>

#include "brain/cite_marks.h"
#include "core/buf.h"
#include "../test.h"

static const char *const ids[] = {"0190f0a0-0000-7000-8000-000000000001", "0190f0a0-0000-7000-8000-000000000002",
                                  "0190f0a0-0000-7000-8000-000000000003"};

static void collect(void *ctx, const char *text, size_t len)
{
    buf_append(ctx, text, len);
}

/* Feeds text in pieces of `step` bytes; the text passed on into out. */
static void run(struct cite_marks *m, struct buf *out, const char *text, size_t step)
{
    buf_init(out, 0);
    cite_marks_init(m, ids, 3, collect, out);
    for (size_t i = 0; i < strlen(text); i += step)
        cite_marks_feed(m, text + i, strlen(text + i) < step ? strlen(text + i) : step);
    cite_marks_end(m);
    buf_append(out, "", 0);
}

TEST(cite_marks_cite_offered_drop_others_any_piece_size)
{
    const char *text = "We rowed to the island [2] every summer [9]. Mother [1, 3] came too [x].";
    for (size_t step = 1; step <= strlen(text); step++) {
        struct cite_marks m;
        struct buf out;
        run(&m, &out, text, step);
        CHECK_EQ_STR(out.data ? out.data : "", "We rowed to the island every summer. Mother came too [x].");
        CHECK_EQ_INT(m.ncited, 3);
        CHECK_EQ_INT(m.cited[0], 1);
        CHECK_EQ_INT(m.cited[1], 0);
        CHECK_EQ_INT(m.cited[2], 2);
        CHECK_EQ_INT(m.dropped, 1);
        cite_marks_cleanup(&m);
        buf_cleanup(&out);
    }
}

TEST(cite_marks_ids_and_text_brackets)
{
    struct cite_marks m;
    struct buf out;
    run(&m, &out,
        "Born in Leeds [0190f0a0-0000-7000-8000-000000000003] and [0190f0a0-0000-7000-8000-00000000ffff] "
        "an array a[0] and [see notes] and an open [",
        7);
    CHECK_EQ_STR(out.data, "Born in Leeds and an array a and [see notes] and an open [");
    CHECK_EQ_INT(m.ncited, 1);
    CHECK_EQ_INT(m.cited[0], 2);
    CHECK_EQ_INT(m.dropped, 2); /* the unknown id and [0] (numbers start at 1) */
    cite_marks_cleanup(&m);
    buf_cleanup(&out);
}
