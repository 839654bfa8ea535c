@preconcurrency import Crypto
import Foundation

/// What an entry records. The raw values are part of the signed encoding: never renumber.
public enum EntryKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case issue = 1
    case revoke = 2
    case suspend = 3
    case reinstate = 4
    /// An issuer-signed Bitstring Status List, published by the issuer as its statuses change.
    case statusList = 5
    /// A federation document (`FederationDocument`): an organization's log, a genesis or a
    /// membership proposal, published by `vellum publish`.
    case document = 6
    /// A writer's signed digest over its feed's previous entries (`CheckpointPayload`).
    case checkpoint = 7

    public var description: String {
        switch self {
        case .issue: "issue"
        case .revoke: "revoke"
        case .suspend: "suspend"
        case .reinstate: "reinstate"
        case .statusList: "status-list"
        case .document: "document"
        case .checkpoint: "checkpoint"
        }
    }

    /// Revoke, suspend or reinstate: the kinds that change one credential's status.
    public var changesStatus: Bool { self == .revoke || self == .suspend || self == .reinstate }

    public init?(name: String) {
        guard let kind = EntryKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// 32 bytes: an entry id (SHA-256 of its encoding) or a feed's Ed25519 public key.
public struct Bytes32: Sendable, Hashable, Comparable, CustomStringConvertible {
    // Four words, most significant byte first, stored inline: copying an entry copies no
    // references, and comparing or hashing an id reads its 32 bytes in place (the catch-up's
    // storing thread spent a fifth of its time retaining and releasing such buffers).
    // Equality and hashing take every word: keys and ids from the wire are chosen by peers,
    // so hashing part of them would let one collide them on purpose.
    private let w0, w1, w2, w3: UInt64

    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == 32 else { return nil }
        let words = bytes.withContiguousStorageIfAvailable(Self.words) ?? Array(bytes).withUnsafeBufferPointer(Self.words)
        (w0, w1, w2, w3) = words
    }

    private static func words(_ b: UnsafeBufferPointer<UInt8>) -> (UInt64, UInt64, UInt64, UInt64) {
        let raw = UnsafeRawBufferPointer(b)
        func word(_ i: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        return (word(0), word(1), word(2), word(3))
    }

    public init(_ digest: SHA256.Digest) { self = digest.withUnsafeBytes { Bytes32($0)! } }

    public init?(hex: some StringProtocol) {
        guard let b = Hex.decode(hex) else { return nil }
        self.init(b)
    }

    public static let zero = Bytes32([UInt8](repeating: 0, count: 32))!

    /// The 32 bytes, in a new array.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The 32 bytes in place, for as long as `body` runs.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)) { try body($0) }
    }

    /// The first of the 32 bytes.
    public var firstByte: UInt8 { UInt8(truncatingIfNeeded: w0 >> 56) }

    public var hex: String { withUnsafeBytes { Hex.encode($0) } }

    /// Appends `hex`'s 64 digits to `out`.
    public func writeHex(into out: inout [UInt8]) { withUnsafeBytes { Hex.write($0, into: &out) } }
    public var description: String { hex }
    /// Byte order, as the words hold their bytes most significant first.
    public static func < (a: Bytes32, b: Bytes32) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }
}

public typealias EntryID = Bytes32
public typealias FeedKey = Bytes32

extension FeedKey {
    /// The issuer identity of this feed key.
    public var didKey: DIDKey { try! DIDKey(publicKey: bytes) }

    /// `didKey.did`, remembered for up to 4,096 feeds (all forgotten at once when full): writing
    /// it (base58) took a status answer about 1% of its CPU each time.
    public var did: String {
        if let did = DIDMemo.lock.withLock({ DIDMemo.known[self] }) { return did }
        let did = didKey.did
        DIDMemo.lock.withLock {
            if DIDMemo.known.count >= 4096 { DIDMemo.known.removeAll() }
            DIDMemo.known[self] = did
        }
        return did
    }
}

/// `FeedKey.did`'s memory; `known` is guarded by `lock`.
private enum DIDMemo {
    static let lock = NSLock()
    nonisolated(unsafe) static var known: [FeedKey: String] = [:]
}

/// The fields of an entry that its id covers. Built by `FeedWriter`, checked by `EntryVerifier`.
public struct UnsignedEntry: Sendable, Hashable {
    public let feed: FeedKey
    public let seq: UInt64
    public let prev: EntryID
    public let hlc: HLC
    public let kind: EntryKind
    /// The payload's RFC 8785 (JCS) bytes.
    public let payload: [UInt8]

    public init(feed: FeedKey, seq: UInt64, prev: EntryID, hlc: HLC, kind: EntryKind, payload: [UInt8]) {
        self.feed = feed
        self.seq = seq
        self.prev = prev
        self.hlc = hlc
        self.kind = kind
        self.payload = payload
    }

