/// Follows a relayed `text/event-stream` byte by byte and knows whether everything forwarded
/// so far ends exactly at an *event boundary*: a point where the gateway may write its own
/// bytes (a keepalive comment, a final event) or end the stream without changing a single
/// event the client dispatches.
///
/// Parsing follows the WHATWG rules (HTML §9.2.6): lines end in CRLF, LF or CR; a line that
/// starts with `:` is a comment; a blank line dispatches the event; one leading UTF-8 BOM is
/// dropped. The tracker never copies or changes the bytes it scans; it only classifies them.
///
/// A point is a boundary when it is at the start of a line and no `data`, `event` or `id`
/// field has been seen since the last blank line (or since the stream started). Injecting
/// `: keepalive\n\n` there dispatches nothing and resets only buffers that are already empty.
/// This is slightly wider than "right after a blank line": after a comment line, a `retry:`
/// line or an unknown field (which the client ignores) the stream is still at a boundary.
/// `id` counts as part of an event because a blank line would commit it to the client's
/// reconnect ID before the upstream meant to.
///
/// A read that ends in CR ends a line, but the next read may begin with the LF of a CRLF.
/// Until that byte is seen the stream is **not** at a boundary: a keepalive written between
/// the CR and the LF would turn that LF into a blank line of its own.
///
/// Cost: one pass over the bytes, a few integer comparisons per byte, and no allocation per
/// call (the `id` buffers grow once, to at most `maxEventIDBytes`, and are reused).
///
/// Limitation: a leading BOM is only dropped by the client at the very start of the stream.
/// The tracker reports a boundary before the first upstream byte; a relay that writes a
/// keepalive there turns an upstream BOM into text (which breaks the upstream's first field
/// name). Upstream BOMs are rare; relays that care wait for the first upstream byte.
public struct SSEBoundaryTracker: Sendable {
    /// Longest `id:` value remembered, in bytes. Longer IDs make `lastEventID` nil.
    public static let maxEventIDBytes = 256

    /// Where the scanner is inside the current line. Field names are matched byte by byte
    /// so a name split across reads needs no buffer.
    private enum State: UInt8, Sendable {
        case streamStart  // nothing scanned yet; a BOM may follow
        case bom1, bom2  // EF, EF BB seen at the very start
        case lineStart
        case afterCR  // a CR ended a line; an LF next belongs to it
        case skipLine  // comment, unknown field, or a value we do not keep
        case d, da, dat, data
        case e, ev, eve, even, event
        case i, id
        case idValueStart  // after `id:`; one leading space is dropped
        case idValue
    }

    private enum IDStatus: UInt8, Sendable { case none, value, tooLong }

    private var state: State = .streamStart
    /// A `data`, `event` or `id` field since the last blank line: we are inside an event.
    private var inEvent = false
    /// A `data` field since the last blank line: the next blank line dispatches an event.
    private var hasData = false

    /// Events the client dispatches, counted at their blank line: exactly those with at
    /// least one `data` field (a blank line after only `event:`/`id:`/comments dispatches
    /// nothing in a browser, so it is not counted).
    public private(set) var eventsSeen: UInt64 = 0
    /// Total bytes consumed by `scan`.
    public private(set) var bytesScanned: UInt64 = 0

    private var idStatus: IDStatus = .none
    private var idCommitted: [UInt8] = []
    private var idScratch: [UInt8] = []
    private var idScratchHasNUL = false
    private var idScratchTooLong = false
    /// False for relays that only need boundaries: `id:` values are then not copied aside.
    private let recordsEventID: Bool

    /// - Parameter recordsEventID: keep the last `id:` value (`lastEventID`). A relay that only
    ///   needs event boundaries passes false and saves the copy per `id:` line.
    public init(recordsEventID: Bool = true) {
        self.recordsEventID = recordsEventID
    }

    /// True when the bytes scanned so far end exactly at an event boundary.
    public var isAtBoundary: Bool {
        (state == .lineStart || state == .streamStart) && !inEvent
    }

    /// Value of the last complete `id:` line (the spec's "last event ID buffer"). At a
    /// boundary that event has been dispatched, so this is what the client would send as
    /// `Last-Event-ID` on reconnect. Nil before any `id:` line, and when the last one was
    /// longer than `maxEventIDBytes`. Lines whose value contains NUL are ignored, as the
    /// spec says. Decoding happens here, not in `scan`.
    public var lastEventID: String? {
        idStatus == .value ? String(decoding: idCommitted, as: UTF8.self) : nil
    }

    /// Consumes `bytes`, which the relay forwards to the client in order.
    ///
    /// - Parameter stopAtBoundary: when false, every byte is consumed. When true, scanning
    ///   stops at the first boundary reached, and the return value is the length of the
    ///   prefix that ends there (0 when the stream is already at a boundary, or when a
    ///   pending CR turns out not to be followed by LF). The relay forwards that prefix and
    ///   may then end the stream; the rest is not consumed and the tracker has not seen it.
    /// - Returns: the number of bytes consumed.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, stopAtBoundary: Bool) -> Int {
        let count = bytes.count
        if count == 0 { return 0 }
        if stopAtBoundary && isAtBoundary { return 0 }

