// Byte-level checks of the load generator's parsers (chunked body, SSE scanner, response head,
// histogram), fed with random splits down to one byte. Compiled and run by bench-selftest.sh
// together with Sources/StreamgateBench/{HTTPResponseReader,LatencyHistogram}.swift.
// Build a chunked SSE body with CRLF/LF/CR variants, comments, trailers; feed with random splits.
var rng = SystemRandomNumberGenerator()
var events = ""
var expected = 0
for i in 0..<200 {
    let eol = ["\n", "\r\n", "\r"][i % 3]
    if i % 7 == 0 { events += ": keepalive\(eol)\(eol)" }
    events += "id: \(i)\(eol)event: tick\(eol)data: {\"seq\":\(i),\"sent_us\":\(1000 + i),\"pad\":\"\\\"sent_us\\\"\"}\(eol)\(eol)"
    expected += 1
}
events += "data\n\n"; expected += 1  // empty data line still dispatches
events += "event: nodata\n\n"        // no data: not an event
let payload = Array(events.utf8)
var wire: [UInt8] = []
var i = 0
while i < payload.count {
    let n = min(payload.count - i, Int.random(in: 1...97, using: &rng))
    wire += Array(String(n, radix: 16).utf8) + (n % 2 == 0 ? Array(";ext=1\r\n".utf8) : [13, 10])
    wire += payload[i..<(i + n)] + [13, 10]
    i += n
}
wire += Array("0\r\nX-Trailer: 1\r\n\r\n".utf8)
for trial in 0..<300 {
    var body = BodyReader(.chunked)
    var scanner = SSEScanner()
    var h = LatencyHistogram()
    var got: [UInt8] = []
    var pos = 0
    while pos < wire.count {
        let n = trial == 0 ? 1 : min(wire.count - pos, Int.random(in: 1...300, using: &rng))
        wire[pos..<(pos + n)].withUnsafeBytes { seg in
            _ = body.feed(seg) { p in got += p; scanner.feed(p, nowMicros: 5000, histogram: &h) }
        }
        pos += n
    }
    let (ev, cm) = scanner.take()
    precondition(got == payload, "payload mismatch trial \(trial)")
    precondition(body.isDone, "not done")
    precondition(ev == expected, "events \(ev) != \(expected)")
    precondition(cm == 29, "comments \(cm)")
    precondition(h.total == 200 && h.max == 4000 && h.min == 3801, "hist \(h.total) \(h.max) \(h.min)")
}
// Head parsing.
let head = Array("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTRANSFER-ENCODING: gzip, Chunked\r\nConnection: keep-alive".utf8)
let info = head.withUnsafeBytes { ResponseHeadInfo.parse($0) }!
precondition(info.status == 200 && info.chunked && info.eventStream && !info.close)
let h10 = Array("HTTP/1.0 404 Not Found\r\nContent-Length: 12".utf8).withUnsafeBytes { ResponseHeadInfo.parse($0) }!
precondition(h10.status == 404 && h10.close && h10.contentLength == 12 && h10.framing == .length(12))
// Histogram bucket error bound.
var hh = LatencyHistogram()
for v in stride(from: Int64(0), to: 10_000_000, by: 997) { hh.record(v) }
let p50 = hh.percentile(0.5)!
precondition(abs(p50 - 5_000_000) / 5_000_000 < 0.035, "p50 \(p50)")
for v in [Int64(0), 63, 64, 65, 127, 128, 1000, 123456789] {
    let i = LatencyHistogram.index(v), mid = LatencyHistogram.value(at: i)
    precondition(v < 64 ? mid == Double(v) : abs(mid - Double(v)) / Double(v) <= 1.0 / 32, "bucket \(v) \(mid)")
}
print("all ok")
