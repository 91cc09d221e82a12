/// Header fields in arrival order, kept as bytes.
///
/// Names and values sit in one byte array (a parsed field's line as the parser validated it,
/// an added field's name and value, sanitised, back to back); each field records where its
/// name and value lie and its name's `HTTPFieldName`, classified once. Lookups of known names
/// compare that byte; writing a head copies the stored bytes. Strings are made only where a caller asks for one. Names keep the
/// case they arrived with; lookups ignore case (RFC 9110 §5.1).
///
/// Removing a field drops its entry, not its bytes: a head is bounded (`max_header_bytes`), and
/// a message kept for long (a stream) drops its headers altogether.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public typealias Element = (name: String, value: String)

    @usableFromInline
    struct Entry: Sendable {
        var start: UInt32
        var nameCount: UInt32
        /// Where the value begins, counted from `start`: right after the name for a field
        /// added, after the colon and whitespace for a parsed one (whose line is kept whole:
        /// one copy per field instead of two).
        var valueOffset: UInt32
        var valueCount: UInt32
        var name: HTTPFieldName
        var nameEnd: Int { Int(start) + Int(nameCount) }
        var valueStart: Int { Int(start) + Int(valueOffset) }
    }

    @usableFromInline private(set) var bytes: [UInt8] = []
    @usableFromInline private(set) var entries: [Entry] = []

    public init() {}

    public init(_ fields: [(name: String, value: String)]) {
        for f in fields { add(name: f.name, value: f.value) }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        guard lhs.entries.count == rhs.entries.count else { return false }
        for i in 0..<lhs.entries.count {
            let a = lhs.entries[i], b = rhs.entries[i]
            guard a.nameCount == b.nameCount, a.valueCount == b.valueCount,
                  lhs.bytes[Int(a.start)..<a.nameEnd].elementsEqual(rhs.bytes[Int(b.start)..<b.nameEnd]),
                  lhs.bytes[a.valueStart..<a.valueStart + Int(a.valueCount)]
                    .elementsEqual(rhs.bytes[b.valueStart..<b.valueStart + Int(b.valueCount)]) else { return false }
        }
        return true
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Every field as strings (for tests and diagnostics; the request path uses the byte views).
    public var fields: [(name: String, value: String)] { entries.map { (nameString($0), valueString($0)) } }

    public struct Iterator: IteratorProtocol {
        let headers: HTTPHeaders
        var index = 0
        public mutating func next() -> (name: String, value: String)? {
            guard index < headers.entries.count else { return nil }
            defer { index += 1 }
            let e = headers.entries[index]
            return (headers.nameString(e), headers.valueString(e))
        }
    }

    public func makeIterator() -> Iterator { Iterator(headers: self) }

    // MARK: - Adding

    /// Appends a field. CR, LF and NUL become SP: a value can never split the head it is
    /// written into (the last line of defence against header injection; callers validate).
    public mutating func add(name: String, value: String) {
        var name = name, value = value
        name.withUTF8 { n in
            value.withUTF8 { v in
                append(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v), known: nil, sanitize: true)
            }
        }
    }

    /// Appends a field from bytes the parser has already validated.
    mutating func appendValidated(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        append(name: name, value: value, known: nil, sanitize: false)
    }

    /// Appends a field from a field line the parser has validated, copied once: the name is
    /// `line[0..<nameCount]`, the value `line[valueStart..<line.count]`.
    mutating func appendValidatedLine(_ line: UnsafeRawBufferPointer, nameCount: Int, valueStart: Int) {
        if entries.capacity == 0 { entries.reserveCapacity(16) }
        let start = bytes.count
        bytes.append(contentsOf: line.assumingMemoryBound(to: UInt8.self))
        entries.append(Entry(start: UInt32(start), nameCount: UInt32(nameCount), valueOffset: UInt32(valueStart),
                             valueCount: UInt32(line.count - valueStart),
                             name: HTTPFieldName.classify(line.slice(0, nameCount))))
    }

    /// Room for `bytes` of names and values and `fields` fields, allocated once. A parser
    /// that knows the head's size calls it first: otherwise the storage grows (allocates and
    /// copies) several times per head.
    public mutating func reserveCapacity(bytes byteCount: Int, fields: Int) {
        bytes.reserveCapacity(byteCount)
        entries.reserveCapacity(fields)
    }

    var byteCapacity: Int { bytes.capacity }

    private mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, known: HTTPFieldName?, sanitize: Bool) {
        if entries.capacity == 0 { entries.reserveCapacity(16) }
        let start = bytes.count
        // Typed views: appending a raw buffer goes byte by byte, a typed one is one copy.
        bytes.append(contentsOf: name.assumingMemoryBound(to: UInt8.self))
        bytes.append(contentsOf: value.assumingMemoryBound(to: UInt8.self))
        if sanitize && (HeadWriter.hasLineBreakOrNUL(name) || HeadWriter.hasLineBreakOrNUL(value)) {
            for i in start..<bytes.count where bytes[i] == HTTPByte.cr || bytes[i] == HTTPByte.lf || bytes[i] == 0 {
                bytes[i] = HTTPByte.sp
            }
        }
        entries.append(Entry(start: UInt32(start), nameCount: UInt32(name.count), valueOffset: UInt32(name.count),
                             valueCount: UInt32(value.count),
                             name: known ?? HTTPFieldName.classify(name)))
    }

    /// Replaces every field of that name with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    // MARK: - Removing

    public mutating func remove(name: String) {
        let known = HTTPFieldName.classify(name)
        if known != .other {
            remove(known)
            return
        }
        var name = name
        let stored = bytes
        name.withUTF8 { n in
            let target = UnsafeRawBufferPointer(n)
            entries.removeAll { $0.name == .other && Self.nameEquals(stored, $0, target) }
        }
    }

    public mutating func remove(_ name: HTTPFieldName) {
        precondition(name != .other, "remove(.other) would match any unknown name")
        entries.removeAll { $0.name == name }
    }

    /// Removes the fields for which `predicate(known name, name bytes)` holds, without making
    /// strings.
    public mutating func removeAll(whereName predicate: (HTTPFieldName, UnsafeRawBufferPointer) -> Bool) {
        bytes.withUnsafeBytes { b in
            entries.removeAll { e in predicate(e.name, UnsafeRawBufferPointer(rebasing: b[Int(e.start)..<e.nameEnd])) }
        }
    }

    // MARK: - Reading

    /// First value of the field, if present.
    public subscript(name: String) -> String? { first(name: name) }

    public func first(name: String) -> String? {
        firstIndex(name: name).map { valueString(entries[$0]) }
    }

    public func first(_ name: HTTPFieldName) -> String? {
        entries.firstIndex { $0.name == name }.map { valueString(entries[$0]) }
    }

    /// `body` applied to the first value of the field, without making a string; nil when absent.
    public func firstValue<R>(_ name: HTTPFieldName, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard let e = entries.first(where: { $0.name == name }) else { return nil }
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[e.valueStart..<e.valueStart + Int(e.valueCount)])) }
    }

    public func values(name: String) -> [String] {
        let known = HTTPFieldName.classify(name)
        if known != .other { return values(known) }
        var name = name
        return name.withUTF8 { n in
            entries.filter { $0.name == .other && Self.nameEquals(bytes, $0, UnsafeRawBufferPointer(n)) }.map(valueString)
        }
    }

    public func values(_ name: HTTPFieldName) -> [String] {
        entries.filter { $0.name == name }.map(valueString)
    }

    public func contains(name: String) -> Bool { firstIndex(name: name) != nil }

    public func contains(_ name: HTTPFieldName) -> Bool { entries.contains { $0.name == name } }

    /// Comma-separated list members across every field of that name, trimmed, empty ones dropped.
    public func listMembers(name: String) -> [Substring] {
        values(name: name).flatMap { $0.split(separator: ",") }
            .map { $0.trimmingOWS() }
            .filter { !$0.isEmpty }
    }

    /// Calls `body` with each field's known name and its name and value bytes, in order.
    public func forEachField(_ body: (HTTPFieldName, UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { b in
            for e in entries {
                try body(e.name, UnsafeRawBufferPointer(rebasing: b[Int(e.start)..<e.nameEnd]),
                         UnsafeRawBufferPointer(rebasing: b[e.valueStart..<e.valueStart + Int(e.valueCount)]))
            }
        }
    }

    /// Whether some field's (known name, name bytes) satisfy `predicate`, without making strings.
    public func containsName(where predicate: (HTTPFieldName, UnsafeRawBufferPointer) -> Bool) -> Bool {
        bytes.withUnsafeBytes { b in
            entries.contains { e in predicate(e.name, UnsafeRawBufferPointer(rebasing: b[Int(e.start)..<e.nameEnd])) }
        }
    }

    // MARK: - Writing

    /// Bytes `appendWire` writes.
    public var wireByteCount: Int {
        var n = 0
        for e in entries { n += Int(e.nameCount) + Int(e.valueCount) + 4 }
        return n
    }

    /// Appends `name: value CRLF` for each field, copied from the stored bytes.
    public func appendWire(to out: inout [UInt8]) {
        var w = HeadWriter(capacity: wireByteCount)
        writeWire(to: &w)
        out.append(contentsOf: w.finish())
    }

    /// `appendWire` into a head being written. Stored names and values are already safe:
    /// validated by the parser or sanitised by `add`.
    func writeWire(to out: inout HeadWriter) {
        bytes.withUnsafeBytes { b in
            for e in entries {
                out.writeField(name: UnsafeRawBufferPointer(rebasing: b[Int(e.start)..<e.nameEnd]),
                               value: UnsafeRawBufferPointer(rebasing: b[e.valueStart..<e.valueStart + Int(e.valueCount)]))
            }
        }
    }

    // MARK: - Internals

    private func firstIndex(name: String) -> Int? {
        let known = HTTPFieldName.classify(name)
        if known != .other { return entries.firstIndex { $0.name == known } }
        var name = name
        return name.withUTF8 { n in entries.firstIndex { $0.name == .other && Self.nameEquals(bytes, $0, UnsafeRawBufferPointer(n)) } }
    }

    private static func nameEquals(_ bytes: [UInt8], _ e: Entry, _ other: UnsafeRawBufferPointer) -> Bool {
        guard Int(e.nameCount) == other.count else { return false }
        return bytes.withUnsafeBytes { b in
            for i in 0..<other.count {
                var x = b[Int(e.start) + i], y = other[i]
                if x >= 0x41 && x <= 0x5A { x |= 0x20 }
                if y >= 0x41 && y <= 0x5A { y |= 0x20 }
                if x != y { return false }
            }
            return true
        }
    }

    private func nameString(_ e: Entry) -> String { Self.nameString(bytes, e) }

    private static func nameString(_ bytes: [UInt8], _ e: Entry) -> String {
        bytes.withUnsafeBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[Int(e.start)..<e.nameEnd]), as: UTF8.self) }
    }

    private func valueString(_ e: Entry) -> String {
        bytes.withUnsafeBytes {
            String(decoding: UnsafeRawBufferPointer(rebasing: $0[e.valueStart..<e.valueStart + Int(e.valueCount)]), as: UTF8.self)
        }
    }
}
