internal import CHiredis

/// One decoded Redis (RESP2) reply.
///
/// Bulk strings stay bytes (`.string`): values such as session blobs need not be UTF-8.
public enum RedisReply: Sendable, Equatable, CustomStringConvertible {
    case string([UInt8])
    case integer(Int64)
    case array([RedisReply])
    /// A nil bulk string or nil array (`GET` of a missing key).
    case null
    /// A simple string such as `OK` or `PONG`.
    case status(String)
    /// An error reply (`-ERR ...`, `-WRONGTYPE ...`). The connection stays usable.
    case error(String)

    /// The bulk string as UTF-8 text (lossy), or `nil` if this is not a `.string`.
    public var text: String? {
        if case .string(let b) = self { return String(decoding: b, as: UTF8.self) }
        return nil
    }

    /// An `HGETALL` reply as field -> value; `nil` unless an array of string pairs.
    /// A missing key yields an empty map (Redis answers with an empty array).
    public var fieldMap: [String: [UInt8]]? {
        guard case .array(let items) = self, items.count % 2 == 0 else { return nil }
        var map: [String: [UInt8]] = [:]
        map.reserveCapacity(items.count / 2)
        var i = 0
        while i < items.count {
            guard case .string(let field) = items[i], case .string(let value) = items[i + 1] else { return nil }
            map[String(decoding: field, as: UTF8.self)] = value
            i += 2
        }
        return map
    }

    public var description: String {
        switch self {
        case .string(let b): "\"\(String(decoding: b, as: UTF8.self))\""
        case .integer(let i): "(integer) \(i)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .null: "(nil)"
        case .status(let s): s
        case .error(let e): "(error) \(e)"
        }
    }
}

/// Why a command produced no reply.
public enum RedisClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No reply within `RedisClientConfig.commandTimeout`; a late reply is dropped.
    case timeout
    /// Not connected (connecting failed, backing off, closed, or too many commands pending).
    case unavailable
    /// The command could not be encoded, or the reply could not be decoded.
    case protocolError(String)

    public var description: String {
        switch self {
        case .timeout: "redis: command timed out"
        case .unavailable: "redis: unavailable"
        case .protocolError(let why): "redis: protocol error: \(why)"
        }
    }
}

/// What a command's completion receives.
public typealias RedisResult = Result<RedisReply, RedisClientError>

extension RedisReply {
    /// Deep-copies a reply object from hiredis' reader (the caller frees it). Nesting is
    /// bounded: the reader refuses arrays nested deeper than 7.
    static func decode(_ raw: UnsafePointer<redisReply>) -> Result<RedisReply, RedisClientError> {
        let r = raw.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard r.len > 0, let p = r.str else { return .success(.string([])) }
            return .success(.string(Array(UnsafeRawBufferPointer(start: p, count: r.len))))
        case REDIS_REPLY_INTEGER:
            return .success(.integer(Int64(r.integer)))
        case REDIS_REPLY_NIL:
            return .success(.null)
        case REDIS_REPLY_STATUS:
            return .success(.status(text(r)))
        case REDIS_REPLY_ERROR:
            return .success(.error(text(r)))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                guard let child = r.element[i] else { return .failure(.protocolError("null array element")) }
                switch decode(UnsafePointer(child)) {
                case .success(let v): items.append(v)
                case .failure(let e): return .failure(e)
                }
            }
            return .success(.array(items))
        default:
            return .failure(.protocolError("unknown reply type \(r.type)"))
        }
    }

    private static func text(_ r: redisReply) -> String {
        guard r.len > 0, let p = r.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: r.len), as: UTF8.self)
    }
}
