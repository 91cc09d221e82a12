internal import CLibevent
internal import COpenSSL
internal import CStreamgateShims
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

/// What a connection reports besides "bytes arrived" and "output drained".
public enum ConnectionEvent: Equatable, Sendable {
    /// An outbound connect completed (and its TLS handshake, on a TLS connection).
    case connected
    /// The peer closed its sending side (FIN, or TLS close_notify).
    case endOfStream
    /// A socket error (errno), e.g. ECONNREFUSED, ECONNRESET.
    case error(Int32)
    case readTimeout
    /// The write timeout also covers an outbound connect (and TLS handshake) that never completes.
    case writeTimeout
    /// TLS failed: a refused certificate, a failed handshake or a corrupt record. Says why.
    case tlsFailure(String)
}

extension ConnectionEvent {
    public var isTLSFailure: Bool { if case .tlsFailure = self { true } else { false } }
}

public protocol ConnectionDelegate: AnyObject {
    /// Bytes were appended to `input`.
    func connectionReadable(_ connection: Connection)
    /// Output fell to the low watermark (0 = everything written).
    func connectionWritable(_ connection: Connection)
    func connection(_ connection: Connection, event: ConnectionEvent)
}

/// Takes a connection's bytes as they are read, instead of through `input` (see `setReceiver`).
public protocol ConnectionReceiver: AnyObject {
    /// The view is the loop's scratch buffer: valid only during the call.
    func connection(_ connection: Connection, received bytes: UnsafeRawBufferPointer)
}

/// The one byte-stream transport: a non-blocking TCP socket, plain or TLS, from accept (or
/// connect) to close. Client and upstream sides, plain responses and event streams all use it.
///
/// Reads go into the loop's scratch buffer, then either into `input` (parsers pull from it) or,
/// with a receiver set, straight to the receiver: a live event stream is relayed before the
/// read callback returns, one `recv` (or one TLS record) per readiness, nothing held between
/// reads. Writes go straight to the kernel when nothing is queued (one gathered `sendmsg` for
/// a plain socket, one `SSL_write` for TLS); what the kernel does not take waits in `output`
/// behind a write event, which also carries the write timeout. Levels, not edges: a socket
/// with more to give is reported again next loop turn, after every other ready socket.
///
/// TLS (OpenSSL, on the same descriptor) changes only what a read and a write call do, so the
/// state above, watermarks, timeouts and the direct-receive path are the same for both.
public final class Connection {
    private enum Phase { case connecting, handshaking, open, closed }
    /// What a TLS operation is blocked on (OpenSSL may need to read in order to write, or the
    /// reverse, mid-handshake and for post-handshake messages).
    private enum TLSWait { case none, read, write }

    public let loop: EventLoop
    private var descriptor: Int32
    private var phase: Phase
    private var ssl: OpaquePointer?
    /// The client side of a TLS connection still to start once TCP connects.
    private var pendingClientTLS: (context: TLSClientContext, serverName: String)?
    private var handshakeWait: TLSWait = .none
    private var tlsContext: AnyObject?
    /// True for an outbound connection (its handshake is bounded by the connect timeout).
    private var isClientSide = false
    /// A TLS read that needs the socket writable / a TLS write that needs it readable.
    private var readWaitsForWrite = false
    private var writeWaitsForRead = false

    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    /// Read timeouts are kept lazily, as nginx and HAProxy keep theirs: the read event carries
    /// no timeout, so neither its activations (libevent re-schedules a persistent event's
    /// timeout on each) nor the owner's re-arms (two or three per proxied request) touch
    /// libevent's timer heap. `readTimer` is due at or before the deadline; when it fires
    /// early (reads came in, or the timeout was set again later) it is scheduled for what is
    /// left. Made on first need; let go when it fires with no timeout in force.
    private var readTimer: OpaquePointer?
    /// When `readTimer` is due; nil while it is not pending.
    private var readTimerDue: NanoTime?
    /// The read timeout in force, in nanoseconds (nil: none), and when its period began: the
    /// arm or re-arm, or the read event's last activation.
    private var readTimeoutNanos: UInt64?
    private var readPeriodStart = NanoTime.zero
    private var readArmed = false
    private var writeArmed = false
    /// Parked (`park`) with the read event raised ahead of the loop's other events, in the
    /// loop turn `parkedTurn` (truncated: an equal value only costs a kernel check).
    private var parkedAhead = false
    private var parkedTurn: UInt32 = 0
    /// Reads requested by the owner (`enableReading`). The read event may also be armed for
    /// TLS's own needs while this is false.
    public private(set) var isReading = false
    private var readTimeout: Duration?
    private var writeTimeout: Duration?
    /// Output is waiting for the socket to become writable.
    private var awaitingWritable = false

