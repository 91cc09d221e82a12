/// The headers that tell the upstream who the caller is (`[identity]`), and the removal of
/// any client-sent copies of them.
///
/// Stripping matches names case-insensitively with `_` read as `-` (`x_auth_user_id`,
/// `X-AUTH_USER-ID`), because some upstream stacks (CGI, WSGI, some Node and PHP servers)
/// fold `_` into `-` and would otherwise see the client's copy (REFERENCES.md, Envoy edge
/// guidance). Every copy goes, duplicates included, on every request, authenticated or not.
///
/// Order matters in the request builder: remove hop-by-hop fields first, then `apply`, so
/// a client's `Connection: X-Auth-User-Id` cannot delete the gateway's own header.
///
/// ## Signed assertion (`signing_secret` set)
/// `signatureHeader: v1=<lowercase hex HMAC-SHA-256(secret, input)>`, where the input is
/// the UTF-8 of these lines joined by `\n` (no trailing newline):
/// ```
/// v1
/// <user id>
/// <tenant id>
/// <scopes, space-separated, as in the scopes header>
/// <expires at, unix seconds, as in the expires header; empty when the session has none>
/// <request id, as in the request-id header>
/// ```
/// No field can contain `\n` (ids and scopes are validated when the record is decoded;
/// header values cannot carry LF), so the encoding is unambiguous. The version prefix lets
/// the format change without a verifier misreading a new input as an old one. The HMAC is
/// computed by an `IdentitySigner` (libcrypto in the IO layer, the key prepared once); the
/// part of the input before the request id is rendered once per session record
/// (`SessionRecord.identityFields`).
public struct IdentityHeaders: Sendable, Equatable {
    /// The five names in one immutable box: the request builder takes these headers from the
    /// settings for every request, and five strings copied each time cost more than one.
    private final class Names: Sendable {
        let user, tenant, scopes, expires, signature: String
        /// Bit n set when an owned name is n bytes long (bit 63: 63 or more). Every client field
        /// is checked against the five names on every request; most differ from all of them in
        /// length and are passed over with this one test instead of five compares.
        let ownedLengths: UInt64
        /// No name holds CR, LF or NUL (configured names are tokens): written as they are.
        let areWritable: Bool

        init(user: String, tenant: String, scopes: String, expires: String, signature: String) {
            self.user = user; self.tenant = tenant; self.scopes = scopes; self.expires = expires; self.signature = signature
            let all = [user, tenant, scopes, expires, signature]
            ownedLengths = all.reduce(0) { $0 | IdentityHeaders.lengthBit($1.utf8.count) }
            areWritable = all.allSatisfy { name in
                var name = name
                return name.withUTF8 { !HeadWriter.hasLineBreakOrNUL(UnsafeRawBufferPointer($0)) }
            }
        }

        func with(user: String? = nil, tenant: String? = nil, scopes: String? = nil, expires: String? = nil,
                  signature: String? = nil) -> Names {
            Names(user: user ?? self.user, tenant: tenant ?? self.tenant, scopes: scopes ?? self.scopes,
                  expires: expires ?? self.expires, signature: signature ?? self.signature)
        }
    }

    private var names: Names

    public var userHeader: String {
        get { names.user }
        set { names = names.with(user: newValue) }
    }
    public var tenantHeader: String {
        get { names.tenant }
        set { names = names.with(tenant: newValue) }
    }
    public var scopesHeader: String {
        get { names.scopes }
        set { names = names.with(scopes: newValue) }
    }
    /// Carries the session's `expiresAt` (unix seconds) when it has one, so upstreams can
    /// end streams on time and verify the signature.
    public var expiresHeader: String {
        get { names.expires }
        set { names = names.with(expires: newValue) }
    }
    public var signatureHeader: String {
        get { names.signature }
        set { names = names.with(signature: newValue) }
    }

    fileprivate static func lengthBit(_ n: Int) -> UInt64 { 1 << UInt64(Swift.min(n, 63)) }

