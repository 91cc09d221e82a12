#include "CStreamgateShims.h"
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <openssl/rand.h>
#include <openssl/bio.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

// MARK: prefixed socket BIO

typedef struct {
    int fd;
    unsigned char *prefix;
    size_t length, position;
} sg_prefixed;

static BIO_METHOD *sg_prefixed_method;
static pthread_once_t sg_prefixed_once = PTHREAD_ONCE_INIT;

static int sg_retryable(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

static int sg_prefixed_read(BIO *b, char *out, int size) {
    sg_prefixed *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (p->position < p->length) {
        size_t n = p->length - p->position;
        if (n > (size_t)size) n = (size_t)size;
        memcpy(out, p->prefix + p->position, n);
        p->position += n;
        if (p->position == p->length) { free(p->prefix); p->prefix = NULL; }
        return (int)n;
    }
    ssize_t n = recv(p->fd, out, (size_t)size, 0);
    if (n < 0 && sg_retryable(errno)) BIO_set_retry_read(b);
    return (int)n;
}

static int sg_prefixed_write(BIO *b, const char *in, int size) {
    sg_prefixed *p = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t n = send(p->fd, in, (size_t)size, MSG_NOSIGNAL);
    if (n < 0 && sg_retryable(errno)) BIO_set_retry_write(b);
    return (int)n;
}

static long sg_prefixed_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)num; (void)ptr;
    sg_prefixed *p = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_PENDING: return p ? (long)(p->length - p->position) : 0;
    default: return 0;
    }
}

static int sg_prefixed_create(BIO *b) { BIO_set_init(b, 1); return 1; }

static int sg_prefixed_destroy(BIO *b) {
    sg_prefixed *p = BIO_get_data(b);
    if (p) { free(p->prefix); free(p); }
    BIO_set_data(b, NULL);
    return 1;
}

static void sg_prefixed_make_method(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "streamgate prefixed socket");
    if (!m) return;
    BIO_meth_set_read(m, sg_prefixed_read);
    BIO_meth_set_write(m, sg_prefixed_write);
    BIO_meth_set_ctrl(m, sg_prefixed_ctrl);
    BIO_meth_set_create(m, sg_prefixed_create);
    BIO_meth_set_destroy(m, sg_prefixed_destroy);
    sg_prefixed_method = m;
}

struct bio_st *sg_prefixed_socket_bio(int fd, const unsigned char *prefix, size_t length) {
    pthread_once(&sg_prefixed_once, sg_prefixed_make_method);
    if (!sg_prefixed_method) return NULL;
    sg_prefixed *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->fd = fd;
    if (length > 0) {
        p->prefix = malloc(length);
        if (!p->prefix) { free(p); return NULL; }
        memcpy(p->prefix, prefix, length);
        p->length = length;
    }
    BIO *b = BIO_new(sg_prefixed_method);
    if (!b) { free(p->prefix); free(p); return NULL; }
    BIO_set_data(b, p);
    return b;
}
