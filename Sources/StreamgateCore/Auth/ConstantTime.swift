/// Comparisons whose running time does not depend on where two secrets first differ.
public enum ConstantTime {
    /// True when both sequences hold the same bytes. The time depends only on the lengths
    /// (lengths of digests and MACs are public), never on the contents.
    public static func equals<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    public static func equals(_ a: TokenDigest, _ b: TokenDigest) -> Bool { a == b }
}
