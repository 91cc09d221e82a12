import Testing
@testable import StreamgateCore

/// Boundary positions the tracker reports when fed one byte at a time: p is listed when
/// `isAtBoundary` is true after p bytes.
private func byteAtATimeBoundaries(_ bytes: [UInt8]) -> [Int] {
    var t = SSEBoundaryTracker()
    var out = t.isAtBoundary ? [0] : []
    for (i, b) in bytes.enumerated() {
        #expect(t.scan([b]) == 1)
        if t.isAtBoundary { out.append(i + 1) }
    }
    return out
}

private func scanned(_ s: String) -> SSEBoundaryTracker {
    var t = SSEBoundaryTracker()
    _ = t.scan(sseBytes(s))
    return t
}

@Suite struct SSEBoundaryTrackerTests {
    @Test func startIsABoundary() {
        let t = SSEBoundaryTracker()
        #expect(t.isAtBoundary)
        #expect(t.eventsSeen == 0)
        #expect(t.lastEventID == nil)
    }

    /// The block-at-a-time search for line ends (16 bytes, then 8) agrees with a byte loop, from
    /// every start, on bytes chosen to trip it: CR and LF, their neighbours (0x09, 0x0B, 0x0C,
    /// 0x0E), bytes with the high bit set (0x8A, 0x8D, 0xFF), zero, and ASCII, at every alignment.
    @Test func lineEndSearchMatchesAByteLoop() {
        var rng = SeededRNG(seed: 0x11E)
        let alphabet: [UInt8] = [0x0A, 0x0D, 0x09, 0x0B, 0x0C, 0x0E, 0x8A, 0x8D, 0xFF, 0x00, 0x01, 0x80, 0x61, 0x20]
        for _ in 0..<2000 {
            let length = Int.random(in: 0...40, using: &rng)
            // Sparse line ends most of the time, so long runs reach the 16- and 8-byte steps.
            let dense = Bool.random(using: &rng)
            let bytes: [UInt8] = (0..<length).map { _ in
                if !dense && Int.random(in: 0..<12, using: &rng) != 0 { return alphabet[2 + Int.random(in: 0..<(alphabet.count - 2), using: &rng)] }
                return alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
            }
            bytes.withUnsafeBytes { buffer in
                for start in 0...length {
                    let expected = bytes[start...].firstIndex { $0 == 0x0A || $0 == 0x0D } ?? length
                    #expect(SSEBoundaryTracker.lineEndIndex(in: buffer, from: start) == expected, "\(bytes) from \(start)")
                }
            }
        }
        #expect(SSEBoundaryTracker.lineEndIndex(in: UnsafeRawBufferPointer(start: nil, count: 0), from: 0) == 0)
    }

    @Test func boundariesOnlyAfterBlankLines() {
        #expect(byteAtATimeBoundaries(sseBytes("data: a\n\ndata: b\ndata: c\n\n")) == [0, 9, 26])
        #expect(byteAtATimeBoundaries(sseBytes("data: a\r\n\r\n")) == [0, 11])
        // A lone CR only counts once the next byte shows it is not part of a CRLF.
        #expect(byteAtATimeBoundaries(sseBytes("data: a\r\rx")) == [0])
        #expect(byteAtATimeBoundaries(sseBytes("data: a\r\r\n")) == [0, 10])
    }

    @Test func commentsRetryAndUnknownFieldsDoNotOpenAnEvent() {
        for s in [": hello\n", ":\n", "retry: 3000\n", "foo: bar\n", "dat: x\n", "datax: 1\n", "eventx: y\n",
                  "ev\n", "d\n", "i\n", "idd: 5\n", "Data: x\n", ": a\r\n", ": a\n: b\n"] {
            #expect(scanned(s).isAtBoundary, "\(s.debugDescription)")
        }
    }

    @Test func dataEventAndIDOpenAnEvent() {
        for s in ["data: x\n", "data\n", "data:\n", "event: e\n", "event\n", "id: 1\n", "id\n", "id:\r\n",
                  "data: x", ": comment", "data: x\n:c\n"] {
            #expect(!scanned(s).isAtBoundary, "\(s.debugDescription)")
        }
    }

