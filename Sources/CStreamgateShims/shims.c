#include "CStreamgateShims.h"
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <openssl/rand.h>

// The reader's object functions, with hiredis' own createArray wrapped by a size check.
// Reached through `privdata`, which hiredis hands to every read task (read.c) and its
// default functions ignore.
struct sg_reader_limits {
    redisReplyObjectFunctions fns;
    void *(*create_array)(const redisReadTask *, int);
    int max_elements;
    int refused;
};

static void *sg_create_array(const redisReadTask *task, int elements) {
    struct sg_reader_limits *l = task->privdata;
    if (elements < 0 || elements > l->max_elements) {
        l->refused = 1;
        return NULL;  // the reader turns this into an error; nothing was allocated
    }
    return l->create_array(task, elements);
}

redisReader *sg_redis_reader_create(int max_elements) {
    redisReader *r = redisReaderCreate();
    if (r == NULL) return NULL;
    struct sg_reader_limits *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        redisReaderFree(r);
        return NULL;
    }
    l->fns = *r->fn;
    l->create_array = r->fn->createArray;
    l->fns.createArray = sg_create_array;
    l->max_elements = max_elements;
    r->fn = &l->fns;
    r->privdata = l;
    return r;
}

void sg_redis_reader_free(redisReader *r) {
    if (r == NULL) return;
    struct sg_reader_limits *l = r->privdata;
    redisReaderFree(r);  // frees a partial reply through r->fn: free the copy only after
    free(l);
}

int sg_redis_reader_refused_array(const redisReader *r) {
    const struct sg_reader_limits *l = r->privdata;
    return l != NULL && l->refused;
}

int sg_ssl_ctx_set_min_tls12(struct ssl_ctx_st *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

void sg_ssl_ctx_set_common_defaults(struct ssl_ctx_st *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_read_ahead(ctx, 1);
}

void sg_ssl_ctx_set_server_defaults(struct ssl_ctx_st *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
}

void sg_ssl_ctx_set_servername_callback(struct ssl_ctx_st *ctx, int (*cb)(struct ssl_st *, int *, void *), void *arg) {
    SSL_CTX_set_tlsext_servername_callback(ctx, cb);
    SSL_CTX_set_tlsext_servername_arg(ctx, arg);
}

const char *sg_ssl_version(const struct ssl_st *ssl) {
    return SSL_get_version(ssl);
}

int sg_ssl_set_sni(struct ssl_st *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

int sg_random_bytes(unsigned char *out, int n) {
    return RAND_bytes(out, n);
}
