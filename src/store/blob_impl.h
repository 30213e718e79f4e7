/* Private to src/store: the common head of blob store backends and their writers. */
#ifndef DP_BLOB_IMPL_H
#define DP_BLOB_IMPL_H

#include "store/blob.h"

/* Every backend's store struct starts with this. */
struct blob_store {
    const struct blob_ops *ops;
};

/* Every backend's writer struct starts with this. */
struct blob_writer {
    struct blob_store *bs; /* the store the writer commits into */
};

/* Every backend's reader struct starts with this. */
struct blob_reader {
    struct blob_store *bs;
};

extern const struct blob_ops blob_fs_ops;

/* 1 when key is exactly BLOB_KEY_LEN lower-case hex digits (safe to use in a path). */
int blob_key_valid(const char *key);

#endif
