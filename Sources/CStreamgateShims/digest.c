// SHA-256 and HMAC-SHA-256 for the request path (token digests, signed identity assertions).
//
// OpenSSL 3's one-shot SHA256() and HMAC() fetch their algorithm from the provider on every
// call: measured here at about 4 µs and 16 µs per call for a 32-byte token and a short
// assertion, against 0.3 µs and under 1 µs for the same work through the SHA256_CTX functions
// below. Those are deprecated in OpenSSL 3 but remain its direct implementation (the
// providers call the same block function); they are used here, and only here, for that reason.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "CStreamgateShims.h"
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

void sg_sha256(const void *data, size_t length, unsigned char out[32]) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, length);
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}

// RFC 2104: H((K ^ opad) || H((K ^ ipad) || message)), with keys longer than the 64-byte
// block first hashed. The two padded blocks are hashed once, when the key is made.
struct sg_hmac_key {
    SHA256_CTX inner; // after (K ^ ipad)
    SHA256_CTX outer; // after (K ^ opad)
};

sg_hmac_key *sg_hmac_key_new(const void *key, size_t key_length) {
    sg_hmac_key *k = malloc(sizeof *k);
    if (k == NULL) return NULL;
    unsigned char block[64] = {0};
    unsigned char pad[64];
    if (key_length > sizeof block) {
        sg_sha256(key, key_length, block);
    } else if (key_length > 0) {
        memcpy(block, key, key_length);
    }
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&k->inner);
    SHA256_Update(&k->inner, pad, sizeof pad);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&k->outer);
    SHA256_Update(&k->outer, pad, sizeof pad);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    return k;
}

void sg_hmac_key_free(sg_hmac_key *key) {
    if (key == NULL) return;
    OPENSSL_cleanse(key, sizeof *key);
    free(key);
}

void sg_hmac_key_mac(const sg_hmac_key *key, const void *head, size_t head_length, const void *tail, size_t tail_length,
                     unsigned char out[32]) {
    // Copies of the prepared states: they are key material, hence the wipe.
    SHA256_CTX ctx = key->inner;
    unsigned char inner[32];
    if (head_length > 0) SHA256_Update(&ctx, head, head_length);
    if (tail_length > 0) SHA256_Update(&ctx, tail, tail_length);
    SHA256_Final(inner, &ctx);
    ctx = key->outer;
    SHA256_Update(&ctx, inner, sizeof inner);
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(inner, sizeof inner);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}
