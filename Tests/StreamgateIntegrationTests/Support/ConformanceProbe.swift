import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Everything a client received on a connection the gateway was expected to close.
struct ClosedConnectionTranscript {
    var bytes: [UInt8]
    /// The first complete response in `bytes`, if any.
    var response: HTTPTestResponse?
    /// Bytes after that response (there should be none after a final error).
    var trailingBytes: Int
    /// The gateway ended with FIN (true) rather than a reset or a timeout.
    var cleanEOF: Bool
    /// errno when the read ended on an error (ECONNRESET, EAGAIN on timeout).
    var error: Int32
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension RawClient {
    /// Reads until the gateway closes (or the socket timeout), then parses the first response.
    func readUntilClosed() -> ClosedConnectionTranscript {
        let (bytes, clean, err) = readToEnd()
        var t = ClosedConnectionTranscript(bytes: bytes, response: nil, trailingBytes: 0, cleanEOF: clean, error: err)
        if let (r, used) = HTTPTestResponse.parse(bytes) ?? HTTPTestResponse.parse(bytes, atEOF: true) {
            t.response = r
            t.trailingBytes = bytes.count - used
        }
        return t
    }

    /// Closes the socket with an RST (SO_LINGER 0, then close). The descriptor number stays
    /// valid, now referring to /dev/null, so the close at deinit cannot hit a reused number.
    func closeWithReset() {
        var lg = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        let null = open("/dev/null", O_RDWR)
        dup2(null, fd)
        Glibc.close(null)
    }

    /// Bytes that arrive within `seconds` (restores the usual timeout afterwards). For checks
    /// that something does *not* happen; a positive event is always awaited instead.
    func bytesArriving(within seconds: Double, restoreTimeout: Double = 5) -> [UInt8] {
        setTimeout(seconds)
        defer { setTimeout(restoreTimeout) }
        let before = buffer.count
        while readSome() > 0 {}
        return Array(buffer[before...])
    }
}

/// The gateway's own error answer: the status, a small JSON body naming it, exact framing.
func expectGatewayError(_ r: HTTPTestResponse?, status: Int, close: Bool, _ context: String = "",
                        sourceLocation: SourceLocation = #_sourceLocation) {
    guard let r else {
        Issue.record("no complete response (\(context))", sourceLocation: sourceLocation)
        return
    }
    #expect(r.status == status, "status (\(context))", sourceLocation: sourceLocation)
    #expect(r.header("content-type") == "application/json", "content-type (\(context))", sourceLocation: sourceLocation)
    #expect(r.header("content-length") == String(r.body.count), "content-length (\(context))", sourceLocation: sourceLocation)
    #expect(r.body.count > 0 && r.body.count < 256, "a small body (\(context))", sourceLocation: sourceLocation)
    let json = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
    #expect(json?["status"] as? Int == status, "JSON status (\(context)): \(r.bodyText)", sourceLocation: sourceLocation)
    #expect((json?["error"] as? String).map { !$0.isEmpty } == true, "JSON error code (\(context))", sourceLocation: sourceLocation)
    if close {
        #expect(r.header("connection")?.lowercased() == "close", "Connection: close (\(context))", sourceLocation: sourceLocation)
    } else {
        #expect(r.header("connection")?.lowercased() != "close", "keeps the connection (\(context))", sourceLocation: sourceLocation)
    }
}

/// Sends from a background thread until done, the peer stops reading, or `timeout` passes;
/// lets the test read on the main thread while a large upload is still going.
final class BackgroundSender: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var _sent = 0
    var sent: Int { lock.withLock { _sent } }

    init(fd socket: Int32, bytes: [UInt8], timeout: Double = 3) {
        // Its own duplicate of the socket: a test may close its end (and the number be reused
        // by another test's socket) while this thread still sends.
        let fd = dup(socket)
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in
            defer { Glibc.close(fd) }
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, min($0.count, 16384), Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                off += n
                lock.withLock { _sent = off }
            }
            done.signal()
        }
        thread.start()
    }

    /// Waits for the sender to stop; false if it is still blocked after `seconds`.
    @discardableResult
    func wait(seconds: Double = 5) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}
