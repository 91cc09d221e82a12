internal import CLibevent

/// A non-owning view of a libevent `evbuffer` (a bufferevent's input or output).
///
/// Bytes move buffer to buffer (`move(_:to:)`) without copying on the relay path.
public struct EvBuffer {
    let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }

    public var count: Int { evbuffer_get_length(raw) }
    public var isEmpty: Bool { count == 0 }

    /// A contiguous view of the first `min(count, max)` bytes (linearising only that much).
    /// Valid until the buffer is next modified.
    public func peek(max: Int) -> UnsafeRawBufferPointer {
        let n = min(count, max)
        if n == 0 { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let p = evbuffer_pullup(raw, n)
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// Calls `body` with each contiguous segment of the first `length` bytes, without copying.
    public func forEachSegment(length: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        var remaining = min(length, count)
        if remaining == 0 { return }
        var vecs = (iovec(), iovec(), iovec(), iovec())
        var ptr = evbuffer_ptr()
        evbuffer_ptr_set(raw, &ptr, 0, EVBUFFER_PTR_SET)
        while remaining > 0 {
            let got: Int32 = withUnsafeMutableBytes(of: &vecs) { vb in
                let v = vb.baseAddress!.assumingMemoryBound(to: iovec.self)
                return evbuffer_peek(raw, remaining, &ptr, v, 4)
            }
            if got <= 0 { return }
            var advanced = 0
            withUnsafeBytes(of: &vecs) { vb in
                let v = vb.baseAddress!.assumingMemoryBound(to: iovec.self)
                for i in 0..<min(Int(got), 4) where remaining > 0 {
                    let n = min(v[i].iov_len, remaining)
                    body(UnsafeRawBufferPointer(start: v[i].iov_base, count: n))
                    remaining -= n
                    advanced += n
                }
            }
            if remaining > 0 {
                if evbuffer_ptr_set(raw, &ptr, advanced, EVBUFFER_PTR_ADD) != 0 { return }
            }
        }
    }

    public func drain(_ n: Int) { evbuffer_drain(raw, n) }

    /// Moves the first `n` bytes into `other` (zero-copy where libevent can).
    @discardableResult
    public func move(_ n: Int, to other: EvBuffer) -> Int {
        Int(evbuffer_remove_buffer(raw, other.raw, n))
    }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { evbuffer_add(raw, bytes.baseAddress, bytes.count) }
    }

    public func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    public func append(_ string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a chunk-size line (`<hex>\r\n`) without allocating: the relay writes one per
    /// relayed read.
    public func appendChunkHeader(_ size: Int) {
        var line: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &line) { buf in
            let p = buf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            evbuffer_add(raw, p, ChunkSizeLine.write(size, into: p))
        }
    }
}
