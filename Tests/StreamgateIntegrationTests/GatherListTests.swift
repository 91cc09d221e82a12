@testable import StreamgateIO
import Testing

/// The gather list a relay writes from: borrowed pieces, and chunk framing written in the
/// list's own storage. No sockets: the pieces are read back as the write would send them.
@Suite struct GatherListTests {
    /// The bytes a gathered write of `list` sends, in order.
    private static func sent(_ list: GatherList) -> String {
        var out: [UInt8] = []
        for i in 0..<list.count {
            let v = list.vectors[i]
            out += UnsafeRawBufferPointer(start: v.iov_base, count: v.iov_len)
        }
        #expect(out.count == list.byteCount)
        return String(decoding: out, as: UTF8.self)
    }

    /// An open chunk frames everything appended until it is closed, once: the payload of
    /// several upstream chunks read together leaves as one client chunk.
    @Test func piecesAppendedInAnOpenChunkLeaveAsOneChunk() {
        let list = GatherList()
        let pieces = ["data: a\n\n", "data: bb\n\n", String(repeating: "x", count: 300)]
        let storage = pieces.map { Array($0.utf8) }
        list.openChunk()
        #expect(list.hasOpenChunk)
        for bytes in storage { bytes.withUnsafeBytes { list.append($0) } }
        list.closeChunk()
        #expect(!list.hasOpenChunk)
        let payload = pieces.joined()
        #expect(Self.sent(list) == String(payload.utf8.count, radix: 16) + "\r\n" + payload + "\r\n")
        #expect(list.count == pieces.count + 2)
    }

    /// A chunk closed with nothing in it leaves no bytes at all: a zero-size chunk would end the
    /// body. What was gathered before it stays as it was.
    @Test func anEmptyChunkLeavesNothing() {
        let list = GatherList()
        let head = Array("head".utf8)
        head.withUnsafeBytes { list.append($0) }
        list.openChunk()
        list.closeChunk()
        #expect(Self.sent(list) == "head")
        #expect(list.count == 1)
        // And the list takes the next chunk as usual.
        let body = Array("abc".utf8)
        list.openChunk()
        body.withUnsafeBytes { list.append($0) }
        list.closeChunk()
        #expect(Self.sent(list) == "head3\r\nabc\r\n")
    }

    /// Two chunks in one list (a relay that filled the list mid-read closes, writes and
    /// reopens): each gets its own size line, and `appendChunk` frames the same way.
    @Test func consecutiveChunksEachGetTheirOwnSizeLine() {
        let list = GatherList()
        let a = Array(repeating: UInt8(ascii: "a"), count: 17), b = Array("b".utf8)
        list.openChunk()
        a.withUnsafeBytes { list.append($0) }
        list.closeChunk()
        list.openChunk()
        b.withUnsafeBytes { list.append($0) }
        list.closeChunk()
        b.withUnsafeBytes { list.appendChunk($0) }
        #expect(Self.sent(list) == "11\r\n" + String(repeating: "a", count: 17) + "\r\n1\r\nb\r\n1\r\nb\r\n")
        list.reset()
        #expect(list.count == 0 && list.byteCount == 0 && !list.hasOpenChunk)
    }
}
