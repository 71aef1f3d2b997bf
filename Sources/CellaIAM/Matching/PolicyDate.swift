/// Dates as the `Date...` condition operators read them: ISO 8601 (`2026-01-31`,
/// `2026-01-31T12:00Z`, `2026-01-31T12:00:00.250+02:00`) or Unix epoch seconds (`1767225600`),
/// both as seconds since 1970-01-01T00:00:00Z.
///
/// Hand-written rather than `ISO8601DateFormatter`: it is strict (real calendar days, hours below
/// 24, an explicit zone on times), allocation-free, and runs per request for `cella:CurrentTime`.
package enum PolicyDate {
    /// Parses `text`, or returns nil.
    package static func parse(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { bytes in
            guard !bytes.isEmpty else { return nil }
            if bytes.count >= 10, bytes[4] == UInt8(ascii: "-") {
                return parseISO(bytes)
            }
            return parseEpoch(bytes)
        }
    }

    /// `-?digits(.digits)?`
    private static func parseEpoch(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var digits = bytes[...]
        if digits.first == UInt8(ascii: "-") { digits = digits.dropFirst() }
        let parts = digits.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(isDigit) }), digits.count <= 20 else {
            return nil
        }
        return Double(String(decoding: bytes, as: UTF8.self))
    }

    private static func parseISO(_ bytes: UnsafeBufferPointer<UInt8>) -> Double? {
        var reader = Reader(bytes: bytes)
        guard let year = reader.number(4), reader.skip("-"),
              let month = reader.number(2), reader.skip("-"),
              let day = reader.number(2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        if reader.atEnd { return seconds }
        guard reader.skip("T") || reader.skip("t"),
              let hour = reader.number(2), hour < 24, reader.skip(":"),
              let minute = reader.number(2), minute < 60
        else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if reader.skip(":") {
            guard let second = reader.number(2), second < 60 else { return nil }
            seconds += Double(second)
            if reader.skip(".") {
                guard let fraction = reader.fraction() else { return nil }
                seconds += fraction
            }
        }
        if reader.skip("Z") || reader.skip("z") {
            return reader.atEnd ? seconds : nil
        }
        let sign: Double
        if reader.skip("+") { sign = 1 } else if reader.skip("-") { sign = -1 } else { return nil }
        guard let offsetHours = reader.number(2), offsetHours < 24 else { return nil }
        _ = reader.skip(":")
        guard let offsetMinutes = reader.number(2), offsetMinutes < 60, reader.atEnd else { return nil }
        return seconds - sign * Double(offsetHours * 3600 + offsetMinutes * 60)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` for `epochSeconds` (years 0 to 9999).
    package static func iso8601(epochSeconds: Int) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = epochSeconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        var bytes = Array("0000-00-00T00:00:00Z".utf8)
        func put(_ value: Int, at end: Int, width: Int) {
            var value = value
            for index in stride(from: end, to: end - width, by: -1) {
                bytes[index] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            }
        }
        put(year, at: 3, width: 4)
        put(month, at: 6, width: 2)
        put(day, at: 9, width: 2)
        put(secondOfDay / 3600, at: 12, width: 2)
        put(secondOfDay / 60 % 60, at: 15, width: 2)
        put(secondOfDay % 60, at: 18, width: 2)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The inverse of ``daysFromCivil(year:month:day:)`` (H. Hinnant's `civil_from_days`).
    private static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's `days_from_civil`).
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        var atEnd: Bool { index == bytes.count }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func number(_ width: Int) -> Int? {
            guard bytes.count - index >= width else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += width
            return value
        }

        mutating func fraction() -> Double? {
            var value = 0.0
            var scale = 0.1
            let start = index
            while index < bytes.count, isDigit(bytes[index]) {
                value += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            return index > start ? value : nil
        }
    }
}
