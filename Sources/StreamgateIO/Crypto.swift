internal import COpenSSL
internal import CStreamgateShims
import StreamgateCore

/// libcrypto's digests, the few the gateway needs. SHA-256 and HMAC go through
/// `CStreamgateShims/digest.c`, which skips OpenSSL 3's per-call algorithm fetch (a token
/// digest and a signed assertion are on every authenticated request).
public enum Crypto {
    /// SHA-256 of `bytes` (32 bytes).
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBytes { o in
            sg_sha256(bytes.baseAddress, bytes.count, o.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        return out
    }

    /// SHA-256 of `string`'s UTF-8 as a `TokenDigest`, without an intermediate array (one
    /// per authenticated request).
    public static func sha256Digest(_ string: String) -> TokenDigest {
        var s = string
        var out: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &out) { o in
            s.withUTF8 { sg_sha256($0.baseAddress, $0.count, o.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
            return TokenDigest(bytes: UnsafeRawBufferPointer(o))
        }
    }

    /// SHA-1 of `string`'s UTF-8 (20 bytes). Only for naming Redis scripts (EVALSHA), which
    /// Redis identifies by their SHA-1; never for anything that needs collision resistance.
    public static func sha1(_ string: String) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        var s = string
        s.withUTF8 { b in
            out.withUnsafeMutableBytes { o in _ = SHA1(b.baseAddress, b.count, o.baseAddress!.assumingMemoryBound(to: UInt8.self)) }
        }
        return out
    }

    /// An HMAC-SHA-256 key prepared once (its padded blocks hashed): each MAC with it then
    /// costs the message's compressions and one more, and allocates nothing.
    public final class HMACKey: @unchecked Sendable {
        // Written once in init, only read after: safe to share between worker threads.
        private let key: OpaquePointer

        public init(_ secret: [UInt8]) {
            guard let key = secret.withUnsafeBytes({ sg_hmac_key_new($0.baseAddress, $0.count) }) else {
                fatalError("out of memory preparing the HMAC key")
            }
            self.key = key
        }

        deinit { sg_hmac_key_free(key) }

        /// HMAC-SHA-256 of `head` followed by `tail`, lent to `body` (32 bytes, on the stack).
        public func withMAC<R>(of head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer,
                               _ body: (UnsafeRawBufferPointer) -> R) -> R {
            var mac: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            return withUnsafeMutableBytes(of: &mac) { out in
                sg_hmac_key_mac(key, head.baseAddress, head.count, tail.baseAddress, tail.count,
                                out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                return body(UnsafeRawBufferPointer(out))
            }
        }

        /// HMAC-SHA-256 of `message`.
        public func mac(_ message: [UInt8]) -> [UInt8] {
            message.withUnsafeBytes { m in withMAC(of: m, UnsafeRawBufferPointer(start: nil, count: 0)) { Array($0) } }
        }
    }

    /// Cryptographically random bytes.
    public static func randomBytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        let ok = out.withUnsafeMutableBytes { sg_random_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(n)) }
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }
}
