/* An avatar's portrait: one of its own image media, shown in lists, on the talking face, on the
 * legacy page (when published) and as the picture of an exported PNG card. */
#ifndef DP_PORTRAIT_H
#define DP_PORTRAIT_H

#include <stddef.h>

#include "avatar/avatar.h"
#include "store/blob.h"

struct context;

/* Makes media_id (an image of the avatar that did not fail processing) its portrait. Editors.
 * DP_ERR_INVALID with the reason in msg for media that is not such an image (another avatar's
 * media is not told apart from an unknown id). */
int portrait_set(struct context *e, const struct avatar_ref *ref, const char *media_id, char *msg, size_t msglen);
/* The avatar has no portrait any more (the media stays). */
int portrait_clear(struct context *e, const struct avatar_ref *ref);

/* The picture to show for avatar_id: its portrait's thumbnail when one was made (a small PNG),
 * else the image itself. original: always the image itself. DP_ERR_NOT_FOUND when none is set. */
int portrait_picture(struct db *db, const char *avatar_id, int original, char key[BLOB_KEY_LEN + 1], char mime[128]);

/* Stores the picture p[0..n) as an image media of the avatar (processed like an upload) and makes
 * it the portrait — an imported card's picture. */
int portrait_store(struct context *e, const char *avatar_id, const char *owner_id, const char *org_id, const void *p,
                   size_t n, const char *filename);

#endif
