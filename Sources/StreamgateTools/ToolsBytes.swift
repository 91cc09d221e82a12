#if canImport(Glibc)
import Glibc
#endif

/// Byte searching for the tools' hand-rolled HTTP readers (glibc's `memmem` is not visible to Swift).
public enum ToolsBytes {
    /// Offset of the first occurrence of `needle` in `haystack`, using `memchr` to skip ahead.
    public static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        let n = needle.count
        guard n > 0, haystack.count >= n, let base = haystack.baseAddress else { return nil }
        let first = Int32(needle[0])
        var i = 0
        let last = haystack.count - n
        while i <= last {
            guard let hit = memchr(base + i, first, last - i + 1) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            var k = 1
            while k < n && haystack[at + k] == needle[k] { k += 1 }
            if k == n { return at }
            i = at + 1
        }
        return nil
    }
}
