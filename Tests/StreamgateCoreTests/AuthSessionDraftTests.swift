import Testing
@testable import StreamgateCore

/// What `streamgate session create` writes must be what the gateway's decoder reads back.
@Suite("AuthSessionDraft")
struct AuthSessionDraftTests {
    static let custom = SessionFieldMapping(user: "uid", tenant: "org", expiresAt: "exp", kind: "type", scopes: "perm", origins: "web")

    @Test func hashFieldsRoundTripThroughTheGatewayDecoder() throws {
        let draft = SessionDraft(userID: "u-42", tenantID: "acme", scopes: ["events:read", "events:write"],
                                 allowedOrigins: ["https://app.example.com"], kind: .apiKey, expiresAt: 1_800_000_000)
        let fields = draft.hashFields(mapping: Self.custom)
        #expect(fields.map(\.field) == ["uid", "org", "type", "perm", "web", "exp"])
        #expect(fields.map(\.value) == ["u-42", "acme", "api_key", "events:read events:write", "https://app.example.com", "1800000000"])
        let record = try SessionRecord.decode(hash: fields, mapping: Self.custom)
        #expect(record == SessionRecord(userID: "u-42", tenantID: "acme", expiresAt: 1_800_000_000, kind: .apiKey,
                                        scopes: ["events:read", "events:write"], allowedOrigins: ["https://app.example.com"]))
        #expect(try draft.validated(mapping: Self.custom, format: .hash) == record)
    }

    @Test func jsonTextRoundTripsAndEscapes() throws {
        let draft = SessionDraft(userID: "u \"quoted\" \\ é", tenantID: "t1", scopes: ["a"], expiresAt: nil)
        let text = draft.jsonText(mapping: .defaults)
        #expect(text == #"{"user_id":"u \"quoted\" \\ é","tenant_id":"t1","kind":"session","scopes":["a"]}"#)
        let record = try SessionRecord.decode(json: text, mapping: .defaults)
        #expect(record == SessionRecord(userID: "u \"quoted\" \\ é", tenantID: "t1", scopes: ["a"]))
        #expect(try draft.validated(mapping: .defaults, format: .json) == record)
    }

    @Test func emptyListsAndNoExpiryAreLeftOut() {
        let draft = SessionDraft(userID: "u", tenantID: "t")
        #expect(draft.hashFields(mapping: .defaults).map(\.field) == ["user_id", "tenant_id", "kind"])
        #expect(draft.jsonText(mapping: .defaults) == #"{"user_id":"u","tenant_id":"t","kind":"session"}"#)
    }

    /// Each refused value is named by the option that gave it, in both formats.
    @Test func invalidValuesNameTheirOption() {
        let cases: [(SessionDraft, String)] = [
            (SessionDraft(userID: "", tenantID: "t"), "--user"),
            (SessionDraft(userID: "u", tenantID: ""), "--tenant"),
            (SessionDraft(userID: "u\u{1}", tenantID: "t"), "--user"),
            (SessionDraft(userID: "u", tenantID: " t"), "--tenant"),
            (SessionDraft(userID: String(repeating: "u", count: 257), tenantID: "t"), "--user"),
            (SessionDraft(userID: "u", tenantID: "t", scopes: ["a\"b"]), "--scope"),
            (SessionDraft(userID: "u", tenantID: "t", scopes: ["a b"]), "--scope"),
            (SessionDraft(userID: "u", tenantID: "t", allowedOrigins: ["app.example.com"]), "--origin"),
        ]
        for format in [SessionsConfig.Format.hash, .json] {
            for (draft, option) in cases {
                do {
                    _ = try draft.validated(mapping: .defaults, format: format)
                    Issue.record("accepted \(draft) as \(format)")
                } catch {
                    #expect(error.option == option, "\(draft): \(error)")
                }
            }
        }
    }

    @Test func fieldNamesSharedByTwoValuesAreRefused() {
        let clash = SessionFieldMapping(user: "id", tenant: "id")
        #expect(throws: SessionDraft.InvalidValue.self) {
            try SessionDraft(userID: "u", tenantID: "t").validated(mapping: clash, format: .hash)
        }
    }

    /// RFC 4648 §10 vectors, in the URL alphabet without padding.
    @Test func base64URL() {
        let vectors = ["": "", "f": "Zg", "fo": "Zm8", "foo": "Zm9v", "foob": "Zm9vYg", "fooba": "Zm9vYmE", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors { #expect(Base64URL.encode(Array(plain.utf8)) == encoded, "\(plain)") }
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        let token = Base64URL.encode([UInt8](repeating: 0xA5, count: 32))
        #expect(token.count == 43)
        #expect(TokenExtractor().validate(token) == nil, "a valid bearer token")
    }

    @Test func rfc3339FormatIsTheInverseOfTheReader() {
        #expect(RFC3339.format(unixSeconds: 0) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(unixSeconds: 1_709_210_096) == "2024-02-29T12:34:56Z")
        #expect(RFC3339.format(unixSeconds: -1) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.format(unixSeconds: 253_402_300_799) == "9999-12-31T23:59:59Z")
        var t: Int64 = -86_400 * 400
        while t < 253_402_300_799 {
            #expect(RFC3339.unixSeconds(RFC3339.format(unixSeconds: t)) == t)
            t += 86_400 * 37 + 3_601
        }
    }
}
