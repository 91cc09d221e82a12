import Testing
@testable import StreamgateCore

@Suite struct HeadWriterTests {
    /// The eight-bytes-at-a-time scan against a byte loop: each byte of interest, and its
    /// near misses (neighbours, high-bit twins), at every offset of buffers of every length
    /// up to three words.
    @Test func lineBreakScanMatchesAByteLoop() {
        let probes: [UInt8] = [0x00, 0x0A, 0x0D, 0x01, 0x09, 0x0B, 0x0C, 0x0E, 0x80, 0x8A, 0x8D, 0xFF, 0x20]
        for length in 0...24 {
            for offset in 0..<max(length, 1) {
                for probe in probes {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { bytes[offset] = probe }
                    let expected = bytes.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
                    let got = bytes.withUnsafeBytes { HeadWriter.hasLineBreakOrNUL($0) }
                    #expect(got == expected, "length \(length), offset \(offset), byte \(probe)")
                }
            }
        }
    }

    @Test func unsafeBytesInGatewayValuesBecomeSpaces() {
        var w = HeadWriter(capacity: 8)
        w.writeField("X-Value", "a\r\nInjected: 1\0b")
        #expect(String(decoding: w.finish(), as: UTF8.self) == "X-Value: a  Injected: 1 b\r\n")
    }

    @Test func writesPastTheCapacityGrow() {
        var w = HeadWriter(capacity: 1)
        let long = String(repeating: "v", count: 300)
        for _ in 0..<10 { w.writeField("N", long) }
        let out = w.finish()
        #expect(out.count == 10 * (3 + 300 + 2))
        #expect(String(decoding: out, as: UTF8.self) == String(repeating: "N: \(long)\r\n", count: 10))
    }
}
