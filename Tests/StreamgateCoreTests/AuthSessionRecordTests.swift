import Testing
@testable import StreamgateCore

@Suite("AuthRFC3339")
struct AuthRFC3339Tests {
    @Test func validTimestamps() {
        #expect(RFC3339.unixSeconds("1970-01-01T00:00:00Z") == 0)
        #expect(RFC3339.unixSeconds("2024-02-29T12:34:56Z") == 1_709_210_096)
        #expect(RFC3339.unixSeconds("2024-02-29t12:34:56z") == 1_709_210_096)
        #expect(RFC3339.unixSeconds("2024-02-29T14:34:56+02:00") == 1_709_210_096)
        #expect(RFC3339.unixSeconds("2024-02-29T07:04:56-05:30") == 1_709_210_096)
        #expect(RFC3339.unixSeconds("2024-02-29T12:34:56.999999Z") == 1_709_210_096)
        #expect(RFC3339.unixSeconds("1969-12-31T23:59:59Z") == -1)
        #expect(RFC3339.unixSeconds("2000-03-01T00:00:00Z") == 951_868_800)
        #expect(RFC3339.unixSeconds("2016-12-31T23:59:60Z") == 1_483_228_800)
        #expect(RFC3339.unixSeconds("9999-12-31T23:59:59Z") == 253_402_300_799)
    }

