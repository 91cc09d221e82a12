/// What a token is allowed to be used as (`[sessions.fields] kind`).
public enum SessionKind: String, Sendable, Equatable {
    /// A user session: accepted from headers and, on routes that allow it, the query.
    case session
    /// A long-lived API key: headers only (a query string ends up in logs and histories).
    case apiKey = "api_key"
}

/// A session as stored in Redis, decoded and validated.
///
/// Every value that ends up in an upstream header (user, tenant, scopes) is checked here
/// to be free of control characters, so header injection is impossible downstream.
///
/// A value kept in one immutable box: a cached record is copied into every authenticated
/// request's identity, plan and log (four strings and arrays each time otherwise), and the
/// box also holds what the identity headers need in their final form (`IdentityFields`),
/// worked out once per record instead of once per request. A write makes a new box.
public struct SessionRecord: Sendable, Equatable {
    /// The stored values; the box adds what is derived from them.
    private struct Fields: Equatable {
        var userID: String, tenantID: String, expiresAt: Int64?, kind: SessionKind, scopes: [String]
        var allowedOrigins: [String], maxStreamDuration: Int64?
    }

    private final class Storage: Sendable {
        let fields: Fields
        let identityFields: IdentityFields

        init(_ fields: Fields) {
            self.fields = fields
            identityFields = IdentityFields(userID: fields.userID, tenantID: fields.tenantID, scopes: fields.scopes,
                                            expiresAt: fields.expiresAt)
        }
    }

    private var storage: Storage

    /// Replaces the box with one where `change` has been applied (writes are rare: decoders
    /// and tests).
    private mutating func update(_ change: (inout Fields) -> Void) {
        var fields = storage.fields
        change(&fields)
        storage = Storage(fields)
    }

    public var userID: String {
        get { storage.fields.userID }
        set { update { $0.userID = newValue } }
    }
    public var tenantID: String {
        get { storage.fields.tenantID }
        set { update { $0.tenantID = newValue } }
    }
    /// Unix seconds; the session is valid while `wallNow < expiresAt`. Nil: the Redis
    /// key's own TTL is the only expiry.
    public var expiresAt: Int64? {
        get { storage.fields.expiresAt }
        set { update { $0.expiresAt = newValue } }
    }
    public var kind: SessionKind {
        get { storage.fields.kind }
        set { update { $0.kind = newValue } }
    }
    /// RFC 6749 §3.3 scope tokens.
    public var scopes: [String] {
        get { storage.fields.scopes }
        set { update { $0.scopes = newValue } }
    }
    /// Normalised origins (`WebOrigin.serialized`), for routes with `cors_origins = "session"`.
    public var allowedOrigins: [String] {
        get { storage.fields.allowedOrigins }
        set { update { $0.allowedOrigins = newValue } }
    }
    /// Seconds; caps the life of a stream opened with this session.
    public var maxStreamDuration: Int64? {
        get { storage.fields.maxStreamDuration }
        set { update { $0.maxStreamDuration = newValue } }
    }
    /// The identity header values and signed part of this session, rendered once.
    public var identityFields: IdentityFields { storage.identityFields }

    public init(userID: String, tenantID: String, expiresAt: Int64? = nil, kind: SessionKind = .session,
                scopes: [String] = [], allowedOrigins: [String] = [], maxStreamDuration: Int64? = nil) {
        storage = Storage(Fields(userID: userID, tenantID: tenantID, expiresAt: expiresAt, kind: kind, scopes: scopes,
                                 allowedOrigins: allowedOrigins, maxStreamDuration: maxStreamDuration))
    }

    public static func == (a: SessionRecord, b: SessionRecord) -> Bool {
        a.storage === b.storage || a.storage.fields == b.storage.fields
    }

    /// Expired at `expiresAt` exactly: a session written to end at T is refused at T.
    public func isExpired(wallNow: Int64) -> Bool {
        guard let expiresAt else { return false }
        return wallNow >= expiresAt
    }

    /// When a stream opened at `openedAt` (unix seconds) must end: the earliest of the
    /// session's expiry, the session's `max_stream_duration` and the route's; nil if none
    /// applies. Streams end there at an event boundary, and re-checks may end them sooner.
    public func streamDeadline(openedAt: Int64, routeMaxStreamDuration: Int64?) -> Int64? {
        let candidates = [
            expiresAt,
            maxStreamDuration.map { openedAt.addingReportingOverflow($0).overflow ? Int64.max : openedAt + $0 },
            routeMaxStreamDuration.map { openedAt.addingReportingOverflow($0).overflow ? Int64.max : openedAt + $0 },
        ]
        return candidates.compactMap { $0 }.min()
    }
}

/// Where each value sits in a stored record (`[sessions.fields]`; the defaults are the
/// contract's).
public struct SessionFieldMapping: Sendable, Equatable {
    public var user: String
    public var tenant: String
    public var expiresAt: String
    public var kind: String
    public var scopes: String
    public var origins: String
    public var maxStreamDuration: String

