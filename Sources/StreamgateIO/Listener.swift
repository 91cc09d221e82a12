internal import CLibevent
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

public struct ListenError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// A listening TCP socket on one loop. Created with SO_REUSEPORT so that every worker loop (and
/// every gateway process) can own a listener on the same port and the kernel spreads connections.
public final class Listener {
    private var listener: OpaquePointer?
    private let onAccept: (Int32) -> Void
    public let localAddress: SocketAddress

    /// Binds a listening socket with SO_REUSEADDR and SO_REUSEPORT. Port 0 picks a free port;
    /// the returned address says which. Binding the same port again (same process or another)
    /// adds a sibling socket: the kernel spreads new connections across siblings.
    public static func bindSocket(_ address: SocketAddress, backlog: Int32 = 4096) throws(ListenError) -> (fd: Int32, address: SocketAddress) {
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
        return (fd, SocketAddress.local(of: fd) ?? address)
    }

    /// Binds and listens (see `bindSocket`), then accepts on `loop`.
    public convenience init(loop: EventLoop, address: SocketAddress, backlog: Int32 = 4096, onAccept: @escaping (Int32) -> Void) throws(ListenError) {
        let (fd, _) = try Listener.bindSocket(address, backlog: backlog)
        try self.init(loop: loop, fd: fd, onAccept: onAccept)
    }

    /// Accepts on an already listening socket (takes ownership of `fd`).
    /// `onAccept` receives each accepted, non-blocking socket; the callee owns it.
    public init(loop: EventLoop, fd: Int32, onAccept: @escaping (Int32) -> Void) throws(ListenError) {
        self.onAccept = onAccept
        guard let local = SocketAddress.local(of: fd) else {
            Glibc.close(fd)
            throw ListenError(description: "getsockname failed")
        }
        localAddress = local
        listener = nil
        let l = evconnlistener_new(loop.base, { _, fd, _, _, ctx in
            Unmanaged<Listener>.fromOpaque(ctx!).takeUnretainedValue().onAccept(fd)
        }, Unmanaged.passUnretained(self).toOpaque(), UInt32(LEV_OPT_CLOSE_ON_FREE), -1, fd)
        guard let l else {
            Glibc.close(fd)
            throw ListenError(description: "evconnlistener_new failed for \(local)")
        }
        listener = l
        // EMFILE/ENFILE: accepting again at once would spin; pause for a moment (as nginx does)
        // and try again, so the listener recovers once descriptors are free.
        retryTimer = LoopTimer(loop: loop) { [weak self] in self?.resumeAfterError() }
        evconnlistener_set_error_cb(l) { _, ctx in
            Unmanaged<Listener>.fromOpaque(ctx!).takeUnretainedValue().acceptFailed(errno)
        }
    }

    private var retryTimer: LoopTimer?
    private var pausedByOwner = false
    /// Called with errno when accept fails (typically EMFILE); the listener retries by itself.
    public var onAcceptError: ((Int32) -> Void)?
    public private(set) var acceptErrors: UInt64 = 0

    private func acceptFailed(_ err: Int32) {
        acceptErrors += 1
        guard let listener else { return }
        evconnlistener_disable(listener)
        onAcceptError?(err)
        retryTimer?.schedule(after: .milliseconds(100))
    }

    private func resumeAfterError() {
        guard let listener, !pausedByOwner else { return }
        evconnlistener_enable(listener)
    }

    deinit { close() }

    public var port: UInt16 { localAddress.port }

    /// Stops accepting (connection limit reached, or draining); queued connections wait in the backlog.
    public func pause() {
        pausedByOwner = true
        if let listener { evconnlistener_disable(listener) }
    }

    public func resume() {
        pausedByOwner = false
        if let listener { evconnlistener_enable(listener) }
    }

    /// Closes the listening socket: new connections go to other processes sharing the port.
    public func close() {
        retryTimer?.cancel()
        if let l = listener { evconnlistener_free(l); listener = nil }
    }
}
