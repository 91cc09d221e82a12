import Testing
@testable import StreamgateCore

/// The forwarding step on its own: header lists in, the exact list sent upstream out, for
/// hostile spellings of the names the gateway owns and for trusted and untrusted peers.
@Suite struct ForwardingHeadersTests {
    func hop(_ ip: String = "192.0.2.10", trusted: Bool) -> ForwardingHeaders.ClientHop {
        .init(clientIP: ip, scheme: "http", host: "gw.test", requestID: "rid-1", trustForwarded: trusted)
    }

    /// What `UpstreamRequest.head` does with the client's fields, minus the parts that need a route.
    func forwarded(_ fields: [(String, String)], trusted: Bool, ip: String = "192.0.2.10") -> [String] {
        var headers = HTTPHeaders(fields.map { (name: $0.0, value: $0.1) })
        ForwardingHeaders.removeHopByHop(&headers)
        ForwardingHeaders.applyForwarding(&headers, hop: hop(ip, trusted: trusted))
        return headers.map { "\($0.name): \($0.value)" }
    }

    static let gatewayOwn = [
        "X-Forwarded-For: 192.0.2.10", "X-Forwarded-Proto: http", "X-Forwarded-Host: gw.test",
        "Forwarded: for=192.0.2.10;host=gw.test;proto=http", "X-Request-Id: rid-1",
    ]

    /// Every spelling an upstream could read as one of the forwarding names.
    static let hostile: [(String, String)] = [
        ("Accept", "*/*"),
        ("X_Forwarded_For", "6.6.6.1"), ("x_forwarded_for", "6.6.6.2"), ("X-FORWARDED_FOR", "6.6.6.3"),
        ("x-forwarded-for", "6.6.6.4"), ("X-Forwarded-For", "6.6.6.5"),
        ("X_Forwarded_Proto", "https"), ("X-Forwarded-Proto", "https"), ("x_forwarded_proto", "https"),
        ("X_Forwarded_Host", "evil.test"), ("X-FORWARDED-HOST", "evil.test"),
        ("forwarded", "for=6.6.6.6"), ("FORWARDED", "for=6.6.6.7"),
        ("X_Request_Id", "forged-1"), ("x_request_id", "forged-2"), ("X-REQUEST_ID", "forged-3"),
        ("X-Forwarded-Fort", "kept: not a spelling of an owned name"), ("X-Forwarded", "kept"),
        ("X_Custom_Thing", "kept: not the gateway's"),
    ]

