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

    /// Lowercase spellings, indexed by `code` (index 0, `.other`, has none).
    static let spellings: [[UInt8]] = ([
        "", "host", "connection", "content-length", "transfer-encoding", "keep-alive", "proxy-connection", "te",
        "trailer", "upgrade", "proxy-authenticate", "proxy-authorization", "authorization", "x-request-id",
        "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded", "x-real-ip", "origin",
        "last-event-id", "accept", "content-type", "content-encoding", "cache-control", "via", "expect", "vary",
        "access-control-request-method", "access-control-request-headers",
    ] as [String]).map { Array($0.utf8) }

    /// Codes of the known names, by name length: classifying compares at most a few names.
    static let codesByLength: [[UInt8]] = {
        let longest = spellings.map(\.count).max() ?? 0
        var table = [[UInt8]](repeating: [], count: longest + 1)
        for code in 1..<spellings.count { table[spellings[code].count].append(UInt8(code)) }
        return table
    }()

    /// The known name these bytes spell (in any case), else `.other`.
    public static func classify(_ name: UnsafeRawBufferPointer) -> HTTPFieldName {
        let n = name.count
        guard n < codesByLength.count else { return .other }
        for code in codesByLength[n] where asciiLowercaseEquals(name, spellings[Int(code)]) {
            return HTTPFieldName(code: code)
        }
        return .other
    }

    public static func classify(_ name: String) -> HTTPFieldName {
        var name = name
        return name.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }

    /// Whether `bytes`, lowercased, equal `lower` (already lowercase).
    @inline(__always)
    static func asciiLowercaseEquals(_ bytes: UnsafeRawBufferPointer, _ lower: [UInt8]) -> Bool {
        guard bytes.count == lower.count else { return false }
        for i in 0..<lower.count {
            var b = bytes[i]
            if b >= 0x41 && b <= 0x5A { b |= 0x20 }
            if b != lower[i] { return false }
        }
        return true
    }

    public var description: String {
        self == .other ? "other" : String(decoding: Self.spellings[Int(code)], as: UTF8.self)
    }
}
