/// The field names the gateway itself acts on, recognised once: when a field is parsed or
/// added. Every later lookup, removal and policy check compares this one byte instead of the
/// name's characters case-insensitively (RFC 9110 §5.1: field names are case-insensitive).
/// Any other name is `.other` and keeps its bytes for the rare case-insensitive compare.
public struct HTTPFieldName: Hashable, Sendable, CustomStringConvertible {
    public let code: UInt8

    @inlinable init(code: UInt8) { self.code = code }

    public static let other = HTTPFieldName(code: 0)
    public static let host = HTTPFieldName(code: 1)
    public static let connection = HTTPFieldName(code: 2)
    public static let contentLength = HTTPFieldName(code: 3)
    public static let transferEncoding = HTTPFieldName(code: 4)
    public static let keepAlive = HTTPFieldName(code: 5)
    public static let proxyConnection = HTTPFieldName(code: 6)
    public static let te = HTTPFieldName(code: 7)
    public static let trailer = HTTPFieldName(code: 8)
    public static let upgrade = HTTPFieldName(code: 9)
    public static let proxyAuthenticate = HTTPFieldName(code: 10)
    public static let proxyAuthorization = HTTPFieldName(code: 11)
    public static let authorization = HTTPFieldName(code: 12)
    public static let xRequestID = HTTPFieldName(code: 13)
    public static let xForwardedFor = HTTPFieldName(code: 14)
    public static let xForwardedProto = HTTPFieldName(code: 15)
    public static let xForwardedHost = HTTPFieldName(code: 16)
    public static let forwarded = HTTPFieldName(code: 17)
    public static let xRealIP = HTTPFieldName(code: 18)
    public static let origin = HTTPFieldName(code: 19)
    public static let lastEventID = HTTPFieldName(code: 20)
    public static let accept = HTTPFieldName(code: 21)
    public static let contentType = HTTPFieldName(code: 22)
    public static let contentEncoding = HTTPFieldName(code: 23)
    public static let cacheControl = HTTPFieldName(code: 24)
    public static let via = HTTPFieldName(code: 25)
    public static let expect = HTTPFieldName(code: 26)
    public static let vary = HTTPFieldName(code: 27)
    public static let accessControlRequestMethod = HTTPFieldName(code: 28)
    public static let accessControlRequestHeaders = HTTPFieldName(code: 29)

    /// Lowercase spellings, indexed by `code` (index 0, `.other`, has none): for `description`
    /// and the tests, which check `classify` against this list.
    static let spellings: [[UInt8]] = ([
        "", "host", "connection", "content-length", "transfer-encoding", "keep-alive", "proxy-connection", "te",
        "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "authorization", "x-request-id",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip", "origin",
        "last-event-id", "accept", "content-type", "content-encoding", "cache-control", "via", "expect", "vary",
        "access-control-request-method", "access-control-request-headers",
    ] as [String]).map { Array($0.utf8) }

    /// The known name these bytes spell (in any case), else `.other`. Runs for every field
    /// parsed or added: a switch on the length, then at most three byte compares against
    /// static spellings, each usually ending at the first byte.
    public static func classify(_ name: UnsafeRawBufferPointer) -> HTTPFieldName {
        switch name.count {
        case 2: if equals(name, "te") { return .te }
        case 3: if equals(name, "via") { return .via }
        case 4:
            if equals(name, "host") { return .host }
            if equals(name, "vary") { return .vary }
        case 6:
            if equals(name, "accept") { return .accept }
            if equals(name, "origin") { return .origin }
            if equals(name, "expect") { return .expect }
        case 7:
            if equals(name, "trailer") { return .trailer }
            if equals(name, "upgrade") { return .upgrade }
        case 9:
            if equals(name, "forwarded") { return .forwarded }
            if equals(name, "x-real-ip") { return .xRealIP }
        case 10:
            if equals(name, "connection") { return .connection }
            if equals(name, "keep-alive") { return .keepAlive }
        case 12:
            if equals(name, "content-type") { return .contentType }
            if equals(name, "x-request-id") { return .xRequestID }
        case 13:
            if equals(name, "authorization") { return .authorization }
            if equals(name, "cache-control") { return .cacheControl }
            if equals(name, "last-event-id") { return .lastEventID }
        case 14: if equals(name, "content-length") { return .contentLength }
        case 15: if equals(name, "x-forwarded-for") { return .xForwardedFor }
        case 16:
            if equals(name, "proxy-connection") { return .proxyConnection }
            if equals(name, "content-encoding") { return .contentEncoding }
            if equals(name, "x-forwarded-host") { return .xForwardedHost }
        case 17:
            if equals(name, "transfer-encoding") { return .transferEncoding }
            if equals(name, "x-forwarded-proto") { return .xForwardedProto }
        case 18: if equals(name, "proxy-authenticate") { return .proxyAuthenticate }
        case 19: if equals(name, "proxy-authorization") { return .proxyAuthorization }
        case 29: if equals(name, "access-control-request-method") { return .accessControlRequestMethod }
        case 30: if equals(name, "access-control-request-headers") { return .accessControlRequestHeaders }
        default: break
        }
        return .other
    }

    /// Whether `bytes`, ASCII-lowercased, equal `lower` (a lowercase literal of the same length).
    @inline(__always)
    static func equals(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        let l = lower.utf8Start
        for i in 0..<bytes.count {
            var b = bytes[i]
            if b &- 0x41 < 26 { b |= 0x20 }
            if b != l[i] { return false }
        }
        return true
    }

    public static func classify(_ name: String) -> HTTPFieldName {
        var name = name
        return name.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }

    public var description: String {
        self == .other ? "other" : String(decoding: Self.spellings[Int(code)], as: UTF8.self)
    }
}