        var state = self.state
        var inEvent = self.inEvent
        var i = 0

        scanning: while i < count {
            let b = bytes[i]
            switch state {
            case .skipLine:
                // The hot path: the body of a data line. Nothing matters but its end.
                let j = Self.lineEndIndex(in: bytes, from: i)
                i = j
                if j == count { break scanning }
                state = lineEnded(by: bytes[j])
                i &+= 1
                if stopAtBoundary && state == .lineStart && !inEvent { break scanning }

            case .lineStart:
                if count &- i >= 6, let field = Self.knownField(at: bytes.baseAddress! + i, recordsEventID: recordsEventID) {
                    // The whole name (and its colon) at once; the line's value is skipped.
                    if field.opensEvent { inEvent = true }
                    if field.isData { hasData = true }
                    state = .skipLine
                    i &+= field.consumed
                    continue scanning
                }
                switch b {
                case 0x0A, 0x0D:
                    // Blank line: dispatch.
                    if hasData { eventsSeen &+= 1 }
                    hasData = false
                    inEvent = false
                    state = b == 0x0D ? .afterCR : .lineStart
                    i &+= 1
                    if stopAtBoundary && state == .lineStart { break scanning }
                case UInt8(ascii: "d"): state = .d; i &+= 1
                case UInt8(ascii: "e"): state = .e; i &+= 1
                case UInt8(ascii: "i"): state = .i; i &+= 1
                default: state = .skipLine; i &+= 1  // comment or a field we do not track
                }

            case .afterCR:
                state = .lineStart
                if b == 0x0A { i &+= 1 }  // the LF of a CRLF: same line end
                // Either way the line end is now settled; a non-LF byte is read again as
                // the first byte of the next line.
                if stopAtBoundary && !inEvent { break scanning }

            case .streamStart:
                if b == 0xEF { state = .bom1; i &+= 1 } else { state = .lineStart }
            case .bom1:
                // Not a BOM after all: the EF is text in a field name we do not track.
                if b == 0xBB { state = .bom2; i &+= 1 } else { state = .skipLine }
            case .bom2:
                if b == 0xBF {
                    state = .lineStart
                    i &+= 1
                    if stopAtBoundary && !inEvent { break scanning }
                } else {
                    state = .skipLine
                }

            case .d: state = advanceName(b, expect: "a", next: .da, &i)
            case .da: state = advanceName(b, expect: "t", next: .dat, &i)
            case .dat: state = advanceName(b, expect: "a", next: .data, &i)
            case .e: state = advanceName(b, expect: "v", next: .ev, &i)
            case .ev: state = advanceName(b, expect: "e", next: .eve, &i)
            case .eve: state = advanceName(b, expect: "n", next: .even, &i)
            case .even: state = advanceName(b, expect: "t", next: .event, &i)
            case .i: state = advanceName(b, expect: "d", next: .id, &i)

            case .data, .event:
                if b == UInt8(ascii: ":") || b == 0x0A || b == 0x0D {
                    inEvent = true
                    if state == .data { hasData = true }
                }
                // The name ended (or was longer, e.g. `datax`); the rest is skipped.
                state = .skipLine
                if b == UInt8(ascii: ":") { i &+= 1 }

            case .id where !recordsEventID:
                // Only the boundary matters: `id` puts us inside an event like any field.
                if b == UInt8(ascii: ":") || b == 0x0A || b == 0x0D { inEvent = true }
                state = .skipLine
                if b == UInt8(ascii: ":") { i &+= 1 }

            case .id:
                if b == UInt8(ascii: ":") {
                    inEvent = true
                    beginID()
                    state = .idValueStart
                    i &+= 1
                } else if b == 0x0A || b == 0x0D {
                    inEvent = true  // `id` with no colon: the value is empty
                    beginID()
                    state = .idValue
                } else {
                    state = .skipLine
                }

            case .idValueStart:
                state = .idValue
                if b == UInt8(ascii: " ") { i &+= 1 }

            case .idValue:
                if b == 0x0A || b == 0x0D {
                    commitID()
                    state = lineEnded(by: b)
                    i &+= 1
                    // An id line leaves us inside the event: never a boundary here.
                } else {
                    appendIDByte(b)
                    i &+= 1
                }
            }
        }

