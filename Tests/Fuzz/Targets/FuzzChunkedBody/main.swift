// Fuzz target: BodyDecoder with chunked framing, driven like the relay drives it (the bytes
// stay in the caller's buffer; each step forwards or drops a prefix).
// Input: [flags][split lo][split hi] body bytes; flags bit 0: small limits, bit 1: response.
// Invariants: no crash; steps stay inside the buffer (data/skip 1...available, skip within
// the prefix); whole, split and byte-by-byte arrival give the same payload, bytes used and
// outcome; and the outcome matches a plain one-pass reference decoder of RFC 9112 §7.1 as
// the decoder implements it (CRLF only, <= 16 hex digits, bounded extensions and trailers).
import FuzzSupport
import StreamgateCore

enum Outcome: Equatable {
    case ended(payload: [UInt8], used: Int)
    case needMore(payload: [UInt8])
    case failed(status: Int)
}

func decode(_ pieces: [ArraySlice<UInt8>], limits: HTTPLimits, isRequest: Bool) -> Outcome {
    var decoder = BodyDecoder(framing: .chunked, limits: limits, isRequest: isRequest)
    var buffer: [UInt8] = []
    var payload: [UInt8] = []
    var used = 0
    for piece in pieces {
        buffer += piece
        while true {
            let step: BodyStep
            switch withBytes(buffer[...], { (p) throws(HTTPError) in
                try decoder.next(prefix: UnsafeRawBufferPointer(rebasing: p[..<min(p.count, 4096)]), available: p.count)
            }) {
            case .success(let s): step = s
            case .failure(let e):
                fuzzCheck(e.status == (isRequest ? 400 : 502), "status \(e.status)")
                return .failed(status: e.status)
            }
            switch step {
            case .data(let n):
                fuzzCheck(n >= 1 && n <= buffer.count, "data(\(n)) with \(buffer.count) available")
                payload += buffer[..<n]
                buffer.removeFirst(n); used += n
            case .skip(let n):
                fuzzCheck(n >= 1 && n <= min(buffer.count, 4096), "skip(\(n)) with \(buffer.count) available")
                buffer.removeFirst(n); used += n
            case .end(let n):
                fuzzCheck(n >= 0 && n <= min(buffer.count, 4096), "end(skip: \(n)) with \(buffer.count) available")
                fuzzCheck(decoder.isComplete, "ended but not complete")
                return .ended(payload: payload, used: used + n)
            case .needMore:
                fuzzCheck(buffer.isEmpty || !decoder.isComplete, "needMore when complete")
            }
            if step == .needMore { break }
        }
    }
    fuzzCheck(!decoder.isComplete, "complete without an end step")
    return .needMore(payload: payload)
}

