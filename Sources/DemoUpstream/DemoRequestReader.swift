import StreamgateCore
import StreamgateIO
import StreamgateTools
#if canImport(Glibc)
import Glibc
#endif

/// One parsed request. The body is counted and discarded: no endpoint needs its bytes.
struct DemoRequest {
    var method: String
    var target: String
    var path: String
    var query: Substring
    var headers: HTTPHeaders
    var keepAlive: Bool
    var bodyBytes = 0

    /// The first value of a query parameter (no percent-decoding: the demo's values are plain).
    func param(_ name: String) -> Substring? {
        for pair in query.split(separator: "&") {
            if let eq = pair.firstIndex(of: "=") {
                if pair[..<eq] == name { return pair[pair.index(after: eq)...] }
            } else if pair == name {
                return ""
            }
        }
        return nil
    }

    func intParam(_ name: String, default value: Int) -> Int {
        param(name).flatMap { Int($0) } ?? value
    }
}

/// Incremental HTTP/1.1 request reader over a connection's input buffer.
///
/// Minimal but strict where it matters for a test origin: pipelined requests are read one at a
/// time, bodies are framed by Content-Length or chunked coding, and framing faults fail the
/// connection instead of guessing.
struct DemoRequestReader {
    enum Result {
        /// Not enough bytes yet.
        case needMore
        /// The head asked for `Expect: 100-continue` and the body has not started.
        case sendContinue
        case request(DemoRequest)
        case failed(status: Int, reason: String)
    }

    private enum State {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
    }

    static let maxHeadBytes = 64 << 10
    static let maxLineBytes = 4096

    private var state = State.head
    private var pending: DemoRequest?
    private var continuePending = false