    /// Made on first use, and given back while empty once a receiver takes the reads or
    /// the owner says the connection is quiet (`releaseIdleBuffers`): a held event stream
    /// keeps neither on either side (2 x 144 B, and 48 B for the output watch, per side).
    private var inputBuffer: OpaquePointer?
    private var outputBuffer: OpaquePointer?
    private var outputWatch: OpaquePointer?
    private var lowWatermark = 0
    private var maxReadSize = 16 * 1024
    private var flushQueued = false
    /// Set whenever bytes enter the output buffer, cleared once it is seen empty: lets a
    /// gathered write check for queued output without touching the evbuffer (cold memory on a
    /// stream that has been quiet for a second). May be true while empty, never the reverse.
    private var outputQueued = false

    /// Unowned, not weak: a weak reference gives the delegate a side table, which moves every
    /// reference count on it (a client or upstream connection, touched many times per request)
    /// to the runtime's slow path. A delegate owns its connection and clears this in its
    /// deinit, so the connection never calls one that is gone (an access after that would trap
    /// rather than read freed memory).
    public unowned var delegate: ConnectionDelegate?
    /// Unowned(unsafe): loaded on every read of a live stream. The receiver holds this
    /// connection and clears itself (`setReceiver(nil)`, or `close()`) before it goes.
    private unowned(unsafe) var receiver: ConnectionReceiver?

    /// Wraps an accepted socket (plain).
    public convenience init(loop: EventLoop, fd: Int32) {
        self.init(loop: loop, fd: fd, phase: .open)
    }

    /// Wraps an accepted socket and starts a TLS server handshake on it. The handshake runs
    /// as reads are enabled; the owner then sees plaintext only. nil if OpenSSL fails (the
    /// socket is closed).
    public convenience init?(loop: EventLoop, fd: Int32, tls: TLSServerContext) {
        guard let ssl = tls.makeSession(fd: fd) else { Glibc.close(fd); return nil }
        self.init(loop: loop, fd: fd, phase: .handshaking)
        self.ssl = ssl
        // The context's SNI callback refers to it: it must outlive this handshake, even
        // across a reload that replaces it.
        tlsContext = tls
        handshakeWait = .read
        armRead()
    }

    /// Starts a TLS server handshake on an open plain connection whose first bytes were
    /// something else (a PROXY protocol header, read and drained by the owner): whatever is
    /// still in `input` is the start of the client's handshake and goes to TLS first. False
    /// (nothing changed) if the connection is not plain and open or OpenSSL fails.
    public func startServerTLS(_ context: TLSServerContext) -> Bool {
        guard phase == .open, ssl == nil, !isClientSide, let session = SSL_new(context.contexts[0]) else { return false }
        let pending = inputCount
        let bio = sg_prefixed_socket_bio(descriptor, pending > 0 ? evbuffer_pullup(inputBuffer, pending) : nil, pending)
        guard let bio else { SSL_free(session); return false }
        if pending > 0 { evbuffer_drain(inputBuffer, pending) }
        SSL_set_bio(session, bio, bio)
        SSL_set_accept_state(session)
        ssl = session
        tlsContext = context
        phase = .handshaking
        handshakeWait = .read
        disarmRead()
        continueHandshake()
        return true
    }

