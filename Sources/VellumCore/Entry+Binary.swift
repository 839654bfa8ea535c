/// The binary form of an entry on the wire: its canonical encoding (Docs/LEDGER.md) followed
/// by the 64-byte signature. The id is not sent: the receiver recomputes it.
extension UnsignedEntry {
    /// Parses a version-1 canonical encoding.
    public init(encoding bytes: some Collection<UInt8>) throws(VellumError) {
        var reader = ByteReader(Array(bytes))
        guard try reader.bytes(UnsignedEntry.domainTag.count) == UnsignedEntry.domainTag else {
            throw VellumError(.invalidEntry, "not a version-1 Vellum entry encoding")
        }
        let feed = FeedKey(try reader.bytes(32))!
        let seq = try reader.uint64()
        guard seq >= 1, seq <= UnsignedEntry.maximumSeq else { throw VellumError(.invalidEntry, "entry seq \(seq) is not between 1 and 2^53") }
        let prev = EntryID(try reader.bytes(32))!
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
        guard bytes.count > 64 else { throw VellumError(.invalidEntry, "entry of \(bytes.count) bytes is too short") }
        let unsigned = try UnsignedEntry(encoding: bytes.dropLast(64))
        self.init(unsigned: unsigned, id: unsigned.id, signature: Array(bytes.suffix(64)))
    }
}

/// Reads big-endian integers and byte runs, throwing on truncation.
public struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func bytes(_ count: Int) throws(VellumError) -> [UInt8] {
        guard count >= 0, bytes.count - offset >= count else { throw VellumError(.invalidInput, "truncated: wanted \(count) bytes at offset \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    public mutating func uint8() throws(VellumError) -> UInt8 { try bytes(1)[0] }
    public mutating func uint32() throws(VellumError) -> UInt32 { try bytes(4).reduce(0) { $0 << 8 | UInt32($1) } }
    public mutating func uint64() throws(VellumError) -> UInt64 { try bytes(8).reduce(0) { $0 << 8 | UInt64($1) } }
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
