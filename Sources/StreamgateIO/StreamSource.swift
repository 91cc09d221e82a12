internal import CLibevent
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

public protocol StreamSourceDelegate: AnyObject {
    /// Bytes just read. The view is the loop's scratch buffer: valid only during the call.
    func streamSource(_ source: StreamSource, received bytes: UnsafeRawBufferPointer)
    /// `.endOfStream` (the peer's FIN) or `.error(errno)`. Reading has stopped.
    func streamSource(_ source: StreamSource, event: ConnectionEvent)
}

/// The receiving end of a long-lived relay: a plain TCP socket read straight into the loop's
/// scratch buffer and handed on at once.
///
/// A `Connection` reads through a bufferevent: an `ioctl(FIONREAD)` before every `readv`, a
/// buffer chain allocated per read, and about 1 KB of bufferevent state held per socket for
/// the life of the stream. An event stream needs none of that: each read is relayed before
/// the callback returns, so this costs one `recv` per readiness and one libevent `event`.
public final class StreamSource {
    // Private stored state and a constant delegate: with every access visible in this file
    // the optimizer drops the runtime exclusivity checks a public `var` costs on each read.
    private var event: OpaquePointer?
    private var descriptor: Int32
    /// The delegate owns this source. Unowned rather than weak: loading it for a callback is a
    /// plain retain, not a side-table lookup, and the retain keeps the delegate alive through a
    /// callback that ends its own exchange.
    private unowned let delegate: StreamSourceDelegate
    private let loop: EventLoop

    /// Takes ownership of `fd` (closed by `close()` or deinit) and starts reading.
    public init(loop: EventLoop, fd: Int32, delegate: StreamSourceDelegate) {
        self.loop = loop
        self.descriptor = fd
        self.delegate = delegate
        event = event_new(loop.base, fd, Int16(EV_READ | EV_PERSIST), { _, _, arg in
            Unmanaged<StreamSource>.fromOpaque(arg!).takeUnretainedValue().onReadable()
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    deinit { close() }

    private func onReadable() {
        let scratch = loop.readScratch
        // One recv per readiness: the poller is level-triggered, so a socket with more to give
        // is reported again next turn, after every other ready socket has had its turn.
        let n = recv(descriptor, scratch.baseAddress, scratch.count, 0)
        if n > 0 {
            // Nothing of self is touched after a callback: it may have closed and released us.
            delegate.streamSource(self, received: UnsafeRawBufferPointer(start: scratch.baseAddress, count: n))
            return
        }
        if n < 0 {
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
            stopReading()
            delegate.streamSource(self, event: .error(e))
            return
        }
        stopReading()
        delegate.streamSource(self, event: .endOfStream)
    }

    private func stopReading() {
        if let event { event_del(event) }
    }

    /// Closes the socket now.
    public func close() {
        if let e = event {
            event_del(e)
            event_free(e)
            event = nil
        }
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}
