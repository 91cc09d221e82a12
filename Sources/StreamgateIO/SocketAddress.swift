internal import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// A resolved IPv4 or IPv6 socket address.
public struct SocketAddress: Sendable, CustomStringConvertible, Equatable {
    var storage: sockaddr_storage
    var length: socklen_t

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool { a.description == b.description }

    /// Resolves `host:port` / `[v6]:port` / `*:port`. Blocking (getaddrinfo): call at start or reload only.
    public static func resolve(_ hostPort: String) throws(SocketAddressError) -> SocketAddress {
        guard let (host, port) = splitHostPort(hostPort) else { throw .invalid(hostPort) }
        let h = (host == "*" || host.isEmpty) ? "0.0.0.0" : host
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(h, String(port), &hints, &res)
        guard rc == 0, let ai = res else { throw .unresolved(hostPort, String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(res) }
        var ss = sockaddr_storage()
        withUnsafeMutableBytes(of: &ss) { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(start: ai.pointee.ai_addr, count: Int(ai.pointee.ai_addrlen)))
        }
        return SocketAddress(storage: ss, length: ai.pointee.ai_addrlen)
    }

    /// "host:port" -> (host, port); accepts "[::1]:80".
    public static func splitHostPort(_ s: String) -> (String, UInt16)? {
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            let host = String(s[s.index(after: s.startIndex)..<close])
            let rest = s[s.index(after: close)...]
            guard rest.hasPrefix(":"), let p = UInt16(rest.dropFirst()) else { return nil }
            return (host, p)
        }
        guard let colon = s.lastIndex(of: ":"), let p = UInt16(s[s.index(after: colon)...]) else { return nil }
        return (String(s[..<colon]), p)
    }

    init(storage: sockaddr_storage, length: socklen_t) { self.storage = storage; self.length = length }

    /// True for an IPv4 or IPv6 literal (no brackets), as opposed to a host name.
    public static func isIPLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Reads the local address of a socket (`getsockname`): how tests learn a port-0 bind.
    static func local(of fd: Int32) -> SocketAddress? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: ss, length: len) : nil
    }

    static func peer(of fd: Int32) -> SocketAddress? {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        return rc == 0 ? SocketAddress(storage: ss, length: len) : nil
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
            }
            return UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self))
        }
    }

    /// The address without the port ("127.0.0.1", "::1").
    public var ipString: String {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                _ = inet_ntop(AF_INET6, raw.baseAddress! + 8, &buf, socklen_t(buf.count))
            } else {
                _ = inet_ntop(AF_INET, raw.baseAddress! + 4, &buf, socklen_t(buf.count))
            }
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { family == AF_INET6 ? "[\(ipString)]:\(port)" : "\(ipString):\(port)" }

    /// `bind(fd, self)`: 0, or -1 with errno set.
    public func bind(socket fd: Int32) -> Int32 { withSockaddr { sa, len in Glibc.bind(fd, sa, len) } }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}

public enum SocketAddressError: Error, CustomStringConvertible, Sendable {
    case invalid(String)
    case unresolved(String, String)
    public var description: String {
        switch self {
        case .invalid(let s): "invalid address '\(s)' (expected host:port)"
        case .unresolved(let s, let why): "cannot resolve '\(s)': \(why)"
        }
    }
}

extension SocketAddress {
    /// Every address `host` resolves to for `port`, in `getaddrinfo` order (RFC 6724
    /// preference, so `localhost` gives `::1` before `127.0.0.1` on Debian), without
    /// duplicates. Callers try them in turn until one connects, as hiredis and nginx do:
    /// the first one alone fails when the server listens on only one family. IP literals
    /// (`::1` without brackets too) resolve to themselves. Blocking (getaddrinfo): call at
    /// start or reload only.
    public static func resolveAll(host: String, port: UInt16) throws(SocketAddressError) -> [SocketAddress] {
        let shown = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &res)
        guard rc == 0, res != nil else { throw .unresolved(shown, String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(res) }
        var out: [SocketAddress] = []
        var ai = res
        while let a = ai {
            let family = a.pointee.ai_family
            if let sa = a.pointee.ai_addr, family == AF_INET || family == AF_INET6,
               Int(a.pointee.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size {
                var ss = sockaddr_storage()
                withUnsafeMutableBytes(of: &ss) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: Int(a.pointee.ai_addrlen)))
                }
                let address = SocketAddress(storage: ss, length: a.pointee.ai_addrlen)
                // /etc/hosts may name one address twice (e.g. two `127.0.0.1 localhost` lines).
                if !out.contains(address) { out.append(address) }
            }
            ai = a.pointee.ai_next
        }
        guard !out.isEmpty else { throw .unresolved(shown, "no IPv4 or IPv6 address") }
        return out
    }

    /// `resolveAll(host:port:)` for `host:port` / `[v6]:port` (`*` = the IPv4 wildcard).
    public static func resolveAll(_ hostPort: String) throws(SocketAddressError) -> [SocketAddress] {
        guard let (host, port) = splitHostPort(hostPort) else { throw .invalid(hostPort) }
        return try resolveAll(host: (host == "*" || host.isEmpty) ? "0.0.0.0" : host, port: port)
    }
}
