// Fuzz target: PathCanonicalizer on arbitrary paths (a `/` is put in front when missing).
// Invariants: no crash; the canonical path starts with `/`, has no `//`, `.` or `..` segment,
// only uppercase `%XX` and no encoded unreserved byte, and is a fixed point; the ambiguity
// flag is exactly "holds `\`, `%2F` or `%5C`", and the canonical path is flagged only if
// the raw one was.
import FuzzSupport
import StreamgateCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    var path = input.bytes
    if path.first != UInt8(ascii: "/") { path.insert(UInt8(ascii: "/"), at: 0) }

    let result: PathCanonicalizer.Result
    switch withBytes(path[...], { (p) throws(HTTPError) in try PathCanonicalizer.canonicalize(p) }) {
    case .success(let r): result = r
    case .failure(let error):
        fuzzCheck(error.status == 400, "status \(error.status) for \(fuzzDescribe(path))")
        return 0
    }
    // Invariants are stated on text; the request line only ever passes visible ASCII.
    guard let text = String(validating: path, as: UTF8.self) else { return 0 }

    var ambiguous = path.contains(UInt8(ascii: "\\"))
    for i in path.indices where path[i] == UInt8(ascii: "%") && i + 2 < path.count {
        let hi = path[i + 1], lo = path[i + 2] | 0x20
        if (hi == UInt8(ascii: "2") && lo == UInt8(ascii: "f")) || (hi == UInt8(ascii: "5") && lo == UInt8(ascii: "c")) { ambiguous = true }
    }
    fuzzCheck(result.hasAmbiguousSeparator == ambiguous, "ambiguity flag \(result.hasAmbiguousSeparator) for \(fuzzDescribe(path))")

    let canonical = result.canonical ?? text
    fuzzCheck(result.canonical != text, "canonical given but equal to the input: \(text)")
    checkCanonicalPath(canonical, context: "from \(fuzzDescribe(path))")
    if let again = try? PathCanonicalizer.canonicalize(canonical) {
        // A separator inside a segment that `..` removed may leave with it, never the reverse.
        fuzzCheck(!again.hasAmbiguousSeparator || ambiguous, "ambiguity gained by canonicalising \(fuzzDescribe(path))")
    }
    return 0
}
