import Testing
@testable import StreamgateCore

/// The byte-backed header list: names classified once, lookups by class or by bytes, removal
/// that keeps order, and a wire form copied from the stored bytes.
@Suite struct HTTPHeadersTests {
    private func wire(_ h: HTTPHeaders) -> String {
        var out: [UInt8] = []
        h.appendWire(to: &out)
        #expect(out.count == h.wireByteCount)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func knownNamesAreClassifiedInAnyCase() {
        for (spelling, name) in [("Host", HTTPFieldName.host), ("CONTENT-LENGTH", .contentLength), ("transfer-Encoding", .transferEncoding),
                                 ("x-request-id", .xRequestID), ("Last-Event-ID", .lastEventID), ("TE", .te), ("Via", .via),
                                 ("Access-Control-Request-Method", .accessControlRequestMethod)] {
            #expect(HTTPFieldName.classify(spelling) == name, "\(spelling)")
        }
        // Near misses stay unknown: `_` is not `-` here (that folding is policy, elsewhere),
        // and neither are prefixes, suffixes or other lengths.
        for spelling in ["Content_Length", "Hosts", "Hos", "X-Request-I", "content-length ", "", "Authorizatio"] {
            #expect(HTTPFieldName.classify(spelling) == .other, "\(spelling)")
        }
    }

    /// `classify` (a hand-written switch) and the table of spellings agree for every name, in
    /// lower and upper case.
    @Test func everyKnownSpellingClassifiesToItsOwnCode() {
        for code in 1..<HTTPFieldName.spellings.count {
            let lower = String(decoding: HTTPFieldName.spellings[code], as: UTF8.self)
            #expect(HTTPFieldName.classify(lower).code == UInt8(code), "\(lower)")
            #expect(HTTPFieldName.classify(lower.uppercased()).code == UInt8(code), "\(lower)")
        }
    }

    @Test func lookupsIgnoreCaseForKnownAndUnknownNames() {
        let h = HTTPHeaders([("HOST", "a.example"), ("X-Custom", "1"), ("x-custom", "2"), ("Origin", "https://o.example")])
        #expect(h.first(name: "host") == "a.example")
        #expect(h.first(.host) == "a.example")
        #expect(h["ORIGIN"] == "https://o.example")
        #expect(h.values(name: "X-CUSTOM") == ["1", "2"])
        #expect(h.contains(name: "x-Custom"))
        #expect(!h.contains(name: "x-custo"))
        #expect(!h.contains(.authorization))
        #expect(h.first(name: "authorization") == nil)
    }

    @Test func removalKeepsOrderAndOnlyTheNamedFields() {
        var h = HTTPHeaders([("A", "1"), ("Connection", "close"), ("B", "2"), ("connection", "x"), ("X-Api-Key", "k"), ("C", "3")])
        h.remove(name: "CONNECTION")
        h.remove(name: "x-api-key")
        #expect(h.fields.map(\.name) == ["A", "B", "C"])
        h.replaceOrAdd(name: "b", value: "two")
        #expect(wire(h) == "A: 1\r\nC: 3\r\nb: two\r\n")
        h.removeAll { _, name in name.elementsEqual("A".utf8) }
        h.removeAll { known, name in known == .other && name.count == 1 && name[0] == UInt8(ascii: "C") }
        #expect(h.fields.map(\.name) == ["b"])
    }

    /// A value added by the gateway can never split the head: CR, LF and NUL become SP when
    /// stored, so the wire form is a plain copy.
    @Test func addedValuesCannotInjectLines() {
        var h = HTTPHeaders()
        h.add(name: "X-A", value: "one\r\nInjected: yes")
        h.add(name: "X-B\n", value: "nul\u{0}")
        #expect(wire(h) == "X-A: one  Injected: yes\r\nX-B : nul \r\n")
    }

    @Test func equalityComparesNamesAndValuesInOrder() {
        let a = HTTPHeaders([("A", "1"), ("B", "2")])
        #expect(a == HTTPHeaders([("A", "1"), ("B", "2")]))
        #expect(a != HTTPHeaders([("B", "2"), ("A", "1")]))
        #expect(a != HTTPHeaders([("a", "1"), ("B", "2")]))
        var removed = HTTPHeaders([("A", "1"), ("X", "9"), ("B", "2")])
        removed.remove(name: "x")
        #expect(removed == a, "removed fields leave no trace in comparisons")
    }

    @Test func parsedHeadersKeepTheirBytesAndClassification() throws {
        var parser = RequestHeadParser(limits: HTTPLimits())
        let raw = Array("GET / HTTP/1.1\r\nhost: a.example\r\nX-Thing:  v  \r\nContent-Length: 0\r\n\r\n".utf8)
        let head = try raw.withUnsafeBytes { b in try parser.feed(b).head }
        let headers = try #require(head?.headers)
        #expect(headers.first(.host) == "a.example")
        #expect(headers.first(.contentLength) == "0")
        #expect(wire(headers) == "host: a.example\r\nX-Thing: v\r\nContent-Length: 0\r\n")
        var names: [HTTPFieldName] = []
        headers.forEachField { name, _, _ in names.append(name) }
        #expect(names == [.host, .other, .contentLength])
    }
}
