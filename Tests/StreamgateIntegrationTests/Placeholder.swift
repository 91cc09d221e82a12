import Testing
@testable import Streamgate
