internal import CHiredis
internal import CStreamgateShims

/// hiredis' RESP parser, and nothing else of hiredis: replies are matched to commands by
/// `RedisReplyRouter`, not by hiredis' async layer, which `assert`s (aborts the process) on
/// replies a hostile or broken server can send.
///
/// Bounded: one reply may span at most `maxReplyBytes` bytes on the wire, and an array may
/// announce no more elements than would fit in that (hiredis 0.14 allocates the element
/// table from the header). Past either bound the reader fails, and the connection with it.
///
/// Owns its `redisReader`; loop-confined like the session that owns it.
final class RedisReplyReader {
    enum Next: Equatable {
        case reply(RedisReply)
        /// The bytes fed so far hold no further complete reply.
        case needMore
        /// The stream is unusable from here on (protocol error or a bound exceeded).
        case failed(String)
    }

    let maxReplyBytes: Int
    private let reader: UnsafeMutablePointer<redisReader>
    /// Bytes fed in all, and how many of them the replies returned so far spanned: the
    /// difference is the size of the reply being read.
    private var fed = 0
    private var taken = 0
    private var failure: String?

    /// nil if hiredis cannot allocate a reader.
    init?(maxReplyBytes: Int) {
        self.maxReplyBytes = max(maxReplyBytes, 16)
        // Every element costs at least 3 bytes on the wire (`+\r\n`).
        guard let r = sg_redis_reader_create(Int32(clamping: self.maxReplyBytes / 3)) else { return nil }
        reader = r
    }

    deinit { sg_redis_reader_free(reader) }

    /// Appends received bytes (copied). False once the reader has failed.
    @discardableResult
    func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard failure == nil else { return false }
        guard let base = bytes.baseAddress, bytes.count > 0 else { return true }
        guard redisReaderFeed(reader, base.assumingMemoryBound(to: CChar.self), bytes.count) == REDIS_OK else {
            failure = "redis reader: " + errorText()
            return false
        }
        fed += bytes.count
        return true
    }

    /// The next complete reply, if the bytes fed so far hold one.
    func next() -> Next {
        if let failure { return .failed(failure) }
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else {
            let why = sg_redis_reader_refused_array(reader) != 0
                ? "an array announced more elements than \(maxReplyBytes) bytes can hold" : errorText()
            return fail(why)
        }
        guard let raw else {
            if fed - taken > maxReplyBytes { return fail("a reply exceeds \(maxReplyBytes) bytes") }
            return .needMore
        }
        defer { freeReplyObject(raw) }
        // Not yet parsed: `len - pos` (hiredis compacts its buffer, so track what it consumed).
        let consumed = fed - (reader.pointee.len - reader.pointee.pos)
        // A reply that arrived whole in one read was never seen incomplete: check it here too.
        if consumed - taken > maxReplyBytes { return fail("a reply exceeds \(maxReplyBytes) bytes") }
        taken = consumed
        switch RedisReply.decode(UnsafePointer(raw.assumingMemoryBound(to: redisReply.self))) {
        case .success(let reply): return .reply(reply)
        case .failure(let e): return fail(e.description)
        }
    }

    private func fail(_ why: String) -> Next {
        failure = why
        return .failed(why)
    }

    private func errorText() -> String {
        let text = withUnsafeBytes(of: reader.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "protocol error" : text
    }
}
