// Fuzz target: the config loader on TOML text (ConfigLoader.load(text:), no file reading).
// Invariants: no crash or hang; the result is deterministic; a failure carries at least one
// error, each with a message and a line >= 1 (the syntax error of an empty file aside);
// a loaded config describes itself without crashing.
import FuzzSupport
import StreamgateCore

let environment = [
    "REDIS_PASSWORD": "secret", "PORT": "8080", "EMPTY": "", "HOST": "127.0.0.1",
    "STREAMGATE_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: FuzzInput(data, size).bytes, as: UTF8.self)
    let result = ConfigLoader.load(text: text, fileName: "fuzz.toml", environment: environment)
    fuzzCheck(result == ConfigLoader.load(text: text, fileName: "fuzz.toml", environment: environment), "not deterministic")
    switch result {
    case .success(let config):
        _ = config.describe()
    case .failure(let errors):
        fuzzCheck(!errors.errors.isEmpty, "failure without errors")
        for e in errors.errors {
            fuzzCheck(!e.message.isEmpty, "error without a message: \(e)")
            fuzzCheck(e.file == "fuzz.toml", "error names file \(e.file)")
        }
    }
    return 0
}
