/// RFC 8785 JSON Canonicalization Scheme: the exact bytes Vellum hashes and signs.
///
/// Object members are sorted by the UTF-16 code units of their keys, strings use the
/// minimal escapes of ECMAScript's JSON.stringify, and numbers use ECMAScript's
/// Number.prototype.toString (see `ES6Number`).
extension JSON {
    /// The canonical (JCS) UTF-8 bytes of this value.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2048)
        writeCanonical(into: &out)
        return out
    }

    /// The canonical (JCS) text of this value.
    public var canonicalString: String { String(decoding: canonicalBytes, as: UTF8.self) }

    public func writeCanonical(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: ES6Number.format(n).utf8)
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.sorted(by: { JSON.canonicalOrder($0.key, $1.key) }).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// JCS member order: by UTF-16 code units. UTF-8 byte order agrees wherever the first
    /// difference is between ASCII bytes, which is the common, fast case.
    public static func canonicalOrder(_ a: String, _ b: String) -> Bool {
        var ai = a.utf8.makeIterator()
        var bi = b.utf8.makeIterator()
        while true {
            switch (ai.next(), bi.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case let (x?, y?) where x != y:
                if x < 0x80 && y < 0x80 { return x < y }
                return a.utf16.lexicographicallyPrecedes(b.utf16)
            default: continue
            }
        }
    }

    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole.
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            for b in bytes where b < 0x20 || b == 0x22 || b == 0x5C { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Human-friendly text: two-space indentation, keys in canonical order.
    public var prettyString: String {
        var out = ""
        writePretty(into: &out, indent: 0)
        return out
    }

    private func writePretty(into out: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closePad = String(repeating: "  ", count: indent)
        switch self {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.writePretty(into: &out, indent: indent + 1)
                out += i < items.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "]"
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            let keys = members.keys.sorted(by: JSON.canonicalOrder)
            for (i, key) in keys.enumerated() {
                out += pad + JSON.string(key).canonicalString + ": "
                members[key]!.writePretty(into: &out, indent: indent + 1)
                out += i < keys.count - 1 ? ",\n" : "\n"
            }
            out += closePad + "}"
        default:
            out += canonicalString
        }
    }
}

/// Writes canonical (JCS) bytes directly, for a caller that knows its document's shape: no
/// tree is built, sorted or freed (issuing a credential spent a quarter of its CPU on that).
/// The caller writes each object's members in canonical order; debug builds check it.
public struct CanonicalJSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next key or array item follows a value, and so needs a comma.
    private var afterValue = false
    #if DEBUG
    /// Each open container: an object, with its last key so far, or an array.
    private var containers: [(isObject: Bool, lastKey: String?)] = []
    #endif

    public init() { bytes.reserveCapacity(2048) }

    public mutating func object(_ members: (inout CanonicalJSONWriter) -> Void) {
        open(UInt8(ascii: "{"), isObject: true)
        members(&self)
        close(UInt8(ascii: "}"))
    }

    public mutating func array(_ items: (inout CanonicalJSONWriter) -> Void) {
        open(UInt8(ascii: "["), isObject: false)
        items(&self)
        close(UInt8(ascii: "]"))
    }

    /// A member's key, inside `object`; its value comes next.
    public mutating func key(_ key: String) {
        #if DEBUG
        precondition(containers.last?.isObject == true, "a key outside an object")
        if let last = containers[containers.count - 1].lastKey {
            precondition(JSON.canonicalOrder(last, key), "member \"\(key)\" written after \"\(last)\": not canonical order")
        }
        containers[containers.count - 1].lastKey = key
        #endif
        comma()
        JSON.writeString(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ s: String) {
        comma()
        JSON.writeString(s, into: &bytes)
        afterValue = true
    }

    /// A value given as its canonical bytes.
    public mutating func canonical(_ value: [UInt8]) {
        comma()
        bytes += value
        afterValue = true
    }

    public mutating func member(_ key: String, _ value: String) {
        self.key(key)
        string(value)
    }

    private mutating func comma() {
        if afterValue { bytes.append(UInt8(ascii: ",")) }
        afterValue = false
    }

    private mutating func open(_ bracket: UInt8, isObject: Bool) {
        comma()
        bytes.append(bracket)
        #if DEBUG
        containers.append((isObject, nil))
        #endif
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        afterValue = true
        #if DEBUG
        containers.removeLast()
        #endif
    }
}
