import ArgumentParser
import StreamgateIO

/// What `streamgate-demo-upstream` runs with (handed to every worker thread).
struct DemoOptions: Sendable {
    var listen = "127.0.0.1:9000"
    var threads = 1
    /// A streaming client that lets this much output pile up is cut loose (bounded memory).
    var maxStreamBacklog = 16 << 20
    /// Request headers that `/v1/tenants/{tenant}/events` reports in each event: the
    /// identity headers a gateway injects (`[identity]`; these are its defaults).
    var identityHeaders = DemoOptions.defaultIdentityHeaders

    static let defaultIdentityHeaders = ["X-Auth-User-Id", "X-Auth-Tenant-Id", "X-Auth-Scopes", "X-Auth-Expires-At"]
}

/// The command line of `streamgate-demo-upstream`.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamgate-demo-upstream",
        abstract: "A test origin: /plain, /events, /v1/tenants/{tenant}/events, /echo, /slow, /big, /close, /status.",
        discussion: "Port 0 picks a free port; the first stdout line is always `listening on HOST:PORT`.")

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port")) var listen = "127.0.0.1:9000"
    @Option(help: "Event-loop threads, 1...256 (one SO_REUSEPORT listener each).") var threads = 1
    @Option(name: .customLong("identity-header"),
            help: ArgumentHelp("A request header that /v1/tenants/{tenant}/events shows in its events (repeatable; default: the gateway's identity headers).",
                               valueName: "name"))
    var identityHeaders: [String] = []

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads needs a number 1...256") }
        for name in identityHeaders where name.isEmpty || !name.utf8.allSatisfy(Self.isTokenByte) {
            throw ValidationError("--identity-header: \"\(name)\" is not a header name")
        }
    }

    func run() throws {
        var o = DemoOptions()
        o.listen = listen
        o.threads = threads
        if !identityHeaders.isEmpty { o.identityHeaders = identityHeaders }
        DemoServer.run(o)
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }
}
