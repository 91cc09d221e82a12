// Fuzz target: SessionRecord.decode in both stored forms. Input: [form] bytes. Form bit 0
// clear: the bytes are a JSON document (GET reply); set: an HGETALL reply, the bytes split at
// NUL into field, value, field, value...
// Invariants: no crash; a decoded record's user and tenant are 1...256 bytes with no control
// byte and no space at either end; scopes are RFC 6749 scope tokens; max_stream_duration > 0;
// decoding is deterministic; a record decoded from a hash re-encodes as JSON that decodes to
// the same record (so origins come out normalised: decoding them again changes nothing).
import FuzzSupport
import StreamgateCore

func checkRecord(_ r: SessionRecord, _ input: [UInt8]) {
    for id in [r.userID, r.tenantID] {
        let b = Array(id.utf8)
        fuzzCheck(!b.isEmpty && b.count <= SessionRecord.maxIdentifierLength, "id length \(b.count) from \(fuzzDescribe(input))")
        fuzzCheck(!b.contains { $0 < 0x20 || $0 == 0x7F }, "control byte in id \(fuzzDescribe(b))")
        fuzzCheck(b.first != 0x20 && b.last != 0x20, "space at an end of id \(fuzzDescribe(b))")
    }
    for s in r.scopes {
        fuzzCheck(!s.isEmpty && s.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) },
                  "scope \(fuzzDescribe(Array(s.utf8)))")
    }
    if let m = r.maxStreamDuration { fuzzCheck(m > 0, "max_stream_duration \(m)") }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where u.value < 0x20: out += "\\u00" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let form = input.byte()
    let bytes = input.rest
    if form & 1 == 0 {
        let first = Result { () throws(SessionRecordError) in try SessionRecord.decode(json: bytes) }
        let second = Result { () throws(SessionRecordError) in try SessionRecord.decode(json: bytes) }
        fuzzCheck(first == second, "JSON decoding not deterministic")
        if case .success(let r) = first { checkRecord(r, bytes) }
        return 0
    }
    let flat = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let result = Result { () throws(SessionRecordError) in try SessionRecord.decode(flatHash: flat) }
    fuzzCheck(result == Result { () throws(SessionRecordError) in try SessionRecord.decode(flatHash: flat) }, "hash decoding not deterministic")
    guard case .success(let r) = result else { return 0 }
    checkRecord(r, bytes)
    // The same record as JSON: the two stored forms must agree.
    var json = "{\"user_id\":\(jsonString(r.userID)),\"tenant_id\":\(jsonString(r.tenantID)),\"kind\":\(jsonString(r.kind.rawValue))"
    if let e = r.expiresAt { json += ",\"expires_at\":\(e)" }
    if let m = r.maxStreamDuration { json += ",\"max_stream_duration\":\(m)" }
    json += ",\"scopes\":[" + r.scopes.map(jsonString).joined(separator: ",") + "]"
    json += ",\"allowed_origins\":[" + r.allowedOrigins.map(jsonString).joined(separator: ",") + "]}"
    switch Result(catching: { () throws(SessionRecordError) in try SessionRecord.decode(json: json) }) {
    case .success(let back): fuzzCheck(back == r, "hash record \(r) reads back from JSON as \(back)")
    case .failure(let e): fuzzCheck(false, "hash record \(r) refused as JSON \(json): \(e)")
    }
    return 0
}
