import Testing
@testable import StreamgateCore

@Suite("AuthTokenExtractor")
struct AuthTokenExtractorTests {
    let extractor = TokenExtractor(maxTokenLength: 64)

    func extract(_ fields: [(String, String)], query: String? = nil, allowQuery: Bool = true) -> TokenExtraction {
        extractor.extract(headers: HTTPHeaders(fields.map { (name: $0.0, value: $0.1) }), query: query, allowQueryToken: allowQuery)
    }

    @Test func noCredentials() {
        #expect(extract([("Host", "x")]) == .none)
        #expect(extract([], query: "a=1&b=2") == .none)
    }

    @Test func bearerSchemeIsCaseInsensitive() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            #expect(extract([("Authorization", "\(scheme) abc.DEF-123_~+/==")]) == .token("abc.DEF-123_~+/==", source: .authorizationHeader))
        }
    }

    @Test func authorizationToleratesOWSAndMultipleSpaces() {
        #expect(extract([("Authorization", "  Bearer   tok  ")]) == .token("tok", source: .authorizationHeader))
    }

    @Test func otherSchemeIsNotABearerToken() {
        #expect(extract([("Authorization", "Basic dXNlcjpwYXNz")]) == .none)
        #expect(extract([("Authorization", "Basic dXNlcjpwYXNz")], query: "access_token=q") == .token("q", source: .query))
        #expect(extract([("Authorization", "Bearerabc")]) == .none)
    }

    @Test func bearerWithoutTokenIsMalformed() {
        #expect(extract([("Authorization", "Bearer")]) == .malformed(.empty))
        #expect(extract([("Authorization", "Bearer   ")]) == .malformed(.empty))
        #expect(extract([("Authorization", "Bearer\tabc")]) == .malformed(.invalidCharacters))
    }

    @Test func charsetFollowsRFC6750() {
        let bad = ["a b", "a,b", "a\"b", "a;b", "=abc", "ab=c", "a%41", "tök", "a=b=", "abc==x", "a@b", "a:b"]
        for token in bad {
            #expect(extract([("Authorization", "Bearer \(token)")]) == .malformed(.invalidCharacters), "\(token)")
        }
        for token in ["a", "a=", "a==", "A-._~+/z9"] {
            #expect(extract([("Authorization", "Bearer \(token)")]) == .token(token, source: .authorizationHeader))
        }
    }

    @Test func lengthCheckedBeforeCharset() {
        let long = String(repeating: "a", count: 65)
        #expect(extract([("Authorization", "Bearer \(long)")]) == .malformed(.tooLong))
        #expect(extract([("Authorization", "Bearer \(String(repeating: "!", count: 65))")]) == .malformed(.tooLong))
        #expect(extract([("Authorization", "Bearer \(String(long.dropLast()))")]) == .token(String(long.dropLast()), source: .authorizationHeader))
    }

    @Test func twoAuthorizationHeadersAreMalformed() {
        #expect(extract([("Authorization", "Bearer a"), ("authorization", "Bearer a")]) == .malformed(.repeated))
        #expect(extract([("X-Api-Key", "a"), ("x-api-key", "b")]) == .malformed(.repeated))
    }

    @Test func authorizationAndApiKeyMustAgree() {
        #expect(extract([("Authorization", "Bearer a"), ("X-Api-Key", "b")]) == .malformed(.conflicting))
        #expect(extract([("Authorization", "Bearer a"), ("X-API-KEY", "a")]) == .token("a", source: .authorizationHeader))
    }

    @Test func apiKeyHeader() {
        #expect(extract([("x-api-key", " key-1 ")]) == .token("key-1", source: .apiKeyHeader))
        #expect(extract([("X-Api-Key", "")]) == .malformed(.empty))
        let custom = TokenExtractor(apiKeyHeader: "X-Token")
        #expect(custom.extract(headers: HTTPHeaders([("x-token", "t")]), query: nil, allowQueryToken: false) == .token("t", source: .apiKeyHeader))
    }

    @Test func headerBeatsQuery() {
        #expect(extract([("Authorization", "Bearer head")], query: "access_token=query") == .token("head", source: .authorizationHeader))
        #expect(extract([("X-Api-Key", "head")], query: "access_token=query") == .token("head", source: .apiKeyHeader))
        // Even a broken query token is ignored when a header token is present.
        #expect(extract([("Authorization", "Bearer head")], query: "access_token=%zz&access_token=x") == .token("head", source: .authorizationHeader))
    }

    @Test func queryTokenOnlyWhereRouteAllows() {
        #expect(extract([], query: "access_token=abc", allowQuery: false) == .none)
        #expect(extract([], query: "x=1&access_token=abc&y=2") == .token("abc", source: .query))
    }

    @Test func queryTokenNameMatchIsExact() {
        #expect(extract([], query: "Access_Token=abc") == .none)
        #expect(extract([], query: "access_token2=abc") == .none)
        #expect(extract([], query: "my_access_token=abc") == .none)
    }

    @Test func queryTokenDecoding() {
        #expect(extract([], query: "access_token=ab%2Bc%2fd%3D%3d") == .token("ab+c/d==", source: .query))
        #expect(extract([], query: "access_token=ab+c") == .token("ab+c", source: .query))
        #expect(extract([], query: "access_token=ab%20c") == .malformed(.invalidCharacters))
        #expect(extract([], query: "access_token=ab%2") == .malformed(.invalidCharacters))
        #expect(extract([], query: "access_token=ab%zz") == .malformed(.invalidCharacters))
        #expect(extract([], query: "access_token=ab%00") == .malformed(.invalidCharacters))
        #expect(extract([], query: "access_token=") == .malformed(.empty))
        #expect(extract([], query: "access_token") == .malformed(.empty))
    }

    @Test func repeatedQueryTokenIsMalformed() {
        #expect(extract([], query: "access_token=a&access_token=a") == .malformed(.repeated))
    }

    @Test func queryTokenLength() {
        #expect(extract([], query: "access_token=" + String(repeating: "a", count: 65)) == .malformed(.tooLong))
        #expect(extract([], query: "access_token=" + String(repeating: "%2B", count: 64)) == .token(String(repeating: "+", count: 64), source: .query))
        #expect(extract([], query: "access_token=" + String(repeating: "%2B", count: 65)) == .malformed(.tooLong))
    }

    /// The bitmask test against RFC 6750's b64token body characters, for every byte.
    @Test func b64TokenBodyBytesAreExactlyTheRFCs() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/".utf8)
        for b in 0...255 {
            #expect(TokenExtractor.isB64TokenBodyByte(UInt8(b)) == allowed.contains(UInt8(b)), "byte \(b)")
        }
    }
}
