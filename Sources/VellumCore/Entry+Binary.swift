@preconcurrency import Crypto

/// The binary form of an entry on the wire: its canonical encoding (Docs/LEDGER.md) followed
/// by the 64-byte signature. The id is not sent: the receiver recomputes it.
extension UnsignedEntry {
    /// Parses a version-1 canonical encoding.
    public init(encoding bytes: some Collection<UInt8>) throws(VellumError) {
        var reader = ByteReader(Array(bytes))
        try self.init(reading: &reader)
    }

    /// Reads an encoding that runs to the reader's end. The reading is strict (fixed fields,
    /// the payload's exact length, nothing after it), so the bytes read are the canonical
    /// encoding of the entry read: its id can be hashed from them.
    init(reading reader: inout ByteReader) throws(VellumError) {
        guard reader.skip(UnsignedEntry.domainTag) else {
            throw VellumError(.invalidEntry, "not a version-1 Vellum entry encoding")
        }
        let feed = try reader.bytes32()
        let seq = try reader.uint64()
        guard seq >= 1, seq <= UnsignedEntry.maximumSeq else { throw VellumError(.invalidEntry, "entry seq \(seq) is not between 1 and 2^53") }
        let prev = try reader.bytes32()
        let hlc = HLC(rawValue: try reader.uint64())
        let kindByte = try reader.uint8()
        guard let kind = EntryKind(rawValue: kindByte) else { throw VellumError(.invalidEntry, "unknown entry kind \(kindByte)") }
        let length = Int(try reader.uint32())
        guard length <= UnsignedEntry.maximumPayloadSize else { throw VellumError(.invalidEntry, "payload of \(length) bytes exceeds the limit") }
        let payload = try reader.bytes(length)
        guard reader.isAtEnd else { throw VellumError(.invalidEntry, "trailing bytes after the payload") }
        self.init(feed: feed, seq: seq, prev: prev, hlc: hlc, kind: kind, payload: payload)
    }
}

extension Entry {
    /// encoding ‖ signature.
    public var wireBytes: [UInt8] { unsigned.encoding + signature }

    /// `wireBytes.count`, without encoding.
    public var wireSize: Int { unsigned.encodedSize + signature.count }

    /// Parses `encoding ‖ signature`; the id is recomputed, so a mismatch cannot be claimed.
    public init(wireBytes bytes: [UInt8]) throws(VellumError) {
        var reader = ByteReader(bytes)
        try self.init(reading: &reader, length: bytes.count)
    }

    /// Reads `encoding ‖ signature` from the next `length` bytes of `reader`; the id is
    /// SHA-256 of the encoding read (`UnsignedEntry(reading:)`).
    init(reading reader: inout ByteReader, length: Int) throws(VellumError) {
        guard length > 64 else { throw VellumError(.invalidEntry, "entry of \(length) bytes is too short") }
        var encoding = try reader.prefix(length - 64)
        let unsigned = try UnsignedEntry(reading: &encoding)
        self.init(unsigned: unsigned, id: encoding.digestOfAllRead(), signature: try reader.bytes(64))
    }
}

/// Reads big-endian integers and byte runs, throwing on truncation.
public struct ByteReader {
    let bytes: [UInt8]
    var offset: Int
    /// Where reading stops: the end of `bytes`, or of the run a `prefix` reader covers.
    let end: Int
    /// Where this reader started.
    private let start: Int

    public init(_ bytes: [UInt8]) { self.init(bytes, from: 0, to: bytes.count) }

    private init(_ bytes: [UInt8], from start: Int, to end: Int) {
        self.bytes = bytes
        self.offset = start
        self.start = start
        self.end = end
    }

    public var isAtEnd: Bool { offset == end }

    private mutating func take(_ count: Int) throws(VellumError) -> Range<Int> {
        guard count >= 0, end - offset >= count else { throw VellumError(.invalidInput, "truncated: wanted \(count) bytes at offset \(offset)") }
        defer { offset += count }
        return offset..<(offset + count)
    }

    public mutating func bytes(_ count: Int) throws(VellumError) -> [UInt8] { Array(bytes[try take(count)]) }

    /// Whether the next bytes are `expected`; if so, they are read.
    public mutating func skip(_ expected: [UInt8]) -> Bool {
        guard end - offset >= expected.count, bytes[offset..<(offset + expected.count)].elementsEqual(expected) else { return false }
        offset += expected.count
        return true
    }

    public mutating func bytes32() throws(VellumError) -> Bytes32 { Bytes32(bytes[try take(32)])! }

    /// A reader of the next `count` bytes, which this one then skips.
    public mutating func prefix(_ count: Int) throws(VellumError) -> ByteReader {
        let range = try take(count)
        return ByteReader(bytes, from: range.lowerBound, to: range.upperBound)
    }

    /// SHA-256 of the bytes this reader has read.
    func digestOfAllRead() -> Bytes32 {
        bytes.withUnsafeBytes { Bytes32(SHA256.hash(data: UnsafeRawBufferPointer(rebasing: $0[start..<offset]))) }
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(VellumError) -> T {
        try take(MemoryLayout<T>.size).reduce(0) { $0 << 8 | T(bytes[$1]) }
    }

    public mutating func uint8() throws(VellumError) -> UInt8 { try integer(UInt8.self) }
    public mutating func uint32() throws(VellumError) -> UInt32 { try integer(UInt32.self) }
    public mutating func uint64() throws(VellumError) -> UInt64 { try integer(UInt64.self) }
}

/// Appends big-endian integers.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func reserve(_ count: Int) { bytes.reserveCapacity(bytes.count + count) }
    public mutating func append(_ b: [UInt8]) { bytes += b }
    public mutating func uint8(_ v: UInt8) { bytes.append(v) }
    public mutating func uint32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    public mutating func uint64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
}
