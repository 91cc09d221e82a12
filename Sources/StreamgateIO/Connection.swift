internal import CLibevent
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

/// What a connection reports besides "bytes arrived" and "output drained".
public enum ConnectionEvent: Equatable, Sendable {
    case connected
    /// The peer closed its sending side (FIN).
    case endOfStream
    /// A socket error (errno), e.g. ECONNREFUSED, ECONNRESET.
    case error(Int32)
    case readTimeout
    /// The write timeout also covers an outbound connect that never completes.
    case writeTimeout
}

public protocol ConnectionDelegate: AnyObject {
    func connectionReadable(_ connection: Connection)
    /// Output fell to the low watermark (0 = everything written).
    func connectionWritable(_ connection: Connection)
    func connection(_ connection: Connection, event: ConnectionEvent)
}

/// A buffered, non-blocking stream socket (TCP, or TLS over TCP: same interface).
/// Owns its bufferevent; `close()` or deinit frees it.
public final class Connection {
    private var bev: OpaquePointer?
    public weak var delegate: ConnectionDelegate?
    public let loop: EventLoop
    public private(set) var isReading = false
    private var lowWatermark = 0
    /// Plain sockets write output directly at the end of the loop turn (see `scheduleFlush`);
    /// TLS and still-connecting sockets leave writing to the bufferevent.
    private var directWrites = false
    private var flushQueued = false
    /// Set whenever bytes enter the output buffer, cleared once it is seen empty: lets a
    /// gathered write check for queued output without touching the bufferevent (cold memory
    /// on a stream that has been quiet for a second). May be true while empty, never the reverse.
    private var outputQueued = false
    /// The socket, cached for the direct-write path (valid once `directWrites` is on).
    private var socketFD: Int32 = -1
    private var outputWatch: OpaquePointer?

    /// Wraps an accepted socket.
    public init(loop: EventLoop, fd: Int32) {
        self.loop = loop
        bev = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
        Connection.setNoDelay(fd)
        installCallbacks()
        enableDirectWrites()
    }

    init(loop: EventLoop, bufferevent: OpaquePointer) {
        self.loop = loop
        bev = bufferevent
        installCallbacks()
    }

