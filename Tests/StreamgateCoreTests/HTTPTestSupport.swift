import Testing
@testable import StreamgateCore

/// Every way the tests deliver one message: in one batch, one byte at a time, and split in
/// two at every offset (the SwiftNIO decoder-verifier idea: framing bugs live at boundaries).
func deliveries(of bytes: [UInt8], exhaustive: Bool = true) -> [[[UInt8]]] {
    var out: [[[UInt8]]] = [[bytes], bytes.map { [$0] }]
    let offsets = exhaustive || bytes.count <= 600
        ? Array(1..<max(bytes.count, 1))
        : [1, 2, bytes.count / 3, bytes.count / 2, bytes.count - 2, bytes.count - 1].filter { $0 > 0 && $0 < bytes.count }
    for k in offsets { out.append([Array(bytes[..<k]), Array(bytes[k...])]) }
    return out
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

enum HeadOutcome<Head: Equatable>: Equatable {
    case head(Head, rest: [UInt8])
    case incomplete(partial: Bool)
    case failed(status: Int)
}

/// Plays the proxy: keeps a buffer, feeds all of it, drops what was consumed.
func runHeadParser<Head: Equatable>(
    _ chunks: [[UInt8]],
    feed: (UnsafeRawBufferPointer) throws(HTTPError) -> (consumed: Int, head: Head?),
    partial: () -> Bool
) -> HeadOutcome<Head> {
    var buffer: [UInt8] = []
    for (index, chunk) in chunks.enumerated() {
        buffer += chunk
        let result: Result<(consumed: Int, head: Head?), HTTPError> = buffer.withUnsafeBytes { p in
            Result { () throws(HTTPError) in try feed(p) }
        }
        switch result {
        case .failure(let e):
            return .failed(status: e.status)
        case .success(let r):
            #expect(r.consumed >= 0 && r.consumed <= buffer.count)
            buffer.removeFirst(r.consumed)
            if let head = r.head {
                return .head(head, rest: buffer + chunks[(index + 1)...].flatMap { $0 })
            }
            // Before the head ends, every byte is consumed (the parser buffers partial lines).
            #expect(buffer.isEmpty)
        }
    }
    return .incomplete(partial: partial())
}

func requestOutcomes(_ text: String, limits: HTTPLimits = HTTPLimits(), exhaustive: Bool = true) -> [HeadOutcome<HTTPRequestHead>] {
    deliveries(of: text.bytes, exhaustive: exhaustive).map { chunks in
        var parser = RequestHeadParser(limits: limits)
        return runHeadParser(chunks, feed: { (p) throws(HTTPError) in try parser.feed(p) }, partial: { parser.hasPartialHead })
    }
}

func responseOutcomes(_ text: String, method: String = "GET", limits: HTTPLimits = HTTPLimits()) -> [HeadOutcome<HTTPResponseHead>] {
    deliveries(of: text.bytes).map { chunks in
        var parser = ResponseHeadParser(limits: limits, requestMethod: method)
        return runHeadParser(chunks, feed: { (p) throws(HTTPError) in try parser.feed(p) }, partial: { parser.hasPartialHead })
    }
}

/// The single outcome all deliveries agree on (recorded as a failure when they disagree).
func agreed<Head: Equatable>(_ outcomes: [HeadOutcome<Head>], sourceLocation: SourceLocation = #_sourceLocation) -> HeadOutcome<Head> {
    let first = outcomes[0]
    for (i, o) in outcomes.enumerated() where o != first {
        Issue.record("delivery \(i) gave \(o), batch gave \(first)", sourceLocation: sourceLocation)
        break
    }
    return first
}

/// Parses a complete request head through every delivery; nil (and a recorded issue) otherwise.
@discardableResult
func parseRequest(_ text: String, limits: HTTPLimits = HTTPLimits(), exhaustive: Bool = true,
                  sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequestHead? {
    switch agreed(requestOutcomes(text, limits: limits, exhaustive: exhaustive), sourceLocation: sourceLocation) {
    case .head(let h, _): return h
    case let other:
        Issue.record("expected a head, got \(other)", sourceLocation: sourceLocation)
        return nil
    }
}

func requestStatus(_ text: String, limits: HTTPLimits = HTTPLimits(), exhaustive: Bool = true,
                   sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
    if case .failed(let s) = agreed(requestOutcomes(text, limits: limits, exhaustive: exhaustive), sourceLocation: sourceLocation) { return s }
    return nil
}

@discardableResult
func parseResponse(_ text: String, method: String = "GET", sourceLocation: SourceLocation = #_sourceLocation) -> HTTPResponseHead? {
    switch agreed(responseOutcomes(text, method: method), sourceLocation: sourceLocation) {
    case .head(let h, _): return h
    case let other:
        Issue.record("expected a head, got \(other)", sourceLocation: sourceLocation)
        return nil
    }
}

func responseStatus(_ text: String, method: String = "GET", limits: HTTPLimits = HTTPLimits(),
                    sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
    if case .failed(let s) = agreed(responseOutcomes(text, method: method, limits: limits), sourceLocation: sourceLocation) { return s }
    return nil
}

struct BodyResult: Equatable {
    var payload: [UInt8]
    var ended: Bool
    /// Bytes left in the buffer after the end of the body (the next message).
    var rest: [UInt8]
    var failedStatus: Int?
}

/// Plays the zero-copy relay: a buffer, a 4096-byte prefix view, steps acted on in order.
func runBody(_ chunks: [[UInt8]], framing: BodyFraming, isRequest: Bool = true, limits: HTTPLimits = HTTPLimits(), peerCloses: Bool = false) -> BodyResult {
    var decoder = BodyDecoder(framing: framing, limits: limits, isRequest: isRequest)
    var buffer: [UInt8] = []
    var payload: [UInt8] = []
    var index = 0
    var steps = 0
    while true {
        let step: BodyStep
        do {
            step = try withBytes(buffer) { (p: UnsafeRawBufferPointer) throws(HTTPError) in
                try decoder.next(prefix: p.slice(0, min(p.count, 4096)), available: p.count)
            }
        } catch {
            return BodyResult(payload: payload, ended: false, rest: buffer, failedStatus: error.status)
        }
        steps += 1
        switch step {
        case .data(let n):
            #expect(n >= 1 && n <= buffer.count)
            payload += buffer[..<n]
            buffer.removeFirst(n)
        case .skip(let n):
            #expect(n >= 1 && n <= min(buffer.count, 4096))
            buffer.removeFirst(n)
        case .end(let n):
            #expect(n >= 0 && n <= buffer.count)
            #expect(decoder.isComplete)
            buffer.removeFirst(n)
            return BodyResult(payload: payload, ended: true, rest: buffer + chunks[index...].flatMap { $0 }, failedStatus: nil)
        case .needMore:
            guard index < chunks.count else {
                let ended = peerCloses && decoder.peerClosed()
                return BodyResult(payload: payload, ended: ended, rest: buffer, failedStatus: nil)
            }
            buffer += chunks[index]
            index += 1
        }
        #expect(steps < 1_000_000)
    }
}

/// Runs a body through every delivery and checks they agree; returns the batch result.
func decodeBody(_ wire: [UInt8], framing: BodyFraming, isRequest: Bool = true, limits: HTTPLimits = HTTPLimits(),
                peerCloses: Bool = false, exhaustive: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) -> BodyResult {
    let results = deliveries(of: wire, exhaustive: exhaustive).map {
        runBody($0, framing: framing, isRequest: isRequest, limits: limits, peerCloses: peerCloses)
    }
    for (i, r) in results.enumerated() where r.failedStatus != results[0].failedStatus || (r.failedStatus == nil && r != results[0]) {
        Issue.record("delivery \(i) gave \(r), batch gave \(results[0])", sourceLocation: sourceLocation)
        break
    }
    return results[0]
}
