internal import COpenSSL
internal import CStreamgateShims

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

    public static func sha256(_ string: String) -> [UInt8] {
        var s = string
        return s.withUTF8 { sha256(UnsafeRawBufferPointer($0)) }
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

    /// HMAC-SHA256(key, message), 32 bytes.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            message.withUnsafeBytes { m in
                out.withUnsafeMutableBytes { o in
                    sg_hmac_sha256(k.baseAddress, k.count, m.baseAddress, m.count, o.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        return out
    }

    /// Cryptographically random bytes.
    public static func randomBytes(_ n: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        let ok = out.withUnsafeMutableBytes { sg_random_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(n)) }
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }
}
