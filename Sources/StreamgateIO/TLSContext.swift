internal import COpenSSL
internal import CStreamgateShims
#if canImport(Glibc)
import Glibc
#endif

public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A PEM certificate chain (leaf first) and its private key, as configured.
public struct TLSCertificateFiles: Sendable, Equatable {
    public var certificatePath: String
    public var privateKeyPath: String
    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// The listener side of TLS: one OpenSSL context per configured certificate. The first is the
/// default; a client's SNI name picks the first certificate that covers it (RFC 6066 §3,
/// names matched as RFC 6125 says, wildcards included). TLS 1.2 and 1.3 only, forward-secret
/// AEAD ciphers for 1.2, ALPN `http/1.1`.
///
/// Built once per config load (certificates are re-read on reload) and shared by every worker:
/// OpenSSL contexts are safe to create sessions from on several threads once configured.
public final class TLSServerContext: @unchecked Sendable {
    /// `SSL_CTX *`, in configured order.
    let contexts: [OpaquePointer]
    /// Each context's leaf certificate (owned by the context).
    private let leaves: [OpaquePointer]

    /// Mozilla's "intermediate" TLS 1.2 list: ECDHE key exchange with AEAD ciphers only.
    static let tls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public init(certificates: [TLSCertificateFiles]) throws(TLSError) {
        precondition(!certificates.isEmpty)
        var made: [OpaquePointer] = []
        var leaves: [OpaquePointer] = []
        for files in certificates {
            guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError("cannot create a TLS context: \(TLS.lastError())") }
            made.append(ctx)
            sg_ssl_ctx_set_common_defaults(ctx)
            sg_ssl_ctx_set_server_defaults(ctx)
            guard sg_ssl_ctx_set_min_tls12(ctx) == 1, SSL_CTX_set_cipher_list(ctx, TLSServerContext.tls12Ciphers) == 1 else {
                made.forEach { SSL_CTX_free($0) }
                throw TLSError("cannot configure TLS versions and ciphers: \(TLS.lastError())")
            }
            ERR_clear_error()
            if SSL_CTX_use_certificate_chain_file(ctx, files.certificatePath) != 1 {
                made.forEach { SSL_CTX_free($0) }
                throw TLSError("cannot load certificate chain \(files.certificatePath): \(TLS.lastError())")
            }
            if SSL_CTX_use_PrivateKey_file(ctx, files.privateKeyPath, SSL_FILETYPE_PEM) != 1 {
                made.forEach { SSL_CTX_free($0) }
                throw TLSError("cannot load private key \(files.privateKeyPath): \(TLS.lastError())")
            }
            if SSL_CTX_check_private_key(ctx) != 1 {
                made.forEach { SSL_CTX_free($0) }
                throw TLSError("private key \(files.privateKeyPath) does not match certificate \(files.certificatePath)")
            }
            guard let leaf = SSL_CTX_get0_certificate(ctx) else {
                made.forEach { SSL_CTX_free($0) }
                throw TLSError("no certificate in \(files.certificatePath)")
            }
            leaves.append(leaf)
            SSL_CTX_set_alpn_select_cb(ctx, { _, out, outLength, offered, offeredLength, _ in
                // RFC 7301 §3.2: a server that speaks none of the offered protocols answers
                // with a fatal no_application_protocol alert. `h2` joins this list later.
                var chosen: UnsafeMutablePointer<UInt8>?
                let rc = TLS.http11Wire.withUnsafeBufferPointer { own in
                    SSL_select_next_proto(&chosen, outLength, own.baseAddress, UInt32(own.count), offered, offeredLength)
                }
                guard rc == OPENSSL_NPN_NEGOTIATED, let chosen else { return SSL_TLSEXT_ERR_ALERT_FATAL }
                out?.pointee = UnsafePointer(chosen)
                return SSL_TLSEXT_ERR_OK
            }, nil)
        }
        contexts = made
        self.leaves = leaves
        if made.count > 1 {
            sg_ssl_ctx_set_servername_callback(made[0], { ssl, _, arg in
                guard let ssl, let arg else { return SSL_TLSEXT_ERR_OK }
                Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue().selectCertificate(ssl)
                return SSL_TLSEXT_ERR_OK
            }, Unmanaged.passUnretained(self).toOpaque())
        }
    }

    deinit { contexts.forEach { SSL_CTX_free($0) } }