    @Test func trailingCRIsNotYetABoundary() {
        var t = scanned("data: x\n\r")  // the CR is a blank line: the event is dispatched...
        #expect(t.eventsSeen == 1)
        #expect(!t.isAtBoundary)  // ...but an LF may still follow
        #expect(t.scan(sseBytes("\n")) == 1)
        #expect(t.isAtBoundary)

        var u = scanned(": c\r")
        #expect(!u.isAtBoundary)
        #expect(u.scan(sseBytes("d"), stopAtBoundary: true) == 0)  // boundary before the `d`
        #expect(u.isAtBoundary)
        #expect(u.scan(sseBytes("data: y\n"), stopAtBoundary: false) == 8)
        #expect(!u.isAtBoundary)
    }

    @Test func eventsSeenCountsDispatchedEventsOnly() {
        #expect(scanned("event: e\n\n").eventsSeen == 0)  // no data: nothing dispatched
        #expect(scanned("id: 1\n\n").eventsSeen == 0)
        #expect(scanned(":c\n\n\n\n").eventsSeen == 0)
        #expect(scanned("data\n\n").eventsSeen == 1)
        #expect(scanned("data: a\ndata: b\n\n").eventsSeen == 1)
        #expect(scanned("data: a\r\rdata: b\r\n\r\ndata: c\n").eventsSeen == 2)  // last not dispatched yet
        #expect(scanned("data: a\n\n\n\ndata: b\n\n").eventsSeen == 2)
    }

    @Test func lastEventID() {
        #expect(scanned("id: 42\n\n").lastEventID == "42")
        #expect(scanned("id:42\r\n").lastEventID == "42")
        #expect(scanned("id:  x\n").lastEventID == " x")  // only one space is dropped
        #expect(scanned("id: a:b\n").lastEventID == "a:b")
        #expect(scanned("id: é😀\n").lastEventID == "é😀")
        #expect(scanned("id: 1\n\nid\n").lastEventID == "")  // empty id resets
        #expect(scanned("id: 1\n\nid: 2\u{0}x\n").lastEventID == "1")  // NUL: line ignored
        #expect(scanned("id: 1\n\nid: 2").lastEventID == "1")  // incomplete line: not yet
        #expect(scanned("id: 1\n\nidd: 2\n").lastEventID == "1")
        #expect(scanned("id: 7\n\ndata: id: 9\n\n").lastEventID == "7")

        let long = String(repeating: "z", count: SSEBoundaryTracker.maxEventIDBytes)
        #expect(scanned("id: \(long)\n").lastEventID == long)
        #expect(scanned("id: 1\n\nid: \(long)z\n").lastEventID == nil)  // too long: unknown
        #expect(scanned("id: \(long)z\n\nid: 3\n").lastEventID == "3")
    }

    @Test func lastEventIDAcrossSplits() {
        let s = sseBytes("id: abc\r\n\r\nid: defg\r\n\r\n")
        for cut in 0...s.count {
            var t = SSEBoundaryTracker()
            _ = t.scan(Array(s[..<cut]))
            _ = t.scan(Array(s[cut...]))
            #expect(t.lastEventID == "defg")
            #expect(t.isAtBoundary)
        }
    }

    @Test func leadingBOMIsSkipped() {
        let bom = SSEReference.bom
        #expect(byteAtATimeBoundaries(bom + sseBytes(": c\ndata: a\n\n")) == [0, 3, 7, 16])
        var t = SSEBoundaryTracker()
        _ = t.scan(bom + sseBytes("id: 5\n\n"))
        #expect(t.lastEventID == "5")
        // A BOM anywhere else is text: `\u{FEFF}data` is an unknown field.
        #expect(scanned("\n\u{FEFF}data: x\n").isAtBoundary)
        // Half a BOM, then something else: the EF starts an unknown field.
        #expect(byteAtATimeBoundaries([0xEF, 0x41, 0x0A]) == [0, 3])
        #expect(byteAtATimeBoundaries([0xEF, 0xBB, 0x0A]) == [0, 3])
    }

