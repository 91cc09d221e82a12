import Testing
@testable import StreamgateCore

@Suite struct RequestIDTests {
    @Test func generatedIDsArePrefixAndZeroPaddedHexCounter() {
        var g = RequestIDGenerator(randomPrefix: "a1b2")
        #expect(g.next() == "a1b2-0000001")
        #expect(g.next() == "a1b2-0000002")
        for _ in 0..<13 { _ = g.next() }
        #expect(g.next() == "a1b2-0000010")
    }

    @Test func countersPastSevenDigitsGrowTheID() {
        var g = RequestIDGenerator(randomPrefix: "p", startingAfter: 0xFFF_FFFE)
        #expect(g.next() == "p-fffffff")
        #expect(g.next() == "p-10000000")
        var top = RequestIDGenerator(randomPrefix: "p", startingAfter: UInt64.max - 1)
        #expect(top.next() == "p-ffffffffffffffff")
    }

    /// A worker's ids are 15 bytes (kept inline by `String`) until the counter passes 2^28,
    /// with a prefix of base-62 characters taken from every random byte value.
    @Test func workerIDsFitASmallString() {
        let prefix = RequestIDGenerator.prefix(random: [0, 61, 62, 255, 128, 9, 200])
        #expect(prefix == "0z0749E")
        var g = RequestIDGenerator(randomPrefix: prefix)
        #expect(g.next().utf8.count == 15)
        var late = RequestIDGenerator(randomPrefix: prefix, startingAfter: 0xFFF_FFFE)
        #expect(late.next().utf8.count == 15)
        #expect(late.next().utf8.count == 16)
    }

    @Test func generatedIDsAreValidRequestIDs() {
        var g = RequestIDGenerator(randomPrefix: "0123456789abcdef")
        for _ in 0..<1000 { #expect(RequestID.isValid(g.next())) }
    }
}
