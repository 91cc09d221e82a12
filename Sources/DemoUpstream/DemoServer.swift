import StreamgateIO
import StreamgateTools
#if canImport(Glibc)
import Glibc
#endif

/// Starts one `DemoWorker` (event loop + SO_REUSEPORT listener) per thread.
enum DemoServer {
    static func run(_ options: DemoOptions) -> Never {
        ProcessLimits.raiseOpenFileLimit()
        let address: SocketAddress
        do {
            address = try SocketAddress.resolve(options.listen)
        } catch {
            ToolsProcess.printError("error: \(error)")
            exit(2)
        }
        // The first worker binds (perhaps port 0); the others join the port it got.
        let first: DemoWorker
        do {
            first = try DemoWorker(address: address, options: options)
        } catch {
            ToolsProcess.printError("error: \(error)")
            exit(1)
        }
        let bound = first.listener.localAddress
        let boundText = bound.description
        ToolsProcess.printFlushed("listening on \(boundText)")
        var threads: [ToolsThread] = []
        for _ in 1..<options.threads {
            threads.append(ToolsThread.start {
                do {
                    let address = try SocketAddress.resolve(boundText)
                    let worker = try DemoWorker(address: address, options: options)
                    worker.loop.run()
                } catch {
                    ToolsProcess.printError("error: worker: \(error)")
                    Glibc.exit(1)
                }
            })
        }
        first.loop.run()
        for t in threads { t.join() }
        exit(0)
    }

    static func exit(_ code: Int32) -> Never { Glibc.exit(code) }
}

/// One loop thread: its listener, its connections and its broadcast tickers.
final class DemoWorker {
    let loop: EventLoop
    let options: DemoOptions
    private(set) var listener: Listener!
    private var sessions: [ObjectIdentifier: DemoSession] = [:]
    private var hubs: [BroadcastKey: BroadcastHub] = [:]
    /// Reused for encoding so that emitting an event does not allocate.
    var scratch: [UInt8] = []
    var chunkScratch: [UInt8] = []

    init(address: SocketAddress, options: DemoOptions) throws {
        self.options = options
        loop = EventLoop()
        scratch.reserveCapacity(64 << 10)
        listener = try Listener(loop: loop, address: address) { [unowned self] fd in
            self.accept(fd)
        }
    }

    private func accept(_ fd: Int32) {
        let connection = Connection(loop: loop, fd: fd)
        let session = DemoSession(worker: self, connection: connection)
        sessions[ObjectIdentifier(session)] = session
        session.start()
    }

    func remove(_ session: DemoSession) {
        sessions.removeValue(forKey: ObjectIdentifier(session))
    }

    func hub(for key: BroadcastKey) -> BroadcastHub {
        if let h = hubs[key] { return h }
        let h = BroadcastHub(worker: self, key: key)
        hubs[key] = h
        return h
    }

    func removeHub(_ key: BroadcastKey) { hubs.removeValue(forKey: key) }
}