        self.state = state
        self.inEvent = inEvent
        bytesScanned &+= UInt64(i)
        return i
    }

    /// Convenience for callers holding an array (tests, small writes).
    public mutating func scan(_ bytes: [UInt8], stopAtBoundary: Bool = false) -> Int {
        bytes.withUnsafeBytes { scan($0, stopAtBoundary: stopAtBoundary) }
    }

    // MARK: - Helpers (all tiny; the loop stays in `scan`)

    /// Index of the first CR or LF in `bytes` at or after `start`, or `bytes.count` if none.
    ///
    /// Most relayed bytes are the bodies of data lines, so this is where a scan spends its
    /// time. It first passes over 16 bytes per step with SIMD compares (SSE2 on x86-64: two
    /// compares, an OR and a mask move per step) to the first block holding a CR or LF, then
    /// finds the byte eight at a time: for a word `v`, `(v - 0x01..01) & ~v & 0x80..80` flags
    /// its zero bytes (after XOR with a repeated CR or LF, the matches). A borrow can flag a
    /// byte *above* a real zero, never below one, so the lowest flag is always a real match,
    /// and it is the first in memory (loads are little-endian).
    static func lineEndIndex(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        let count = bytes.count
        guard let base = bytes.baseAddress else { return count }
        var j = start
        let lfs = SIMD16<UInt8>(repeating: 0x0A), crs = SIMD16<UInt8>(repeating: 0x0D)
        while j &+ 16 <= count {
            let v = base.loadUnaligned(fromByteOffset: j, as: SIMD16<UInt8>.self)
            if any((v .== lfs) .| (v .== crs)) { break }
            j &+= 16
        }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while j &+ 8 <= count {
            // As a little-endian number the first byte in memory is the lowest.
            let v = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: j, as: UInt64.self))
            let lf = v ^ (ones &* 0x0A)
            let cr = v ^ (ones &* 0x0D)
            let flags = ((lf &- ones) & ~lf | (cr &- ones) & ~cr) & highs
            if flags != 0 {
                return j &+ flags.trailingZeroBitCount &>> 3
            }
            j &+= 8
        }
        while j < count {
            let c = base.load(fromByteOffset: j, as: UInt8.self)
            if c == 0x0A || c == 0x0D { return j }
            j &+= 1
        }
        return count
    }

    /// A field at the start of a line, matched whole: what the name (and colon) consume and
    /// whether it opens an event (`data`, `event`, `id`) and carries data. The byte-by-byte
    /// states give the same answer for these bytes; they handle everything else (comments,
    /// blank lines, other names, a name split across reads, `id` when its value is recorded).
    private struct KnownField {
        var consumed: Int
        var opensEvent: Bool
        var isData: Bool
    }

    /// Reads up to 6 bytes at `p`: `data`, `event` or `id` followed by `:`, CR or LF opens an
    /// event (the colon is consumed, a line end is not); the name followed by anything else is
    /// an unknown field (`datax:`) whose line is skipped. Nil for every other line start.
    @inline(__always)
    private static func knownField(at p: UnsafeRawPointer, recordsEventID: Bool) -> KnownField? {
        @inline(__always) func ends(_ b: UInt8) -> Bool { b == UInt8(ascii: ":") || b == 0x0A || b == 0x0D }
        @inline(__always) func field(_ nameLength: Int, _ next: UInt8, data: Bool) -> KnownField {
            guard ends(next) else { return KnownField(consumed: nameLength, opensEvent: false, isData: false) }
            let colon = next == UInt8(ascii: ":") ? 1 : 0
            return KnownField(consumed: nameLength &+ colon, opensEvent: true, isData: data)
        }
        let word = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
        let byte = { (k: Int) in p.load(fromByteOffset: k, as: UInt8.self) }
        if word == 0x6174_6164 { return field(4, byte(4), data: true) }  // "data"
        if word == 0x6E65_7665 && byte(4) == UInt8(ascii: "t") { return field(5, byte(5), data: false) }  // "event"
        if !recordsEventID && word & 0xFFFF == 0x6469 { return field(2, byte(2), data: false) }  // "id"
        return nil
    }

    /// The state after a line terminator byte that ends a non-blank line.
    @inline(__always)
    private func lineEnded(by b: UInt8) -> State { b == 0x0D ? .afterCR : .lineStart }

    /// One step of matching a field name. On a mismatch the byte is not consumed here: it is
    /// re-read in `.skipLine`, which handles a line terminator correctly (an unknown field
    /// such as `d` or `ev` still ends its line).
    @inline(__always)
    private func advanceName(_ b: UInt8, expect: Unicode.Scalar, next: State, _ i: inout Int) -> State {
        if b == UInt8(ascii: expect) {
            i &+= 1
            return next
        }
        return .skipLine
    }

    @inline(__always)
    private mutating func beginID() {
        idScratch.removeAll(keepingCapacity: true)
        idScratchHasNUL = false
        idScratchTooLong = false
    }

    @inline(__always)
    private mutating func appendIDByte(_ b: UInt8) {
        if b == 0 { idScratchHasNUL = true }
        if idScratch.count < Self.maxEventIDBytes {
            idScratch.append(b)
        } else {
            idScratchTooLong = true
        }
    }

    private mutating func commitID() {
        if idScratchHasNUL { return }  // spec: such an id line is ignored
        if idScratchTooLong {
            idStatus = .tooLong
            return
        }
        swap(&idCommitted, &idScratch)  // no copy: both buffers keep their capacity
        idStatus = .value
    }
}
