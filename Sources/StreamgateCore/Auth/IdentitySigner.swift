/// What computes the signed identity assertion's MAC (`IdentityHeaders`): HMAC-SHA-256 with
/// the configured secret in the gateway (`Crypto.HMACKey`, libcrypto in the IO layer).
///
/// The input comes in two pieces, the session's part and the request id, so the signer can
/// run over both where they lie instead of a joined copy made for every request.
public protocol IdentitySigner {
    /// The MAC of `head` followed by `tail`, lent to `body`.
    func withMAC<R>(of head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R
}

/// A signer made of a function over the whole input (tests, tools).
public struct ClosureSigner: IdentitySigner {
    private let sign: ([UInt8]) -> [UInt8]

    public init(_ sign: @escaping (_ input: [UInt8]) -> [UInt8]) { self.sign = sign }

    public func withMAC<R>(of head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        sign(Array(head) + Array(tail)).withUnsafeBytes(body)
    }
}
