import Testing
@testable import StreamgateCore

@Suite struct RequestIDTests {
    @Test func generatedIDsArePrefixAndZeroPaddedHexCounter() {
        var g = RequestIDGenerator(randomPrefix: "a1b2")
        #expect(g.next() == "a1b2-00000001")
        #expect(g.next() == "a1b2-00000002")
        for _ in 0..<13 { _ = g.next() }
        #expect(g.next() == "a1b2-00000010")
    }

    @Test func countersPastEightDigitsGrowTheID() {
        var g = RequestIDGenerator(randomPrefix: "p", startingAfter: 0xFFFF_FFFE)
        #expect(g.next() == "p-ffffffff")
        #expect(g.next() == "p-100000000")
        var top = RequestIDGenerator(randomPrefix: "p", startingAfter: UInt64.max - 1)
        #expect(top.next() == "p-ffffffffffffffff")
    }

    @Test func generatedIDsAreValidRequestIDs() {
        var g = RequestIDGenerator(randomPrefix: "0123456789abcdef")
        for _ in 0..<1000 { #expect(RequestID.isValid(g.next())) }
    }
}
