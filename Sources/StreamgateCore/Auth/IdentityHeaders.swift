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
/// computed by the caller (libcrypto in the IO layer) through the `sign` closure.
public struct IdentityHeaders: Sendable, Equatable {
    public var userHeader: String { didSet { noteLengths() } }
    public var tenantHeader: String { didSet { noteLengths() } }
    public var scopesHeader: String { didSet { noteLengths() } }
    /// Carries the session's `expiresAt` (unix seconds) when it has one, so upstreams can
    /// end streams on time and verify the signature.
    public var expiresHeader: String { didSet { noteLengths() } }
    public var signatureHeader: String { didSet { noteLengths() } }
    /// Bit n set when an owned name is n bytes long (bit 63: 63 or more). Every client field
    /// is checked against the five names on every request; most differ from all of them in
    /// length and are passed over with this one test instead of five compares.
    private var ownedLengths: UInt64 = 0

    private static func lengthBit(_ n: Int) -> UInt64 { 1 << UInt64(Swift.min(n, 63)) }

    private mutating func noteLengths() {
        ownedLengths = [userHeader, tenantHeader, scopesHeader, expiresHeader, signatureHeader]
            .reduce(0) { $0 | Self.lengthBit($1.utf8.count) }
    }

    public init(userHeader: String = "X-Auth-User-Id", tenantHeader: String = "X-Auth-Tenant-Id",
                scopesHeader: String = "X-Auth-Scopes", expiresHeader: String = "X-Auth-Expires-At",
                signatureHeader: String = "X-Auth-Signature") {
        self.userHeader = userHeader
        self.tenantHeader = tenantHeader
        self.scopesHeader = scopesHeader
        self.expiresHeader = expiresHeader
        self.signatureHeader = signatureHeader
        noteLengths()
    }

    public static let signatureVersion = "v1"

    /// Every header name the gateway owns.
    public var ownedNames: [String] { [userHeader, tenantHeader, scopesHeader, expiresHeader, signatureHeader] }

    /// Whether a client-sent field with this name must be removed.
    public func isOwned(_ name: UnsafeRawBufferPointer) -> Bool {
        guard ownedLengths & Self.lengthBit(name.count) != 0 else { return false }
        return AuthASCII.headerNamesCollide(name, userHeader) || AuthASCII.headerNamesCollide(name, tenantHeader)
            || AuthASCII.headerNamesCollide(name, scopesHeader) || AuthASCII.headerNamesCollide(name, expiresHeader)
            || AuthASCII.headerNamesCollide(name, signatureHeader)
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
        let scopes = session.scopes.joined(separator: " ")
        var out: [(name: String, value: String)] = [(userHeader, session.userID), (tenantHeader, session.tenantID), (scopesHeader, scopes)]
        if let expiresAt = session.expiresAt { out.append((expiresHeader, String(expiresAt))) }
        if let sign, let input = Self.signingInput(user: session.userID, tenant: session.tenantID, scopes: scopes,
                                                   expiresAt: session.expiresAt, requestID: requestID) {
            out.append((signatureHeader, Self.signatureValue(mac: sign(input))))
        }
        return out
    }

    /// `fields(for:requestID:sign:)` written into a head, without the intermediate strings
    /// and list (every authenticated request).
    func write(for identity: Identity?, requestID: String, sign: ((_ input: [UInt8]) -> [UInt8])?, to out: inout HeadWriter) {
        guard let identity else { return }
        let session = identity.session
        let scopes = session.scopes.count == 1 ? session.scopes[0] : session.scopes.joined(separator: " ")
        let expires = session.expiresAt.map { String($0) }
        out.writeField(named: userHeader, session.userID)
        out.writeField(named: tenantHeader, session.tenantID)
        out.writeField(named: scopesHeader, scopes)
        if let expires { out.writeField(named: expiresHeader, expires) }
        guard let sign, let input = Self.signingInput(user: session.userID, tenant: session.tenantID, scopes: scopes,
                                                      expires: expires ?? "", requestID: requestID) else { return }
        let mac = sign(input)
        out.writeSafe(signatureHeader)
        out.write(": ")
        out.writeSafe(Self.signatureVersion)
        out.write("=")
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        for b in mac {
            out.write(d[Int(b >> 4)])
            out.write(d[Int(b & 0x0F)])
        }
        out.crlf()
    }

    /// The canonical bytes to sign (format in the type's documentation); nil when a field
    /// contains CR, LF or another control character.
    public static func signingInput(user: String, tenant: String, scopes: String, expiresAt: Int64?,
                                    requestID: String) -> [UInt8]? {
        signingInput(user: user, tenant: tenant, scopes: scopes, expires: expiresAt.map { String($0) } ?? "", requestID: requestID)
    }

    static func signingInput(user: String, tenant: String, scopes: String, expires: String, requestID: String) -> [UInt8]? {
        // Written piece by piece into one buffer: on every signed request.
        var input = HeadWriter(capacity: 8 + user.utf8.count + tenant.utf8.count + scopes.utf8.count + expires.utf8.count
                                   + requestID.utf8.count)
        var version = signatureVersion
        version.withUTF8 { input.write($0) }
        guard appendLine(user, to: &input), appendLine(tenant, to: &input), appendLine(scopes, to: &input),
              appendLine(expires, to: &input), appendLine(requestID, to: &input) else { return nil }
        return input.finish()
    }

    /// `\n` and the field, unless it holds a control character.
    private static func appendLine(_ field: String, to input: inout HeadWriter) -> Bool {
        var field = field
        return field.withUTF8 { bytes in
            guard AuthASCII.isFieldSafe(bytes) else { return false }
            input.write(0x0A)
            input.write(bytes)
            return true
        }
    }

    /// `v1=<lowercase hex>`.
    public static func signatureValue(mac: [UInt8]) -> String {
        signatureVersion + "=" + Hex.lowercase(mac)
    }

}
