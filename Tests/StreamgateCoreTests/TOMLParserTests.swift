import Testing
@testable import StreamgateCore

@Suite struct TOMLParserTests {
    @Test func smoke() throws {
        let doc = try TOMLParser.parse("a = 1\n[b]\nc = \"x\"\n")
        #expect(doc["a"]?.value == .integer(1))
    }
}