    public init(userHeader: String = "X-Auth-User-Id", tenantHeader: String = "X-Auth-Tenant-Id",
                scopesHeader: String = "X-Auth-Scopes", expiresHeader: String = "X-Auth-Expires-At",
                signatureHeader: String = "X-Auth-Signature") {
        names = Names(user: userHeader, tenant: tenantHeader, scopes: scopesHeader, expires: expiresHeader, signature: signatureHeader)
    }

    public static func == (a: IdentityHeaders, b: IdentityHeaders) -> Bool {
        a.names === b.names || (a.userHeader == b.userHeader && a.tenantHeader == b.tenantHeader && a.scopesHeader == b.scopesHeader
            && a.expiresHeader == b.expiresHeader && a.signatureHeader == b.signatureHeader)
    }

    public static let signatureVersion = "v1"

    /// Every header name the gateway owns.
    public var ownedNames: [String] { [userHeader, tenantHeader, scopesHeader, expiresHeader, signatureHeader] }

    /// Whether a client-sent field with this name must be removed.
    public func isOwned(_ name: UnsafeRawBufferPointer) -> Bool {
        let names = self.names
        guard names.ownedLengths & Self.lengthBit(name.count) != 0 else { return false }
        return AuthASCII.headerNamesCollide(name, names.user) || AuthASCII.headerNamesCollide(name, names.tenant)
            || AuthASCII.headerNamesCollide(name, names.scopes) || AuthASCII.headerNamesCollide(name, names.expires)
            || AuthASCII.headerNamesCollide(name, names.signature)
    }

    /// Removes every client copy of the owned names (any case, `_` variants, duplicates).
    public func strip(_ headers: inout HTTPHeaders) {
        headers.removeAll { _, name in isOwned(name) }
    }

    /// Strips client copies, then (for an authenticated request) appends the identity.
    ///
    /// - Parameters:
    ///   - identity: nil for anonymous requests: only the stripping happens.
    ///   - requestID: the id the gateway forwards upstream with this request (signed).
    ///   - sign: HMAC-SHA-256 over the signing input with the configured secret; nil when
    ///     signing is off. Should the input be impossible to encode (a field with a line
    ///     break, which validation prevents), no signature is sent: upstreams that require
    ///     one then refuse the request, failing closed.
    public func apply(_ identity: Identity?, to headers: inout HTTPHeaders, requestID: String,
                      sign: ((_ input: [UInt8]) -> [UInt8])? = nil) {
        strip(&headers)
        for field in fields(for: identity, requestID: requestID, sign: sign) { headers.add(name: field.name, value: field.value) }
    }

    /// The fields `apply` appends for `identity` (none for an anonymous request), in order:
    /// user, tenant, scopes, expiry (when the session has one), signature (when signing).
    public func fields(for identity: Identity?, requestID: String,
                       sign: ((_ input: [UInt8]) -> [UInt8])? = nil) -> [(name: String, value: String)] {
        guard let identity else { return [] }
        let session = identity.session
        let rendered = session.identityFields
        var out: [(name: String, value: String)] = [(userHeader, session.userID), (tenantHeader, session.tenantID),
                                                    (scopesHeader, rendered.scopes)]
        if let expires = rendered.expires { out.append((expiresHeader, expires)) }
        if let sign, let head = rendered.signedPart, AuthASCII.isFieldSafe(requestID) {
            out.append((signatureHeader, Self.signatureValue(mac: sign(head + Array(requestID.utf8)))))
        }
        return out
    }

