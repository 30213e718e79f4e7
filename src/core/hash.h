/* FNV-1a: a small, fast, non-cryptographic hash for the slots of in-process tables (never for
 * anything an attacker could exploit by choosing collisions: tables compare the whole key). */
#ifndef DP_HASH_H
#define DP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV32_INIT 2166136261u             /* offset basis 0x811c9dc5 */
#define HASH_FNV32_PRIME 16777619u              /* 0x01000193 */
#define HASH_FNV64_INIT 14695981039346656037ull /* offset basis 0xcbf29ce484222325 */
#define HASH_FNV64_PRIME 1099511628211ull       /* 0x00000100000001b3 */

/* One byte more into a running 32-bit hash (start from HASH_FNV32_INIT). */
static inline uint32_t hash_fnv1a_add(uint32_t h, unsigned char b)
{
    return (h ^ b) * HASH_FNV32_PRIME;
}

/* One byte more into a running 64-bit hash (start from HASH_FNV64_INIT). */
static inline uint64_t hash_fnv1a64_add(uint64_t h, unsigned char b)
{
    return (h ^ b) * HASH_FNV64_PRIME;
}

static inline uint32_t hash_fnv1a(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t h = HASH_FNV32_INIT;
    for (size_t i = 0; i < n; i++)
        h = hash_fnv1a_add(h, b[i]);
    return h;
}

static inline uint64_t hash_fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = HASH_FNV64_INIT;
    for (size_t i = 0; i < n; i++)
        h = hash_fnv1a64_add(h, b[i]);
    return h;
}

#endif