/// The same grammar in one pass over the whole input.
func reference(_ b: [UInt8], limits: HTTPLimits) -> Outcome {
    func isHex(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || (0x61...0x66).contains(c | 0x20) }
    func hex(_ c: UInt8) -> UInt64 { c <= 0x39 ? UInt64(c - 0x30) : UInt64((c | 0x20) - 0x61 + 10) }
    func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    func isToken(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || "!#$%&'*+-.^_`|~".utf8.contains(c)
    }
    func isFieldContent(_ c: UInt8) -> Bool { c == 0x09 || (0x20...0x7E).contains(c) || c >= 0x80 }
    var payload: [UInt8] = []
    var i = 0
    let n = b.count
    func incomplete() -> Outcome { .needMore(payload: payload) }
    while true {
        // chunk-size
        var value: UInt64 = 0
        var digits = 0
        while i < n && isHex(b[i]) {
            if digits == 16 { return .failed(status: 0) }
            value = value << 4 | hex(b[i]); digits += 1; i += 1
        }
        if i == n { return incomplete() }
        if digits == 0 { return .failed(status: 0) }
        // chunk-ext: OWS* (";" field-content*)?, at most maxChunkExtensionBytes
        if b[i] != 0x0D {
            var extBytes = 0
            var sawSemicolon = false
            while i < n && b[i] != 0x0D {
                let c = b[i]
                if !isFieldContent(c) { return .failed(status: 0) }
                if extBytes >= limits.maxChunkExtensionBytes { return .failed(status: 0) }
                if !sawSemicolon && !isOWS(c) && c != UInt8(ascii: ";") { return .failed(status: 0) }
                if c == UInt8(ascii: ";") { sawSemicolon = true }
                extBytes += 1; i += 1
            }
            if i == n { return incomplete() }
            if !sawSemicolon { return .failed(status: 0) }
        }
        i += 1  // CR
        if i == n { return incomplete() }
        if b[i] != 0x0A { return .failed(status: 0) }
        i += 1
        if value == 0 { break }
        let available = UInt64(n - i)
        if available < value { payload += b[i...]; return incomplete() }
        payload += b[i..<(i + Int(value))]
        i += Int(value)
        if i == n { return incomplete() }
        if b[i] != 0x0D { return .failed(status: 0) }
        i += 1
        if i == n { return incomplete() }
        if b[i] != 0x0A { return .failed(status: 0) }
        i += 1
    }
    // trailer-section: *( token ":" field-content* CRLF ) CRLF, all bytes <= maxHeaderBytes
    let trailerStart = i
    func overLimit(_ end: Int) -> Bool { end - trailerStart > limits.maxHeaderBytes }
    while true {
        if i == n { return incomplete() }
        if b[i] == 0x0D {
            if overLimit(i + 1) { return .failed(status: 0) }
            i += 1
            if i == n { return incomplete() }
            if b[i] != 0x0A { return .failed(status: 0) }
            if overLimit(i + 1) { return .failed(status: 0) }
            return .ended(payload: payload, used: i + 1)
        }
        if !isToken(b[i]) { return .failed(status: 0) }
        while i < n && isToken(b[i]) { if overLimit(i + 1) { return .failed(status: 0) }; i += 1 }
        if i == n { return incomplete() }
        if b[i] != UInt8(ascii: ":") { return .failed(status: 0) }
        if overLimit(i + 1) { return .failed(status: 0) }
        i += 1
        while i < n && b[i] != 0x0D {
            if !isFieldContent(b[i]) { return .failed(status: 0) }
            if overLimit(i + 1) { return .failed(status: 0) }
            i += 1
        }
        if i == n { return incomplete() }
        if overLimit(i + 1) { return .failed(status: 0) }
        i += 1
        if i == n { return incomplete() }
        if b[i] != 0x0A { return .failed(status: 0) }
        if overLimit(i + 1) { return .failed(status: 0) }
        i += 1
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let flags = input.byte()
    let limits = fuzzLimits(small: flags & 1 == 1)
    let isRequest = flags & 2 == 0
    let at = input.uint16()
    let bytes = input.rest

    let whole = decode([bytes[...]], limits: limits, isRequest: isRequest)
    let cut = decode(split(bytes, at: at % (bytes.count + 1)), limits: limits, isRequest: isRequest)
    fuzzCheck(whole == cut, "split at \(at % (bytes.count + 1)): \(cut) vs whole \(whole) for \(fuzzDescribe(bytes))")
    if bytes.count <= 300 {
        let each = decode(bytewise(bytes), limits: limits, isRequest: isRequest)
        fuzzCheck(whole == each, "byte by byte: \(each) vs whole \(whole) for \(fuzzDescribe(bytes))")
    }
    if case .ended(let payload, let used) = whole {
        fuzzCheck(used <= bytes.count && payload.count < used, "used \(used), payload \(payload.count), input \(bytes.count)")
    }

    var expected = reference(bytes, limits: limits)
    if case .failed = expected { expected = .failed(status: isRequest ? 400 : 502) }
    fuzzCheck(whole == expected, "decoder \(whole) vs reference \(expected) for \(fuzzDescribe(bytes))")
    return 0
}
