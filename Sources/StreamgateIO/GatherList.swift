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
    /// The piece reserved for the size line of the chunk being gathered (`openChunk`), or -1.
    private var chunkLinePiece = -1
    /// `totalBytes` when that chunk was opened.
    private var chunkStart = 0

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
        chunkLinePiece = -1
    }

    /// Whether a chunk is open (`openChunk`): the list is not ready to be written.
    public var hasOpenChunk: Bool { chunkLinePiece >= 0 }

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

    /// Starts one HTTP/1.1 chunk whose payload is every piece appended until `closeChunk`: a
    /// slot is kept for its size line, written once the size is known. Chunk boundaries carry
    /// no meaning (RFC 9112 §7.1), so the payload of many upstream chunks read at once can
    /// leave as one: one size line and one CRLF instead of one pair per upstream chunk, fewer
    /// pieces per write and fewer framing bytes for the client to parse.
    public func openChunk() {
        precondition(chunkLinePiece < 0 && pieces < GatherList.capacity, "GatherList chunk already open or list full")
        chunkLinePiece = pieces
        chunkStart = totalBytes
        pieces += 1
    }

    /// Ends the chunk `openChunk` started: its size line and CRLF go around what was appended
    /// since; a chunk with no payload leaves nothing (a zero-size chunk would end the body).
    public func closeChunk() {
        guard chunkLinePiece >= 0 else { return }
        let size = totalBytes - chunkStart
        if size == 0 {
            // Empty views are never appended, so the reserved slot is the last piece.
            pieces -= 1
        } else {
            let line = framing + chunkLinePiece * 16
            let len = ChunkSizeLine.write(size, into: line)
            vectors[chunkLinePiece] = iovec(iov_base: UnsafeMutableRawPointer(line), iov_len: len)
            totalBytes += len
            append(UnsafeRawBufferPointer(start: crlf, count: 2))
        }
        chunkLinePiece = -1
    }

    /// Adds `payload` as one HTTP/1.1 chunk: size line, the payload (borrowed), CRLF.
    public func appendChunk(_ payload: UnsafeRawBufferPointer) {
        openChunk()
        append(payload)
        closeChunk()
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
