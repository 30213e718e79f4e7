/* Sharing an avatar: with a user of its organisation (by id or e-mail address), or with an
 * address that has no account yet — an invitation with a token the owner passes on; a sign-up with
 * that address and that token joins the avatar's organisation and the invitation becomes a share.
 * The token is the proof: nobody reads the mail here, so the address alone proves nothing. */
#ifndef DP_SHARING_H
#define DP_SHARING_H

#include <jansson.h>

#include "auth/accounts.h"
#include "auth/secret.h"
#include "core/id.h"

struct db;
struct avatar_ref;

#define SHARING_EMAIL_MAX EMAIL_MAX

/* What a share request led to. */
struct share_outcome {
    int invited; /* 1: an invitation to email; 0: a share with user_id */
    char user_id[ID_LEN];
    char email[SHARING_EMAIL_MAX + 1]; /* lower case */
    char token[SECRET_LEN];            /* an invitation's; shown once */
};

/* Shares avatar ref with user_id, or with the account of email in the avatar's organisation, or
 * else invites email, as role ("viewer" | "editor"); again with another role changes it.
 * DP_ERR_UNPROCESSABLE when user_id is no user of the organisation or is the owner;
 * DP_ERR_INVALID for an e-mail address that is not one. An address of an account in another
 * organisation is invited like an unknown one, so that the answer tells nothing about it. */
int sharing_add(struct db *db, const struct avatar_ref *ref, const char *user_id, const char *email, const char *role,
                const char *by, struct share_outcome *out);

/* The shares and open invitations of the avatar: [{user_id, display_name, role, created_at} |
 * {email, role, status: "invited", created_at}]. */
int sharing_list(struct db *db, const char *avatar_id, json_t **items);

/* Removes the share of who (a user id) or the invitation of who (an e-mail address).
 * DP_ERR_NOT_FOUND when there is none. */
int sharing_remove(struct db *db, const char *avatar_id, const char *who);

/* The organisation of the open invitation of email with token (what a sign-up with both joins);
 * DP_ERR_NOT_FOUND when there is none. */
int sharing_invited_org(struct db *db, const char *email, const char *token, char org[ID_LEN]);

/* Turns the open invitations of email into shares of user_id for the avatars of org (the org the
 * account joined); the others stay open. */
int sharing_accept_invitations(struct db *db, const char *email, const char *user_id, const char *org);

#endif
