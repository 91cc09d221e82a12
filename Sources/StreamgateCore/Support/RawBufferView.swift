extension UnsafeRawBufferPointer {
    /// The `count` bytes at offset `from`, as a view of the same memory.
    ///
    /// `UnsafeRawBufferPointer(rebasing: self[a..<b])` goes through the generic slice and
    /// range machinery, which showed up per read on the relay path; this is two additions.
    /// The range is checked in every build (two comparisons): head parsers slice client input
    /// with it, and a bad range there must trap, not read past the buffer.
    @inlinable
    public func view(from: Int, count: Int) -> UnsafeRawBufferPointer {
        precondition(from >= 0 && count >= 0 && from <= self.count - count, "view out of bounds")
        guard let base = baseAddress else { return self }
        return UnsafeRawBufferPointer(start: base + from, count: count)
    }
}