    mutating func read(from input: EvBuffer) -> Result {
        while true {
            switch state {
            case .head:
                let view = input.peek(max: Self.maxHeadBytes)
                guard let end = Self.find(Self.crlfcrlf, in: view) else {
                    if input.count >= Self.maxHeadBytes { return .failed(status: 431, reason: "Request Header Fields Too Large") }
                    return .needMore
                }
                let parsed = Self.parseHead(UnsafeRawBufferPointer(rebasing: view[0..<end]))
                input.drain(end + 4)
                switch parsed {
                case .failure(let e): return .failed(status: e.status, reason: e.reason)
                case .success(let (request, framing, expectsContinue)):
                    pending = request
                    switch framing {
                    case .none, .untilClose: state = .head; pending = nil; return .request(request)
                    case .contentLength(let n): state = n == 0 ? .head : .body(remaining: Int(n))
                    case .chunked: state = .chunkSize
                    }
                    if case .head = state { pending = nil; return .request(request) }
                    if expectsContinue && input.isEmpty { continuePending = true }
                }
            case .body(let remaining):
                if continuePending { continuePending = false; return .sendContinue }
                let n = min(remaining, input.count)
                if n == 0 { return .needMore }
                input.drain(n)
                pending!.bodyBytes += n
                if n == remaining { return finish() }
                state = .body(remaining: remaining - n)
            case .chunkSize:
                if continuePending { continuePending = false; return .sendContinue }
                let view = input.peek(max: Self.maxLineBytes)
                guard let end = Self.find(Self.crlf, in: view) else {
                    if input.count >= Self.maxLineBytes { return .failed(status: 400, reason: "Bad Request") }
                    return .needMore
                }
                guard let size = Self.parseChunkSize(UnsafeRawBufferPointer(rebasing: view[0..<end])) else {
                    return .failed(status: 400, reason: "Bad Request")
                }
                input.drain(end + 2)
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let n = min(remaining, input.count)
                if n == 0 { return .needMore }
                input.drain(n)
                pending!.bodyBytes += n
                state = n == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - n)
            case .chunkDataEnd:
                if input.count < 2 { return .needMore }
                let v = input.peek(max: 2)
                guard v[0] == 13, v[1] == 10 else { return .failed(status: 400, reason: "Bad Request") }
                input.drain(2)
                state = .chunkSize
            case .trailers:
                let view = input.peek(max: Self.maxLineBytes)
                guard let end = Self.find(Self.crlf, in: view) else {
                    if input.count >= Self.maxLineBytes { return .failed(status: 400, reason: "Bad Request") }
                    return .needMore
                }
                input.drain(end + 2)
                if end == 0 { return finish() }
            }
        }
    }

    private mutating func finish() -> Result {
        state = .head
        let r = pending!
        pending = nil
        return .request(r)
    }

    // MARK: - Pure parsing

    private static let crlfcrlf: [UInt8] = [13, 10, 13, 10]
    private static let crlf: [UInt8] = [13, 10]

    static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        ToolsBytes.find(needle, in: haystack)
    }

    /// Hex chunk size, extensions after `;` ignored. nil when malformed or absurdly large.
    static func parseChunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        for b in line {
            let d: Int
            switch b {
            case 48...57: d = Int(b) - 48
            case 65...70: d = Int(b) - 55
            case 97...102: d = Int(b) - 87
            case 59, 32, 9: return digits > 0 ? value : nil  // ';' or BWS before extensions
            default: return nil
            }
            digits += 1
            if digits > 15 { return nil }
            value = value * 16 + d
        }
        return digits > 0 ? value : nil
    }

    /// Parses request line and header fields (without the final blank line).
    ///
    /// Byte by byte, not through `String`: the demo is the upstream of every benchmark, and
    /// splitting the head as `Character`s made its request parsing the largest cost on the
    /// plain-request path, growing with the forwarding fields each proxy adds.
    static func parseHead(_ bytes: UnsafeRawBufferPointer) -> Swift.Result<(DemoRequest, BodyFraming, Bool), HTTPError> {
        let bad = HTTPError(status: 400, reason: "Bad Request")
        let count = bytes.count
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) }
        // The next line from `from` (CRLF-terminated, or the rest: the head has no final CRLF).
        func nextLine(_ from: inout Int) -> Range<Int>? {
            guard from <= count else { return nil }
            let start = from
            if let end = Self.find(Self.crlf, in: UnsafeRawBufferPointer(rebasing: bytes[start...])) {
                from = start + end + 2
                return start..<start + end
            }
            from = count + 1
            return start..<count
        }
        var cursor = 0
        // RFC 9112 §2.2: ignore at least one empty line before the request line.
        var requestLine = nextLine(&cursor)
        while let line = requestLine, line.isEmpty { requestLine = nextLine(&cursor) }
        guard let line = requestLine else { return .failure(bad) }
        var spaces: [Int] = []
        for i in line where bytes[i] == 32 { spaces.append(i) }
        guard spaces.count == 2, spaces[0] > line.lowerBound, spaces[1] > spaces[0] + 1 else { return .failure(bad) }
        let version = text(spaces[1] + 1..<line.upperBound)
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .failure(HTTPError(status: 505, reason: "HTTP Version Not Supported"))
        }
        var headers = HTTPHeaders()
        while let field = nextLine(&cursor) {
            var colon = field.lowerBound
            while colon < field.upperBound, bytes[colon] != 58 { colon += 1 }
            guard colon < field.upperBound, colon != field.lowerBound else { return .failure(bad) }
            for i in field.lowerBound..<colon where bytes[i] == 32 || bytes[i] == 9 { return .failure(bad) }
            var valueStart = colon + 1
            var valueEnd = field.upperBound
            while valueStart < valueEnd, bytes[valueStart] == 32 || bytes[valueStart] == 9 { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == 32 || bytes[valueEnd - 1] == 9 { valueEnd -= 1 }
            headers.add(name: text(field.lowerBound..<colon), value: text(valueStart..<valueEnd))
        }
        let method = text(line.lowerBound..<spaces[0])
        let target = text(spaces[0] + 1..<spaces[1])
        var framing = BodyFraming.none
        var keepAlive = version == "HTTP/1.1"
        for token in headers.listMembers(name: "connection") {
            if asciiCaseInsensitiveEquals(String(token), "close") { keepAlive = false }
            if asciiCaseInsensitiveEquals(String(token), "keep-alive") { keepAlive = true }
        }
        let te = headers.listMembers(name: "transfer-encoding")
        if !te.isEmpty {
            guard asciiCaseInsensitiveEquals(String(te.last!), "chunked") else {
                return .failure(HTTPError(status: 501, reason: "Not Implemented"))
            }
            framing = .chunked
            // Both framings present: the body is read as chunked and the connection not reused.
            if headers.contains(name: "content-length") { keepAlive = false }
        } else {
            let lengths = headers.listMembers(name: "content-length")
            if let first = lengths.first {
                guard lengths.allSatisfy({ $0 == first }), first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                      first.utf8.count <= 15, let n = UInt64(first) else { return .failure(bad) }
                framing = .contentLength(n)
            }
        }
        let expectsContinue = headers.first(name: "expect").map { asciiCaseInsensitiveEquals($0, "100-continue") } ?? false
        let path: Substring
        let query: Substring
        if let q = target.firstIndex(of: "?") {
            path = target[..<q]
            query = target[target.index(after: q)...]
        } else {
            path = target[...]
            query = ""
        }
        let request = DemoRequest(
            method: method, target: target, path: String(path), query: query,
            headers: headers, keepAlive: keepAlive
        )
        return .success((request, framing, expectsContinue))
    }
}
