import Testing
@testable import StreamgateCore

@Suite struct HTTPSerializerTests {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func requestHeadIsRequestLineFieldsAndBlankLine() {
        let headers = HTTPHeaders([("Host", "api.example"), ("X-Request-Id", "a1b2-00000001")])
        let head = HTTPSerializer.requestHead(method: "GET", target: "/v1/events?x=1", version: .http1_1, headers: headers)
        #expect(text(head) == "GET /v1/events?x=1 HTTP/1.1\r\nHost: api.example\r\nX-Request-Id: a1b2-00000001\r\n\r\n")
    }

    @Test func responseHeadHasThreeDigitStatusAndReason() {
        let head = HTTPSerializer.responseHead(version: .http1_1, status: 204, reason: "No Content", headers: HTTPHeaders())
        #expect(text(head) == "HTTP/1.1 204 No Content\r\n\r\n")
    }

    /// A CR, LF or NUL that reached a value (or a reason) must not end a line on the wire:
    /// each becomes a space, in short (inline) strings and long (heap) strings alike.
    @Test func lineBreaksAndNULsInFieldsBecomeSpaces() {
        let long = String(repeating: "v", count: 40)
        let headers = HTTPHeaders([("X-A", "one\r\nInjected: yes"), ("X-B", long + "\n" + long), ("X-C", "nul\u{0}here")])
        let head = text(HTTPSerializer.responseHead(version: .http1_1, status: 200, reason: "O\rK", headers: headers))
        #expect(head == "HTTP/1.1 200 O K\r\nX-A: one  Injected: yes\r\nX-B: \(long) \(long)\r\nX-C: nul here\r\n\r\n")
        #expect(head.utf8.filter { $0 == 0x0A }.count == 5)
    }
}
