#ifndef CSTREAMGATE_SHIMS_H
#define CSTREAMGATE_SHIMS_H
// One header of prefixed wrappers for what Swift cannot import: function-like macros,
// header-only static functions we prefer to compile once, and OpenSSL option constants.
#include <sys/types.h>
#include <stdint.h>

struct redisReader;
struct ssl_ctx_st;
struct ssl_st;

/// A hiredis RESP reader (hiredis.h `redisReaderCreate`) that refuses arrays announcing more
/// than `max_elements` elements. hiredis 0.14 allocates an array's element table from its
/// header alone, before any element arrives, so a hostile server's 13-byte
/// `*2000000000\r\n` would cost a 16 GB allocation. A refused array is a reader error
/// (reported as out of memory; `sg_redis_reader_refused_array` tells the two apart).
/// NULL if out of memory. Free with `sg_redis_reader_free`, never `redisReaderFree`.
struct redisReader *sg_redis_reader_create(int max_elements);
void sg_redis_reader_free(struct redisReader *r);
/// 1 if the reader failed because an array announced too many elements.
int sg_redis_reader_refused_array(const struct redisReader *r);

/// OpenSSL macros.
int sg_ssl_ctx_set_min_tls12(struct ssl_ctx_st *ctx);
/// Options every context of ours shares: a peer closing without close_notify is a clean EOF
/// (common, and harmless for HTTP's own framing), no renegotiation, buffers released while
/// idle (held streams), partial writes and moving write buffers (we retry from an evbuffer),
/// and read-ahead (one read syscall per burst of records instead of two per record).
void sg_ssl_ctx_set_common_defaults(struct ssl_ctx_st *ctx);
/// Server preference for ciphers.
void sg_ssl_ctx_set_server_defaults(struct ssl_ctx_st *ctx);
int sg_ssl_set_sni(struct ssl_st *ssl, const char *name);
/// `SSL_CTX_set_tlsext_servername_callback` + its argument.
void sg_ssl_ctx_set_servername_callback(struct ssl_ctx_st *ctx, int (*cb)(struct ssl_st *, int *, void *), void *arg);
/// The TLS version of an established connection, e.g. "TLSv1.3".
const char *sg_ssl_version(const struct ssl_st *ssl);

struct bio_st;
/// A BIO on socket `fd` that first returns a copy of `prefix` (bytes already read from the
/// socket, e.g. past a PROXY protocol header) and then reads the socket; writes go to the
/// socket (MSG_NOSIGNAL). Non-blocking semantics like OpenSSL's socket BIO. The BIO does not
/// close `fd`. NULL if out of memory.
struct bio_st *sg_prefixed_socket_bio(int fd, const unsigned char *prefix, size_t length);

/// Stores `n` random bytes; 1 on success.
int sg_random_bytes(unsigned char *out, int n);

// SHA-256 and HMAC-SHA-256 (RFC 2104) without OpenSSL 3's per-call algorithm fetch (digest.c).
void sg_sha256(const void *data, size_t length, unsigned char out[32]);

/// An HMAC-SHA-256 key with its two padded blocks already hashed: a MAC with it costs the
/// message's compressions and one more, instead of three more (the key is fixed per config).
typedef struct sg_hmac_key sg_hmac_key;
/// NULL if out of memory. Free with sg_hmac_key_free, which wipes it.
sg_hmac_key *sg_hmac_key_new(const void *key, size_t key_length);
void sg_hmac_key_free(sg_hmac_key *key);
/// HMAC-SHA-256 of `head` followed by `tail` (either may be empty), into `out`.
void sg_hmac_key_mac(const sg_hmac_key *key, const void *head, size_t head_length, const void *tail, size_t tail_length,
                     unsigned char out[32]);

#endif
