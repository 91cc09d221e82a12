import Testing
@testable import StreamgateCore

@Suite struct SSEWriterTests {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func keepaliveIsACommentAndABlankLine() {
        #expect(text(SSEWriter.keepalive()) == ": keepalive\n\n")
        #expect(SSEReference.parse(SSEWriter.keepalive()).events.isEmpty)
    }

    @Test func retryDigitsOnly() {
        #expect(text(SSEWriter.retry(milliseconds: 1500)) == "retry: 1500\n\n")
        #expect(text(SSEWriter.retry(milliseconds: 0)) == "retry: 0\n\n")
        #expect(text(SSEWriter.retry(milliseconds: -7)) == "retry: 0\n\n")
        #expect(text(SSEWriter.retry(milliseconds: .max)) == "retry: 9223372036854775807\n\n")
    }

    @Test func finalEvent() {
        #expect(text(SSEWriter.event(name: "session_expired", data: "bye")) == "event: session_expired\ndata: bye\n\n")
        #expect(text(SSEWriter.event(name: nil, data: "")) == "data: \n\n")
        #expect(text(SSEWriter.event(name: "", data: "x", id: "9")) == "id: 9\ndata: x\n\n")
    }

    @Test func nameAndIDCannotInjectFields() {
        let bytes = SSEWriter.event(name: "a\r\ndata: evil\r", data: "ok", id: "1\nretry: 1\0")
        #expect(text(bytes) == "event: adata: evil\nid: 1retry: 1\ndata: ok\n\n")
        let parsed = SSEReference.parse(bytes)
        #expect(parsed.events == [RefEvent(type: "adata: evil", data: "ok", lastEventID: "1retry: 1")])
    }

    @Test func multiLineDataKeepsItsMeaning() {
        let bytes = SSEWriter.event(name: "m", data: "a\r\nb\rc\nd\n\ne\r")
        #expect(text(bytes) == "event: m\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\ndata: \n\n")
        // The client joins data lines with LF: every kind of line break comes back as LF.
        #expect(SSEReference.parse(bytes).events == [RefEvent(type: "m", data: "a\nb\nc\nd\n\ne\n", lastEventID: "")])
    }

    @Test func commentStaysOneLine() {
        #expect(text(SSEWriter.comment("closing:\r\nrevoked")) == ": closing:  revoked\n\n")
    }

    /// Everything the writer produces is one whole unit: written at a boundary, the stream is
    /// at a boundary again, and exactly the intended number of events is dispatched.
    @Test func outputEndsAtABoundary() {
        let pieces: [([UInt8], UInt64)] = [
            (SSEWriter.keepalive(), 0), (SSEWriter.retry(milliseconds: 10), 0), (SSEWriter.comment("x\ny"), 0),
            (SSEWriter.event(name: "e\r", data: "1\r\n2", id: "z"), 1), (SSEWriter.event(name: nil, data: ""), 1),
        ]
        for (bytes, events) in pieces {
            var t = SSEBoundaryTracker()
            _ = t.scan(sseBytes("data: upstream\n\n"))
            _ = t.scan(bytes)
            #expect(t.isAtBoundary, "\(text(bytes).debugDescription)")
            #expect(t.eventsSeen == 1 + events)
        }
    }
}
