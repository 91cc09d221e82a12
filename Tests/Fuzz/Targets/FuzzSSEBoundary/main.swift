// Fuzz target: SSEBoundaryTracker against a plain line-by-line reference of the WHATWG
// event-stream rules. Input: [split lo][split hi] stream bytes.
// Invariants: after every byte (fed one at a time) `isAtBoundary` is what the reference
// says; whole and split feeding end in the same state (events, last ID, bytes scanned);
// scanning with `stopAtBoundary` stops exactly at each boundary the reference finds, in
// order, none skipped; `recordsEventID: false` finds the same boundaries.
import FuzzSupport
import StreamgateCore

struct Reference {
    /// `isAtBoundary` after p bytes (a CR whose LF may follow is not yet a boundary).
    var boundaryAt: [Bool]
    /// Where `scan(stopAtBoundary: true)` may stop: boundaries, and a bare CR once the byte
    /// after it is known not to be LF.
    var stopAt: [Bool]
    var events: UInt64 = 0
    var lastEventID: String?

    init(_ b: [UInt8]) {
        let n = b.count
        boundaryAt = Array(repeating: false, count: n + 1)
        stopAt = boundaryAt
        boundaryAt[0] = true
        stopAt[0] = true
        var inEvent = false, hasData = false
        var i = 0
        if n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
            i = 3
            boundaryAt[3] = true
            stopAt[3] = true
        }
        while i < n {
            var j = i
            while j < n && b[j] != 0x0A && b[j] != 0x0D { j += 1 }
            if j == n { break }
            let line = b[i..<j]
            if line.isEmpty {
                if hasData { events += 1 }
                hasData = false
                inEvent = false
            } else if line.first != UInt8(ascii: ":") {
                let colon = line.firstIndex(of: UInt8(ascii: ":"))
                let name = line[..<(colon ?? j)]
                var value = colon.map { line[($0 + 1)...] } ?? line[j...]
                if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
                if name.elementsEqual("data".utf8) { inEvent = true; hasData = true }
                if name.elementsEqual("event".utf8) { inEvent = true }
                if name.elementsEqual("id".utf8) {
                    inEvent = true
                    if !value.contains(0) {
                        lastEventID = value.count > SSEBoundaryTracker.maxEventIDBytes ? nil : String(decoding: value, as: UTF8.self)
                    }
                }
            }
            if b[j] == 0x0D && j + 1 == n { break }  // CR at the end: its LF may follow
            let crlf = b[j] == 0x0D && b[j + 1] == 0x0A
            let end = crlf ? j + 2 : j + 1
            boundaryAt[end] = !inEvent && !(b[j] == 0x0D && !crlf)
            stopAt[end] = !inEvent
            i = end
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let at = input.uint16()
    let bytes = input.rest
    let n = bytes.count
    let ref = Reference(bytes)

    // One byte at a time.
    var each = SSEBoundaryTracker()
    fuzzCheck(each.isAtBoundary, "no boundary at the start")
    for p in 0..<n {
        fuzzCheck(each.scan([bytes[p]], stopAtBoundary: false) == 1, "one byte not consumed")
        fuzzCheck(each.isAtBoundary == ref.boundaryAt[p + 1], "isAtBoundary \(each.isAtBoundary) after \(p + 1) bytes of \(fuzzDescribe(bytes))")
    }
    fuzzCheck(each.eventsSeen == ref.events, "events \(each.eventsSeen) vs \(ref.events) for \(fuzzDescribe(bytes))")
    fuzzCheck(each.lastEventID == ref.lastEventID, "last id \(String(describing: each.lastEventID)) vs \(String(describing: ref.lastEventID)) for \(fuzzDescribe(bytes))")

    // Whole, and split at the chosen point.
    var whole = SSEBoundaryTracker()
    fuzzCheck(whole.scan(bytes, stopAtBoundary: false) == n, "whole input not consumed")
    var cut = SSEBoundaryTracker()
    let k = at % (n + 1)
    _ = cut.scan(Array(bytes[..<k]), stopAtBoundary: false)
    _ = cut.scan(Array(bytes[k...]), stopAtBoundary: false)
    for t in [whole, cut] {
        fuzzCheck(t.isAtBoundary == each.isAtBoundary && t.eventsSeen == each.eventsSeen && t.lastEventID == each.lastEventID
                  && t.bytesScanned == UInt64(n), "whole/split state differs for \(fuzzDescribe(bytes)) split at \(k)")
    }

    // Stopping at boundaries, with and without recording ids.
    for records in [true, false] {
        var t = SSEBoundaryTracker(recordsEventID: records)
        var pos = 0
        while pos < n {
            let used = bytes[pos...].withUnsafeBytes { t.scan($0, stopAtBoundary: true) }
            if used == 0 {
                fuzzCheck(t.isAtBoundary, "scan stopped without a boundary at \(pos) of \(fuzzDescribe(bytes))")
                fuzzCheck(ref.stopAt[pos], "tracker stops at \(pos), reference does not, in \(fuzzDescribe(bytes))")
                _ = t.scan([bytes[pos]], stopAtBoundary: false)
                pos += 1
                continue
            }
            let from = pos
            pos += used
            fuzzCheck(pos <= n, "consumed past the input")
            if let skipped = (from + 1 ..< pos).first(where: { ref.stopAt[$0] }) {
                fuzzCheck(false, "boundary at \(skipped) passed (scan \(from)->\(pos)) in \(fuzzDescribe(bytes))")
            }
            if pos < n { fuzzCheck(ref.stopAt[pos], "tracker stops at \(pos), reference does not, in \(fuzzDescribe(bytes))") }
        }
        fuzzCheck(t.bytesScanned == UInt64(n), "bytesScanned \(t.bytesScanned) of \(n)")
        fuzzCheck(t.isAtBoundary == each.isAtBoundary && t.eventsSeen == each.eventsSeen, "stop-mode end state differs")
        if records { fuzzCheck(t.lastEventID == each.lastEventID, "stop-mode last id differs") } else { fuzzCheck(t.lastEventID == nil, "id kept") }
    }
    return 0
}
