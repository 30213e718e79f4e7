/* libFuzzer target: the bearer-token parser (jwt_verify) with a fixed key. Also checks that a
 * token we sign always verifies, and that flipping any byte of it never does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/err.h"

static const uint8_t key[JWT_KEY_LEN] = "0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jwt_claims c;
    const char *why = NULL;
    char *tok = malloc(size + 1);
    if (!tok)
        return 0;
    memcpy(tok, data, size);
    tok[size] = 0;
    int err = jwt_verify(key, tok, size, 1800000000, &c, &why);
    if (err == DP_OK) {
        /* Accepting a token means it carried our signature: only our own tokens get here. */
        if (!c.sub[0] || !c.sid[0] || c.exp <= 1800000000)
            abort();
    } else if (!why) {
        abort(); /* every refusal says why */
    }
    free(tok);

    /* Sign claims derived from the input and verify the round trip. */
    struct jwt_claims in = {0};
    size_t n = size < sizeof in.sub - 1 ? size : sizeof in.sub - 1;
    for (size_t i = 0; i < n; i++)
        in.sub[i] = (char)('a' + data[i] % 26);
    if (!n)
        in.sub[0] = 'x';
    strcpy(in.org, "org");
    strcpy(in.role, "member");
    strcpy(in.sid, "sid");
    in.iat = in.nbf = 1800000000;
    in.exp = in.iat + 60;
    char *signed_tok = NULL;
    if (jwt_sign(key, &in, &signed_tok) == DP_OK) {
        size_t len = strlen(signed_tok);
        if (jwt_verify(key, signed_tok, len, 1800000000, &c, &why) != DP_OK || strcmp(c.sub, in.sub))
            abort();
        if (size) {
            size_t at = data[0] % len;
            signed_tok[at] ^= (char)(1 + data[size - 1] % 31);
            /* A changed token may still decode to the same bytes (base64 padding bits); it must
             * then carry the same claims. */
            if (jwt_verify(key, signed_tok, len, 1800000000, &c, &why) == DP_OK && strcmp(c.sub, in.sub))
                abort();
        }
        free(signed_tok);
    }
    return 0;
}
