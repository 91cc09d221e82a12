import StreamgateCore
import StreamgateIO
import StreamgateTools
#if canImport(Glibc)
import Glibc
#endif

/// Starts the workers (one loop per thread), waits for the duration, prints the report.
enum BenchRunner {
    static func run(_ options: BenchOptions) -> Never {
        let limit = ProcessLimits.raiseOpenFileLimit()
        if limit > 0 && options.streams + 64 > limit && !options.json {
            ToolsProcess.printError("warning: \(options.streams) connections but only \(limit) file descriptors")
        }
        let target: SocketAddress
        var sources: [SocketAddress] = []
        do {
            target = try SocketAddress.resolve(options.hostPort)
            for ip in options.sourceIPs { sources.append(try SocketAddress.resolve("\(ip):0")) }
        } catch {
            ToolsProcess.printError("error: \(error)")
            exit(2)
        }
        var tls: TLSClientContext?
        if options.tls {
            do {
                tls = try TLSClientContext(caFile: options.caFile, verifyPeer: !options.insecure)
            } catch {
                ToolsProcess.printError("error: \(error)")
                exit(2)
            }
        }
        let tlsContext = tls
        let progress = BenchProgress()
        let start = EventLoop.now().nanoseconds
        let wallStart = ToolsProcess.wallMicroseconds()
        let sourceList = sources
        var threads: [ToolsThread] = []
        for i in 1..<options.threads {
            threads.append(ToolsThread.start {
                let w = BenchWorker(index: i, options: options, target: target, sources: sourceList, progress: progress, startNanos: start, tls: tlsContext)
                progress.submit(w.run())
            })
        }
        let first = BenchWorker(index: 0, options: options, target: target, sources: sourceList, progress: progress, startNanos: start, tls: tlsContext)
        progress.submit(first.run())
        for t in threads { t.join() }
        let merged = progress.merged()
        var elapsed = Double(merged.measuredNanos) / 1e9
        if elapsed <= 0 { elapsed = Double(ToolsProcess.wallMicroseconds() - wallStart) / 1e6 }
        BenchReport(options: options, result: merged, elapsedSeconds: elapsed).print()
        exit(0)
    }

    static func exit(_ code: Int32) -> Never { Glibc.exit(code) }
}
