/// An RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF or LF line ends, line breaks
/// inside quotes. Each record remembers the line it starts on, for error messages.
public enum CSV {
    public struct Record: Sendable, Equatable {
        public let line: Int
        public let fields: [String]
    }

    public struct ParseError: Error, Sendable, Equatable {
        public let line: Int
        public let message: String
    }

    public static func parse(_ text: String) throws(ParseError) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quotedField = false
        var afterQuote = false
        let bytes = Array(text.utf8)
        var i = 0
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            quotedField = false
            afterQuote = false
        }
        func endRecord() {
            endField()
            if !(fields.count == 1 && fields[0].isEmpty) { records.append(Record(line: recordLine, fields: fields)) }
            fields.removeAll()
        }
        while i < bytes.count {
            let c = bytes[i]
            if inQuotes {
                if c == UInt8(ascii: "\"") {
                    if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\"") {
                        field.append(c)
                        i += 2
                        continue
                    }
                    inQuotes = false
                    afterQuote = true
                } else {
                    if c == UInt8(ascii: "\n") { line += 1 }
                    field.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: ","):
                endField()
            case UInt8(ascii: "\r"):
                if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "\n") { i += 1 }
                endRecord()
                line += 1
                recordLine = line
            case UInt8(ascii: "\n"):
                endRecord()
                line += 1
                recordLine = line
            case UInt8(ascii: "\""):
                guard field.isEmpty, !quotedField else { throw ParseError(line: line, message: "a quote inside an unquoted field") }
                inQuotes = true
                quotedField = true
            default:
                guard !afterQuote else { throw ParseError(line: line, message: "text after a closing quote") }
                field.append(c)
            }
            i += 1
        }
        guard !inQuotes else { throw ParseError(line: recordLine, message: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || quotedField { endRecord() }
        return records
    }
}
