#ifndef CSTREAMGATE_SHIMS_H
#define CSTREAMGATE_SHIMS_H
// One header of prefixed wrappers for what Swift cannot import: function-like macros,
// header-only static functions we prefer to compile once, and OpenSSL option constants.
#include <sys/types.h>
#include <stdint.h>

struct event_base;
struct redisAsyncContext;
struct ssl_ctx_st;
struct ssl_st;

/// hiredis adapters/libevent.h: attach an async context to a libevent base. 0 on success.
int sg_redis_libevent_attach(struct redisAsyncContext *ac, struct event_base *base);

/// OpenSSL macros.
int sg_ssl_ctx_set_min_tls12(struct ssl_ctx_st *ctx);
void sg_ssl_ctx_set_server_defaults(struct ssl_ctx_st *ctx);
int sg_ssl_set_sni(struct ssl_st *ssl, const char *name);

/// Stores `n` random bytes; 1 on success.
int sg_random_bytes(unsigned char *out, int n);

#endif
