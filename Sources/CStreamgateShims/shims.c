#include "CStreamgateShims.h"
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include <openssl/ssl.h>
#include <openssl/rand.h>

int sg_redis_libevent_attach(struct redisAsyncContext *ac, struct event_base *base) {
    return redisLibeventAttach(ac, base) == REDIS_OK ? 0 : -1;
}

int sg_ssl_ctx_set_min_tls12(struct ssl_ctx_st *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

void sg_ssl_ctx_set_server_defaults(struct ssl_ctx_st *ctx) {
    // Peers that close without close_notify are common; treat that as a clean EOF.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

int sg_ssl_set_sni(struct ssl_st *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

int sg_random_bytes(unsigned char *out, int n) {
    return RAND_bytes(out, n);
}