    public init(user: String = "user_id", tenant: String = "tenant_id", expiresAt: String = "expires_at",
                kind: String = "kind", scopes: String = "scopes", origins: String = "allowed_origins",
                maxStreamDuration: String = "max_stream_duration") {
        self.user = user
        self.tenant = tenant
        self.expiresAt = expiresAt
        self.kind = kind
        self.scopes = scopes
        self.origins = origins
        self.maxStreamDuration = maxStreamDuration
    }

    public static let defaults = SessionFieldMapping()
}

/// Why a stored record was refused. For logs (by field name, never by value): the request
/// itself is answered exactly as for an unknown token.
public enum SessionRecordError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedJSON(JSONError)
    case notAnObject
    case missingUser
    case missingTenant
    case unknownKind
    /// The value of that field (its configured name) is not of the expected form.
    case invalidField(String)
    /// The stored record has this many bytes, more than `SessionRecord.maxStoredBytes`.
    case tooLarge(Int)

    public var description: String {
        switch self {
        case .malformedJSON(let e): "session record is not valid JSON (\(e))"
        case .notAnObject: "session record is not a JSON object"
        case .missingUser: "session record has no user"
        case .missingTenant: "session record has no tenant"
        case .unknownKind: "session record has an unknown kind"
        case .invalidField(let f): "session record field \"\(f)\" is invalid"
        case .tooLarge(let n): "session record of \(n) bytes exceeds the \(SessionRecord.maxStoredBytes)-byte limit"
        }
    }
}

extension SessionRecord {
    /// Longest user or tenant id accepted: they travel in every upstream request.
    public static let maxIdentifierLength = 256

    /// Largest stored record accepted, in bytes: the JSON text, or a hash's fields and values
    /// together. A bigger one is refused before it is parsed (and so never cached), like any
    /// invalid record; a real session is a few hundred bytes.
    public static let maxStoredBytes = 64 * 1024

    /// Decodes an HGETALL reply: field/value pairs. Scopes and origins are space-separated.
    /// Fields not in the mapping are ignored.
    public static func decode(hash pairs: [(field: String, value: String)],
                              mapping: SessionFieldMapping = .defaults) throws(SessionRecordError) -> SessionRecord {
        func value(_ name: String) -> String? { pairs.first { $0.field == name }?.value }

        let user = try identifier(value(mapping.user), missing: .missingUser, field: mapping.user)
        let tenant = try identifier(value(mapping.tenant), missing: .missingTenant, field: mapping.tenant)
        let kind = try parseKind(value(mapping.kind))
        let expiresAt = try value(mapping.expiresAt).map { (s) throws(SessionRecordError) in
            try parseExpiry(s, field: mapping.expiresAt)
        }
        let scopes = try value(mapping.scopes).map { (s) throws(SessionRecordError) in
            try parseScopes(spaceSeparated(s), field: mapping.scopes)
        } ?? []
        let origins = try value(mapping.origins).map { (s) throws(SessionRecordError) in
            try parseOrigins(spaceSeparated(s), field: mapping.origins)
        } ?? []
        let maxStream = try value(mapping.maxStreamDuration).map { (s) throws(SessionRecordError) in
            try parsePositiveSeconds(s, field: mapping.maxStreamDuration)
        }
        return SessionRecord(userID: user, tenantID: tenant, expiresAt: expiresAt, kind: kind,
                             scopes: scopes, allowedOrigins: origins, maxStreamDuration: maxStream)
    }

    /// Decodes an HGETALL reply given flat, as Redis sends it: field, value, field, value...
    public static func decode(flatHash: [String], mapping: SessionFieldMapping = .defaults) throws(SessionRecordError) -> SessionRecord {
        let size = flatHash.reduce(0) { $0 + $1.utf8.count }
        guard size <= maxStoredBytes else { throw .tooLarge(size) }
        guard flatHash.count % 2 == 0 else { throw .invalidField("(odd HGETALL reply)") }
        let pairs = stride(from: 0, to: flatHash.count, by: 2).map { (field: flatHash[$0], value: flatHash[$0 + 1]) }
        return try decode(hash: pairs, mapping: mapping)
    }

    /// `decode(flatHash:)` for the raw bulk strings of an HGETALL reply; the size limit is
    /// checked before any of them is turned into text.
    public static func decode(flatHashBytes items: [[UInt8]], mapping: SessionFieldMapping = .defaults) throws(SessionRecordError) -> SessionRecord {
        let size = items.reduce(0) { $0 + $1.count }
        guard size <= maxStoredBytes else { throw .tooLarge(size) }
        return try decode(flatHash: items.map { String(decoding: $0, as: UTF8.self) }, mapping: mapping)
    }