    @Test func stopAtBoundaryReturnsExactPrefixes() {
        let s = sseBytes("data: a\n\n: c\ndata: b\r\n\r\nevent: x\rdata: y\r\r")
        var t = SSEBoundaryTracker()
        var offsets: [Int] = []
        var at = 0
        while at < s.count {
            at += s[at...].withUnsafeBytes { t.scan($0, stopAtBoundary: true) }
            if t.isAtBoundary {
                offsets.append(at)
                at += s[at...].prefix(1).withUnsafeBytes { t.scan($0, stopAtBoundary: false) }
            }
        }
        #expect(offsets == [0, 9, 13, 24])
        #expect(!t.isAtBoundary)  // ends in a lone CR
        #expect(t.eventsSeen == 3)
    }

    @Test func stopAtBoundaryOnEmptyAndAtBoundary() {
        var t = SSEBoundaryTracker()
        #expect(t.scan([], stopAtBoundary: true) == 0)
        #expect(t.scan(sseBytes("data: a\n\n"), stopAtBoundary: true) == 0)  // already at one
        #expect(t.scan(sseBytes("data: a\n\nxx"), stopAtBoundary: false) == 11)
        #expect(t.bytesScanned == 11)
    }

    /// Hand-picked streams through the oracle at every split offset.
    @Test func handPickedStreamsAgreeWithOracle() {
        let streams = [
            "data: a\n\n", "data: a\r\n\r\n", "data: a\r\rdata: b\r\r", ": k\r\n\r\n: k\r", "id\r\r\n\n",
            "event: a\ndata\n\ndata: b\r\n:x\r\nretry: 5\r\rdata", "\r\n\r\n\r\r\n\n",
            "\u{FEFF}: hi\n\ndata: 😀\n\n", "dat\rdata\rd\ra\r\r", "e\nev\neve\neven\nevent\r\r",
            // Field names matched whole at a line start (six bytes or more ahead) and their
            // near misses, which must fall back to the byte-by-byte states.
            "datax: 1\n\ndata\r\n\r\n", "eventx: 1\n\nevent\n\nevens: 1\n\n", "idx: 1\n\nid\r\n\r\nid: 7\n\n",
            "data:data:\n\n", "id:data\n\n", ":data: x\n\n", "Data: x\n\n",
        ]
        for s in streams { checkAgainstOracle(sseBytes(s)) }
    }

    /// Random streams, split at every offset, checked against an independent oracle.
    @Test func randomStreamsAgreeWithOracle() {
        var rng = SeededRNG(seed: 0x5EE)
        for _ in 0..<150 {
            checkAgainstOracle(SSEStreamGenerator.stream(&rng, lines: Int.random(in: 1...30, using: &rng)))
        }
    }

    /// The relay's tracker skips recording `id:` values; its boundaries, stops and event counts
    /// must be exactly those of a recording tracker, byte by byte and with `stopAtBoundary`.
    @Test func boundariesDoNotDependOnRecordingEventIDs() {
        var rng = SeededRNG(seed: 0x1D)
        for _ in 0..<300 {
            let stream = SSEStreamGenerator.stream(&rng, lines: Int.random(in: 1...30, using: &rng))
            var recording = SSEBoundaryTracker()
            var boundaryOnly = SSEBoundaryTracker(recordsEventID: false)
            let stop = Bool.random(using: &rng)
            for read in SSEStreamGenerator.splits(&rng, count: stream.count) {
                var rest = stream[read]
                while !rest.isEmpty {
                    let a = rest.withUnsafeBytes { recording.scan($0, stopAtBoundary: stop) }
                    let b = rest.withUnsafeBytes { boundaryOnly.scan($0, stopAtBoundary: stop) }
                    #expect(a == b, "\(String(decoding: stream, as: UTF8.self).debugDescription)")
                    #expect(recording.isAtBoundary == boundaryOnly.isAtBoundary)
                    if a == 0 {  // stopped at a boundary: step over one byte
                        let one = [rest.first!]
                        #expect(recording.scan(one) == boundaryOnly.scan(one))
                        rest = rest.dropFirst()
                    } else {
                        rest = rest.dropFirst(a)
                    }
                }
            }
            #expect(recording.eventsSeen == boundaryOnly.eventsSeen)
            #expect(boundaryOnly.lastEventID == nil)
        }
    }

