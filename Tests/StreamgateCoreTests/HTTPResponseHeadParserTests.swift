import Testing
@testable import StreamgateCore

/// The upstream's response head (RFC 9112 §4, §6): framing, connection reuse and the transfer
/// codings that travel on. Every head is fed in one batch, byte by byte and split at every
/// offset (`parseResponse`), and all deliveries must agree.
@Suite struct HTTPResponseHeadParserTests {
    @Test func contentLengthFramingKeepsTheConnection() throws {
        let h = try #require(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
        #expect(h.status == 200 && h.reason == "OK")
        #expect(h.framing == .contentLength(5))
        #expect(h.keepAlive)
        #expect(h.transferCodings.isEmpty)
    }

    /// Reasons come back as sent, "OK" included (it is a literal), and near misses too.
    @Test func reasonsComeBackAsSent() throws {
        for reason in ["OK", "ok", "OK ", "OKAY", "Not Found", ""] {
            let text = reason.isEmpty ? "HTTP/1.1 204\r\n\r\n" : "HTTP/1.1 204 \(reason)\r\n\r\n"
            #expect(try #require(parseResponse(text)).reason == reason, "\(reason.debugDescription)")
        }
    }

    @Test func chunkedFraming() throws {
        let h = try #require(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(h.framing == .chunked)
        #expect(h.keepAlive)
        #expect(h.transferCodings.isEmpty)
    }

    /// `gzip, chunked`: de-chunking leaves gzip-coded bytes, so gzip must stay on the message.
    @Test func codingsBeforeChunkedAreKept() throws {
        let h = try #require(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: GZip, chunked\r\n\r\n"))
        #expect(h.framing == .chunked)
        #expect(h.transferCodings == ["gzip"])
        let two = try #require(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: x-custom;q=1 , chunked\r\n\r\n"))
        #expect(two.framing == .chunked)
        #expect(two.transferCodings == ["gzip", "x-custom;q=1"])
    }

    /// Without a final chunked the body runs to the close (RFC 9112 §6.3 item 4), coded.
    @Test func codingsWithoutChunkedRunUntilClose() throws {
        let h = try #require(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"))
        #expect(h.framing == .untilClose)
        #expect(h.transferCodings == ["gzip"])
        #expect(!h.keepAlive)
    }

    @Test func brokenTransferEncodingsAreBadGateway() {
        #expect(responseStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;x=1\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") == 502)
    }

    @Test func contentLengthValues() throws {
        let same = try #require(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"))
        #expect(same.framing == .contentLength(3))
        #expect(same.headers.values(name: "content-length") == ["3"], "duplicates are folded to one field")
        #expect(responseStatus("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n") == 502)
    }

    @Test func noFramingRunsUntilCloseAndIsNotReused() throws {
        let h = try #require(parseResponse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"))
        #expect(h.framing == .untilClose)
        #expect(!h.keepAlive)
    }

    @Test func connectionTokensDecideReuse() throws {
        #expect(try #require(parseResponse("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")).keepAlive == false)
        #expect(try #require(parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).keepAlive == false)
        #expect(try #require(parseResponse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")).keepAlive)
    }

    /// A response that ends at its head leaves no way to tell whether the server will still
    /// write a body, so its connection is never reused (bytes after it would become the next
    /// request's response, possibly another client's).
    @Test func responsesEndingAtTheirHeadAreNotReused() throws {
        let head = try #require(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", method: "HEAD"))
        #expect(head.framing == .none && !head.keepAlive)
        let noContent = try #require(parseResponse("HTTP/1.1 204 No Content\r\n\r\n"))
        #expect(noContent.framing == .none && !noContent.keepAlive)
        let notModified = try #require(parseResponse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"))
        #expect(notModified.framing == .none && !notModified.keepAlive)
        let chunkedHead = try #require(parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method: "HEAD"))
        #expect(chunkedHead.framing == .none && !chunkedHead.keepAlive)
    }

    /// Interim heads carry no body and do not end the exchange: reuse is the final head's call.
    @Test func interimResponsesHaveNoBody() throws {
        let h = try #require(parseResponse("HTTP/1.1 100 Continue\r\n\r\n"))
        #expect(h.status == 100 && h.framing == .none)
        #expect(h.keepAlive)
    }

    @Test func malformedStatusLinesAreBadGateway() {
        #expect(responseStatus("HTTP/1.1 2000 OK\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 20 OK\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/2.0 200 OK\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n") == 502)
        #expect(responseStatus("HTTP/1.1 200 OK\r\nX: a\u{0}b\r\n\r\n") == 502)
    }
}