    /// Starts a non-blocking connect. The delegate hears `.connected`, `.error(errno)` or
    /// `.writeTimeout` (connect timeout).
    public static func connect(loop: EventLoop, to address: SocketAddress, timeout: Duration?) -> Connection? {
        guard let b = bufferevent_socket_new(loop.base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else { return nil }
        let c = Connection(loop: loop, bufferevent: b)
        c.setTimeouts(read: nil, write: timeout)
        let rc = address.withSockaddr { sa, len in bufferevent_socket_connect(b, sa, Int32(len)) }
        if rc != 0 { return nil }
        Connection.setNoDelay(bufferevent_getfd(b))
        return c
    }

    deinit { free() }

    private func installCallbacks() {
        guard let bev else { return }
        bufferevent_setcb(bev, { _, ctx in
            Unmanaged<Connection>.fromOpaque(ctx!).takeUnretainedValue().onRead()
        }, { _, ctx in
            Unmanaged<Connection>.fromOpaque(ctx!).takeUnretainedValue().onWrite()
        }, { _, what, ctx in
            Unmanaged<Connection>.fromOpaque(ctx!).takeUnretainedValue().onEvent(what)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func onRead() { delegate?.connectionReadable(self) }

    private func onWrite() {
        // Drained by the bufferevent: go back to direct writes, so the next response costs no
        // epoll_ctl to arm and disarm a write event.
        if directWrites, let bev, evbuffer_get_length(bufferevent_get_output(bev)) == 0 {
            bufferevent_disable(bev, Int16(EV_WRITE))
            outputQueued = false
        }
        delegate?.connectionWritable(self)
    }

    /// Most responses fit in the socket buffer: writing them straight after the callbacks that
    /// produced them saves a loop turn and two epoll_ctl calls per exchange. Whatever the kernel
    /// does not take is left to the bufferevent's write event (watermarks, timeouts).
    private func enableDirectWrites() {
        guard let bev, !directWrites else { return }
        directWrites = true
        socketFD = bufferevent_getfd(bev)
        bufferevent_disable(bev, Int16(EV_WRITE))
        outputWatch = evbuffer_add_cb(bufferevent_get_output(bev), { _, info, ctx in
            guard let info, info.pointee.n_added > 0 else { return }
            let c = Unmanaged<Connection>.fromOpaque(ctx!).takeUnretainedValue()
            c.outputQueued = true
            c.scheduleFlush()
        }, Unmanaged.passUnretained(self).toOpaque())
        if evbuffer_get_length(bufferevent_get_output(bev)) > 0 {
            outputQueued = true
            scheduleFlush()
        }
    }

    private func scheduleFlush() {
        guard !flushQueued, directWrites else { return }
        flushQueued = true
        loop.enqueueFlush(self)
    }

    /// Called by the loop once the current batch of callbacks is done.
    func flushNow() {
        flushQueued = false
        guard let bev, directWrites else { return }
        let out = bufferevent_get_output(bev)
        if evbuffer_get_length(out) == 0 { return }
        // A bufferevent keeps its output's start frozen so only its own write path drains it;
        // we are that write path for this moment.
        evbuffer_unfreeze(out, 1)
        let n = evbuffer_write(out, bufferevent_getfd(bev))
        evbuffer_freeze(out, 1)
        if n < 0 {
            let e = errno
            if e != EAGAIN && e != EWOULDBLOCK && e != EINTR {
                // Let the bufferevent hit the same error and report it through the event callback.
                bufferevent_enable(bev, Int16(EV_WRITE))
                return
            }
        }
        if evbuffer_get_length(out) > 0 {
            bufferevent_enable(bev, Int16(EV_WRITE))
        } else {
            outputQueued = false
            delegate?.connectionWritable(self)
        }
    }

    /// Writes the list's pieces in order, then resets it. On a plain socket with nothing queued
    /// they go straight to the kernel in one gathered `sendmsg`, uncopied; whatever it does not
    /// take (or everything, behind queued output) is copied into the output buffer, whose
    /// usual flush, watermarks and timeouts then apply.
    /// Returns the bytes now queued in the output buffer (0: everything went to the kernel).
    @discardableResult
    public func write(_ list: GatherList) -> Int {
        defer { list.reset() }
        guard let bev, list.count > 0 else { return outputCount }
        var written = 0
        // (A queued flush implies queued output: the flag covers both.)
        if directWrites && !outputQueued {
            // sendmsg rather than writev: a socket call skips the file layer's bookkeeping.
            var message = msghdr()
            message.msg_iov = list.vectors
            message.msg_iovlen = list.count
            let n = sendmsg(socketFD, &message, Int32(MSG_NOSIGNAL))
            if n == list.byteCount { return 0 }
            // On an error everything is queued: the flush meets the same error and reports it
            // through the event callback, like any other write failure.
            if n > 0 { written = n }
        }
        let out = bufferevent_get_output(bev)
        for i in 0..<list.count {
            let v = list.vectors[i]
            if written >= v.iov_len { written -= v.iov_len; continue }
            evbuffer_add(out, v.iov_base + written, v.iov_len - written)
            written = 0
        }
        return evbuffer_get_length(out)
    }

    /// Hands the socket over (to a `StreamSource`): the bufferevent is freed, the descriptor
    /// stays open and is the caller's to close. Only a plain, connected socket with nothing
    /// buffered either way can go; nil (and nothing changed) otherwise.
    public func detachDescriptor() -> Int32? {
        guard let b = bev, directWrites, !flushQueued,
              evbuffer_get_length(bufferevent_get_input(b)) == 0,
              evbuffer_get_length(bufferevent_get_output(b)) == 0 else { return nil }
        let fd = bufferevent_getfd(b)
        guard fd >= 0 else { return nil }
        // With no descriptor the bufferevent's close-on-free has nothing to close.
        guard bufferevent_setfd(b, -1) == 0 else { return nil }
        free()
        return fd
    }

    private func onEvent(_ what: Int16) {
        let w = Int32(what)
        // libevent stops reading after a read-side timeout, EOF or error: keep our flag true to it,
        // or a later enableReading() would be a no-op.
        if w & BEV_EVENT_READING != 0 { isReading = false }
        let event: ConnectionEvent
        if w & BEV_EVENT_CONNECTED != 0 {
            event = .connected
            enableDirectWrites()
        } else if w & BEV_EVENT_TIMEOUT != 0 {
            event = (w & BEV_EVENT_READING != 0) ? .readTimeout : .writeTimeout
        } else if w & BEV_EVENT_EOF != 0 {
            event = .endOfStream
        } else {
            let e = errno
            event = .error(e == 0 ? ECONNRESET : e)
        }
        delegate?.connection(self, event: event)
    }

    public var isOpen: Bool { bev != nil }

    /// True when the peer has sent nothing since the last read: no bytes buffered here or in the
    /// kernel, no EOF, no error. An idle pooled upstream must pass this before it is reused:
    /// bytes that arrived after a complete response (a body sent for HEAD or 204, a forged
    /// response) would otherwise be read as the next request's response, and a readable event
    /// may still be waiting in this loop turn, so the kernel is asked directly (one `recv` with
    /// `MSG_PEEK`).
    public var hasNothingToRead: Bool {
        guard let bev, evbuffer_get_length(bufferevent_get_input(bev)) == 0 else { return false }
        var byte: UInt8 = 0
        let n = recv(bufferevent_getfd(bev), &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if n > 0 || n == 0 { return false }  // data, or EOF
        let e = errno
        return e == EAGAIN || e == EWOULDBLOCK
    }

    public var fd: Int32 { bev.map { bufferevent_getfd($0) } ?? -1 }

    public var input: EvBuffer { EvBuffer(bufferevent_get_input(bev)) }
    public var output: EvBuffer { EvBuffer(bufferevent_get_output(bev)) }

    public var outputCount: Int { bev.map { evbuffer_get_length(bufferevent_get_output($0)) } ?? 0 }
    public var inputCount: Int { bev.map { evbuffer_get_length(bufferevent_get_input($0)) } ?? 0 }

    public func enableReading() {
        guard let bev, !isReading else { return }
        bufferevent_enable(bev, Int16(EV_READ))
        isReading = true
    }

    public func disableReading() {
        guard let bev, isReading else { return }
        bufferevent_disable(bev, Int16(EV_READ))
        isReading = false
    }

    /// Read timeout: no bytes arrived for that long while reading. Write timeout: pending output
    /// made no progress for that long. nil disables.
    public func setTimeouts(read: Duration?, write: Duration?) {
        guard let bev else { return }
        var r = read.map(Connection.makeTimeval(_:)) ?? timeval()
        var w = write.map(Connection.makeTimeval(_:)) ?? timeval()
        withUnsafePointer(to: &r) { rp in
            withUnsafePointer(to: &w) { wp in
                _ = bufferevent_set_timeouts(bev, read == nil ? nil : rp, write == nil ? nil : wp)
            }
        }
    }

    /// The write callback fires when output drains to `low` bytes.
    public func setWriteLowWatermark(_ low: Int) {
        guard let bev, low != lowWatermark else { return }
        lowWatermark = low
        bufferevent_setwatermark(bev, Int16(EV_WRITE), low, 0)
    }

    /// Caps how much one read pulls in (bounds memory for a fast sender).
    public func setMaxReadSize(_ n: Int) {
        guard let bev else { return }
        _ = bufferevent_set_max_single_read(bev, n)
    }

    /// Sends FIN after pending output; the socket stays open for reading (lingering close).
    public func shutdownWrite() {
        guard let bev else { return }
        _ = Glibc.shutdown(bufferevent_getfd(bev), Int32(SHUT_WR))
    }

    /// Frees the socket now; unsent output is discarded.
    public func close() { free() }

    private func free() {
        guard let b = bev else { return }
        if let outputWatch { evbuffer_remove_cb_entry(bufferevent_get_output(b), outputWatch); self.outputWatch = nil }
        directWrites = false
        bev = nil
        bufferevent_setcb(b, nil, nil, nil, nil)
        bufferevent_free(b)
    }

    /// Aborts with RST instead of FIN, so the peer sees an error rather than a clean end.
    public func abort() {
        guard let bev else { return }
        var lg = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        free()
    }

    public var peerAddress: SocketAddress? { bev.flatMap { SocketAddress.peer(of: bufferevent_getfd($0)) } }

    static func setNoDelay(_ fd: Int32) {
        guard fd >= 0 else { return }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    static func makeTimeval(_ d: Duration) -> timeval {
        let ns = d.nanosecondsClamped
        return timeval(tv_sec: Int(ns / 1_000_000_000), tv_usec: Int((ns % 1_000_000_000) / 1000))
    }
}