    @Test func untrustedPeerGetsOnlyTheGatewaysValues() {
        #expect(forwarded(Self.hostile, trusted: false) == [
            "Accept: */*", "X-Forwarded-Fort: kept: not a spelling of an owned name", "X-Forwarded: kept",
            "X_Custom_Thing: kept: not the gateway's",
        ] + Self.gatewayOwn)
    }

    @Test func trustedPeerChainIsReadOnlyFromTheDashedNames() {
        #expect(forwarded(Self.hostile, trusted: true) == [
            "Accept: */*", "X-Forwarded-Fort: kept: not a spelling of an owned name", "X-Forwarded: kept",
            "X_Custom_Thing: kept: not the gateway's",
            // Both dashed X-Forwarded-For fields, in order, then this hop; no underscore spelling.
            "X-Forwarded-For: 6.6.6.4, 6.6.6.5, 192.0.2.10",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: evil.test",
            "Forwarded: for=6.6.6.6, for=6.6.6.7, for=192.0.2.10;host=gw.test;proto=http",
            "X-Request-Id: rid-1",
        ])
    }

    @Test func trustedPeerWithoutAChainGetsTheGatewaysValues() {
        #expect(forwarded([("Accept", "*/*")], trusted: true) == ["Accept: */*"] + Self.gatewayOwn)
        #expect(forwarded([("X_Forwarded_For", "6.6.6.6"), ("X_Forwarded_Proto", "https")], trusted: true) == Self.gatewayOwn)
    }

    @Test func trustedChainExtendsBothListsAsRFC7239Says() {
        let out = forwarded([
            ("X-Forwarded-For", "203.0.113.7,  , 10.0.0.2"), ("Forwarded", "for=203.0.113.7;proto=https, for=\"[2001:db8::1]:4711\""),
            ("X-Forwarded-Proto", "HTTPS"), ("X-Forwarded-Host", "public.example:8443"),
        ], trusted: true, ip: "::1")
        #expect(out == [
            "X-Forwarded-For: 203.0.113.7, 10.0.0.2, ::1",
            "X-Forwarded-Proto: https",
            "X-Forwarded-Host: public.example:8443",
            "Forwarded: for=203.0.113.7;proto=https, for=\"[2001:db8::1]:4711\", for=\"[::1]\";host=gw.test;proto=http",
            "X-Request-Id: rid-1",
        ])
    }

    /// Proto and host from a trusted peer are taken only when unambiguous.
    @Test func trustedProtoAndHostMustBeSingleAndPlausible() {
        func protoAndHost(_ fields: [(String, String)]) -> [String] {
            forwarded(fields, trusted: true).filter { $0.hasPrefix("X-Forwarded-Proto") || $0.hasPrefix("X-Forwarded-Host") }
        }
        let ours = ["X-Forwarded-Proto: http", "X-Forwarded-Host: gw.test"]
        #expect(protoAndHost([("X-Forwarded-Proto", "https"), ("X-Forwarded-Proto", "https")]) == ours, "repeated")
        #expect(protoAndHost([("X-Forwarded-Proto", "https, http")]) == ours, "a list")
        #expect(protoAndHost([("X-Forwarded-Proto", "ftp")]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", "a.test, b.test")]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", "\"a.test\"")]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", "a.test/path")]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", "")]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", String(repeating: "a", count: 256))]) == ours)
        #expect(protoAndHost([("X-Forwarded-Host", "[2001:db8::1]:443"), ("x-forwarded-proto", " http ")])
                == ["X-Forwarded-Proto: http", "X-Forwarded-Host: [2001:db8::1]:443"])
    }

    /// `Connection` may delete a client field, never the gateway's: the forwarding fields
    /// are added after hop-by-hop removal, so they are always there, exactly once.
    @Test func connectionListingOwnedNamesCannotRemoveTheGatewaysFields() {
        let fields: [(String, String)] = [
            ("Connection", "X-Forwarded-For, X_Forwarded_Proto, Forwarded, X-Request-Id, keep-alive"),
            ("X-Forwarded-For", "6.6.6.6"), ("X_Forwarded_Proto", "https"), ("Forwarded", "for=6.6.6.6"),
        ]
        #expect(forwarded(fields, trusted: false) == Self.gatewayOwn)
        // From a trusted peer a chain it marked hop-by-hop is not read (RFC 9110 §7.6.1).
        #expect(forwarded(fields, trusted: true) == Self.gatewayOwn)
    }

    @Test func ownedNamesFoldCaseAndUnderscore() {
        for name in ["X-Forwarded-For", "x_forwarded_for", "X_FORWARDED-FOR", "x-forwarded-proto", "X_Forwarded_Host",
                     "forwarded", "FORWARDED", "X_Request_Id", "x-request-id"] {
            #expect(ForwardingHeaders.isOwned(name), "\(name)")
        }
        for name in ["X-Forwarded-Port", "X-Real-IP", "X-Forwarded-Fo", "X-Forwarded-Forx", "Forwarded-For", "X.Forwarded.For", "X-Request-Ids"] {
            #expect(!ForwardingHeaders.isOwned(name), "\(name)")
        }
    }

    /// The request builder decides on a classified name's bytes; it must agree with the fold
    /// for every spelling (its shortcut: an unclassified name without `_` is never owned).
    @Test func classifiedOwnershipAgreesWithTheFold() {
        let owned = ForwardingHeaders.ownedNames + ForwardingHeaders.framingNames
        func underscored(_ s: String) -> String { String(s.map { $0 == "-" ? "_" : $0 }) }
        var spellings: [String] = []
        for name in owned {
            spellings += [name, name.lowercased(), name.uppercased(), underscored(name), underscored(name.uppercased()),
                          name + "x", String(name.dropLast())]
        }
        spellings += ["X-Real-IP", "X_Real_IP", "Accept", "X-Tenant", "X_Tenant", "_", "X-Forwarded_For"]
        for name in spellings {
            var n = name
            let byBytes = n.withUTF8 { b in
                let raw = UnsafeRawBufferPointer(b)
                return ForwardingHeaders.isOwned(HTTPFieldName.classify(raw), raw)
            }
            #expect(byBytes == ForwardingHeaders.isOwned(name), "\(name)")
        }
    }

    @Test func underscoreNamesAreFoundAnywhereInTheHead() {
        #expect(UnderscoreHeaders.present(in: HTTPHeaders([("Accept", "*/*"), ("X_Tenant", "t")])))
        #expect(UnderscoreHeaders.present(in: HTTPHeaders([("_", "")])))
        #expect(UnderscoreHeaders.present(in: HTTPHeaders([("x-a_", "1")])))
        #expect(!UnderscoreHeaders.present(in: HTTPHeaders([("Accept", "*/*"), ("X-Tenant", "a_b")])), "values do not count")
        #expect(!UnderscoreHeaders.present(in: HTTPHeaders()))
    }
}
