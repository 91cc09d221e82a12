/// Integers, floats and date-times: the values that start with a digit or a sign.
extension TOMLCursor {
    /// Scalars that can occur inside a number or date-time; the token ends at the first other.
    private static func isTokenScalar(_ scalar: Unicode.Scalar) -> Bool {
        isBareKeyScalar(scalar) || scalar == "+" || scalar == "." || scalar == ":"
    }

    /// Parses the number or date-time at the cursor (a digit, `+` or `-`).
    mutating func parseNumberOrDateTime() throws(TOMLSyntaxError) -> TOMLValue {
        let start = index
        var end = start
        while let scalar = scalar(at: end), TOMLCursor.isTokenScalar(scalar) { end += 1 }
        // RFC 3339 allows a space between date and time: "1979-05-27 07:32:00Z".
        if end - start == 10, isDateShaped(from: start), scalar(at: end) == " ",
           TOMLCursor.isDigit(scalar(at: end + 1)), TOMLCursor.isDigit(scalar(at: end + 2)),
           scalar(at: end + 3) == ":" {
            end += 1
            while let scalar = scalar(at: end), TOMLCursor.isTokenScalar(scalar) { end += 1 }
        }
        let token = Array(scalars[start..<end])
        let value: TOMLValue
        if isDateShaped(from: start) || (token.count >= 3 && TOMLCursor.isDigit(token[0])
            && TOMLCursor.isDigit(token[1]) && token[2] == ":") {
            try validateDateTime(token, start: start)
            var text = String.UnicodeScalarView()
            text.append(contentsOf: token)
            value = .datetime(String(text))
        } else {
            value = try parseNumber(token, start: start)
        }
        index = end
        return value
    }

    /// `dddd-` at `offset`: the start of a full date.
    private func isDateShaped(from offset: Int) -> Bool {
        (0..<4).allSatisfy { TOMLCursor.isDigit(scalar(at: offset + $0)) } && scalar(at: offset + 4) == "-"
    }

    // MARK: Numbers

    private func parseNumber(_ token: [Unicode.Scalar], start: Int) throws(TOMLSyntaxError) -> TOMLValue {
        var i = 0
        var negative = false
        let signed = token.first == "+" || token.first == "-"
        if signed {
            negative = token[0] == "-"
            i = 1
        }
        let rest = String(String.UnicodeScalarView(token[i...]))
        if rest == "inf" { return .float(negative ? -.infinity : .infinity) }
        if rest == "nan" { return .float(.nan) }

        if token.count >= i + 2, token[i] == "0", let radix = TOMLCursor.radix(token[i + 1]) {
            if signed { throw error("a \(TOMLCursor.radixName(radix)) integer cannot have a sign", at: start) }
            i += 2
            let digits = try scanDigits(token, &i, radix: radix, start: start)
            try expectEnd(of: token, at: i, start: start)
            guard let value = Int64(digits, radix: radix) else {
                throw error("integer \(String(String.UnicodeScalarView(token))) does not fit in 64 bits", at: start)
            }
            return .integer(value)
        }

        var literal = negative ? "-" : ""
        let integerStart = i
        literal += try scanDigits(token, &i, radix: 10, start: start)
        if token[integerStart] == "0" && i - integerStart > 1 {
            throw error("leading zeros are not allowed in a number", at: start + integerStart)
        }
        var isFloat = false
        if i < token.count && token[i] == "." {
            isFloat = true
            i += 1
            literal += "." + (try scanDigits(token, &i, radix: 10, start: start))
        }
        if i < token.count && (token[i] == "e" || token[i] == "E") {
            isFloat = true
            i += 1
            literal += "e"
            if i < token.count && (token[i] == "+" || token[i] == "-") {
                literal.unicodeScalars.append(token[i])
                i += 1
            }
            // The exponent may have leading zeros: "it follows the same rules as decimal
            // integer values but may include leading zeros".
            literal += try scanDigits(token, &i, radix: 10, start: start)
        }
        try expectEnd(of: token, at: i, start: start)
        if isFloat {
            guard let value = Double(literal), value.isFinite else {
                throw error("float \(String(String.UnicodeScalarView(token))) is out of range", at: start)
            }
            return .float(value)
        }
        guard let value = Int64(literal) else {
            throw error("integer \(String(String.UnicodeScalarView(token))) does not fit in 64 bits", at: start)
        }
        return .integer(value)
    }

    private static func radix(_ scalar: Unicode.Scalar) -> Int? {
        switch scalar {
        case "x": 16
        case "o": 8
        case "b": 2
        default: nil
        }
    }

