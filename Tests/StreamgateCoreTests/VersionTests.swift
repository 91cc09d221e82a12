import Testing
@testable import StreamgateCore
@Test func versionIsSemver() { #expect(StreamgateVersion.string.split(separator: ".").count == 3) }
