#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StreamgateCore

/// Reading configuration (and pid) files: the part of loading a config that touches the file
/// system, kept out of `StreamgateCore`, whose `ConfigLoader` only sees the bytes.
public enum ConfigFile {
    /// Why a file could not be read; `message` is ready to follow `path: `.
    public struct ReadFailure: Error, Sendable { public var message: String }

    /// A config file read and validated, and its bytes (a reload logs their digest).
    public struct Loaded: Sendable {
        public var config: GatewayConfig
        public var bytes: [UInt8]
    }

    /// Reads and validates the file at `path`; every problem comes back as a `ConfigError`
    /// (an unreadable file as one at line 0).
    public static func load(path: String, environment: [String: String]) -> Result<Loaded, ConfigErrors> {
        switch read(path) {
        case .failure(let failure):
            return .failure(ConfigErrors(errors: [ConfigError(file: path, position: SourcePosition(line: 0, column: 0), message: failure.message)]))
        case .success(let bytes):
            return ConfigLoader.load(bytes: bytes, fileName: path, environment: environment).map { Loaded(config: $0, bytes: bytes) }
        }
    }

    /// The whole file. A config file is small: past 16 MiB it clearly is not one.
    public static func read(_ path: String) -> Result<[UInt8], ReadFailure> {
        guard let file = fopen(path, "rb") else {
            return .failure(ReadFailure(message: "cannot open: \(String(cString: strerror(errno)))"))
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
            if n < chunk.count {
                if ferror(file) != 0 { return .failure(ReadFailure(message: "cannot read: \(String(cString: strerror(errno)))")) }
                break
            }
            if bytes.count > 16 << 20 { return .failure(ReadFailure(message: "file is larger than 16MiB")) }
        }
        return .success(bytes)
    }
}
