// Fuzz target: ResponseHeadParser. Input: [flags][split lo][split hi] response bytes; flags
// bit 0: small limits, bit 1: the request was HEAD.
// Invariants: no crash; whole, split and byte-by-byte feeding agree; consumed <= input;
// errors are 502; a bodiless status or HEAD has no framing; until-close framing is never
// kept alive; re-serialising the head parses back to the same head.
import FuzzSupport
import StreamgateCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    let limits = fuzzLimits(small: flags & 1 == 1)
    let method = flags & 2 == 2 ? "HEAD" : "GET"
    let at = input.uint16()
    let bytes = input.rest

    func run(_ pieces: [ArraySlice<UInt8>], limits: HTTPLimits) -> HeadOutcome<HTTPResponseHead> {
        var parser = ResponseHeadParser(limits: limits, requestMethod: method)
        return feedPieces(pieces) { (p) throws(HTTPError) in try parser.feed(p) }
    }
    let whole = run([bytes[...]], limits: limits)
    let cut = run(split(bytes, at: at % (bytes.count + 1)), limits: limits)
    fuzzCheck(whole == cut, "split at \(at % (bytes.count + 1)): \(cut) vs whole \(whole) for \(fuzzDescribe(bytes))")
    if bytes.count <= 300 {
        let each = run(bytewise(bytes), limits: limits)
        fuzzCheck(whole == each, "byte by byte: \(each) vs whole \(whole) for \(fuzzDescribe(bytes))")
    }
    if case .failed(let status) = whole { fuzzCheck(status == 502, "status \(status)") }

    guard case .head(let head, let consumed) = whole else { return 0 }
    fuzzCheck(consumed > 0 && consumed <= bytes.count, "consumed \(consumed) of \(bytes.count)")
    fuzzCheck((100...599).contains(head.status), "status \(head.status)")
    if method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304 {
        fuzzCheck(head.framing == .none, "framing \(head.framing) for a bodiless response")
    }
    if head.framing == .untilClose { fuzzCheck(!head.keepAlive, "until-close response kept alive") }

    let out = HTTPSerializer.responseHead(version: head.version, status: head.status, reason: head.reason, headers: head.headers)
    let reparsed = run([out[...]], limits: HTTPLimits())
    if case .head(let h, _) = reparsed {
        fuzzCheck(h == head, "re-serialised head differs: \(h) vs \(head)")
    } else if limits == HTTPLimits() {
        fuzzCheck(false, "re-serialised head refused: \(reparsed) for \(head)")
    }
    return 0
}
