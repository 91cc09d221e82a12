import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real nginx for one test, on a free loopback port picked at run time: an upstream that
/// resolves paths itself (decodes `%XX`, `%2F` included, merges `//`, removes dot segments),
/// the way most origins behind a gateway do. Each location answers
/// `loc=NAME uri=$uri req=$request_uri`, so a test sees which location nginx chose, the path it
/// resolved, and the exact request target the gateway forwarded.
///
/// Everything nginx writes (pid, error log, temp directories) goes to a private temporary
/// directory, removed again on `stop()`. nginx runs in the foreground as a single process
/// (`daemon off; master_process off;`), started with `ChildProcess.spawn` (signal mask reset)
/// and killed on `stop()`/deinit. A missing nginx is an error, never a skip: the path tests are
/// security tests, and scripts/install-deps.sh installs it.
final class NginxServer {
    /// Locations served, each answering `loc=<name> ...`; `/` is named `root`.
    static let locations: [(prefix: String, name: String)] = [
        ("/admin/", "admin"), ("/public/", "public"), ("/v1/tenants/", "tenants"), ("/raw/", "raw"), ("/", "root"),
    ]

    static let candidatePaths = ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx"]

    let port: UInt16
    let directory: String
    private var pid: pid_t?

    /// `server`: the body of nginx's `server { }` block for a port (its `listen` included), for
    /// tests that need nginx as something else than the path oracle (a TLS origin); ready
    /// once the port accepts a TCP connection. nil: the locations above.
    init(server: ((UInt16) -> String)? = nil) throws {
        guard let binary = Self.candidatePaths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw TestError("nginx is not installed (looked for \(Self.candidatePaths.joined(separator: ", "))): "
                + "the path canonicalisation tests need it as an upstream; run scripts/install-deps.sh")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sg-nginx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Another process may take the port between our probe and nginx's bind: try again.
        var lastLog = ""
        for _ in 0..<8 {
            let candidate = try freeLoopbackPort()
            try Self.config(directory: directory, port: candidate, server: server?(candidate))
                .write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
            switch try Self.launch(binary: binary, directory: directory, port: candidate, custom: server != nil) {
            case .running(let child):
                port = candidate
                pid = child
                return
            case .exited(let log):
                lastLog = log
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw TestError("nginx did not start after 8 ports; error log: \(lastLog.suffix(500))")
    }

    deinit { stop() }

    func stop() {
        if let p = pid {
            pid = nil
            ChildProcess.killAndReap(p)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func config(directory d: String, port: UInt16, server: String? = nil) -> String {
        let locations = server ?? ("        listen 127.0.0.1:\(port);\n" + Self.locations.map { loc in
            "        location \(loc.prefix) { return 200 \"loc=\(loc.name) uri=$uri req=$request_uri\\n\"; }"
        }.joined(separator: "\n"))
        return """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                client_body_temp_path \(d)/client_body;
                proxy_temp_path \(d)/proxy;
                fastcgi_temp_path \(d)/fastcgi;
                uwsgi_temp_path \(d)/uwsgi;
                scgi_temp_path \(d)/scgi;
                default_type text/plain;
                server {
            \(locations)
                }
            }
            """
    }

    private enum Launch { case running(pid_t), exited(String) }

    /// Starts nginx; `.exited` when it stopped on its own (typically: the port was taken).
    /// Ready = answers a request (bounded polling: nginx signals nothing else).
    private static func launch(binary: String, directory: String, port: UInt16, custom: Bool) throws -> Launch {
        // `-e`: the error log before the config is read (the default is under /var/log).
        let child = try ChildProcess.spawn(binary, ["-p", directory + "/", "-c", directory + "/nginx.conf",
                                                    "-e", directory + "/error.log"])
        for _ in 0..<1000 {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                return .exited((try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? "")
            }
            if custom ? (try? RawClient(port: port, timeout: 1)) != nil : Self.servesLocations(port: port) { return .running(child) }
            usleep(5_000)
        }
        ChildProcess.killAndReap(child)
        throw TestError("nginx on port \(port) never accepted a connection")
    }

    /// Accepts a connection and answers as our config does (not some other process that took
    /// the port between the probe and nginx's bind).
    private static func servesLocations(port: UInt16) -> Bool {
        guard let c = try? RawClient(port: port, timeout: 1) else { return false }
        c.send("GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        guard let r = try? c.readResponse() else { return false }
        return r.status == 200 && r.bodyText.hasPrefix("loc=root ")
    }
}
