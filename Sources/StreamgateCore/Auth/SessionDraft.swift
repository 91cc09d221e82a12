/// A session that `streamgate session create` is about to store: its values, and the exact
/// forms (hash fields or JSON text) that `SessionRecord.decode` reads back.
///
/// `validated(mapping:)` decodes the encoded form with the gateway's own decoder before
/// anything is written, so a record the gateway would refuse is never stored.
public struct SessionDraft: Sendable, Equatable {
    public var userID: String
    public var tenantID: String
    public var scopes: [String]
    public var allowedOrigins: [String]
    public var kind: SessionKind
    /// Unix seconds; nil: no `expires_at` field (the key's TTL, if any, is the only expiry).
    public var expiresAt: Int64?

    public init(userID: String, tenantID: String, scopes: [String] = [], allowedOrigins: [String] = [],
                kind: SessionKind = .session, expiresAt: Int64? = nil) {
        self.userID = userID
        self.tenantID = tenantID
        self.scopes = scopes
        self.allowedOrigins = allowedOrigins
        self.kind = kind
        self.expiresAt = expiresAt
    }

    /// A value the gateway would refuse, named by the command-line option that gave it.
    public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
        public var option: String
        public var reason: String
        public var description: String { "\(option): \(reason)" }
    }

    /// `HSET` field/value pairs, in a fixed order. Scopes and origins are space-separated,
    /// `expires_at` is unix seconds; empty lists are left out (absent = none).
    public func hashFields(mapping: SessionFieldMapping) -> [(field: String, value: String)] {
        var out: [(field: String, value: String)] = [
            (mapping.user, userID), (mapping.tenant, tenantID), (mapping.kind, kind.rawValue),
        ]
        if !scopes.isEmpty { out.append((mapping.scopes, scopes.joined(separator: " "))) }
        if !allowedOrigins.isEmpty { out.append((mapping.origins, allowedOrigins.joined(separator: " "))) }
        if let expiresAt { out.append((mapping.expiresAt, String(expiresAt))) }
        return out
    }

    /// One JSON object: ids as strings, scopes and origins as arrays, `expires_at` a number.
    public func jsonText(mapping: SessionFieldMapping) -> String {
        var members = [
            "\(JSON.quoted(mapping.user)):\(JSON.quoted(userID))",
            "\(JSON.quoted(mapping.tenant)):\(JSON.quoted(tenantID))",
            "\(JSON.quoted(mapping.kind)):\(JSON.quoted(kind.rawValue))",
        ]
        if !scopes.isEmpty { members.append("\(JSON.quoted(mapping.scopes)):[\(scopes.map(JSON.quoted).joined(separator: ","))]") }
        if !allowedOrigins.isEmpty {
            members.append("\(JSON.quoted(mapping.origins)):[\(allowedOrigins.map(JSON.quoted).joined(separator: ","))]")
        }
        if let expiresAt { members.append("\(JSON.quoted(mapping.expiresAt)):\(expiresAt)") }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// Checks the values as the gateway will read them back. A space inside a scope or an
    /// origin would split it in a hash record, and duplicate field names in the mapping would
    /// make one value overwrite another, so both are refused here too.
    public func validated(mapping: SessionFieldMapping, format: SessionsConfig.Format) throws(InvalidValue) -> SessionRecord {
        for s in scopes where s.contains(" ") { throw InvalidValue(option: "--scope", reason: "a scope cannot contain a space") }
        for o in allowedOrigins where o.contains(" ") { throw InvalidValue(option: "--origin", reason: "an origin cannot contain a space") }
        let record: SessionRecord
        do {
            switch format {
            case .hash: record = try SessionRecord.decode(hash: hashFields(mapping: mapping), mapping: mapping)
            case .json: record = try SessionRecord.decode(json: jsonText(mapping: mapping), mapping: mapping)
            }
        } catch {
            throw Self.explain(error, mapping: mapping)
        }
        // Each value must come back as written, or two mapped fields share a name.
        let expected = SessionRecord(userID: userID, tenantID: tenantID, expiresAt: expiresAt, kind: kind, scopes: scopes,
                                     allowedOrigins: record.allowedOrigins)
        guard record == expected, record.allowedOrigins.count == allowedOrigins.count else {
            throw InvalidValue(option: "[sessions.fields]", reason: "two fields share a name, so a value would overwrite another")
        }
        return record
    }

    private static func explain(_ error: SessionRecordError, mapping: SessionFieldMapping) -> InvalidValue {
        let idRule = "1 to \(SessionRecord.maxIdentifierLength) bytes, no control characters, no leading or trailing space"
        switch error {
        case .missingUser: return InvalidValue(option: "--user", reason: "must not be empty")
        case .missingTenant: return InvalidValue(option: "--tenant", reason: "must not be empty")
        case .invalidField(let f) where f == mapping.user: return InvalidValue(option: "--user", reason: idRule)
        case .invalidField(let f) where f == mapping.tenant: return InvalidValue(option: "--tenant", reason: idRule)
        case .invalidField(let f) where f == mapping.scopes:
            return InvalidValue(option: "--scope", reason: "RFC 6749 scope characters only (printable ASCII except space, '\"' and '\\')")
        case .invalidField(let f) where f == mapping.origins:
            return InvalidValue(option: "--origin", reason: "an origin is scheme://host[:port], e.g. https://app.example.com")
        case .invalidField(let f) where f == mapping.expiresAt: return InvalidValue(option: "--ttl", reason: "out of range")
        case .tooLarge(let n): return InvalidValue(option: "session", reason: "the record would be \(n) bytes, over the \(SessionRecord.maxStoredBytes)-byte limit")
        default: return InvalidValue(option: "session", reason: error.description)
        }
    }
}

/// Base64url without padding (RFC 4648 §5): how generated tokens are spelled. Every
/// character is an RFC 6750 b64token character that needs no escaping in a URL, so the
/// same token works in `Authorization: Bearer` and in `?access_token=`.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= input.count {
            let n = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
            i += 3
        }
        let rest = input.count - i
        if rest > 0 {
            let n = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
            let shifts = rest == 2 ? [18, 12, 6] : [18, 12]
            for shift in shifts { out.append(alphabet[Int((n >> UInt32(shift)) & 63)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
