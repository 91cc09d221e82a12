import Testing
@testable import StreamgateCore

/// The eight-bytes-at-a-time scans of head bytes against byte loops of the grammar's own
/// predicates: every byte value at every offset of buffers up to three words long, on a
/// background of plain field content, and with a second odd byte after the first.
@Suite struct HTTPByteScanTests {
    private static func firstLFByLoop(_ b: [UInt8], from: Int) -> Int {
        var i = from
        while i < b.count && b[i] != 0x0A { i += 1 }
        return i
    }

    private static func fieldContentByLoop(_ b: [UInt8], from: Int, to: Int) -> (Bool, Bool) {
        var nonASCII = false
        for i in from..<max(from, to) {
            guard HTTPByte.isFieldContent(b[i]) else { return (false, nonASCII) }
            if b[i] >= 0x80 { nonASCII = true }
        }
        return (true, nonASCII)
    }

    @Test func lineFeedSearchMatchesAByteLoop() {
        for length in 0...24 {
            for at in 0..<max(length, 1) {
                for probe in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 {
                        bytes[at] = UInt8(probe)
                        // A later LF must not win over an earlier one (nor a borrow fake one).
                        if at + 2 < length { bytes[at + 2] = 0x0A }
                        if at + 1 < length { bytes[at + 1] = 0x0B }
                    }
                    for from in [0, at, min(at + 1, length)] {
                        let got = bytes.withUnsafeBytes { HTTPByte.firstLF(in: $0, from: from) }
                        #expect(got == Self.firstLFByLoop(bytes, from: from), "length \(length) at \(at) byte \(probe) from \(from)")
                    }
                }
            }
        }
    }

    @Test func fieldContentScanMatchesAByteLoop() {
        for length in 0...24 {
            for at in 0..<max(length, 1) {
                for probe in 0...255 {
                    var bytes = [UInt8](repeating: UInt8(ascii: "v"), count: length)
                    if length > 0 {
                        bytes[at] = UInt8(probe)
                        if at + 3 < length { bytes[at + 3] = 0x7F }
                    }
                    for (from, to) in [(0, length), (min(at, length), length), (0, at)] {
                        let got = bytes.withUnsafeBytes { HTTPByte.scanFieldContent($0, from: from, to: to) }
                        let want = Self.fieldContentByLoop(bytes, from: from, to: to)
                        #expect(got.valid == want.0, "length \(length) at \(at) byte \(probe) range \(from)..<\(to)")
                        if want.0 { #expect(got.nonASCII == want.1, "length \(length) at \(at) byte \(probe)") }
                    }
                }
            }
        }
    }
}

/// The byte-level fast path for a single Content-Length agrees with the full validation
/// wherever it answers, and leaves every other spelling to it.
@Suite struct PlainContentLengthTests {
    @Test func fastPathAgreesWithTheFullRule() {
        let values = ["0", "7", "007", "42", "1000000", "9223372036854775807", "9223372036854775808",
                      "99999999999999999999", "", " 42", "42 ", "4 2", "+42", "-1", "42,42", "0x10", "4a", "１２"]
        for value in values {
            let fast = Array(value.utf8).withUnsafeBytes { HTTPFieldSemantics.plainContentLength($0) }
            let full = HTTPFieldSemantics.contentLength([value])
            if let fast {
                #expect(full == .valid(fast), "\(value)")
            } else {
                // Not plain digits (or out of range): the full rule decides, never the fast path.
                let allDigits = !value.isEmpty && value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                #expect(!allDigits || full == .invalid, "\(value)")
            }
        }
    }
}