    /// The domain tag that opens every version-1 encoding.
    public static let domainTag: [UInt8] = Array("vellum/entry".utf8) + [0x01]
    public static let maximumPayloadSize = 64 * 1024
    /// The highest `seq` any decoder accepts (2^53, exact in JSON numbers and in SQLite's
    /// signed integers): a feed never gets near it, and a hostile value beyond it must not
    /// reach arithmetic or storage that assumes a signed 64-bit number.
    public static let maximumSeq: UInt64 = 1 << 53

    /// The canonical version-1 encoding (Docs/LEDGER.md): tag ‖ feed ‖ seq ‖ prev ‖ hlc ‖ kind ‖
    /// payload length ‖ payload, integers big-endian.
    public var encoding: [UInt8] {
        var out = UnsignedEntry.domainTag
        out.reserveCapacity(encodedSize + 64)  // room for the signature of `wireBytes`
        feed.withUnsafeBytes { out += $0 }
        appendBigEndian(seq, to: &out)
        prev.withUnsafeBytes { out += $0 }
        appendBigEndian(hlc.rawValue, to: &out)
        out.append(kind.rawValue)
        appendBigEndian(UInt32(payload.count), to: &out)
        out += payload
        return out
    }

    /// `encoding.count`, without encoding.
    public var encodedSize: Int { UnsignedEntry.domainTag.count + 32 + 8 + 32 + 8 + 1 + 4 + payload.count }

    /// SHA-256 of the encoding.
    public var id: EntryID { EntryID(SHA256.hash(data: encoding)) }
}

private func appendBigEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
}

/// An entry as it travels: fields, claimed id and signature. Nothing vouches for it until
/// `EntryVerifier` turns it into a `VerifiedEntry`.
public struct Entry: Sendable, Hashable {
    public let unsigned: UnsignedEntry
    public let id: EntryID
    /// Ed25519 by the feed key over the 32 id bytes.
    public let signature: [UInt8]

    public init(unsigned: UnsignedEntry, id: EntryID, signature: [UInt8]) {
        self.unsigned = unsigned
        self.id = id
        self.signature = signature
    }

    public var feed: FeedKey { unsigned.feed }
    public var seq: UInt64 { unsigned.seq }
    public var prev: EntryID { unsigned.prev }
    public var hlc: HLC { unsigned.hlc }
    public var kind: EntryKind { unsigned.kind }
    public var payload: [UInt8] { unsigned.payload }
}

/// An entry whose contents have been checked: id, signature, payload, and that the feed may
/// write it (its own issues and status lists). Only `EntryVerifier` (and `FeedWriter`, for the
/// entries it signs) can make one. Whether it continues its feed's chain on this replica is a
/// separate check: see `LinkedEntry`.
///
/// A class, immutable: a verified entry is handed from verification to linking to the store
/// in batches of thousands, and a copy of it is then one reference, not its fifteen buffers.
public final class VerifiedEntry: Sendable, Hashable {
    public let entry: Entry
    public let payload: EntryPayload

    init(entry: Entry, payload: EntryPayload) {
        self.entry = entry
        self.payload = payload
    }

    /// The payload is decoded from the entry: equal entries have equal payloads.
    public static func == (a: VerifiedEntry, b: VerifiedEntry) -> Bool { a === b || a.entry == b.entry }
    public func hash(into hasher: inout Hasher) { hasher.combine(entry.id) }

    public var id: EntryID { entry.id }
    public var feed: FeedKey { entry.feed }
    public var seq: UInt64 { entry.seq }
    public var hlc: HLC { entry.hlc }
    public var kind: EntryKind { entry.kind }
    public var credentialID: String { payload.credentialID }

    /// The credential an issue or status entry is about: the feed's own, always (a feed can
    /// neither issue for another issuer nor change another issuer's credential). Nil for a
    /// status list.
    public var credentialKey: CredentialKey? {
        switch payload {
        case .issue, .status: CredentialKey(feed: feed, id: payload.credentialID)
        case .statusList, .document, .checkpoint: nil
        }
    }
}

/// A verified entry that continues its feed's chain on this replica: the next seq after the
/// held head, linked by `prev`. Only `EntryVerifier.link` and `FeedWriter` (which chains and
/// signs the node's own entries) can make one, and `LedgerStore.append` accepts nothing else.
/// It reads like the `VerifiedEntry` it wraps (`linked.id`, `linked.payload`, ...).
@dynamicMemberLookup
public struct LinkedEntry: Sendable, Hashable {
    public let verified: VerifiedEntry

    init(_ verified: VerifiedEntry) { self.verified = verified }

    public subscript<T>(dynamicMember field: KeyPath<VerifiedEntry, T>) -> T { verified[keyPath: field] }
}

/// The newest entry of a feed that a replica holds.
public struct FeedHead: Sendable, Hashable {
    public let feed: FeedKey
    public let seq: UInt64
    public let id: EntryID

    public init(feed: FeedKey, seq: UInt64, id: EntryID) {
        self.feed = feed
        self.seq = seq
        self.id = id
    }
}
