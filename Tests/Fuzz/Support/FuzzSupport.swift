// Helpers shared by the libFuzzer targets in Tests/Fuzz/Targets (see scripts/fuzz.sh).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StreamgateCore

/// Stops the run when an invariant does not hold: libFuzzer reports the abort as a crash and
/// saves the input that caused it.
public func fuzzCheck(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
    file: StaticString = #fileID, line: UInt = #line
) {
    if condition() { return }
    let text = Array("fuzz invariant failed at \(file):\(line): \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The fuzzer's input: a few leading control bytes (split points, limits) and the message.
/// Missing control bytes read as 0, so every input is usable.
public struct FuzzInput {
    public private(set) var bytes: [UInt8]
    private var position = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// A little-endian 16-bit choice.
    public mutating func uint16() -> Int { Int(byte()) | Int(byte()) << 8 }

    /// Everything after the control bytes taken so far.
    public var rest: [UInt8] { Array(bytes[min(position, bytes.count)...]) }
}

/// Default limits, or (when `small`) tiny ones so fuzzing reaches every limit check quickly.
public func fuzzLimits(small: Bool) -> HTTPLimits {
    small
        ? HTTPLimits(maxHeaderBytes: 256, maxHeaderCount: 4, maxRequestLineBytes: 96, maxMethodBytes: 8, maxChunkExtensionBytes: 16)
        : HTTPLimits()
}

/// Printable form of bytes for failure messages.
public func fuzzDescribe(_ bytes: some Collection<UInt8>) -> String {
    var s = ""
    for b in bytes.prefix(512) {
        if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\\") { s.unicodeScalars.append(Unicode.Scalar(b)) }
        else { s += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
    }
    return bytes.count > 512 ? s + "...(\(bytes.count) bytes)" : s
}

/// What an incremental head parser did with a sequence of pieces fed one after another:
/// bytes consumed in total, and the head or the error.
public enum HeadOutcome<Head: Equatable>: Equatable {
    case incomplete(consumed: Int)
    case head(Head, consumed: Int)
    case failed(status: Int)
}

/// Feeds `pieces` in order to a parser through `feed` (which returns consumed + head or
/// throws), stopping at the first head or error; checks each call's consumed count.
public func feedPieces<Head: Equatable>(
    _ pieces: [ArraySlice<UInt8>],
    _ feed: (UnsafeRawBufferPointer) throws(HTTPError) -> (consumed: Int, head: Head?)
) -> HeadOutcome<Head> {
    var total = 0
    for piece in pieces {
        switch withBytes(piece, feed) {
        case .failure(let error):
            fuzzCheck((400...599).contains(error.status), "error status \(error.status) out of range")
            return .failed(status: error.status)
        case .success(let r):
            fuzzCheck(r.consumed >= 0 && r.consumed <= piece.count, "consumed \(r.consumed) of a \(piece.count)-byte piece")
            total += r.consumed
            if let head = r.head { return .head(head, consumed: total) }
            fuzzCheck(r.consumed == piece.count, "no head but only \(r.consumed) of \(piece.count) bytes consumed")
        }
    }
    return .incomplete(consumed: total)
}

/// `bytes` cut at `at` (clamped), as two pieces.
public func split(_ bytes: [UInt8], at: Int) -> [ArraySlice<UInt8>] {
    let k = min(max(at, 0), bytes.count)
    return [bytes[..<k], bytes[k...]]
}

/// `bytes` as one-byte pieces.
public func bytewise(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
    bytes.indices.map { bytes[$0..<($0 + 1)] }
}

/// Path invariants of a canonical path (`PathCanonicalizer`'s output or a parsed head's
/// `path`): starts with `/`, no empty, `.` or `..` segment (but a final empty one, the
/// trailing slash), `%XX` with uppercase hex only and never an encoded unreserved character,
/// and canonicalising it again changes nothing.
public func checkCanonicalPath(_ path: String, context: @autoclosure () -> String) {
    let b = Array(path.utf8)
    fuzzCheck(b.first == UInt8(ascii: "/"), "canonical path does not start with /: \(path) (\(context()))")
    let segments = b.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
    for (k, s) in segments.enumerated() {
        fuzzCheck(!s.isEmpty || k == segments.count - 1, "empty segment (//) in \(path) (\(context()))")
        fuzzCheck(!s.elementsEqual(".".utf8) && !s.elementsEqual("..".utf8), "dot segment in \(path) (\(context()))")
    }
    var i = 0
    while i < b.count {
        if b[i] == UInt8(ascii: "%") {
            fuzzCheck(i + 2 < b.count, "truncated %XX in \(path) (\(context()))")
            let hex = b[(i + 1)...(i + 2)]
            fuzzCheck(hex.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) },
                      "%XX not uppercase hex in \(path) (\(context()))")
            let octet = hex.reduce(0) { $0 << 4 | ($1 <= 0x39 ? Int($1 - 0x30) : Int($1 - 0x41 + 10)) }
            let c = UInt8(octet)
            let unreserved = (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
            fuzzCheck(!unreserved, "percent-encoded unreserved byte in \(path) (\(context()))")
            i += 3
        } else {
            i += 1
        }
    }
    do {
        let again = try PathCanonicalizer.canonicalize(path)
        fuzzCheck(again.canonical == nil, "not idempotent: \(path) -> \(again.canonical ?? "") (\(context()))")
    } catch {
        fuzzCheck(false, "canonical path \(path) refused on a second pass: \(error) (\(context()))")
    }
}

/// Runs `body` on the bytes of `array`, keeping the typed `HTTPError` (the stdlib's
/// `withUnsafeBytes` rethrows untyped).
public func withBytes<R>(
    _ array: ArraySlice<UInt8>, _ body: (UnsafeRawBufferPointer) throws(HTTPError) -> R
) -> Result<R, HTTPError> {
    array.withUnsafeBytes { p in
        do throws(HTTPError) { return .success(try body(p)) } catch { return .failure(error) }
    }
}
