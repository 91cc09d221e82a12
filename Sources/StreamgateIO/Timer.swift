internal import CLibevent
import StreamgateCore

/// A one-shot timer on a loop, re-armable. Owned by one object; freed with it.
public final class LoopTimer {
    private var event: OpaquePointer?
    private let action: () -> Void
    public private(set) var isArmed = false

    /// `action` runs on the loop thread. Capture the owner weakly or unowned: the owner holds the timer.
    public init(loop: EventLoop, _ action: @escaping () -> Void) {
        self.action = action
        event = event_new(loop.base, -1, 0, { _, _, arg in
            let t = Unmanaged<LoopTimer>.fromOpaque(arg!).takeUnretainedValue()
            t.isArmed = false
            t.action()
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit { if let event { event_free(event) } }

    /// (Re)arms the timer to fire once after `delay`.
    public func schedule(after delay: Duration) {
        let ns = delay.nanosecondsClamped
        var tv = timeval(tv_sec: Int(ns / 1_000_000_000), tv_usec: Int((ns % 1_000_000_000) / 1000))
        event_add(event, &tv)
        isArmed = true
    }

    /// Arms for an absolute monotonic instant.
    public func schedule(at deadline: NanoTime) {
        schedule(after: deadline.since(EventLoop.now()))
    }

    public func cancel() {
        if isArmed { event_del(event); isArmed = false }
    }
}

/// A signal watcher (SIGTERM, SIGINT, SIGHUP...) on one loop.
public final class SignalWatcher {
    private var event: OpaquePointer?
    private let action: () -> Void

    public init(loop: EventLoop, signal: Int32, _ action: @escaping () -> Void) {
        self.action = action
        event = event_new(loop.base, signal, Int16(EV_SIGNAL | EV_PERSIST), { _, _, arg in
            Unmanaged<SignalWatcher>.fromOpaque(arg!).takeUnretainedValue().action()
        }, Unmanaged.passUnretained(self).toOpaque())
        event_add(event, nil)
    }

    deinit { if let event { event_del(event); event_free(event) } }
}
