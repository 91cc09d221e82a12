import Testing
@testable import StreamgateCore

@Suite("AuthQueryTokenStripper")
struct AuthQueryTokenStripperTests {
    func strip(_ target: String) -> String { QueryTokenStripper.removing(parameter: "access_token", from: target) }

    @Test func removesOnlyTheParameter() {
        #expect(strip("/e?access_token=abc") == "/e")
        #expect(strip("/e?a=1&access_token=abc") == "/e?a=1")
        #expect(strip("/e?access_token=abc&a=1") == "/e?a=1")
        #expect(strip("/e?b=%2F&access_token=abc&a=1+2") == "/e?b=%2F&a=1+2")
        #expect(strip("/e?z=9&access_token=1&y=8&access_token=2&x=7") == "/e?z=9&y=8&x=7")
        #expect(strip("/e?access_token") == "/e")
        #expect(strip("/e?access_token=a&access_token=b") == "/e")
    }

    @Test func leavesOtherBytesAlone() {
        #expect(strip("/e?a=1&&b=2&access_token=x") == "/e?a=1&&b=2")
        #expect(strip("/e?A=%7e&a=%7E&c") == "/e?A=%7e&a=%7E&c")
        #expect(strip("/e/%2F/x?a=1") == "/e/%2F/x?a=1")
        #expect(strip("/e?") == "/e?")
        #expect(strip("/e") == "/e")
        #expect(strip("http://h:1/e?q=1&access_token=t") == "http://h:1/e?q=1")
    }

    @Test func nameMatchIsExactOnRawBytes() {
        #expect(strip("/e?access_token2=x&Access_Token=y&access%5Ftoken=z&xaccess_token=w")
            == "/e?access_token2=x&Access_Token=y&access%5Ftoken=z&xaccess_token=w")
        #expect(strip("/e?access_token=x=y") == "/e")
    }

    @Test func extractingReturnsRawValuesInOrder() {
        let (values, target) = QueryTokenStripper.extracting(parameter: "lastEventId", from: "/s?lastEventId=a%20b&x=1&lastEventId=c")
        #expect(values == ["a%20b", "c"])
        #expect(target == "/s?x=1")
        #expect(QueryTokenStripper.percentDecoded(values[0]) == "a b")
        let none = QueryTokenStripper.extracting(parameter: "lastEventId", from: "/s?x=1")
        #expect(none.values.isEmpty && none.target == "/s?x=1")
    }

    @Test func percentDecoding() {
        #expect(QueryTokenStripper.percentDecoded("a+b%2Bc") == "a+b+c")
        #expect(QueryTokenStripper.percentDecoded("a+b", plusAsSpace: true) == "a b")
        #expect(QueryTokenStripper.percentDecoded("%C3%A9") == "é")
        #expect(QueryTokenStripper.percentDecoded("%C3") == nil)
        #expect(QueryTokenStripper.percentDecoded("%G0") == nil)
        #expect(QueryTokenStripper.percentDecoded("abc%") == nil)
    }

    @Test func valuesInBareQuery() {
        #expect(QueryTokenStripper.values(of: "t", inQuery: "t=1&u=2&t") == ["1", ""])
    }
}
