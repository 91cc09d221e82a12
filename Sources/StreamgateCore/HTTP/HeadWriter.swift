/// The bytes of a head being written.
///
/// Raw storage sized ahead, grown by doubling: each append is a bounds check and a copy.
/// `Array.append(contentsOf:)` spends about a hundred instructions a call on bookkeeping
/// (uniqueness, capacity), and a head is written in some forty small pieces, twice per
/// proxied request. Not copyable: the storage has one owner, freed by `finish` or `deinit`.
struct HeadWriter: ~Copyable {
    private var base: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0
    /// False while writing into memory lent by the caller (`init(scratch:)`).
    private var ownsStorage = true

    /// `capacity`: the expected size; more is allocated when writes go past it.
    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 1)
    }

    /// Writes into `scratch` (lent for this writer's whole life, e.g. a loop's buffer for heads
    /// written and sent within one call) until it is full, then into an allocation of its own:
    /// the usual head costs no allocation.
    init(scratch: UnsafeMutableRawBufferPointer) {
        if let start = scratch.baseAddress, scratch.count >= 64 {
            base = start
            capacity = scratch.count
            ownsStorage = false
        } else {
            capacity = 512
            base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        }
    }

    deinit { if ownsStorage { base.deallocate() } }

    /// The bytes written.
    ///
    /// Copied through the sequence initialiser, which is specialised here: the
    /// `unsafeUninitializedCapacity` one calls into the standard library's unspecialised
    /// allocation path, which looks up the array's storage type at run time (about 500
    /// instructions a call, twice per proxied request, in callgrind).
    consuming func finish() -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count))
    }

    /// A copy of the bytes written from offset `start` on.
    func bytes(from start: Int) -> [UInt8] {
        [UInt8](UnsafeBufferPointer(start: (base + start).assumingMemoryBound(to: UInt8.self), count: count - start))
    }

    /// The bytes written, lent to `body` (valid only during the call).
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: base, count: count))
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let source = bytes.baseAddress else { return }
        if n > capacity - count { grow(toHold: count + n) }
        (base + count).copyMemory(from: source, byteCount: n)
        count += n
    }

    @inline(__always)
    mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) { write(UnsafeRawBufferPointer(bytes)) }

    @inline(__always)
    mutating func write(_ byte: UInt8) {
        if count == capacity { grow(toHold: count + 1) }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// A constant (a name, a separator), without making a `String`.
    @inline(__always)
    mutating func write(_ s: StaticString) {
        write(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func crlf() {
        write(HTTPByte.cr)
        write(HTTPByte.lf)
    }

    /// `bytes` with CR, LF and NUL written as SP: a value can never split the head it is
    /// written into (the last line of defence against header injection; callers validate).
    mutating func writeSafe(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard Self.hasLineBreakOrNUL(UnsafeRawBufferPointer(bytes)) else {
            write(bytes)
            return
        }
        for b in bytes { write(b == HTTPByte.cr || b == HTTPByte.lf || b == 0 ? HTTPByte.sp : b) }
    }

    /// Whether CR, LF or NUL occurs, eight bytes at a time (every value the gateway writes
    /// goes through here, a dozen per request).
    static func hasLineBreakOrNUL(_ p: UnsafeRawBufferPointer) -> Bool {
        guard let base = p.baseAddress else { return false }
        let n = p.count
        let ones = HTTPByte.ones
        @inline(__always) func found(_ w: UInt64) -> Bool {
            HTTPByte.below(w, 1) | HTTPByte.below(w ^ (ones &* 0x0D), 1) | HTTPByte.below(w ^ (ones &* 0x0A), 1) != 0
        }
        guard n >= 8 else {
            for i in 0..<n {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                if b == HTTPByte.cr || b == HTTPByte.lf || b == 0 { return true }
            }
            return false
        }
        var i = 0
        while i + 8 < n {
            if found(HTTPByte.word(base, i)) { return true }
            i &+= 8
        }
        // The last word, overlapping bytes already checked (harmless for a search).
        return found(HTTPByte.word(base, n - 8))
    }

    @inline(__always)
    mutating func writeSafe(_ s: String) {
        var s = s
        s.withUTF8 { writeSafe($0) }
    }

    /// `name: value CRLF`, from bytes already valid (a parsed field).
    @inline(__always)
    mutating func writeField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        write(name)
        write(HTTPByte.colon)
        write(HTTPByte.sp)
        write(value)
        crlf()
    }

    /// `name: value CRLF` for a field the gateway sets; the value is made safe.
    @inline(__always)
    mutating func writeField(_ name: StaticString, _ value: String) {
        write(name)
        write(HTTPByte.colon)
        write(HTTPByte.sp)
        writeSafe(value)
        crlf()
    }

    /// `name: value CRLF` for a name known only at run time (a configured identity header,
    /// a CORS field), both made safe. (A distinct label: a literal name given to an overload
    /// taking `String` would bypass the `StaticString` one.)
    mutating func writeField(named name: String, _ value: String) {
        writeSafe(name)
        write(HTTPByte.colon)
        write(HTTPByte.sp)
        writeSafe(value)
        crlf()
    }

    /// `writeField(named:_:)` for a name and value the caller may have found free of CR, LF
    /// and NUL already (once, when they were configured or decoded): then written as they are.
    mutating func writeField(named name: String, _ value: String, alreadyChecked: Bool) {
        guard alreadyChecked else {
            writeField(named: name, value)
            return
        }
        var name = name, value = value
        name.withUTF8 { write($0) }
        write(HTTPByte.colon)
        write(HTTPByte.sp)
        value.withUTF8 { write($0) }
        crlf()
    }

    private mutating func grow(toHold needed: Int) {
        let newCapacity = Swift.max(needed, capacity * 2)
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 1)
        bigger.copyMemory(from: base, byteCount: count)
        if ownsStorage { base.deallocate() }
        ownsStorage = true
        base = bigger
        capacity = newCapacity
    }
}
