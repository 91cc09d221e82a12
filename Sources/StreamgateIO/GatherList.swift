#if canImport(Glibc)
import Glibc
#endif

/// Output pieces collected for one gathered write (`writev`): borrowed payload views plus
/// the chunk-size lines and CRLFs that frame them, which live in the list's own storage.
///
/// One per loop (`EventLoop.gather`), reused for every relayed read, so relaying allocates
/// nothing. Borrowed views must stay valid until the list is written or reset.
public final class GatherList {
    /// Pieces per write; a caller with more flushes in between (`isFull`).
    public static let capacity = 48
    let vectors: UnsafeMutablePointer<iovec>
    /// 16 bytes per framing piece: at most 16 hex digits + CRLF fit (a size line never needs more
    /// than 12 here: payloads come from one read of at most 64 KB).
    private let framing: UnsafeMutablePointer<UInt8>
    /// Pieces added since the last reset.
    public var count: Int { pieces }
    /// Bytes those pieces hold.
    public var byteCount: Int { totalBytes }
    // Private stored state behind public getters: with every access inside this file, the
    // optimizer can prove none overlaps and drops the runtime exclusivity checks that a
    // publicly settable-looking property costs on each append.
    private var pieces = 0
    private var totalBytes = 0

    /// The CRLF after each chunk's payload (one shared copy, after the size-line slots).
    private let crlf: UnsafeMutablePointer<UInt8>

    init() {
        vectors = .allocate(capacity: GatherList.capacity)
        framing = .allocate(capacity: GatherList.capacity * 16 + 2)
        crlf = framing + GatherList.capacity * 16
        crlf[0] = 0x0D
        crlf[1] = 0x0A
    }

    deinit {
        vectors.deallocate()
        framing.deallocate()
    }

    public func reset() {
        pieces = 0
        totalBytes = 0
    }

    /// True when one more chunk (three pieces) might not fit.
    public var isFull: Bool { count + 3 > GatherList.capacity }

    /// Adds a borrowed view (not copied).
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        precondition(pieces < GatherList.capacity, "GatherList overflow")
        vectors[pieces] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        pieces += 1
        totalBytes += bytes.count
    }

    /// Adds `payload` as one HTTP/1.1 chunk: size line, the payload (borrowed), CRLF.
    public func appendChunk(_ payload: UnsafeRawBufferPointer) {
        guard payload.count > 0 else { return }
        let line = framing + pieces * 16
        let len = ChunkSizeLine.write(payload.count, into: line)
        append(UnsafeRawBufferPointer(start: line, count: len))
        append(payload)
        append(UnsafeRawBufferPointer(start: crlf, count: 2))
    }
}

/// `<hex size>\r\n`, written without allocating.
enum ChunkSizeLine {
    /// Writes the line for `size` at `out` (room for 18 bytes) and returns its length.
    static func write(_ size: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let digits: StaticString = "0123456789abcdef"
        var n = UInt(size)
        var len = 0
        repeat { len += 1; n >>= 4 } while n > 0
        n = UInt(size)
        var i = len
        while i > 0 {
            i -= 1
            out[i] = digits.utf8Start[Int(n & 0xF)]
            n >>= 4
        }
        out[len] = 0x0D
        out[len + 1] = 0x0A
        return len + 2
    }
}
