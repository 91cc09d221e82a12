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
#include <string.h>

void sg_sha256(const void *data, size_t length, unsigned char out[32]) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, length);
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}

// RFC 2104: H((K ^ opad) || H((K ^ ipad) || message)), with keys longer than the 64-byte
// block first hashed.
void sg_hmac_sha256(const void *key, size_t key_length, const void *message, size_t length, unsigned char out[32]) {
    unsigned char block[64] = {0};
    unsigned char pad[64];
    unsigned char inner[32];
    SHA256_CTX ctx;
    if (key_length > sizeof block) {
        sg_sha256(key, key_length, block);
    } else if (key_length > 0) {
        memcpy(block, key, key_length);
    }
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, sizeof pad);
    SHA256_Update(&ctx, message, length);
    SHA256_Final(inner, &ctx);
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, sizeof pad);
    SHA256_Update(&ctx, inner, sizeof inner);
    SHA256_Final(out, &ctx);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    OPENSSL_cleanse(&ctx, sizeof ctx);
}
