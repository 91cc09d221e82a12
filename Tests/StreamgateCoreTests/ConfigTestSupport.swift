import Testing
@testable import StreamgateCore

/// A minimal valid config; tests append what they exercise.
let minimalConfig = """
[[listeners]]
address = "127.0.0.1:8080"

[upstreams.demo]
targets = ["127.0.0.1:9000"]

[[routes]]
name = "plain"
path = "/plain"
upstream = "demo"

"""

func loadConfig(_ text: String, env: [String: String] = [:]) -> Result<GatewayConfig, ConfigErrors> {
    ConfigLoader.load(text: text, fileName: "t.toml", environment: env)
}

/// The config, or a test failure listing the errors.
func validConfig(_ text: String, env: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> GatewayConfig? {
    switch loadConfig(text, env: env) {
    case .success(let config): return config
    case .failure(let errors):
        Issue.record("unexpected config errors:\n\(errors)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Error lines (`t.toml:L:C: message`), or [] when the config loaded.
func configErrors(_ text: String, env: [String: String] = [:]) -> [String] {
    switch loadConfig(text, env: env) {
    case .success: return []
    case .failure(let errors): return errors.errors.map(\.description)
    }
}
