#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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

/// The repository's top level, found from this file's path.
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3) // Tests/StreamgateCoreTests/<this file>
    return parts.joined(separator: "/")
}()

/// A file of the repository as text: the loader itself takes text, never a path.
func repositoryFile(_ relativePath: String) throws -> String {
    let path = repositoryRoot + "/" + relativePath
    guard let file = fopen(path, "rb") else { throw TestFileError(path: path) }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        bytes += chunk[0..<n]
        if n < chunk.count { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

struct TestFileError: Error { var path: String }

/// Loads a repository file through `ConfigLoader`, named by its relative path in messages.
func loadRepositoryConfig(_ relativePath: String, env: [String: String] = [:]) throws -> Result<GatewayConfig, ConfigErrors> {
    ConfigLoader.load(text: try repositoryFile(relativePath), fileName: relativePath, environment: env)
}
