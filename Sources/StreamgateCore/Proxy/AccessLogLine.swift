/// One structured access-log record. Never holds a token or a query string: `path` is the
/// path alone, and there is no field a credential could travel in.
public struct AccessLogRecord: Sendable {
    public var time: String
    public var requestID: String
    public var route: String?
    public var method: String
    public var path: String
    public var status: Int
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var durationMicros: UInt64
    public var upstream: String?
    public var user: String?
    public var tenant: String?
    public var clientIP: String
    /// Why the exchange ended abnormally ("upstream_reset", "client_abort", ...), if it did.
    public var outcome: String?
    /// Why authentication refused the request (`AuthOutcome.label`: "tenant", "expired", ...).
    public var deny: String?

    public init(time: String, requestID: String, route: String?, method: String, path: String, status: Int,
                bytesIn: UInt64, bytesOut: UInt64, durationMicros: UInt64, upstream: String?,
                user: String? = nil, tenant: String? = nil, clientIP: String, outcome: String? = nil, deny: String? = nil) {
        self.time = time; self.requestID = requestID; self.route = route; self.method = method
        self.path = path; self.status = status; self.bytesIn = bytesIn; self.bytesOut = bytesOut
        self.durationMicros = durationMicros; self.upstream = upstream; self.user = user
        self.tenant = tenant; self.clientIP = clientIP; self.outcome = outcome; self.deny = deny
    }

    /// Appends the record as one JSON line (with the trailing newline) to `out`.
    public func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"time":"#.utf8); JSON.appendQuoted(time, to: &out)
        out.append(contentsOf: #","request_id":"#.utf8); JSON.appendQuoted(requestID, to: &out)
        out.append(contentsOf: #","route":"#.utf8)
        if let route { JSON.appendQuoted(route, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","method":"#.utf8); JSON.appendQuoted(method, to: &out)
        out.append(contentsOf: #","path":"#.utf8); JSON.appendQuoted(path, to: &out)
        out.append(contentsOf: #","status":"#.utf8); out.append(contentsOf: String(status).utf8)
        out.append(contentsOf: #","bytes_in":"#.utf8); out.append(contentsOf: String(bytesIn).utf8)
        out.append(contentsOf: #","bytes_out":"#.utf8); out.append(contentsOf: String(bytesOut).utf8)
        let ms = durationMicros / 1000, frac = durationMicros % 1000
        out.append(contentsOf: #","duration_ms":"#.utf8)
        out.append(contentsOf: String(ms).utf8); out.append(0x2E)
        let f = String(frac); for _ in f.utf8.count..<3 { out.append(0x30) }; out.append(contentsOf: f.utf8)
        out.append(contentsOf: #","upstream":"#.utf8)
        if let upstream { JSON.appendQuoted(upstream, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","client":"#.utf8); JSON.appendQuoted(clientIP, to: &out)
        if let user { out.append(contentsOf: #","user":"#.utf8); JSON.appendQuoted(user, to: &out) }
        if let tenant { out.append(contentsOf: #","tenant":"#.utf8); JSON.appendQuoted(tenant, to: &out) }
        if let outcome { out.append(contentsOf: #","outcome":"#.utf8); JSON.appendQuoted(outcome, to: &out) }
        if let deny { out.append(contentsOf: #","deny":"#.utf8); JSON.appendQuoted(deny, to: &out) }
        out.append(contentsOf: "}\n".utf8)
    }
}