    private static func radixName(_ radix: Int) -> String {
        switch radix {
        case 16: "hexadecimal"
        case 8: "octal"
        default: "binary"
        }
    }

    private static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
        hexValue(scalar).map(Int.init)
    }

    /// Reads one or more digits in `radix` with single underscores between digits; returns the
    /// digits without underscores.
    private func scanDigits(_ token: [Unicode.Scalar], _ i: inout Int, radix: Int, start: Int) throws(TOMLSyntaxError) -> String {
        func isDigit(_ at: Int) -> Bool {
            at < token.count && (TOMLCursor.digitValue(token[at]).map { $0 < radix } ?? false)
        }
        guard isDigit(i) else {
            let found = i < token.count ? "'\(token[i])'" : "end of number"
            throw error("expected a digit in number, found \(found)", at: start + min(i, token.count))
        }
        var digits = String.UnicodeScalarView()
        while i < token.count {
            if isDigit(i) {
                digits.append(token[i])
            } else if token[i] == "_" {
                guard isDigit(i + 1) else { throw error("'_' in a number must be between two digits", at: start + i) }
            } else {
                break
            }
            i += 1
        }
        return String(digits)
    }

    private func expectEnd(of token: [Unicode.Scalar], at i: Int, start: Int) throws(TOMLSyntaxError) {
        guard i < token.count else { return }
        throw error("invalid character '\(token[i])' in number", at: start + i)
    }

    // MARK: Date-times

    /// Checks the shape and ranges of an offset/local date-time, local date or local time
    /// (RFC 3339 as TOML 1.0 uses it: seconds required, fraction optional).
    private func validateDateTime(_ token: [Unicode.Scalar], start: Int) throws(TOMLSyntaxError) {
        var i = 0
        let text = String(String.UnicodeScalarView(token))
        func fail(_ problem: String) -> TOMLSyntaxError {
            error("invalid date-time '\(text)': \(problem)", at: start)
        }
        func number(_ count: Int) -> Int? {
            guard i + count <= token.count else { return nil }
            var value = 0
            for offset in 0..<count {
                guard TOMLCursor.isDigit(token[i + offset]) else { return nil }
                value = value * 10 + Int(token[i + offset].value - 0x30)
            }
            i += count
            return value
        }
        func expect(_ scalar: Unicode.Scalar) -> Bool {
            guard i < token.count, token[i] == scalar else { return false }
            i += 1
            return true
        }
        func time() throws(TOMLSyntaxError) {
            guard let hour = number(2), expect(":"), let minute = number(2) else {
                throw fail("expected HH:MM:SS")
            }
            guard expect(":"), let second = number(2) else { throw fail("seconds are required (HH:MM:SS)") }
            guard hour < 24 else { throw fail("hour must be 00-23") }
            guard minute < 60 else { throw fail("minute must be 00-59") }
            // 60 is a leap second, which RFC 3339 allows.
            guard second <= 60 else { throw fail("second must be 00-60") }
            if expect(".") {
                guard number(1) != nil else { throw fail("expected digits after '.'") }
                while i < token.count && TOMLCursor.isDigit(token[i]) { i += 1 }
            }
        }

        if token.count >= 3 && token[2] == ":" {
            try time()
            guard i == token.count else { throw fail("unexpected '\(token[i])' after the time") }
            return
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2) else {
            throw fail("expected YYYY-MM-DD")
        }
        // RFC 3339 admits year 0000, but toml-test (and so most TOML parsers) reject it.
        guard year >= 1 else { throw fail("year must be 0001-9999") }
        guard (1...12).contains(month) else { throw fail("month must be 01-12") }
        guard day >= 1 && day <= TOMLCursor.daysIn(month: month, year: year) else {
            throw fail("day \(day) does not exist in that month")
        }
        if i == token.count { return }
        guard expect("T") || expect("t") || expect(" ") else {
            throw fail("expected 'T' or a space between date and time")
        }
        try time()
        if i == token.count { return }
        if expect("Z") || expect("z") {
            // UTC.
        } else if expect("+") || expect("-") {
            guard let hours = number(2), expect(":"), let minutes = number(2), hours < 24, minutes < 60 else {
                throw fail("offset must be Z or +HH:MM / -HH:MM")
            }
        } else {
            throw fail("unexpected '\(token[i])' after the time")
        }
        guard i == token.count else { throw fail("unexpected '\(token[i])' after the offset") }
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