    /// Decodes a GET reply holding a JSON object. Ids may be strings or integers; scopes and
    /// origins arrays of strings (a space-separated string is accepted too); `expires_at` an
    /// integer or a string (integer or RFC 3339); `null` counts as absent for optional fields.
    public static func decode(json text: some Collection<UInt8>,
                              mapping: SessionFieldMapping = .defaults) throws(SessionRecordError) -> SessionRecord {
        guard text.count <= maxStoredBytes else { throw .tooLarge(text.count) }
        let document: JSON
        do {
            document = try JSON.parse(text)
        } catch {
            throw .malformedJSON(error)
        }
        guard case .object(let object) = document else { throw .notAnObject }
        func value(_ name: String) -> JSON? {
            guard let v = object[name], !v.isNull else { return nil }
            return v
        }

        func idString(_ name: String) throws(SessionRecordError) -> String? {
            switch value(name) {
            case nil: return nil
            case .string(let s)?: return s
            case .number(let n)? where n.int64Value != nil: return n.lexeme
            default: throw .invalidField(name)
            }
        }
        func list(_ name: String) throws(SessionRecordError) -> [String] {
            switch value(name) {
            case nil: return []
            case .string(let s)?: return spaceSeparated(s)
            case .array(let items)?:
                var out: [String] = []
                for item in items {
                    guard case .string(let s) = item else { throw .invalidField(name) }
                    out.append(s)
                }
                return out
            default: throw .invalidField(name)
            }
        }

        let user = try identifier(idString(mapping.user), missing: .missingUser, field: mapping.user)
        let tenant = try identifier(idString(mapping.tenant), missing: .missingTenant, field: mapping.tenant)

        let kind: SessionKind
        switch value(mapping.kind) {
        case nil: kind = .session
        case .string(let s)?: kind = try parseKind(s)
        default: throw .unknownKind
        }

        let expiresAt: Int64?
        switch value(mapping.expiresAt) {
        case nil: expiresAt = nil
        case .number(let n)?:
            guard let v = n.int64Value else { throw .invalidField(mapping.expiresAt) }
            expiresAt = v
        case .string(let s)?: expiresAt = try parseExpiry(s, field: mapping.expiresAt)
        default: throw .invalidField(mapping.expiresAt)
        }

        let maxStream: Int64?
        switch value(mapping.maxStreamDuration) {
        case nil: maxStream = nil
        case .number(let n)?: maxStream = try parsePositiveSeconds(n.lexeme, field: mapping.maxStreamDuration)
        case .string(let s)?: maxStream = try parsePositiveSeconds(s, field: mapping.maxStreamDuration)
        default: throw .invalidField(mapping.maxStreamDuration)
        }

        return SessionRecord(
            userID: user, tenantID: tenant, expiresAt: expiresAt, kind: kind,
            scopes: try parseScopes(list(mapping.scopes), field: mapping.scopes),
            allowedOrigins: try parseOrigins(list(mapping.origins), field: mapping.origins),
            maxStreamDuration: maxStream)
    }

    public static func decode(json text: String, mapping: SessionFieldMapping = .defaults) throws(SessionRecordError) -> SessionRecord {
        try decode(json: text.utf8, mapping: mapping)
    }

    // MARK: - Field forms

    private static func identifier(_ value: String?, missing: SessionRecordError, field: String) throws(SessionRecordError) -> String {
        guard let value, !value.isEmpty else { throw missing }
        guard value.utf8.count <= maxIdentifierLength, AuthASCII.isFieldSafe(value),
              value.utf8.first != UInt8(ascii: " "), value.utf8.last != UInt8(ascii: " ") else {
            throw .invalidField(field)
        }
        return value
    }

    private static func parseKind(_ value: String?) throws(SessionRecordError) -> SessionKind {
        guard let value else { return .session }
        guard let kind = SessionKind(rawValue: value) else { throw .unknownKind }
        return kind
    }

    /// Unix seconds as an integer string, or an RFC 3339 date-time.
    private static func parseExpiry(_ s: String, field: String) throws(SessionRecordError) -> Int64 {
        if let v = strictInteger(s) { return v }
        if let v = RFC3339.unixSeconds(s) { return v }
        throw .invalidField(field)
    }

    private static func parsePositiveSeconds(_ s: String, field: String) throws(SessionRecordError) -> Int64 {
        guard let v = strictInteger(s), v > 0 else { throw .invalidField(field) }
        return v
    }

    /// `-?DIGIT+` in Int64 range (no `+`, no spaces: `Int64.init` alone accepts `+5`).
    static func strictInteger(_ s: String) -> Int64? {
        let utf8 = s.utf8
        let digits = utf8.first == UInt8(ascii: "-") ? utf8.dropFirst() : utf8[...]
        guard !digits.isEmpty, digits.allSatisfy(AuthASCII.isDigit) else { return nil }
        return Int64(s)
    }

    private static func spaceSeparated(_ s: String) -> [String] {
        s.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }

    /// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
    private static func parseScopes(_ scopes: [String], field: String) throws(SessionRecordError) -> [String] {
        for scope in scopes {
            guard !scope.isEmpty, scope.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }) else {
                throw .invalidField(field)
            }
        }
        return scopes
    }

    private static func parseOrigins(_ origins: [String], field: String) throws(SessionRecordError) -> [String] {
        var out: [String] = []
        out.reserveCapacity(origins.count)
        for text in origins {
            guard let origin = WebOrigin(text) else { throw .invalidField(field) }
            out.append(origin.serialized)
        }
        return out
    }
}
