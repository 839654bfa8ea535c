/// A point in time in milliseconds since the Unix epoch (UTC), with strict RFC 3339 text.
///
/// The core never reads a clock: callers pass `Timestamp`s in, so tests pin time.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let millisecondsSinceEpoch: Int64

    public init(millisecondsSinceEpoch: Int64) { self.millisecondsSinceEpoch = millisecondsSinceEpoch }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.millisecondsSinceEpoch < b.millisecondsSinceEpoch }

    /// `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC), the form Vellum writes into credentials.
    public var description: String { rfc3339 }

    public var rfc3339: String {
        var text: [UInt8] = []
        text.reserveCapacity(20)
        writeRFC3339(into: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends `rfc3339`'s bytes to `out`, written without intermediate strings (it is on every
    /// status answer, three times).
    public func writeRFC3339(into text: inout [UInt8]) {
        let seconds = millisecondsSinceEpoch >= 0 ? millisecondsSinceEpoch / 1000 : (millisecondsSinceEpoch - 999) / 1000
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = Int(seconds - days * 86400)
        let (y, m, d) = Timestamp.civil(fromDays: days)
        func put(_ value: Int, _ width: Int) {
            let start = text.count
            text.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
            var v = value
            for i in stride(from: start + width - 1, through: start, by: -1) {
                text[i] += UInt8(v % 10)
                v /= 10
            }
        }
        func mark(_ c: Unicode.Scalar) { text.append(UInt8(ascii: c)) }
        if (0...9999).contains(y) { put(Int(y), 4) } else { text.append(contentsOf: String(y).utf8) }
        mark("-"); put(m, 2); mark("-"); put(d, 2)
        mark("T"); put(secondOfDay / 3600, 2); mark(":"); put(secondOfDay / 60 % 60, 2); mark(":"); put(secondOfDay % 60, 2); mark("Z")
    }

    /// `rfc3339` as a JSON string (it never needs escaping).
    public func writeJSONString(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        writeRFC3339(into: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Parses an RFC 3339 date-time (`2026-11-27T10:00:00Z`, fractional seconds and offsets
    /// allowed). With `allowDateOnly`, `2026-11-27` means midnight UTC that day.
    public init?(parsing text: String, allowDateOnly: Bool = false) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { return nil }
                v = v * 10 + Int(b[i] - UInt8(ascii: "0"))
            }
            return v
        }
        guard let year = num(0, 4), b.count >= 10, b[4] == UInt8(ascii: "-"), let month = num(5, 2),
            b[7] == UInt8(ascii: "-"), let day = num(8, 2), (1...12).contains(month),
            (1...Timestamp.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let dayNumber = Timestamp.days(fromCivil: Int64(year), month, day)
        if b.count == 10 {
            guard allowDateOnly else { return nil }
            self.init(millisecondsSinceEpoch: dayNumber * 86_400_000)
            return
        }
        guard b.count >= 20, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
            let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2), b[16] == UInt8(ascii: ":"),
            let second = num(17, 2), hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var millis = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) {
                if i - start < 3 { millis = millis * 10 + Int(b[i] - UInt8(ascii: "0")) }
                i += 1
            }
            guard i > start else { return nil }
            for _ in 0..<max(0, 3 - (i - start)) { millis *= 10 }
        }
        guard i < b.count else { return nil }
        var offsetMinutes = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), b.count > i + 3, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2),
                oh < 24, om < 60
            else { return nil }
            offsetMinutes = (oh * 60 + om) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = dayNumber * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        self.init(millisecondsSinceEpoch: seconds * 1000 + Int64(millis))
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Timestamp {
    /// A time given by a user (`--at`, `?at=`): an RFC 3339 date-time, or a date meaning its
    /// start in UTC. `option` names where it came from in the error.
    public init(query text: String, option: String) throws(VellumError) {
        guard let t = Timestamp(parsing: text) ?? Timestamp(parsing: text, allowDateOnly: true) else {
            throw VellumError(.invalidInput, "\(option) '\(text)' is not an ISO 8601 date or date-time")
        }
        self = t
    }
}
