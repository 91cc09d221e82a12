#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Entry point for configuration: read, parse, validate, and report every problem at once.
public enum ConfigLoader {
    /// Reads, parses and validates the file at `path`.
    /// - Parameter environment: values for `${VAR}` substitution (the process environment in
    ///   production; injected in tests).
    public static func load(path: String, environment: [String: String]) -> Result<GatewayConfig, ConfigErrors> {
        switch readFile(path) {
        case .success(let text):
            return load(text: text, fileName: path, environment: environment)
        case .failure(let failure):
            return .failure(ConfigErrors(errors: [ConfigError(file: path, position: SourcePosition(line: 0, column: 0), message: failure.message)]))
        }
    }

    /// Parses and validates `text`; `fileName` is only used in error messages.
    public static func load(text: String, fileName: String, environment: [String: String]) -> Result<GatewayConfig, ConfigErrors> {
        let root: TOMLTable
        do {
            root = try TOMLParser.parse(text)
        } catch {
            // The parser stops at the first syntax error: past it, positions mean nothing.
            return .failure(ConfigErrors(errors: [ConfigError(file: fileName, position: error.position, message: error.message)]))
        }
        return load(table: root, fileName: fileName, environment: environment)
    }

    /// Validates an already parsed document.
    public static func load(table: TOMLTable, fileName: String, environment: [String: String]) -> Result<GatewayConfig, ConfigErrors> {
        let diagnostics = ConfigDiagnostics(file: fileName)
        let decoder = ConfigDecoder(diagnostics: diagnostics, environment: environment)
        if let config = decoder.decode(table), diagnostics.errors.isEmpty {
            return .success(config)
        }
        return .failure(ConfigErrors(errors: diagnostics.sortedErrors))
    }

    /// Whole file as UTF-8; the failure is a message ready for `ConfigError`.
    public struct ReadFailure: Error { public var message: String }

    public static func readFile(_ path: String) -> Result<String, ReadFailure> {
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
            // A config file is small; refuse something that clearly is not one.
            if bytes.count > 16 << 20 { return .failure(ReadFailure(message: "file is larger than 16MiB")) }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ReadFailure(message: "file is not valid UTF-8"))
        }
        return .success(text)
    }
}