    @Test func invalidTimestamps() {
        let bad = [
            "", "2024-02-29", "2024-02-29T12:34:56", "2024-02-29 12:34:56Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z", "2024-01-01T24:00:00Z",
            "2024-01-01T00:60:00Z", "2024-01-01T00:00:61Z", "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00+0100",
            "2024-01-01T00:00:00+24:00", "2024-1-01T00:00:00Z", "2024-01-01T00:00:00Zx", " 2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00+01:60", "+2024-01-01T00:00:00Z", "2024-01-01T00:00:00,5Z",
        ]
        for s in bad { #expect(RFC3339.unixSeconds(s) == nil, "\(s)") }
    }
}

@Suite("AuthSessionRecord")
struct AuthSessionRecordTests {
    @Test func decodesHash() throws {
        let r = try SessionRecord.decode(hash: [
            ("user_id", "u1"), ("tenant_id", "t1"), ("expires_at", "1700000000"), ("kind", "api_key"),
            ("scopes", "events:read  events:write"), ("allowed_origins", "HTTPS://App.Example.com:443 http://localhost:3000"),
            ("max_stream_duration", "3600"), ("other", "ignored"),
        ])
        #expect(r == SessionRecord(userID: "u1", tenantID: "t1", expiresAt: 1_700_000_000, kind: .apiKey,
                                   scopes: ["events:read", "events:write"],
                                   allowedOrigins: ["https://app.example.com", "http://localhost:3000"],
                                   maxStreamDuration: 3600))
    }

    @Test func hashDefaultsAndRFC3339() throws {
        let r = try SessionRecord.decode(flatHash: ["user_id", "u", "tenant_id", "t", "expires_at", "2024-02-29T12:34:56Z"])
        #expect(r.kind == .session && r.scopes.isEmpty && r.allowedOrigins.isEmpty && r.maxStreamDuration == nil)
        #expect(r.expiresAt == 1_709_210_096)
        let noExpiry = try SessionRecord.decode(flatHash: ["user_id", "u", "tenant_id", "t"])
        #expect(noExpiry.expiresAt == nil && !noExpiry.isExpired(wallNow: .max))
    }

    @Test func customFieldMapping() throws {
        let mapping = SessionFieldMapping(user: "sub", tenant: "org", expiresAt: "exp", kind: "typ", scopes: "scp", origins: "ori")
        let r = try SessionRecord.decode(hash: [("sub", "u"), ("org", "o"), ("exp", "5"), ("scp", "a"), ("user_id", "nope")], mapping: mapping)
        #expect(r.userID == "u" && r.tenantID == "o" && r.expiresAt == 5 && r.scopes == ["a"])
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(hash: [("user_id", "u"), ("org", "o")], mapping: mapping) }
    }

    @Test func invalidHashRecords() {
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(hash: []) }
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(hash: [("tenant_id", "t")]) }
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(hash: [("user_id", ""), ("tenant_id", "t")]) }
        #expect(throws: SessionRecordError.missingTenant) { try SessionRecord.decode(hash: [("user_id", "u")]) }
        #expect(throws: SessionRecordError.unknownKind) { try SessionRecord.decode(hash: [("user_id", "u"), ("tenant_id", "t"), ("kind", "admin")]) }
        #expect(throws: SessionRecordError.unknownKind) { try SessionRecord.decode(hash: [("user_id", "u"), ("tenant_id", "t"), ("kind", "Session")]) }
        let invalid: [(String, String)] = [
            ("user_id", "u\r\nX-Evil: 1"), ("tenant_id", "t\n"), ("user_id", " u"), ("expires_at", "+5"), ("expires_at", ""),
            ("expires_at", "soon"), ("expires_at", "1.5"), ("scopes", "a\"b"), ("scopes", "a\\b"), ("allowed_origins", "https://a.com/"),
            ("allowed_origins", "null"), ("max_stream_duration", "0"), ("max_stream_duration", "1h"),
            ("user_id", String(repeating: "u", count: 257)),
        ]
        for (field, value) in invalid {
            var pairs: [(field: String, value: String)] = [("user_id", "u"), ("tenant_id", "t")]
            pairs.removeAll { $0.field == field }
            pairs.append((field, value))
            #expect(throws: SessionRecordError.self, "\(field)=\(value)") { try SessionRecord.decode(hash: pairs) }
        }
        #expect(throws: SessionRecordError.self) { try SessionRecord.decode(flatHash: ["user_id", "u", "tenant_id"]) }
    }

    @Test func decodesJSON() throws {
        let r = try SessionRecord.decode(json: #"""
            {"user_id": 42, "tenant_id": "acme", "expires_at": "2024-02-29T13:34:56+01:00", "kind": "session",
             "scopes": ["events:read"], "allowed_origins": ["https://app.example.com"], "max_stream_duration": 60, "extra": {"x": [1]}}
            """#)
        #expect(r == SessionRecord(userID: "42", tenantID: "acme", expiresAt: 1_709_210_096, kind: .session,
                                   scopes: ["events:read"], allowedOrigins: ["https://app.example.com"], maxStreamDuration: 60))
        let s = try SessionRecord.decode(json: #"{"user_id":"u","tenant_id":"t","expires_at":1700000000,"scopes":"a b","kind":null,"allowed_origins":null}"#)
        #expect(s.expiresAt == 1_700_000_000 && s.scopes == ["a", "b"] && s.kind == .session && s.allowedOrigins.isEmpty)
    }

    @Test func invalidJSONRecords() {
        #expect(throws: SessionRecordError.notAnObject) { try SessionRecord.decode(json: "[]") }
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(json: #"{"tenant_id":"t"}"#) }
        #expect(throws: SessionRecordError.missingUser) { try SessionRecord.decode(json: #"{"user_id":null,"tenant_id":"t"}"#) }
        #expect(throws: SessionRecordError.missingTenant) { try SessionRecord.decode(json: #"{"user_id":"u"}"#) }
        #expect(throws: SessionRecordError.unknownKind) { try SessionRecord.decode(json: #"{"user_id":"u","tenant_id":"t","kind":"root"}"#) }
        #expect(throws: SessionRecordError.unknownKind) { try SessionRecord.decode(json: #"{"user_id":"u","tenant_id":"t","kind":1}"#) }
        let bad = [
            #"{"user_id":"u","tenant_id":"t","#,
            #"{"user_id":"u","user_id":"v","tenant_id":"t"}"#,
            #"{"user_id":1.5,"tenant_id":"t"}"#,
            #"{"user_id":true,"tenant_id":"t"}"#,
            #"{"user_id":"u","tenant_id":"t","expires_at":1.7e9}"#,
            #"{"user_id":"u","tenant_id":"t","expires_at":true}"#,
            #"{"user_id":"u","tenant_id":"t","scopes":[1]}"#,
            #"{"user_id":"u","tenant_id":"t","scopes":{}}"#,
            #"{"user_id":"u","tenant_id":"t","allowed_origins":["https://a.com/path"]}"#,
            #"{"user_id":"u","tenant_id":"t","max_stream_duration":-1}"#,
            #"{"user_id":"u\u0000","tenant_id":"t"}"#,
        ]
        for text in bad {
            #expect(throws: SessionRecordError.self, "\(text)") { try SessionRecord.decode(json: text) }
        }
    }

    @Test func streamDeadlineIsTheEarliestLimit() {
        let r = SessionRecord(userID: "u", tenantID: "t", expiresAt: 1000, maxStreamDuration: 300)
        #expect(r.streamDeadline(openedAt: 100, routeMaxStreamDuration: nil) == 400)
        #expect(r.streamDeadline(openedAt: 100, routeMaxStreamDuration: 60) == 160)
        #expect(r.streamDeadline(openedAt: 900, routeMaxStreamDuration: 3600) == 1000)
        #expect(SessionRecord(userID: "u", tenantID: "t").streamDeadline(openedAt: 5, routeMaxStreamDuration: nil) == nil)
        #expect(SessionRecord(userID: "u", tenantID: "t").streamDeadline(openedAt: 5, routeMaxStreamDuration: .max) == .max)
    }

    @Test func expiryBoundaryIsExclusive() {
        let r = SessionRecord(userID: "u", tenantID: "t", expiresAt: 100)
        #expect(!r.isExpired(wallNow: 99))
        #expect(r.isExpired(wallNow: 100))
        #expect(r.isExpired(wallNow: 101))
    }

    /// Records over 64 KiB are refused before they are parsed, in both formats.
    @Test func oversizedRecordsAreRefusedUnparsed() throws {
        let limit = SessionRecord.maxStoredBytes
        #expect(limit == 65_536)
        let head = #"{"user_id":"u","tenant_id":"t","pad":""#
        let fits = head + String(repeating: "x", count: limit - head.utf8.count - 2) + #""}"#
        #expect(fits.utf8.count == limit)
        #expect(try SessionRecord.decode(json: fits).userID == "u")
        let over = head + String(repeating: "x", count: limit - head.utf8.count - 1) + #""}"#
        #expect(throws: SessionRecordError.tooLarge(limit + 1)) { try SessionRecord.decode(json: over) }
        // Not even looked at: garbage that large is "too large", not "malformed".
        #expect(throws: SessionRecordError.tooLarge(limit + 1)) { try SessionRecord.decode(json: [UInt8](repeating: 0xFF, count: limit + 1)) }

        let fields: [[UInt8]] = [Array("user_id".utf8), Array("u".utf8), Array("tenant_id".utf8), Array("t".utf8), Array("pad".utf8)]
        let used = fields.reduce(0) { $0 + $1.count }
        #expect(try SessionRecord.decode(flatHashBytes: fields + [[UInt8](repeating: 120, count: limit - used)]).tenantID == "t")
        #expect(throws: SessionRecordError.tooLarge(limit + 1)) {
            try SessionRecord.decode(flatHashBytes: fields + [[UInt8](repeating: 120, count: limit - used + 1)])
        }
        #expect(throws: SessionRecordError.tooLarge(limit + 1)) {
            try SessionRecord.decode(flatHash: fields.map { String(decoding: $0, as: UTF8.self) } + [String(repeating: "x", count: limit - used + 1)])
        }
        #expect(SessionRecordError.tooLarge(70_000).description == "session record of 70000 bytes exceeds the 65536-byte limit")
    }
}

@Suite("AuthWebOrigin")
struct AuthWebOriginTests {
    @Test func normalises() {
        #expect(WebOrigin("HTTPS://App.Example.COM")?.serialized == "https://app.example.com")
        #expect(WebOrigin("https://app.example.com:443")?.serialized == "https://app.example.com")
        #expect(WebOrigin("http://app.example.com:80")?.serialized == "http://app.example.com")
        #expect(WebOrigin("http://app.example.com:443")?.serialized == "http://app.example.com:443")
        #expect(WebOrigin("https://app.example.com:08443")?.serialized == "https://app.example.com:8443")
        #expect(WebOrigin("http://[::1]:3000")?.serialized == "http://[::1]:3000")
        #expect(WebOrigin("http://[FE80::1]")?.serialized == "http://[fe80::1]")
        #expect(WebOrigin("chrome-extension://abcdef")?.serialized == "chrome-extension://abcdef")
        #expect(WebOrigin("https://a.com") == WebOrigin("https://A.com:443"))
    }

    @Test func refusesNonOrigins() {
        for s in ["null", "", "https://", "https://a.com/", "https://a.com/x", "https://a.com?x", "https://u@a.com",
                  "https://a.com:", "https://a.com:0", "https://a.com:65536", "https://a.com:123456", "a.com", "//a.com",
                  "1http://a.com", "https://a com", "http://[::1", "http://[]", "https://a.com#f", "ht tp://a.com"] {
            #expect(WebOrigin(s) == nil, "\(s)")
        }
    }
}
