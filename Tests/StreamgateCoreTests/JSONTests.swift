import Testing
@testable import StreamgateCore

@Suite("JSON")
struct JSONTests {
    @Test func parsesAllValueKinds() throws {
        let v = try JSON.parse(#" {"a": [1, -2.5e3, true, false, null, "s"], "b": {}, "c": [] } "#)
        #expect(v["a"] == .array([.number(JSONNumber(validatedLexeme: "1")), .number(JSONNumber(validatedLexeme: "-2.5e3")),
                                  .bool(true), .bool(false), .null, .string("s")]))
        #expect(v["b"] == .object([:]))
        #expect(v["c"] == .array([]))
        #expect(v["missing"] == nil)
        #expect(try JSON.parse("0") == .number(JSONNumber(validatedLexeme: "0")))
        #expect(try JSON.parse("\"x\"").stringValue == "x")
    }

    @Test func integersAreExact() throws {
        #expect(try JSON.parse("9007199254740993").int64Value == 9_007_199_254_740_993)
        #expect(try JSON.parse("-9223372036854775808").int64Value == Int64.min)
        #expect(try JSON.parse("9223372036854775808").int64Value == nil)
        #expect(try JSON.parse("1.0").int64Value == nil)
        #expect(try JSON.parse("1e3").int64Value == nil)
        #expect(try JSON.parse("1e3").arrayValue == nil)
    }

    @Test func stringEscapes() throws {
        #expect(try JSON.parse(#""a\"b\\c\/d\b\f\n\r\t""#).stringValue == "a\"b\\c/d\u{08}\u{0C}\n\r\t")
        #expect(try JSON.parse(#""\u00e9\u4E2D""#).stringValue == "é中")
        #expect(try JSON.parse(#""\ud83d\ude00""#).stringValue == "😀")
        #expect(try JSON.parse("\"é😀\"").stringValue == "é😀")
        #expect(try JSON.parse(#""\u0000""#).stringValue == "\u{0}")
    }

    @Test func rejectsInvalidDocuments() {
        let bad = [
            "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{a:1}", "{'a':1}", "[1 2]", "01", "-", "1.", ".5", "1e", "+1",
            "NaN", "Infinity", "tru", "nul", "truex", "[] []", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"",
            "\"\\ud83d\"", "\"\\ud83dx\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "/* c */ 1", "{\"a\":1,\"a\":2}",
            "{\"a\" 1}", "[1]x",
        ]
        for text in bad {
            #expect(throws: JSONError.self, "\(text)") { try JSON.parse(text) }
        }
    }

    @Test func rejectsInvalidUTF8() {
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xC3, 0x22]) }
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xED, 0xA0, 0x80, 0x22]) }  // encoded surrogate
        #expect(throws: JSONError.self) { try JSON.parse([0x22, 0xC0, 0xAF, 0x22]) }  // overlong
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        _ = try JSON.parse(ok)
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
        let hostile = String(repeating: "[", count: 100_000)
        #expect(throws: JSONError.self) { try JSON.parse(hostile) }
        #expect(throws: JSONError.self) { try JSON.parse("{\"a\":{\"b\":1}}", maxDepth: 1) }
    }

    @Test func errorCarriesOffset() {
        do {
            _ = try JSON.parse("[1, x]")
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 4)
        }
    }

    @Test func escapeForLogs() {
        #expect(JSON.escape("plain") == "plain")
        #expect(JSON.escape("a\"b\\c") == "a\\\"b\\\\c")
        #expect(JSON.escape("l1\nl2\r\t") == "l1\\nl2\\r\\t")
        #expect(JSON.escape("\u{0}\u{1F}\u{7F}") == "\\u0000\\u001f\\u007f")
        #expect(JSON.escape("\u{2028}x\u{2029}") == "\\u2028x\\u2029")
        #expect(JSON.escape("é😀") == "é😀")
        #expect(JSON.quoted("a\"") == "\"a\\\"\"")
    }

    @Test func escapeRoundTripsThroughParser() throws {
        let samples = ["", "a\"b", "\\", "\u{0}\u{1}\u{1F}", "line\nbreak", "é😀\u{2028}", "\u{7F}"]
        for s in samples {
            #expect(try JSON.parse(JSON.quoted(s)).stringValue == s)
        }
    }
}

@Suite("JSONRobustness")
struct JSONRobustnessTests {
    @Test func randomInputNeverCrashes() {
        var rng = SeededRNG(seed: 42)
        let alphabet = Array(#"{}[]":,-+.0123456789eEtrufalsn \"\\u/abDCFF"#.utf8) + [0x00, 0x0A, 0xC3, 0xA9, 0xED, 0xF0, 0x9F]
        var accepted = 0
        for _ in 0..<20_000 {
            let n = Int.random(in: 0..<24, using: &rng)
            let bytes = (0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }
            if (try? JSON.parse(bytes)) != nil { accepted += 1 }
        }
        #expect(accepted > 0)
    }
}
