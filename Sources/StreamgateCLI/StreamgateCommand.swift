import ArgumentParser
import Streamgate
import StreamgateCore

@main
struct StreamgateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "streamgate",
        abstract: "A config-driven reverse proxy for long-lived Server-Sent Events streams.",
        subcommands: [Run.self, Check.self, Reload.self, Session.self, Version.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .shortAndLong, help: "Path to the TOML route table.")
    var config: String?

    @Argument(help: "Path to the TOML route table (same as --config).")
    var path: String?

    var resolved: String { config ?? path ?? "gateway.toml" }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway until SIGTERM/SIGINT (then drain and exit 0).")
    @OptionGroup var options: ConfigOption

    func run() throws {
        let code = GatewayRunner.run(configPath: options.resolved)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate a config and print the resolved route table; exit 1 listing every error as file:line:col: message.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        let code = GatewayRunner.check(configPath: options.resolved)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running gateway to reload its config (SIGHUP to the pid in its pid_file).",
        discussion: "The gateway validates the file completely first: an invalid one is logged with every error and the running config stays in force. Give --pid-file, or the config whose [gateway] pid_file names it.")
    @Option(name: .long, help: "The gateway's pid file.")
    var pidFile: String?
    @OptionGroup var options: ConfigOption

    func run() throws {
        var path = pidFile
        if path == nil {
            guard let fromConfig = GatewayRunner.pidFile(configPath: options.resolved) else {
                throw ValidationError("no --pid-file, and \(options.resolved) sets no [gateway] pid_file")
            }
            path = fromConfig
        }
        let code = GatewayRunner.reload(pidFile: path!)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("streamgate \(StreamgateVersion.string)") }
}
