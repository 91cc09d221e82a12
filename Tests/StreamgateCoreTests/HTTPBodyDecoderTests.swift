import Testing
@testable import StreamgateCore

/// The body decoder relays payload without copying it and parses only framing. Every case runs
/// through every delivery (one batch, byte at a time, split at each offset) via `decodeBody`.
@Suite struct HTTPBodyDecoderTests {
    @Test func contentLengthStopsAtTheLengthAndLeavesTheNextMessage() {
        let r = decodeBody("helloGET /next".bytes, framing: .contentLength(5))
        #expect(r == BodyResult(payload: "hello".bytes, ended: true, rest: "GET /next".bytes, failedStatus: nil))
    }

    @Test func chunkedPayloadIsJoinedAndFramingDropped() {
        let wire = "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\nNEXT"
        let r = decodeBody(wire.bytes, framing: .chunked)
        #expect(r == BodyResult(payload: "hello world".bytes, ended: true, rest: "NEXT".bytes, failedStatus: nil))
    }

    /// A size line has at most sixteen hex digits, leading zeros included, in either case; the
    /// last chunk's zero may be padded too.
    @Test func sizeLinesOfUpToSixteenDigits() {
        let wire = "000000000000000A\r\n0123456789\r\n00b\r\nhello world\r\n0000\r\n\r\n"
        let r = decodeBody(wire.bytes, framing: .chunked)
        #expect(r == BodyResult(payload: "0123456789hello world".bytes, ended: true, rest: [], failedStatus: nil))
    }

    @Test func untilCloseEndsOnlyWhenThePeerCloses() {
        #expect(decodeBody("abc".bytes, framing: .untilClose, peerCloses: true).ended)
        #expect(!decodeBody("abc".bytes, framing: .untilClose, peerCloses: false).ended)
        // A chunked body cut short is truncated, not ended, even though the peer closed.
        #expect(!decodeBody("5\r\nhel".bytes, framing: .chunked, peerCloses: true).ended)
    }

    /// RFC 9112 §7.1, strictly: CRLF only, bounded sizes and extensions, bounded trailers.
    /// Requests fail with 400, responses (from an upstream) with 502.
    @Test func malformedChunkedFramingFails() {
        var limits = HTTPLimits()
        limits.maxChunkExtensionBytes = 8
        limits.maxHeaderBytes = 64
        let bad: [String] = [
            "5\nhello\r\n0\r\n\r\n",                       // bare LF after the size
            "g\r\n",                                       // not hex
            "\r\n",                                        // no digits
            "10000000000000000\r\n",                       // 17 hex digits
            "5\r\nhelloXY0\r\n\r\n",                      // data not followed by CRLF
            "5 \r\nhello\r\n0\r\n\r\n",                    // whitespace but no extension
            "5;aaaaaaaaaaaa\r\nhello\r\n0\r\n\r\n",        // extension over the limit
            "0\r\nX: " + String(repeating: "v", count: 80) + "\r\n\r\n",  // trailers over the limit
            "0\r\nbad trailer\r\n\r\n",                   // trailer without a colon
        ]
        for wire in bad {
            #expect(decodeBody(wire.bytes, framing: .chunked, isRequest: true, limits: limits).failedStatus == 400, "\(wire.debugDescription)")
            #expect(decodeBody(wire.bytes, framing: .chunked, isRequest: false, limits: limits).failedStatus == 502, "\(wire.debugDescription)")
        }
    }

    /// Once framing is broken nothing after it can be trusted: every later call fails the same
    /// way, even when handed well-formed bytes.
    @Test func aFailedDecoderKeepsFailingWithTheSameError() throws {
        var decoder = BodyDecoder(framing: .chunked, limits: HTTPLimits(), isRequest: false)
        var first: HTTPError?
        do {
            _ = try withBytes("zz\r\n".bytes) { (p: UnsafeRawBufferPointer) throws(HTTPError) in try decoder.next(prefix: p, available: p.count) }
        } catch {
            first = error
        }
        let error = try #require(first)
        #expect(error.status == 502)
        #expect(error.reason == "invalid chunk size")
        for _ in 0..<2 {
            #expect(throws: error) {
                _ = try withBytes("5\r\nhello\r\n".bytes) { (p: UnsafeRawBufferPointer) throws(HTTPError) in try decoder.next(prefix: p, available: p.count) }
            }
        }
        #expect(!decoder.isComplete)
    }
}
