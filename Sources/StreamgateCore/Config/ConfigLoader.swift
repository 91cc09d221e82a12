/// Entry point for configuration: parse, validate, and report every problem at once.
///
/// Pure: it takes the file's contents and the name to put in `file:line:col:` messages;
/// reading the file is the caller's business (`ConfigFile` in the gateway module).
public enum ConfigLoader {
    /// Validates `bytes` as UTF-8, then as `load(text:)` does.
    public static func load(bytes: [UInt8], fileName: String, environment: [String: String]) -> Result<GatewayConfig, ConfigErrors> {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(ConfigErrors(errors: [ConfigError(file: fileName, position: SourcePosition(line: 0, column: 0),
                                                              message: "file is not valid UTF-8")]))
        }
        return load(text: text, fileName: fileName, environment: environment)
    }

    /// Parses and validates `text`; `fileName` is only used in error messages.
    /// - Parameter environment: values for `${VAR}` substitution (the process environment in
    ///   production; injected in tests).
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
}
