import Synchronization
import StreamgateIO

/// A worker as seen from other threads: reachable only by running code on its loop.
final class WorkerSlot: @unchecked Sendable {
    // Written once on the worker's thread before `start()` returns (ordered by the ready
    // mutex); afterwards `worker` is touched only on that thread, through `onLoop`.
    var handle: EventLoopHandle?
    var worker: Worker?
    var failure: String?
    let published = Mutex(WorkerMetrics())

    func onLoop(_ body: @escaping (Worker) -> Void) {
        nonisolated(unsafe) let body = body
        handle?.execute { [self] in
            if let worker { body(worker) }
        }
    }
}

final class AdminBox: @unchecked Sendable { var server: AdminServer? }
