// Fuzz target: ProxyProtocolHeader (PROXY protocol v1 and v2). Input: [split lo][split hi]
// then the bytes a connection starts with.
// Invariants: no crash; `needMore` only below `maxLength` bytes (the bound is real); a parsed
// header lies within the input, v1 ends in CRLF, and parsing exactly its bytes gives the same
// header while every shorter prefix needs more; an invalid prefix stays invalid (same reason)
// whatever follows, and a prefix that decides decides like the whole; parsed addresses
// written back as a v1 line and as a v2 header parse to the same endpoints.
import FuzzSupport
import StreamgateCore

typealias Header = ProxyProtocolHeader

func v1Line(_ h: Header) -> [UInt8]? {
    guard let s = h.source, let d = h.destination, s.address.family == d.address.family else { return nil }
    let proto = s.address.family == .ipv4 ? "TCP4" : "TCP6"
    return Array("PROXY \(proto) \(s.address) \(d.address) \(s.port) \(d.port)\r\n".utf8)
}

func v2Header(_ h: Header) -> [UInt8]? {
    guard let s = h.source, let d = h.destination, s.address.family == d.address.family else { return nil }
    func bytes(_ a: IPAddress) -> [UInt8] {
        // Through the text form: the fuzz target sees only the public API.
        let v4 = a.family == .ipv4
        var out: [UInt8] = []
        if v4 {
            for part in a.description.split(separator: ".") { out.append(UInt8(part)!) }
        } else {
            // Expand RFC 5952 text into 16 bytes.
            let t = Array(a.description.utf8)
            let gap = (0..<(t.count - 1)).first { t[$0] == 0x3A && t[$0 + 1] == 0x3A }
            func hexGroups(_ part: ArraySlice<UInt8>) -> [UInt16] {
                part.split(separator: 0x3A).map { UInt16(String(decoding: $0, as: UTF8.self), radix: 16)! }
            }
            let head = hexGroups(gap.map { t[..<$0] } ?? t[...])
            let tail = gap.map { hexGroups(t[($0 + 2)...]) } ?? []
            let groups = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
            for g in groups { out += [UInt8(g >> 8), UInt8(g & 0xFF)] }
        }
        return out
    }
    let body = bytes(s.address) + bytes(d.address) + [UInt8(s.port >> 8), UInt8(s.port & 0xFF), UInt8(d.port >> 8), UInt8(d.port & 0xFF)]
    return Header.v2Signature + [0x21, s.address.family == .ipv4 ? 0x11 : 0x21, 0, UInt8(body.count)] + body
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let at = input.uint16()
    let bytes = input.rest
    let whole = Header.parse(bytes)
    let k = at % (bytes.count + 1)
    let prefix = Header.parse(Array(bytes[..<k]))

    switch whole {
    case .needMore:
        fuzzCheck(bytes.count < Header.maxLength, "needMore after \(bytes.count) bytes: \(fuzzDescribe(bytes))")
        fuzzCheck(prefix == .needMore, "prefix of \(k) decided (\(prefix)) where the whole needs more: \(fuzzDescribe(bytes))")
    case .parsed(let h):
        fuzzCheck(h.length >= 15 && h.length <= bytes.count && h.length <= Header.maxLength, "length \(h.length) of \(bytes.count)")
        fuzzCheck(Header.parse(Array(bytes[..<h.length])) == whole, "the header alone parses differently: \(fuzzDescribe(bytes))")
        if k < h.length {
            fuzzCheck(prefix == .needMore, "prefix of \(k) of a \(h.length)-byte header: \(prefix), \(fuzzDescribe(bytes))")
        } else {
            fuzzCheck(prefix == whole, "prefix of \(k) holding the header: \(prefix) vs \(whole)")
        }
        if h.version == .v1 {
            fuzzCheck(bytes[h.length - 2] == 0x0D && bytes[h.length - 1] == 0x0A, "v1 header without CRLF: \(fuzzDescribe(bytes))")
        }
        fuzzCheck((h.source == nil) == (h.destination == nil), "one endpoint without the other")
        for encoded in [v1Line(h), v2Header(h)].compactMap({ $0 }) {
            guard case .parsed(let again) = Header.parse(encoded) else {
                fuzzCheck(false, "re-encoded header refused: \(fuzzDescribe(encoded)) from \(fuzzDescribe(bytes))")
                return 0
            }
            fuzzCheck(again.source == h.source && again.destination == h.destination && again.length == encoded.count,
                      "round trip changed the endpoints: \(fuzzDescribe(encoded))")
        }
    case .invalid:
        fuzzCheck(Header.parse(bytes + [0x0D, 0x0A, 0x00]) == whole, "more bytes changed an invalid verdict: \(fuzzDescribe(bytes))")
        fuzzCheck(prefix == .needMore || prefix == whole, "prefix of \(k): \(prefix), whole: \(whole), \(fuzzDescribe(bytes))")
    }
    return 0
}