    /// `fields(for:requestID:sign:)` written into a head, without the intermediate strings
    /// and list (every authenticated request): the session's values come rendered
    /// (`SessionRecord.identityFields`), the signer runs over the session's signed part and
    /// the request id where they lie, and nothing is allocated.
    func write(for identity: Identity?, requestID: String, signer: (any IdentitySigner)?, to out: inout HeadWriter) {
        guard let identity else { return }
        let session = identity.session
        let fields = session.identityFields
        let names = self.names
        // Names checked when configured, values when the record was decoded (a signed part
        // exists only when none holds a control character): then no per-byte check per request.
        let checked = names.areWritable && fields.signedPart != nil
        out.writeField(named: names.user, session.userID, alreadyChecked: checked)
        out.writeField(named: names.tenant, session.tenantID, alreadyChecked: checked)
        out.writeField(named: names.scopes, fields.scopes, alreadyChecked: checked)
        if let expires = fields.expires { out.writeField(named: names.expires, expires, alreadyChecked: checked) }
        guard let signer, let signed = fields.signedPart else { return }
        var requestID = requestID
        requestID.withUTF8 { id in
            guard AuthASCII.isFieldSafe(id) else { return }
            signed.withUnsafeBytes { head in
                signer.withMAC(of: head, UnsafeRawBufferPointer(id)) { mac in
                    out.writeSafe(names.signature)
                    out.write(": ")
                    out.writeSafe(Self.signatureVersion)
                    out.write("=")
                    // Lowercase hex into a stack buffer, then one write.
                    var hex: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
                    withUnsafeMutableBytes(of: &hex) { h in
                        let digits: StaticString = "0123456789abcdef"
                        let d = digits.utf8Start
                        let n = Swift.min(mac.count, h.count / 2)
                        for i in 0..<n {
                            h[2 * i] = d[Int(mac[i] >> 4)]
                            h[2 * i + 1] = d[Int(mac[i] & 0x0F)]
                        }
                        out.write(UnsafeRawBufferPointer(rebasing: h[0..<(2 * n)]))
                    }
                    out.crlf()
                }
            }
        }
    }

    /// The canonical bytes to sign (format in the type's documentation); nil when a field
    /// contains CR, LF or another control character.
    public static func signingInput(user: String, tenant: String, scopes: String, expiresAt: Int64?,
                                    requestID: String) -> [UInt8]? {
        guard let head = signedPart(user: user, tenant: tenant, scopes: scopes, expires: expiresAt.map { String($0) } ?? ""),
              AuthASCII.isFieldSafe(requestID) else { return nil }
        return head + Array(requestID.utf8)
    }

    /// The signing input up to the request id (`v1`, user, tenant, scopes, expiry, each
    /// followed by `\n`): the same for every request of a session. Nil when a field holds a
    /// control character.
    static func signedPart(user: String, tenant: String, scopes: String, expires: String) -> [UInt8]? {
        let fields = [signatureVersion, user, tenant, scopes, expires]
        guard fields.allSatisfy(AuthASCII.isFieldSafe) else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count + 1 })
        for field in fields {
            out.append(contentsOf: field.utf8)
            out.append(0x0A)
        }
        return out
    }

    /// `v1=<lowercase hex>`.
    public static func signatureValue(mac: [UInt8]) -> String {
        signatureVersion + "=" + Hex.lowercase(mac)
    }

}

/// A session's identity header values and the session part of its signing input, in their
/// final form: worked out once per session record (`SessionRecord.identityFields`), not per
/// request.
public struct IdentityFields: Sendable {
    /// The scopes joined by single spaces, as the scopes header carries them.
    public let scopes: String
    /// The expiry in unix seconds, in decimal; nil when the session has none.
    public let expires: String?
    /// `IdentityHeaders.signedPart` of the session; nil when a field holds a control
    /// character (such a session is never signed, and upstreams that require a signature
    /// refuse it: fail closed).
    let signedPart: [UInt8]?

    init(userID: String, tenantID: String, scopes: [String], expiresAt: Int64?) {
        self.scopes = scopes.joined(separator: " ")
        expires = expiresAt.map { String($0) }
        signedPart = IdentityHeaders.signedPart(user: userID, tenant: tenantID, scopes: self.scopes, expires: expires ?? "")
    }
}