    /// Switches `ssl` to the first context whose certificate covers the requested name. No
    /// name, or none covered: the default certificate (the client decides what to make of it).
    private func selectCertificate(_ ssl: OpaquePointer) {
        guard let name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) else { return }
        let length = strlen(name)
        for (i, leaf) in leaves.enumerated() where X509_check_host(leaf, name, length, 0, nil) == 1 {
            if i != 0 { SSL_set_SSL_CTX(ssl, contexts[i]) }
            return
        }
    }

    func makeSession(fd: Int32) -> OpaquePointer? {
        guard let ssl = SSL_new(contexts[0]) else { return nil }
        SSL_set_fd(ssl, fd)
        SSL_set_accept_state(ssl)
        return ssl
    }
}

/// The upstream side of TLS: peer verification on unless configured off (system store or a CA
/// file), an optional client certificate, ALPN `http/1.1`. The name to send (SNI) and verify
/// is given per connection.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let verifiesPeer: Bool

    public init(caFile: String?, verifyPeer: Bool = true, clientCertificate: TLSCertificateFiles? = nil) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError("cannot create a TLS context: \(TLS.lastError())") }
        context = ctx
        verifiesPeer = verifyPeer
        sg_ssl_ctx_set_common_defaults(ctx)
        guard sg_ssl_ctx_set_min_tls12(ctx) == 1 else { throw TLSError("cannot configure TLS versions: \(TLS.lastError())") }
        ERR_clear_error()
        if verifyPeer {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            if let caFile {
                guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                    throw TLSError("cannot load CA file \(caFile): \(TLS.lastError())")
                }
            } else if SSL_CTX_set_default_verify_paths(ctx) != 1 {
                throw TLSError("cannot load the system's trusted certificates: \(TLS.lastError())")
            }
        }
        if let files = clientCertificate {
            if SSL_CTX_use_certificate_chain_file(ctx, files.certificatePath) != 1 {
                throw TLSError("cannot load client certificate chain \(files.certificatePath): \(TLS.lastError())")
            }
            if SSL_CTX_use_PrivateKey_file(ctx, files.privateKeyPath, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1 {
                throw TLSError("cannot load client private key \(files.privateKeyPath) (or it does not match the certificate): \(TLS.lastError())")
            }
        }
        let protocols = TLS.http11Wire
        // SSL_CTX_set_alpn_protos returns 0 on success.
        guard protocols.withUnsafeBufferPointer({ SSL_CTX_set_alpn_protos(ctx, $0.baseAddress, UInt32($0.count)) }) == 0 else {
            throw TLSError("cannot set ALPN: \(TLS.lastError())")
        }
    }

    deinit { SSL_CTX_free(context) }

    /// A client session for `fd` that sends `serverName` as SNI (unless it is an IP literal,
    /// which RFC 6066 §3 forbids there) and, when verifying, requires the certificate to
    /// name it (host names per RFC 6125, IP literals against IP SANs).
    func makeSession(fd: Int32, serverName: String) -> OpaquePointer? {
        guard let ssl = SSL_new(context) else { return nil }
        SSL_set_fd(ssl, fd)
        let isIP = SocketAddress.isIPLiteral(serverName)
        if !isIP { _ = sg_ssl_set_sni(ssl, serverName) }
        if verifiesPeer {
            let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName) : SSL_set1_host(ssl, serverName)
            guard ok == 1 else { SSL_free(ssl); return nil }
        }
        SSL_set_connect_state(ssl)
        return ssl
    }
}

enum TLS {
    /// ALPN protocol list in wire format.
    static let http11Wire: [UInt8] = [8] + Array("http/1.1".utf8)

    /// The oldest queued OpenSSL error as text (clearing the queue), or "unknown error".
    static func lastError() -> String {
        var text = ""
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if text.isEmpty {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
        }
        return text.isEmpty ? "unknown error" : text
    }

    /// Why a handshake failed, preferring the certificate check's own words ("certificate has
    /// expired", "hostname mismatch", ...) over the generic handshake error.
    static func failureReason(_ ssl: OpaquePointer) -> String {
        let verify = SSL_get_verify_result(ssl)
        let queued = lastError()
        if verify != Int(X509_V_OK) {
            return "certificate verify failed: " + String(cString: X509_verify_cert_error_string(verify))
        }
        return queued
    }
}
