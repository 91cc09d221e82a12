import Testing
@testable import StreamgateCore

/// Header-name comparisons: ASCII case folding only, on small (inline) and heap strings alike.
@Suite struct ASCIICompareTests {
    @Test func caseInsensitiveEqualityFoldsASCIIOnly() {
        #expect(asciiCaseInsensitiveEquals("Content-Type", "content-type"))
        #expect(asciiCaseInsensitiveEquals("", ""))
        // Longer than a small string's 15 bytes: compared from heap storage.
        #expect(asciiCaseInsensitiveEquals("X-Forwarded-Proto-And-More", "x-forwarded-proto-and-MORE"))
        #expect(!asciiCaseInsensitiveEquals("X-Forwarded-Proto-And-More", "x-forwarded-proto-and-MORX"))
        #expect(!asciiCaseInsensitiveEquals("host", "hosts"))
        #expect(!asciiCaseInsensitiveEquals("a-b", "a_b"))
        // Bytes that differ by 0x20 but are not letters do not match ('@' vs '`', '[' vs '{').
        #expect(!asciiCaseInsensitiveEquals("@", "`"))
        #expect(!asciiCaseInsensitiveEquals("[", "{"))
        // Non-ASCII is compared exactly: no Unicode case folding.
        #expect(!asciiCaseInsensitiveEquals("É", "é"))
        #expect(asciiCaseInsensitiveEquals("Ä-x", "Ä-X"))
    }

    @Test func identityHeaderNamesCollideAcrossCaseAndUnderscores() {
        #expect(AuthASCII.headerNamesCollide("X-Auth-User-Id", "x_auth_user_id"))
        #expect(AuthASCII.headerNamesCollide("X-Auth-User-Id", "X_AUTH-USER_ID"))
        #expect(AuthASCII.headerNamesCollide("X-Auth-Tenant-Id-Long-Name", "x_auth_tenant_id_long_name"))
        #expect(!AuthASCII.headerNamesCollide("X-Auth-User-Id", "X-Auth-User-Ix"))
        #expect(!AuthASCII.headerNamesCollide("X-Auth-User-Id", "X-Auth-User-Id2"))
        #expect(!AuthASCII.headerNamesCollide("x-a", "x.a"))
    }
}
