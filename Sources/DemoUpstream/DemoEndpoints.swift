import StreamgateCore
import StreamgateIO

/// The demo origin's routes. Each handler either answers at once (`session.respond`) or
/// installs an `ActiveResponse` that calls `session.finishResponse()` when done.
enum DemoEndpoints {
    static let plainBody = "hello from streamgate demo\n"

    static func dispatch(_ request: DemoRequest, session: DemoSession) {
        switch request.path {
        case "/plain":
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed(session, allow: "GET, HEAD") }
            if request.method == "HEAD" {
                session.writeHead(status: 200, reason: "OK", headers: "Content-Type: text/plain\r\nContent-Length: \(plainBody.utf8.count)\r\n")
                session.finishResponse()
            } else {
                session.respond(status: 200, reason: "OK", body: plainBody)
            }
        case "/events":
            guard request.method == "GET" else { return methodNotAllowed(session, allow: "GET") }
            startEvents(request, session: session)
        case "/echo":
            session.respond(status: 200, reason: "OK", contentType: "application/json", body: echoJSON(request))
        case "/slow":
            let delay = max(0, request.intParam("delay_ms", default: 1000))
            let slow = SlowResponse(session: session, delayMilliseconds: delay)
            session.setActive(slow)
            slow.start()
        case "/close":
            // For 502 tests: the request was read, no answer will ever come.
            session.close()
        case "/big":
            let bytes = max(0, request.intParam("bytes", default: 1 << 20))
            let big = BigBody(session: session, bytes: bytes)
            session.setActive(big)
            big.start()
        case "/status":
            let code = request.intParam("code", default: 200)
            guard (200...599).contains(code) else { return badRequest(session, "code must be 200...599") }
            session.respond(status: code, reason: "Demo", body: "status \(code)\n")
        default:
            if let tenant = tenantEventsTenant(request.path) {
                guard request.method == "GET" else { return methodNotAllowed(session, allow: "GET") }
                return startIdentityEvents(request, tenant: tenant, session: session)
            }
            session.respond(status: 404, reason: "Not Found", body: "not found\n")
        }
    }

    /// The `{tenant}` of `/v1/tenants/{tenant}/events` (the gateway's tenant route pattern).
    static func tenantEventsTenant(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "v1", parts[2] == "tenants", !parts[3].isEmpty,
              parts[4] == "events" else { return nil }
        return String(parts[3])
    }

    static func methodNotAllowed(_ session: DemoSession, allow: String) {
        session.respond(status: 405, reason: "Method Not Allowed", extraHeaders: "Allow: \(allow)\r\n", body: "method not allowed\n")
    }

    static func badRequest(_ session: DemoSession, _ why: String) {
        session.respond(status: 400, reason: "Bad Request", body: "\(why)\n")
    }

    /// The query parameters every stream endpoint reads; nil after answering 400.
    private static func eventParams(_ request: DemoRequest, session: DemoSession) -> EventParams? {
        let rate = request.param("rate").flatMap { Double($0) } ?? 1
        guard rate > 0, rate <= 1_000_000 else { badRequest(session, "rate must be > 0"); return nil }
        return EventParams(
            intervalNanoseconds: UInt64(1e9 / rate),
            size: min(max(0, request.intParam("size", default: 0)), 1 << 20),
            count: max(0, request.intParam("count", default: 0)),
            abortAfter: max(0, request.intParam("abort_after", default: 0)),
            streamID: request.param("id").flatMap { Int($0) }
        )
    }

    private static func writeStreamHead(_ session: DemoSession) {
        session.writeHead(status: 200, reason: "OK", headers: """
            Content-Type: text/event-stream\r
            Cache-Control: no-cache\r
            Transfer-Encoding: chunked\r
            X-Accel-Buffering: no\r

            """)
    }

    /// `GET /v1/tenants/{tenant}/events`: events that show who the upstream was told the
    /// caller is (the identity headers a gateway injected), so a demo can see them.
    private static func startIdentityEvents(_ request: DemoRequest, tenant: String, session: DemoSession) {
        guard let params = eventParams(request, session: session) else { return }
        writeStreamHead(session)
        let lastID = request.headers.first(name: "last-event-id").flatMap { Int($0) } ?? 0
        let stream = IdentityEventStream(session: session, params: params, startAfter: max(0, lastID),
                                         data: identityJSON(request, tenant: tenant, names: session.worker.options.identityHeaders))
        session.setActive(stream)
        stream.start()
    }

    /// `"tenant":..,"target":..,"headers":{name: value or null}`: the members every event of
    /// an identity stream repeats (the headers of one request do not change).
    static func identityJSON(_ request: DemoRequest, tenant: String, names: [String]) -> String {
        let headers = names.map { name in
            "\(jsonString(name)):\(request.headers.first(name: name).map(jsonString) ?? "null")"
        }
        return "\"tenant\":\(jsonString(tenant)),\"target\":\(jsonString(request.target)),\"headers\":{\(headers.joined(separator: ","))}"
    }

    private static func startEvents(_ request: DemoRequest, session: DemoSession) {
        guard let params = eventParams(request, session: session) else { return }
        writeStreamHead(session)
        if request.param("mode") == "broadcast" {
            let stream = BroadcastStream(session: session, params: params)
            session.setActive(stream)
            session.worker.hub(for: BroadcastKey(intervalNanoseconds: params.intervalNanoseconds, size: params.size)).add(stream)
        } else {
            let lastID = request.headers.first(name: "last-event-id").flatMap { Int($0) } ?? 0
            let stream = EventStream(session: session, params: params, startAfter: max(0, lastID))
            session.setActive(stream)
            stream.start()
        }
    }

    /// `{"method":..,"target":..,"headers":[[n,v],..],"body_bytes":N}`: what integration tests
    /// inspect to see exactly what the gateway forwarded.
    static func echoJSON(_ request: DemoRequest) -> String {
        var out = "{\"method\":\(jsonString(request.method)),\"target\":\(jsonString(request.target)),\"headers\":["
        var first = true
        for (name, value) in request.headers {
            if !first { out += "," }
            first = false
            out += "[\(jsonString(name)),\(jsonString(value))]"
        }
        out += "],\"body_bytes\":\(request.bodyBytes)}\n"
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// `GET /slow?delay_ms=D`: answers after D milliseconds (gateway timeout tests).
final class SlowResponse: ActiveResponse {
    private unowned let session: DemoSession
    private let delay: Int
    private var timer: LoopTimer?

    init(session: DemoSession, delayMilliseconds: Int) {
        self.session = session
        delay = delayMilliseconds
    }

    func start() {
        let t = LoopTimer(loop: session.loop) { [unowned self] in self.fire() }
        timer = t
        t.schedule(after: .milliseconds(delay))
    }

    private func fire() {
        session.respond(status: 200, reason: "OK", body: "slept \(delay) ms\n")
    }

    func writable() {}
    func cancel() { timer?.cancel() }
}

/// `GET /big?bytes=N`: N bytes with Content-Length, written only as fast as the reader drains
/// them (slow-reader tests must see bounded upstream memory).
final class BigBody: ActiveResponse {
    private unowned let session: DemoSession
    private var remaining: Int
    private static let highWater = 256 << 10
    private static let block: [UInt8] = (0..<(64 << 10)).map { UInt8(97 + $0 % 26) }

    init(session: DemoSession, bytes: Int) {
        self.session = session
        remaining = bytes
    }

    func start() {
        session.writeHead(status: 200, reason: "OK", headers: "Content-Type: application/octet-stream\r\nContent-Length: \(remaining)\r\n")
        session.connection.setWriteLowWatermark(Self.block.count)
        fill()
    }

    private func fill() {
        let c = session.connection
        while remaining > 0 && c.outputCount < Self.highWater {
            let n = min(remaining, Self.block.count)
            Self.block.withUnsafeBytes { c.output.append(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            remaining -= n
        }
        if remaining == 0 {
            c.setWriteLowWatermark(0)
            session.finishResponse()
        }
    }

    func writable() { fill() }
    func cancel() {}
}
