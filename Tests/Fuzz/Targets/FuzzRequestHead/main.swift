// Fuzz target: RequestHeadParser. Input: [limits byte][split lo][split hi] request bytes.
// Invariants: no crash; fed whole, split at the chosen point, or byte by byte (short inputs)
// the outcome (head, bytes consumed, error status) is the same; consumed <= input; a head's
// path is `*` (OPTIONS) or a canonical path (PathCanonicalizer fixed point, flagged when
// ambiguous);
// re-serialising the head with HTTPSerializer parses back to the same head.
import FuzzSupport
import StreamgateCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let limits = fuzzLimits(small: input.byte() & 1 == 1)
    let at = input.uint16()
    let bytes = input.rest

    func run(_ pieces: [ArraySlice<UInt8>]) -> HeadOutcome<HTTPRequestHead> {
        var parser = RequestHeadParser(limits: limits)
        return feedPieces(pieces) { (p) throws(HTTPError) in try parser.feed(p) }
    }
    let whole = run([bytes[...]])
    let cut = run(split(bytes, at: at % (bytes.count + 1)))
    fuzzCheck(whole == cut, "split at \(at % (bytes.count + 1)): \(cut) vs whole \(whole) for \(fuzzDescribe(bytes))")
    if bytes.count <= 300 {
        let each = run(bytewise(bytes))
        fuzzCheck(whole == each, "byte by byte: \(each) vs whole \(whole) for \(fuzzDescribe(bytes))")
    }

    guard case .head(let head, let consumed) = whole else { return 0 }
    fuzzCheck(consumed > 0 && consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
    fuzzCheck(run([bytes[..<consumed]]) == whole, "the consumed prefix alone parses differently")
    if head.path != "*" {
        checkCanonicalPath(head.path, context: "request \(fuzzDescribe(bytes))")
        let again = try? PathCanonicalizer.canonicalize(head.path)
        fuzzCheck(again?.hasAmbiguousSeparator != true || head.hasAmbiguousSeparator, "ambiguous path \(head.path) not flagged")
    } else {
        fuzzCheck(head.method == "OPTIONS", "* path for \(head.method)")
    }
    fuzzCheck(head.rawPath != head.path, "rawPath equal to path")
    fuzzCheck(!head.path.utf8.contains(UInt8(ascii: "?")) && !head.path.utf8.contains(UInt8(ascii: "#")), "? or # in path \(head.path)")
    fuzzCheck(head.version == .http1_0 || head.version == .http1_1, "version \(head.version)")

    // The gateway re-serialises every head: what it writes must read back the same.
    var parser = RequestHeadParser(limits: HTTPLimits())
    let reparsed = feedPieces([HTTPSerializer.requestHead(method: head.method, target: head.target, version: head.version, headers: head.headers)[...]]) {
        (p) throws(HTTPError) in try parser.feed(p)
    }
    if case .head(let h, _) = reparsed {
        fuzzCheck(h == head, "re-serialised head differs: \(h) vs \(head)")
    } else if limits == HTTPLimits() {
        fuzzCheck(false, "re-serialised head refused: \(reparsed) for \(head)")
    }
    return 0
}
