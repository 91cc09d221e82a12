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

    public init(time: String, requestID: String, route: String?, method: String, path: String, status: Int,
                bytesIn: UInt64, bytesOut: UInt64, durationMicros: UInt64, upstream: String?,
                user: String? = nil, tenant: String? = nil, clientIP: String, outcome: String? = nil) {
        self.time = time; self.requestID = requestID; self.route = route; self.method = method
        self.path = path; self.status = status; self.bytesIn = bytesIn; self.bytesOut = bytesOut
        self.durationMicros = durationMicros; self.upstream = upstream; self.user = user
        self.tenant = tenant; self.clientIP = clientIP; self.outcome = outcome
    }

    /// Appends the record as one JSON line (with the trailing newline) to `out`.
    public func appendJSONLine(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"time":"#.utf8); appendJSONString(time, to: &out)
        out.append(contentsOf: #","request_id":"#.utf8); appendJSONString(requestID, to: &out)
        out.append(contentsOf: #","route":"#.utf8)
        if let route { appendJSONString(route, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","method":"#.utf8); appendJSONString(method, to: &out)
        out.append(contentsOf: #","path":"#.utf8); appendJSONString(path, to: &out)
        out.append(contentsOf: #","status":"#.utf8); out.append(contentsOf: String(status).utf8)
        out.append(contentsOf: #","bytes_in":"#.utf8); out.append(contentsOf: String(bytesIn).utf8)
        out.append(contentsOf: #","bytes_out":"#.utf8); out.append(contentsOf: String(bytesOut).utf8)
        let ms = durationMicros / 1000, frac = durationMicros % 1000
        out.append(contentsOf: #","duration_ms":"#.utf8)
        out.append(contentsOf: String(ms).utf8); out.append(0x2E)
        let f = String(frac); for _ in f.utf8.count..<3 { out.append(0x30) }; out.append(contentsOf: f.utf8)
        out.append(contentsOf: #","upstream":"#.utf8)
        if let upstream { appendJSONString(upstream, to: &out) } else { out.append(contentsOf: "null".utf8) }
        out.append(contentsOf: #","client":"#.utf8); appendJSONString(clientIP, to: &out)
        if let user { out.append(contentsOf: #","user":"#.utf8); appendJSONString(user, to: &out) }
        if let tenant { out.append(contentsOf: #","tenant":"#.utf8); appendJSONString(tenant, to: &out) }
        if let outcome { out.append(contentsOf: #","outcome":"#.utf8); appendJSONString(outcome, to: &out) }
        out.append(contentsOf: "}\n".utf8)
    }
}

/// Appends `s` as a JSON string literal, escaping quotes, backslashes and control characters.
public func appendJSONString(_ s: String, to out: inout [UInt8]) {
    let hex: [UInt8] = Array("0123456789abcdef".utf8)
    out.append(0x22)
    for b in s.utf8 {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        case 0..<0x20, 0x7F:
            out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
        default: out.append(b)
        }
    }
    out.append(0x22)
}
