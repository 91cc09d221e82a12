/// Size limits applied while parsing HTTP/1.1 messages.
///
/// Every limit is checked while bytes arrive, so a peer can never make the parser hold more
/// than these amounts no matter how it splits its writes.
public struct HTTPLimits: Sendable, Equatable {
    /// The whole head, request/status line and terminators included. Exceeding it: 431
    /// (requests) or 502 (responses). Also bounds the trailer section of chunked bodies.
    public var maxHeaderBytes: Int
    /// Field lines in one head. Exceeding it: 431 (requests) or 502 (responses).
    public var maxHeaderCount: Int
    /// The request line without its terminator. Exceeding it: 414 (the target is what grows).
    public var maxRequestLineBytes: Int
    /// The method token. Exceeding it: 501 (no method that long is implemented anywhere).
    public var maxMethodBytes: Int
    /// Chunk extensions of one chunk-size line. Exceeding it: 400 (requests) or 502 (responses).
    public var maxChunkExtensionBytes: Int

    public init(
        maxHeaderBytes: Int = 32 * 1024, maxHeaderCount: Int = 100, maxRequestLineBytes: Int = 8192,
        maxMethodBytes: Int = 32, maxChunkExtensionBytes: Int = 4096
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxMethodBytes = maxMethodBytes
        self.maxChunkExtensionBytes = maxChunkExtensionBytes
    }
}
