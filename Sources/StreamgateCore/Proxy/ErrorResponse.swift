/// The gateway's own responses (404, 405, 502, ...): small JSON documents.
public struct GatewayResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Close the connection after this response (framing faults, unread request bodies).
    public var close: Bool

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8], close: Bool) {
        self.status = status; self.headers = headers; self.body = body; self.close = close
    }

    /// `{"error":"<code>","status":N,"request_id":"..."}` with fixed, non-reflective text;
    /// `description` (gateway-written text, never request bytes) adds `error_description`.
    public static func error(status: Int, code: String, requestID: String?, close: Bool, extraHeaders: HTTPHeaders = HTTPHeaders(),
                             description: String? = nil) -> GatewayResponse {
        var json = "{\"error\":\"\(code)\",\"status\":\(status)"
        if let description {
            var quoted: [UInt8] = []
            JSON.appendQuoted(description, to: &quoted)
            json += ",\"error_description\":" + String(decoding: quoted, as: UTF8.self)
        }
        if let requestID { json += ",\"request_id\":\"\(requestID)\"" }
        json += "}\n"
        var h = extraHeaders
        h.add(name: "Content-Type", value: "application/json")
        return GatewayResponse(status: status, headers: h, body: Array(json.utf8), close: close)
    }

    /// A stable error code for a status, used when no more specific one exists.
    public static func code(for status: Int) -> String {
        switch status {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 408: "request_timeout"
        case 413: "payload_too_large"
        case 429: "too_many_requests"
        case 414: "uri_too_long"
        case 431: "request_header_fields_too_large"
        case 501: "not_implemented"
        case 502: "bad_gateway"
        case 503: "service_unavailable"
        case 504: "gateway_timeout"
        case 505: "http_version_not_supported"
        default: "error"
        }
    }
}