    /// The property the relay depends on: writing a keepalive wherever the tracker reports a
    /// boundary never changes a dispatched event. Random streams, random read sizes; a
    /// keepalive goes in at every boundary reachable with `stopAtBoundary`.
    @Test func keepalivesAtBoundariesNeverChangeEvents() {
        var rng = SeededRNG(seed: 42)
        let keepalive = SSEWriter.keepalive()
        for _ in 0..<400 {
            let stream = SSEStreamGenerator.stream(&rng, lines: Int.random(in: 1...40, using: &rng))
            let expected = SSEReference.parse(stream)
            var t = SSEBoundaryTracker()
            var out: [UInt8] = []
            var inserted = 0
            for read in SSEStreamGenerator.splits(&rng, count: stream.count) {
                var rest = stream[read]
                while !rest.isEmpty {
                    let n = rest.withUnsafeBytes { t.scan($0, stopAtBoundary: true) }
                    out += rest.prefix(n)
                    rest = rest.dropFirst(n)
                    if t.isAtBoundary {
                        if !out.isEmpty {  // never before the first upstream byte (BOM)
                            out += keepalive
                            inserted += 1
                        }
                        if let first = rest.first {
                            #expect(t.scan([first]) == 1)
                            out.append(first)
                            rest = rest.dropFirst()
                        }
                    }
                }
                // The relay's other moment: after each forwarded read.
                if t.isAtBoundary && !out.isEmpty {
                    out += keepalive
                    inserted += 1
                }
            }
            let got = SSEReference.parse(out)
            #expect(got.events == expected.events, "\(String(decoding: stream, as: UTF8.self).debugDescription)")
            #expect(got.idBuffer == expected.idBuffer)
            #expect(t.eventsSeen == UInt64(expected.events.count))
            #expect(t.lastEventID == expected.idBuffer)
            #expect(t.bytesScanned == UInt64(stream.count))
            #expect(expected.events.isEmpty || inserted > 0)
        }
    }

    /// The same property with the keepalive written after every single byte the tracker
    /// calls a boundary (byte-at-a-time reads).
    @Test func keepaliveAfterEveryByteAtBoundary() {
        var rng = SeededRNG(seed: 7)
        for _ in 0..<300 {
            let stream = SSEStreamGenerator.stream(&rng, lines: Int.random(in: 1...25, using: &rng))
            var t = SSEBoundaryTracker()
            var out: [UInt8] = []
            for b in stream {
                _ = t.scan([b])
                out.append(b)
                if t.isAtBoundary { out += sseBytes(":\n\n") }
            }
            #expect(SSEReference.parse(out).events == SSEReference.parse(stream).events)
        }
    }
}

/// For every offset s: scanning [0, s) in one read leaves `isAtBoundary` equal to the oracle
/// (except right after a CR, which is undecided), and scanning the rest with `stopAtBoundary`
/// stops exactly at the first oracle boundary at or after s.
private func checkAgainstOracle(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
    let oracle = SSEReference.boundaries(bytes)
    let reference = SSEReference.parse(bytes)
    for s in 0...bytes.count {
        var t = SSEBoundaryTracker()
        #expect(t.scan(Array(bytes[..<s])) == s, sourceLocation: sourceLocation)
        let undecidedCR = s > 0 && bytes[s - 1] == 0x0D
        #expect(t.isAtBoundary == (oracle.contains(s) && !undecidedCR), "offset \(s)", sourceLocation: sourceLocation)

        let r = bytes[s...].withUnsafeBytes { t.scan($0, stopAtBoundary: true) }
        if let q = oracle.filter({ $0 >= s }).min() {
            #expect(r == q - s, "from \(s) expected stop at \(q), got \(s + r)", sourceLocation: sourceLocation)
            #expect(t.isAtBoundary, sourceLocation: sourceLocation)
        } else {
            #expect(r == bytes.count - s, sourceLocation: sourceLocation)
            #expect(!t.isAtBoundary, sourceLocation: sourceLocation)
        }
        // Finishing the stream in one more read gives the same totals however it was split.
        _ = t.scan(Array(bytes[(s + r)...]))
        #expect(t.eventsSeen == UInt64(reference.events.count), sourceLocation: sourceLocation)
        #expect(t.lastEventID == reference.idBuffer, sourceLocation: sourceLocation)
    }
}
