/* Account settings and the JWT signing key file. */
#include "auth/settings.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/caller.h"
#include "core/err.h"
#include "core/log.h"

struct auth_settings auth_cfg = {.access_ttl = 900,
                                 .refresh_ttl = 30L * 86400,
                                 .signup_open = 1,
                                 .refresh_grace = 10,
                                 .auth_rate = 20,
                                 .api_rate = 100};

static const char *const role_names[] = {"member", "manager", "admin"};

int role_parse(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (!strcmp(s, role_names[i]))
            return i;
    return -1;
}

const char *role_name(enum role r)
{
    return r <= ROLE_ADMIN ? role_names[r] : "member";
}

int caller_can_manage(const struct caller *c, const char *target_org, enum role target_role)
{
    if (c->role == ROLE_ADMIN)
        return 1;
    return c->role == ROLE_MANAGER && target_role != ROLE_ADMIN && !strcmp(c->org_id, target_org);
}

static int parse_hex_key(const char *hex, size_t len)
{
    size_t bin_len;
    if (len != 2 * JWT_KEY_LEN || sodium_hex2bin(auth_cfg.jwt_key, JWT_KEY_LEN, hex, len, NULL, &bin_len, NULL) ||
        bin_len != JWT_KEY_LEN)
        return DP_ERR_INVALID;
    return DP_OK;
}

int auth_load_key(const char *key_hex, const char *data_dir)
{
    if (key_hex && *key_hex) {
        if (parse_hex_key(key_hex, strlen(key_hex))) {
            DP_LOG(LOG_ERROR, "[auth] --jwt-key must be %d hex digits", 2 * JWT_KEY_LEN);
            return DP_ERR_INVALID;
        }
        return DP_OK;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/jwt.key", data_dir);
    char hex[2 * JWT_KEY_LEN + 2];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, hex, sizeof hex);
        close(fd);
        while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
            n--;
        if (n <= 0 || parse_hex_key(hex, (size_t)n)) {
            DP_LOG(LOG_ERROR, "[auth] %s is not a %d-hex-digit key", path, 2 * JWT_KEY_LEN);
            return DP_ERR_INVALID;
        }
        return DP_OK;
    }
    /* First start: a random key, readable by this user only. O_EXCL: two starts cannot race. */
    randombytes_buf(auth_cfg.jwt_key, JWT_KEY_LEN);
    sodium_bin2hex(hex, sizeof hex, auth_cfg.jwt_key, JWT_KEY_LEN);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return auth_load_key(NULL, data_dir);
        DP_LOG(LOG_ERROR, "[auth] cannot create %s: %s", path, strerror(errno));
        return DP_ERR_IO;
    }
    size_t len = strlen(hex);
    hex[len] = '\n';
    int ok = write(fd, hex, len + 1) == (ssize_t)(len + 1) && fsync(fd) == 0;
    close(fd);
    if (!ok) {
        unlink(path);
        return DP_ERR_IO;
    }
    DP_LOG(LOG_INFO, "[auth] created a new token signing key in %s", path);
    return DP_OK;
}
