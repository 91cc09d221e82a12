import ArgumentParser
import Streamgate
import StreamgateCore
#if canImport(Glibc)
import Glibc
#endif

/// `-c/--config` only: the positional argument of `revoke` is the token, not a config path.
struct SessionConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path to the gateway config whose [redis] and [sessions] tables are used.")
    var config: String = "gateway.toml"
}

struct Session: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or revoke sessions in the Redis named by a gateway config.",
        discussion: "Records are written as the config's [sessions] table says the gateway reads them: key template, hash or JSON, field names.",
        subcommands: [Create.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a session and print its token (and only the token) on stdout.",
            discussion: """
                TOKEN=$(streamgate session create -c gateway.toml --tenant acme --user u-42 --scope events:read)
                A random 256-bit token is generated unless --token is given. --ttl sets both the record's expires_at and the key's expiry; 0 means never. Details go to stderr; the token is never written anywhere but stdout.
                """)
        @OptionGroup var options: SessionConfigOption
        @Option(help: "Tenant id.") var tenant: String
        @Option(help: "User id.") var user: String
        @Option(name: .customLong("scope"), help: "A scope the session grants (repeatable).") var scopes: [String] = []
        @Option(name: .customLong("origin"), help: "An allowed browser origin, for routes with cors_origins = \"session\" (repeatable).")
        var origins: [String] = []
        @Option(help: "Lifetime: \"1h\", \"30m\", \"7d\"; 0 = never expires.") var ttl: String = "24h"
        @Option(help: "session (header or query token) or api_key (headers only).") var kind: String = "session"
        @Option(help: "Use this token instead of a random one (\"-\" reads it from stdin, keeping it out of the process list).")
        var token: String?

        func validate() throws {
            guard let d = DurationSyntax.parse(ttl) else { throw ValidationError("--ttl: expected a duration like \"1h\", \"30m\" or 0") }
            guard d == .zero || d >= .seconds(1) else { throw ValidationError("--ttl: at least 1s (or 0 for no expiry)") }
            guard SessionKind(rawValue: kind) != nil else { throw ValidationError("--kind: session or api_key") }
        }

        func run() throws {
            let ttlValue = DurationSyntax.parse(ttl)!
            let code = SessionAdmin.create(configPath: options.config, SessionAdmin.CreateOptions(
                token: try token.map(readIfDash), user: user, tenant: tenant, scopes: scopes, origins: origins,
                kind: SessionKind(rawValue: kind)!, ttl: ttlValue == .zero ? nil : ttlValue))
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a session and publish its revocation: gateways drop it from their caches and end its open streams.",
            discussion: "Give the token (\"-\" reads it from stdin), or --digest with its SHA-256 when the key template has no {token}.")
        @OptionGroup var options: SessionConfigOption
        @Argument(help: "The token to revoke (\"-\": read it from stdin).") var token: String?
        @Option(help: "The hex SHA-256 of the token, instead of the token.") var digest: String?

        func validate() throws {
            guard (token == nil) != (digest == nil) else { throw ValidationError("give either the token or --digest") }
        }

        func run() throws {
            let code = SessionAdmin.revoke(configPath: options.config, token: try token.map(readIfDash), digestHex: digest)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

/// `-` means: read one line from stdin (a token in argv is visible to every local user).
private func readIfDash(_ value: String) throws -> String {
    guard value == "-" else { return value }
    guard var line = readLine(strippingNewline: true) else { throw ValidationError("expected a token on stdin") }
    if line.hasSuffix("\r") { line.removeLast() }
    return line
}