    private init(loop: EventLoop, fd: Int32, phase: Phase) {
        self.loop = loop
        descriptor = fd
        self.phase = phase
        Connection.setNoDelay(fd)
        readEvent = event_new(loop.base, fd, Int16(EV_READ | EV_PERSIST), { _, what, arg in
            Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue().onReadEvent(what)
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The input buffer, made if there is none.
    private var inputStorage: OpaquePointer {
        if let inputBuffer { return inputBuffer }
        let made = evbuffer_new()!
        inputBuffer = made
        return made
    }

    /// The output buffer, made if there is none, with the watch that queues a flush whenever
    /// bytes enter it.
    private var outputStorage: OpaquePointer {
        if let outputBuffer { return outputBuffer }
        let made = evbuffer_new()!
        outputBuffer = made
        outputWatch = evbuffer_add_cb(made, { _, info, ctx in
            guard let info, info.pointee.n_added > 0 else { return }
            let c = Unmanaged<Connection>.fromOpaque(ctx!).takeUnretainedValue()
            c.outputQueued = true
            c.scheduleFlush()
        }, Unmanaged.passUnretained(self).toOpaque())
        return made
    }

    /// Frees the input and output buffers that are empty (they are made again on next use).
    /// For a connection about to stay quiet a long time, e.g. a client holding an event
    /// stream once its response head is out. Views (`input`, `output`) taken before are
    /// invalid afterwards: call it where no caller up the stack holds one (a flush callback).
    public func releaseIdleBuffers() {
        // Nor a read timer with no timeout in force (one would otherwise wait for its old due
        // time before letting go).
        if readTimeoutNanos == nil { freeReadTimer() }
        if let inputBuffer, evbuffer_get_length(inputBuffer) == 0 {
            evbuffer_free(inputBuffer)
            self.inputBuffer = nil
        }
        if let outputBuffer, evbuffer_get_length(outputBuffer) == 0 {
            if let outputWatch { evbuffer_remove_cb_entry(outputBuffer, outputWatch); self.outputWatch = nil }
            evbuffer_free(outputBuffer)
            self.outputBuffer = nil
            outputQueued = false
        }
    }

    /// Starts a non-blocking connect (and then a TLS handshake, with `tls`, sending and
    /// verifying `serverName`). The delegate hears `.connected`, `.error(errno)`,
    /// `.tlsFailure` or `.writeTimeout` (nothing within `timeout`). Output written before
    /// that is sent once connected.
    public static func connect(loop: EventLoop, to address: SocketAddress, timeout: Duration?,
                               tls: TLSClientContext? = nil, serverName: String? = nil) -> Connection? {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        return connect(loop: loop, socket: fd, to: address, timeout: timeout, tls: tls, serverName: serverName)
    }

    /// `connect` on a socket the caller made (and perhaps bound); takes ownership of it.
    public static func connect(loop: EventLoop, socket fd: Int32, to address: SocketAddress, timeout: Duration?,
                        tls: TLSClientContext? = nil, serverName: String? = nil) -> Connection? {
        let rc = address.withSockaddr { sa, len in Glibc.connect(fd, sa, len) }
        if rc != 0 && errno != EINPROGRESS {
            let e = errno
            Glibc.close(fd)
            errno = e
            return nil
        }
        let c = Connection(loop: loop, fd: fd, phase: .connecting)
        c.isClientSide = true
        if let tls { c.pendingClientTLS = (tls, serverName ?? address.ipString) }
        c.writeTimeout = timeout
        // Writable = connected (or failed): SO_ERROR says which.
        c.armWrite()
        return c
    }

    deinit {
        free()
        if let inputBuffer { evbuffer_free(inputBuffer) }
        if let outputBuffer { evbuffer_free(outputBuffer) }
    }

    // MARK: - Events

    private func onReadEvent(_ what: Int16) {
        // Any activation starts the timeout's period again (libevent's rule for a persistent
        // event with a timeout, kept here without its timer-heap update).
        if readTimeoutNanos != nil { readPeriodStart = EventLoop.now() }
        switch phase {
        case .open:
            if let ssl {
                if writeWaitsForRead { writeWaitsForRead = false; flushNow() }
                if readWaitsForWrite { return }
                tlsRead(ssl)
            } else {
                plainRead()
            }
        case .handshaking:
            continueHandshake()
        case .connecting, .closed:
            return
        }
    }

    private func onWriteEvent(_ what: Int16) {
        if Int32(what) & EV_TIMEOUT != 0 {
            // As for reads: withdrawn after it fell due (the connect timeout is this one too).
            guard writeTimeout != nil else {
                if let writeEvent { event_remove_timer(writeEvent) }
                return
            }
            disarmWrite()
            report(.writeTimeout)
            return
        }
        switch phase {
        case .connecting:
            finishConnect()
        case .handshaking:
            continueHandshake()
        case .open:
            if readWaitsForWrite, let ssl {
                readWaitsForWrite = false
                if !awaitingWritable { disarmWrite() }
                if isReading || receiver != nil { armRead() }
                tlsRead(ssl)
                if phase != .open { return }
            }
            if awaitingWritable { flushNow() }
        case .closed:
            return
        }
    }

    /// Starts a read-timeout period of `timeout` now, or ends the one in force (nil). The
    /// timer is only scheduled again when the new deadline is earlier than the pending one.
    private func startReadPeriod(_ timeout: Duration?) {
        guard let timeout else {
            readTimeoutNanos = nil
            return
        }
        let nanos = loop.nanoseconds(for: timeout)
        let now = EventLoop.now()
        readTimeoutNanos = nanos
        readPeriodStart = now
        let deadline = NanoTime(nanoseconds: now.nanoseconds &+ nanos)
        if let due = readTimerDue, due <= deadline { return }
        scheduleReadTimer(at: deadline, now: now)
    }

    private func scheduleReadTimer(at deadline: NanoTime, now: NanoTime) {
        if readTimer == nil {
            readTimer = event_new(loop.base, -1, 0, { _, _, arg in
                Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue().onReadTimer()
            }, Unmanaged.passUnretained(self).toOpaque())
        }
        guard let readTimer else { return }
        let left = deadline.nanoseconds(since: now)
        var tv = timeval(tv_sec: Int(left / 1_000_000_000), tv_usec: Int((left % 1_000_000_000) / 1000))
        event_add(readTimer, &tv)
        readTimerDue = deadline
    }

    /// Slack for a timer that libevent runs a little ahead of this clock (it schedules from
    /// the time it cached at the start of the loop turn).
    private static let readTimerSlack: UInt64 = 1_000_000

    private func onReadTimer() {
        readTimerDue = nil
        guard readArmed, let nanos = readTimeoutNanos else {
            // Withdrawn, or not reading: nothing is due. The timer is made again when needed.
            freeReadTimer()
            return
        }
        let now = EventLoop.now()
        let deadline = NanoTime(nanoseconds: readPeriodStart.nanoseconds &+ nanos)
        if now.nanoseconds &+ Connection.readTimerSlack >= deadline.nanoseconds {
            readTimedOut()
        } else {
            scheduleReadTimer(at: deadline, now: now)
        }
    }

    private func freeReadTimer() {
        if let readTimer { event_free(readTimer); self.readTimer = nil }
        readTimerDue = nil
    }

    private func readTimedOut() {
        // Like a bufferevent: a read timeout stops reading; the owner decides what next.
        isReading = false
        disarmRead()
        if phase == .handshaking {
            disarmWrite()
            // An outbound handshake is part of connecting: bounded by the connect timeout.
            report(isClientSide ? .writeTimeout : .readTimeout)
        } else {
            report(.readTimeout)
        }
    }

    /// The read event's timeout: the owner's while it reads; mid-handshake, the owner's read
    /// timeout on an accepted connection (its header timeout) and the connect timeout on an
    /// outbound one; none while armed only for TLS's own needs.
    private var currentReadTimeout: Duration? {
        if phase == .handshaking { return isClientSide ? writeTimeout : readTimeout }
        return isReading ? readTimeout : nil
    }

    private func report(_ event: ConnectionEvent) {
        delegate?.connection(self, event: event)
    }

    // MARK: - Connect and handshake

    private func finishConnect() {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { err = errno }
        if err == EINPROGRESS || err == EALREADY { return }
        if err != 0 {
            disarmWrite()
            report(.error(err))
            return
        }
        if let (context, name) = pendingClientTLS {
            pendingClientTLS = nil
            guard let session = context.makeSession(fd: descriptor, serverName: name) else {
                disarmWrite()
                report(.tlsFailure("cannot start TLS: \(TLS.lastError())"))
                return
            }
            ssl = session
            phase = .handshaking
            continueHandshake()
            return
        }
        becameOpen()
    }

    private func continueHandshake() {
        guard let ssl else { return }
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            handshakeWait = .none
            becameOpen()
            return
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ:
            handshakeWait = .read
        case SSL_ERROR_WANT_WRITE:
            handshakeWait = .write
        case SSL_ERROR_SYSCALL:
            let e = errno
            failHandshake(e != 0 ? .error(e) : .endOfStream)
            return
        case SSL_ERROR_ZERO_RETURN:
            failHandshake(.endOfStream)
            return
        default:
            failHandshake(.tlsFailure(TLS.failureReason(ssl)))
            return
        }
        // Watch only what the handshake waits for: the other side is likely ready already and
        // would wake the loop for nothing, every turn.
        if handshakeWait == .read {
            disarmWrite()
            armRead()
        } else {
            disarmRead()
            armWrite()
        }
    }

    private func failHandshake(_ event: ConnectionEvent) {
        disarmRead()
        disarmWrite()
        isReading = false
        report(event)
    }

    private func becameOpen() {
        phase = .open
        let client = isClientSide
        if client {
            disarmRead()
            // The connect's write event is rarely needed again (writes go straight to the
            // kernel; it is made anew if output ever waits): an upstream held by a long stream
            // need not keep it.
            disarmWrite()
            if let writeEvent { event_free(writeEvent); self.writeEvent = nil }
        }
        // Reads the owner asked for before the handshake finished, with the owner's timeout
        // (replacing the handshake's, or removing it when the owner has none).
        if isReading {
            if readArmed { startReadPeriod(currentReadTimeout) } else { armRead() }
        } else if readArmed {
            disarmRead()
        }
        if outputCount > 0 { outputQueued = true; scheduleFlush() }
        if client {
            report(.connected)
        } else if isReading, let ssl, SSL_has_pending(ssl) != 0 {
            // Application data that came with the client's last handshake flight.
            tlsRead(ssl)
        }
    }

    // MARK: - Reading

    private func plainRead() {
        let scratch = loop.readScratch
        if let receiver {
            let n = recv(descriptor, scratch.baseAddress, scratch.count, 0)
            if n > 0 {
                // Nothing of self is touched after a callback: it may have closed and released us.
                receiver.connection(self, received: UnsafeRawBufferPointer(start: scratch.baseAddress, count: n))
                return
            }
            readFailed(n)
            return
        }
        let n = recv(descriptor, scratch.baseAddress, min(scratch.count, maxReadSize), 0)
        if n > 0 {
            evbuffer_add(inputStorage, scratch.baseAddress, n)
            delegate?.connectionReadable(self)
            return
        }
        readFailed(n)
    }

    /// recv returned 0 (EOF) or an error.
    private func readFailed(_ n: Int) {
        if n < 0 {
            let e = errno
            if e == EAGAIN || e == EWOULDBLOCK || e == EINTR { return }
            isReading = false
            disarmRead()
            report(.error(e))
            return
        }
        isReading = false
        disarmRead()
        report(.endOfStream)
    }

    /// Reads TLS records until OpenSSL needs the socket again. Read-ahead lets OpenSSL pull
    /// several records per syscall; those it holds are invisible to the poller, so they are
    /// delivered here (a few per turn, then the event is made active again to stay fair).
    private func tlsRead(_ ssl: OpaquePointer) {
        let me = self  // callbacks below may drop the owner's last reference
        let scratch = loop.readScratch
        var rounds = 0
        while me.phase == .open, me.isReading || me.receiver != nil {
            ERR_clear_error()
            let cap = me.receiver != nil ? scratch.count : min(scratch.count, maxReadSize)
            let n = SSL_read(ssl, scratch.baseAddress, Int32(cap))
            if n > 0 {
                let bytes = UnsafeRawBufferPointer(start: scratch.baseAddress, count: Int(n))
                if let receiver = me.receiver {
                    receiver.connection(me, received: bytes)
                } else {
                    evbuffer_add(me.inputStorage, scratch.baseAddress, Int(n))
                    me.delegate?.connectionReadable(me)
                }
                guard me.phase == .open, me.ssl == ssl, SSL_has_pending(ssl) != 0 else { return }
                rounds += 1
                if rounds == 4 {
                    if let readEvent = me.readEvent { event_active(readEvent, EV_READ, 0) }
                    return
                }
                continue
            }
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_READ:
                return
            case SSL_ERROR_WANT_WRITE:
                me.readWaitsForWrite = true
                me.disarmRead()
                me.armWrite()
                return
            case SSL_ERROR_ZERO_RETURN:
                me.readFailed(0)
            case SSL_ERROR_SYSCALL:
                let e = errno
                if e == 0 { me.readFailed(0) } else {
                    me.isReading = false
                    me.disarmRead()
                    me.report(.error(e))
                }
            default:
                me.isReading = false
                me.disarmRead()
                me.report(.tlsFailure(TLS.lastError()))
            }
            return
        }
    }

    /// Hands every read to `receiver` instead of `input` (nil: back to `input`). The switch
    /// changes only where bytes go: the socket, TLS state and buffers stay as they are.
    /// `input` should be empty when a receiver is set (its bytes would be read after later ones).
    /// Setting one also gives back the empty buffers, at the next flush (not now: a caller up
    /// the stack may still hold a view of them), so a held stream's upstream keeps none.
    public func setReceiver(_ receiver: ConnectionReceiver?) {
        self.receiver = receiver
        if receiver != nil { scheduleFlush() }
    }

    // MARK: - Writing

    private func scheduleFlush() {
        guard !flushQueued, phase == .open else { return }
        flushQueued = true
        loop.enqueueFlush(self)
    }

    /// Called by the loop once the current batch of callbacks is done, and when the socket
    /// becomes writable: hands queued output to the kernel (through TLS when on).
    func flushNow() {
        flushQueued = false
        guard phase == .open else { return }
        guard let outputBuffer, evbuffer_get_length(outputBuffer) > 0 else {
            outputQueued = false
            if awaitingWritable { awaitingWritable = false; if !readWaitsForWrite { disarmWrite() } }
            // (See `setReceiver`.)
            if receiver != nil { releaseIdleBuffers() }
            return
        }
        if let ssl {
            guard !writeWaitsForRead else { return }
            switch tlsWriteOut(ssl) {
            case .done: break
            case .blocked: return
            case .failed(let errorNumber): writeFailed(errorNumber); return
            }
        } else {
            let n = evbuffer_write(outputBuffer, descriptor)
            if n < 0 {
                let e = errno
                if e != EAGAIN && e != EWOULDBLOCK && e != EINTR { writeFailed(e); return }
            }
        }
        let left = evbuffer_get_length(outputBuffer)
        if left > 0 {
            awaitingWritable = true
            armWrite()
            if left > lowWatermark { return }
        } else {
            outputQueued = false
            if awaitingWritable { awaitingWritable = false; if !readWaitsForWrite { disarmWrite() } }
        }
        delegate?.connectionWritable(self)
    }

    private enum TLSWriteResult { case done, blocked, failed(Int32?) }

    /// Encrypts and sends `output` a record at a time until it is empty or the socket (or
    /// TLS) blocks, arming the event that unblocks it.
    @discardableResult
    private func tlsWriteOut(_ ssl: OpaquePointer) -> TLSWriteResult {
        guard let outputBuffer else { return .done }
        while true {
            let pending = evbuffer_get_length(outputBuffer)
            if pending == 0 { return .done }
            // One record's worth at a time (the most plaintext a TLS record carries).
            let n = min(pending, 16 * 1024)
            ERR_clear_error()
            let rc = SSL_write(ssl, evbuffer_pullup(outputBuffer, n), Int32(n))
            if rc > 0 { evbuffer_drain(outputBuffer, Int(rc)); continue }
            switch SSL_get_error(ssl, rc) {
            case SSL_ERROR_WANT_WRITE:
                awaitingWritable = true
                armWrite()
                return .blocked
            case SSL_ERROR_WANT_READ:
                writeWaitsForRead = true
                armRead()
                return .blocked
            case SSL_ERROR_SYSCALL:
                let e = errno
                return .failed(e == 0 ? EPIPE : e)
            default:
                return .failed(nil)
            }
        }
    }

    private func writeFailed(_ errorNumber: Int32?) {
        awaitingWritable = false
        disarmWrite()
        isReading = false
        disarmRead()
        if let errorNumber { report(.error(errorNumber)) } else { report(.tlsFailure(TLS.lastError())) }
    }

    /// Writes the list's pieces in order, then resets it. With nothing queued they go straight
    /// to the kernel: one gathered `sendmsg`, uncopied, on a plain socket; one copy and one
    /// `SSL_write` (one record) with TLS. Whatever the kernel does not take is queued in
    /// `output`, whose usual flush, watermarks and timeouts then apply.
    /// Returns the bytes now queued in the output buffer (0: everything went to the kernel).
    @discardableResult
    public func write(_ list: GatherList) -> Int {
        precondition(!list.hasOpenChunk, "a gather list is written with a chunk still open")
        defer { list.reset() }
        guard phase != .closed, list.count > 0 else { return outputCount }
        var written = 0
        // (A queued flush implies queued output: the flag covers both.)
        if ssl == nil && phase == .open && !outputQueued {
            // sendmsg rather than writev: a socket call skips the file layer's bookkeeping.
            var message = msghdr()
            message.msg_iov = list.vectors
            message.msg_iovlen = list.count
            let n = sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL))
            if n == list.byteCount { return 0 }
            // On an error everything is queued: the flush meets the same error and reports it
            // through the event callback, like any other write failure.
            if n > 0 { written = n }
        }
        let queue = outputStorage
        for i in 0..<list.count {
            let v = list.vectors[i]
            if written >= v.iov_len { written -= v.iov_len; continue }
            evbuffer_add(queue, v.iov_base + written, v.iov_len - written)
            written = 0
        }
        return queuedAfterWrite(queue)
    }

    /// `write(_: GatherList)` for one contiguous piece (a head): one `send` when nothing is
    /// queued, instead of a copy into `output` and a `writev` at the end of the loop turn.
    /// Returns the bytes now queued in the output buffer (0: everything went to the kernel).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard phase != .closed, bytes.count > 0, let start = bytes.baseAddress else { return outputCount }
        var written = 0
        if ssl == nil && phase == .open && !outputQueued {
            let n = send(descriptor, start, bytes.count, Int32(MSG_NOSIGNAL))
            if n == bytes.count { return 0 }
            if n > 0 { written = n }
        }
        let queue = outputStorage
        evbuffer_add(queue, start + written, bytes.count - written)
        return queuedAfterWrite(queue)
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { write($0) } }

    /// What a write left in `queue` (already holding the unsent part): with TLS, encrypted now
    /// rather than at the end of the turn (one record per relayed batch). Failures are left to
    /// the flush already queued, which reports them to the owner outside the caller's callback.
    private func queuedAfterWrite(_ queue: OpaquePointer) -> Int {
        if let ssl, phase == .open, !awaitingWritable, !writeWaitsForRead {
            tlsWriteOut(ssl)
        }
        return evbuffer_get_length(queue)
    }

    // MARK: - Interest

    private func armRead() {
        guard let readEvent, !readArmed else { return }
        readArmed = true
        event_add(readEvent, nil)
        startReadPeriod(currentReadTimeout)
    }

    private func disarmRead() {
        guard let readEvent, readArmed else { return }
        readArmed = false
        event_del(readEvent)
        // The timer stays (lazily): it finds nothing in force when it fires.
        readTimeoutNanos = nil
    }

    private func armWrite() {
        guard !writeArmed, phase != .closed else { return }
        if writeEvent == nil {
            // Made on first need: most connections never wait for writability.
            writeEvent = event_new(loop.base, descriptor, Int16(EV_WRITE | EV_PERSIST), { _, what, arg in
                Unmanaged<Connection>.fromOpaque(arg!).takeUnretainedValue().onWriteEvent(what)
            }, Unmanaged.passUnretained(self).toOpaque())
        }
        guard let writeEvent else { return }
        writeArmed = true
        add(writeEvent, timeout: writeTimeout)
    }

    private func disarmWrite() {
        guard let writeEvent, writeArmed else { return }
        writeArmed = false
        event_del(writeEvent)
    }

    /// A pending write event's new timeout. `event_add(ev, NULL)` leaves a timeout already scheduled
    /// in place, so nil removes it explicitly: otherwise a stream's upstream kept the head's
    /// `read_timeout` (aborting a quiet stream after it, and re-scheduling that timer on every
    /// read of the persistent event).
    private func rearm(_ event: OpaquePointer, timeout: Duration?) {
        if timeout != nil { add(event, timeout: timeout) } else { event_remove_timer(event) }
    }

    private func add(_ event: OpaquePointer, timeout: Duration?) {
        if let timeout {
            var tv = loop.timeval(for: timeout)
            event_add(event, &tv)
        } else {
            event_add(event, nil)
        }
    }

    // MARK: - Owner controls

    public var isOpen: Bool { phase != .closed }

    // MARK: - Parked (idle in a pool)

    /// Parks an idle connection kept for reuse (a pooled upstream). Reading stays on, so a
    /// byte, EOF or error from the peer reaches the delegate, which closes it; and its read
    /// event is raised ahead of every other event of the loop, so whatever a poll finds on it
    /// is handled before any other callback of that turn can take the connection back.
    public func park(idleTimeout: Duration?) {
        setTimeouts(read: idleTimeout, write: nil)
        enableReading()
        parkedTurn = UInt32(truncatingIfNeeded: loop.turn)
        // Fails only while the event is active, i.e. already reported: it runs first anyway.
        parkedAhead = readEvent.map { event_priority_set($0, 0) == 0 } ?? false
    }

    /// Parked in the loop's current turn: `unpark` would have to ask the kernel.
    public var isParkedThisTurn: Bool { parkedTurn == UInt32(truncatingIfNeeded: loop.turn) }

    /// Takes a parked connection back: true when the peer has sent nothing since the last read
    /// (no bytes here, in TLS or in the kernel, no EOF, no error), false when it must be closed.
    /// Bytes after a complete response (a body sent for HEAD or 204, a forged response) would
    /// otherwise be read as the next request's response.
    ///
    /// Once the loop has polled since `park` (a later turn), anything that had arrived by that
    /// poll was reported ahead of this callback and the connection closed, so a plain socket
    /// needs no system call. Within the turn that parked it, and for TLS (whose session
    /// tickets arrive unasked and must be consumed, not counted), the kernel is asked.
    public func unpark() -> Bool {
        let ahead = parkedAhead
        parkedAhead = false
        if ahead, let readEvent, event_priority_set(readEvent, EventLoop.defaultPriority) != 0 {
            return false  // its read event is active: the peer spoke, in this very turn
        }
        guard phase == .open, inputCount == 0 else { return false }
        if ahead, ssl == nil, parkedTurn != UInt32(truncatingIfNeeded: loop.turn) { return true }
        loop.unparkKernelChecks &+= 1
        return kernelHasNothingToRead
    }

    /// `unpark`'s kernel check, for an open connection with nothing buffered here: no bytes in
    /// TLS or in the kernel, no EOF, no error (`MSG_PEEK`). A TLS peer's post-handshake
    /// messages (session tickets) are consumed, not counted.
    private var kernelHasNothingToRead: Bool {
        var byte: UInt8 = 0
        let n = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        let e = errno
        if let ssl {
            if SSL_has_pending(ssl) != 0 { return false }
            if n < 0 { return e == EAGAIN || e == EWOULDBLOCK }
            if n == 0 { return false }
            ERR_clear_error()
            let scratch = loop.readScratch
            let got = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
            return got <= 0 && SSL_get_error(ssl, got) == SSL_ERROR_WANT_READ
        }
        if n >= 0 { return false }  // data, or EOF
        return e == EAGAIN || e == EWOULDBLOCK
    }

    public var fd: Int32 { phase == .closed ? -1 : descriptor }

    /// True once TLS is on for this connection (handshake done or under way).
    public var isTLS: Bool { ssl != nil }

    /// The ALPN protocol agreed in the handshake ("http/1.1"), if any.
    public var negotiatedProtocol: String? {
        guard let ssl else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Views of the buffers, made here if they do not exist yet (see `releaseIdleBuffers`).
    public var input: EvBuffer { EvBuffer(inputStorage) }
    public var output: EvBuffer { EvBuffer(outputStorage) }

    /// Whether the lazy read timer exists now (tests check that it is let go when idle).
    var hasReadTimer: Bool { readTimer != nil }

    /// Whether either buffer exists now (tests check that quiet connections give them back).
    var holdsBuffers: Bool { inputBuffer != nil || outputBuffer != nil }

    public var outputCount: Int { if let outputBuffer { evbuffer_get_length(outputBuffer) } else { 0 } }
    public var inputCount: Int { if let inputBuffer { evbuffer_get_length(inputBuffer) } else { 0 } }

    public func enableReading() {
        guard !isReading, phase != .closed else { return }
        isReading = true
        // Mid-handshake the read event is the handshake's; it becomes the owner's once open.
        guard phase == .open else { return }
        armRead()
        if let ssl, SSL_has_pending(ssl) != 0, let readEvent {
            // Records already decrypted or read ahead: the poller will not report them.
            event_active(readEvent, EV_READ, 0)
        }
    }

    public func disableReading() {
        guard isReading else { return }
        isReading = false
        if phase == .open && !writeWaitsForRead { disarmRead() }
    }

    /// Read timeout: no bytes arrived for that long while reading. Write timeout: pending output
    /// made no progress for that long. nil disables.
    public func setTimeouts(read: Duration?, write: Duration?) {
        readTimeout = read
        writeTimeout = write
        if readArmed { startReadPeriod(currentReadTimeout) }
        if writeArmed, let writeEvent { rearm(writeEvent, timeout: write) }
    }

    /// The write callback fires when output drains to `low` bytes.
    public func setWriteLowWatermark(_ low: Int) { lowWatermark = low }

    /// Caps how much one read appends to `input` (bounds memory for a fast sender).
    public func setMaxReadSize(_ n: Int) { maxReadSize = max(1, n) }

    /// Sends FIN (after close_notify, with TLS) once the kernel has what was written; the
    /// socket stays open for reading (lingering close). Call with `output` drained.
    public func shutdownWrite() {
        guard phase == .open else { return }
        if let ssl { ERR_clear_error(); _ = SSL_shutdown(ssl) }
        _ = Glibc.shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Closes the socket now; unsent output is discarded. A TLS peer gets close_notify when
    /// the socket takes it without blocking.
    public func close() {
        if let ssl, phase == .open, outputCount == 0 {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
        }
        free()
    }

    /// Aborts with RST instead of FIN, so the peer sees an error rather than a clean end.
    public func abort() {
        guard phase != .closed else { return }
        var lg = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        free()
    }

    private func free() {
        guard phase != .closed else { return }
        phase = .closed
        receiver = nil
        isReading = false
        if let readEvent { event_free(readEvent); self.readEvent = nil }
        if let writeEvent { event_free(writeEvent); self.writeEvent = nil }
        freeReadTimer()
        readTimeoutNanos = nil
        readArmed = false
        writeArmed = false
        if let outputWatch, let outputBuffer { evbuffer_remove_cb_entry(outputBuffer, outputWatch); self.outputWatch = nil }
        if let ssl { SSL_free(ssl); self.ssl = nil }
        pendingClientTLS = nil
        tlsContext = nil
        Glibc.close(descriptor)
        descriptor = -1
        // Whatever was buffered is of no use now; give the memory back at once. (The buffers
        // themselves stay until deinit: an owner may still hold a view.)
        if let inputBuffer { evbuffer_drain(inputBuffer, evbuffer_get_length(inputBuffer)) }
        if let outputBuffer { evbuffer_drain(outputBuffer, evbuffer_get_length(outputBuffer)) }
    }

    public var peerAddress: SocketAddress? { phase == .closed ? nil : SocketAddress.peer(of: descriptor) }

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
