import StreamgateIO

/// Command-line options of `streamgate-demo-upstream`.
struct DemoOptions: Sendable {
    var listen = "127.0.0.1:9000"
    var threads = 1
    /// A streaming client that lets this much output pile up is cut loose (bounded memory).
    var maxStreamBacklog = 16 << 20

    static let usage = """
    usage: streamgate-demo-upstream [--listen HOST:PORT] [--threads N]
      A test origin: /plain, /events, /echo, /slow, /close, /big (see Sources/DemoUpstream).
      Port 0 picks a free port; the first stdout line is always `listening on HOST:PORT`.
    """

    /// Parses `arguments` (without the program name); nil plus a message on bad input.
    static func parse(_ arguments: [String]) -> Result<DemoOptions, ToolsUsageError> {
        var o = DemoOptions()
        var it = arguments.makeIterator()
        while let arg = it.next() {
            switch arg {
            case "--listen":
                guard let v = it.next() else { return .failure(.init("--listen needs HOST:PORT")) }
                o.listen = v
            case "--threads":
                guard let v = it.next(), let n = Int(v), n >= 1, n <= 256 else {
                    return .failure(.init("--threads needs a number 1...256"))
                }
                o.threads = n
            case "-h", "--help":
                return .failure(.init(""))
            default:
                return .failure(.init("unknown argument \(arg)"))
            }
        }
        return .success(o)
    }
}

/// A command-line mistake; an empty message means "just print usage".
struct ToolsUsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
