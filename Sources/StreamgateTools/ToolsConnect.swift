import StreamgateIO
#if canImport(Glibc)
import Glibc
#endif

extension Connection {
    /// Starts a non-blocking connect from a chosen local address (load tools spreading outbound
    /// connections over 127.0.0.x, so more than one ephemeral port range is available).
    ///
    /// The port is picked at connect time (`IP_BIND_ADDRESS_NO_PORT`), not at bind time, so the
    /// kernel can reuse a local port towards different destinations. Returns nil when the socket
    /// cannot be created, bound or connected at once (e.g. `EADDRNOTAVAIL`); `errno` says why.
    /// Otherwise the delegate hears `.connected`, `.error(errno)` or `.writeTimeout` (and with
    /// `tls`, `.tlsFailure`: `.connected` then comes after the handshake).
    public static func connect(loop: EventLoop, to address: SocketAddress, from source: SocketAddress?, timeout: Duration?,
                               tls: TLSClientContext? = nil, serverName: String? = nil) -> Connection? {
        guard let source else { return connect(loop: loop, to: address, timeout: timeout, tls: tls, serverName: serverName) }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        // 24 = IP_BIND_ADDRESS_NO_PORT (Linux 4.2+); harmless if unsupported.
        _ = setsockopt(fd, Int32(IPPROTO_IP), 24, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = source.bind(socket: fd)
        guard bound == 0 else {
            let e = errno
            Glibc.close(fd)
            errno = e
            return nil
        }
        return connect(loop: loop, socket: fd, to: address, timeout: timeout, tls: tls, serverName: serverName)
    }
}
