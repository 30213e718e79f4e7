/* The one error enum of Doppel: every function that can fail returns one of these. */
#ifndef DP_ERR_H
#define DP_ERR_H

/* Add new codes at the end; never renumber (codes appear in logs and metrics). */
enum dp_err {
    DP_OK = 0,
    DP_ERR_NOMEM,           /* allocation failed */
    DP_ERR_INVALID,         /* invalid input (400) */
    DP_ERR_NOT_FOUND,       /* no such object, or not visible to the caller (404) */
    DP_ERR_CONFLICT,        /* state conflict, duplicate (409) */
    DP_ERR_TOO_LARGE,       /* size cap exceeded (413) */
    DP_ERR_UNSUPPORTED,     /* unsupported media type (415) */
    DP_ERR_UNPROCESSABLE,   /* semantically invalid (422) */
    DP_ERR_UNAUTHORIZED,    /* not authenticated (401) */
    DP_ERR_FORBIDDEN,       /* authenticated but not allowed (403) */
    DP_ERR_RATE_LIMITED,    /* too many requests (429) */
    DP_ERR_UNAVAILABLE,     /* a dependency is down (503) */
    DP_ERR_IO,              /* file system or socket error */
    DP_ERR_DB,              /* database error */
    DP_ERR_NOT_IMPLEMENTED, /* capability not built yet (501) */
    DP_ERR_TIMEOUT,         /* deadline exceeded */
    DP_ERR_INTERNAL,        /* programmer error surfaced at run time (500) */
    DP_ERR_BAD_JSON,        /* body is not valid JSON (400) */
    DP_ERR_CANCELLED,       /* the caller went away */
    DP_ERR_WOULDBLOCK,      /* an inline attempt needs blocking work: run it on a worker instead */
    DP_ERR_QUOTA,           /* a per-user quota would be exceeded (413 quota_exceeded) */
    DP_ERR__COUNT
};

/* A static, human-readable description of err; never NULL. */
const char *dp_strerror(int err);
/* A stable snake_case code for err, as used in API error bodies; never NULL. */
const char *dp_errcode(int err);

#endif
