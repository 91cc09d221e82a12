import Testing
import StreamgateCore

@Suite struct DescriptorBudgetTests {
    @Test func twoDescriptorsPerConnectionAfterTheReserve() {
        #expect(DescriptorBudget.connections(openFileLimit: 20_000) == 9_968)
        #expect(DescriptorBudget.connections(openFileLimit: 1_048_576) == 524_256)
        // A limit at or under the reserve (or unknown: -1) still reads as one connection, not
        // zero or less.
        #expect(DescriptorBudget.connections(openFileLimit: DescriptorBudget.reserve) == 1)
        #expect(DescriptorBudget.connections(openFileLimit: -1) == 1)
    }
}
