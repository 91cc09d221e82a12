internal import CLibevent
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

public struct ListenError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// A listening TCP socket on one loop. Created with SO_REUSEPORT so that every worker loop (and
/// every gateway process) can own a listener on the same port and the kernel spreads connections.
public final class Listener {
    private var listener: OpaquePointer?
    private let onAccept: (Int32) -> Void
    public let localAddress: SocketAddress

    /// `onAccept` receives each accepted, non-blocking socket; the callee owns it.
    public init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 4096, onAccept: @escaping (Int32) -> Void) throws(ListenError) {
        self.onAccept = onAccept
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenError(description: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockaddr { sa, len in bind(fd, sa, len) }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ListenError(description: "bind \(address): \(why)")
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ListenError(description: "listen \(address): \(why)")
        }
        localAddress = SocketAddress.local(of: fd) ?? address
        listener = nil
        let l = evconnlistener_new(loop.base, { _, fd, _, _, ctx in
            Unmanaged<Listener>.fromOpaque(ctx!).takeUnretainedValue().onAccept(fd)
        }, Unmanaged.passUnretained(self).toOpaque(), UInt32(LEV_OPT_CLOSE_ON_FREE), -1, fd)
        guard let l else {
            Glibc.close(fd)
            throw ListenError(description: "evconnlistener_new failed for \(address)")
        }
        listener = l
        evconnlistener_set_error_cb(l) { lst, ctx in
            // EMFILE/ENFILE: pausing briefly is better than spinning on accept; the owner resumes.
            _ = lst; _ = ctx
        }
    }

    deinit { close() }

    public var port: UInt16 { localAddress.port }

    /// Stops accepting (connection limit reached, or draining); queued connections wait in the backlog.
    public func pause() { if let listener { evconnlistener_disable(listener) } }
    public func resume() { if let listener { evconnlistener_enable(listener) } }

    /// Closes the listening socket: new connections go to other processes sharing the port.
    public func close() {
        if let l = listener { evconnlistener_free(l); listener = nil }
    }
}
