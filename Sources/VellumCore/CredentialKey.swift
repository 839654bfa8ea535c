/// A credential is identified by its issuer and its id. Credential ids are chosen by issuers,
/// so anyone can write an entry naming any id: keying the state by the id alone would let a
/// stranger's issue or status entry take over another issuer's credential. Keyed by
/// (issuing feed, id), nothing one feed writes can touch another feed's credential.
///
/// Both parts compare as bytes: the feed key is 32 bytes, and the ids this node writes are
/// ASCII (`CredentialID`); an id another node wrote in another spelling is another id.
public struct CredentialKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The issuing feed: its did:key is the credential's `issuer`.
    public let feed: FeedKey
    /// `urn:uuid:...` (`CredentialID`).
    public let id: String

    public init(feed: FeedKey, id: String) {
        self.feed = feed
        self.id = id
    }

    public static func == (a: CredentialKey, b: CredentialKey) -> Bool { a.feed == b.feed && a.id.hasSameUTF8(as: b.id) }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(feed)
        id.hashUTF8(into: &hasher)
    }

    /// By id bytes, then feed bytes: the state root's order.
    public static func < (a: CredentialKey, b: CredentialKey) -> Bool {
        if !a.id.hasSameUTF8(as: b.id) { return a.id.utf8.lexicographicallyPrecedes(b.id.utf8) }
        return a.feed < b.feed
    }

    public var description: String { "\(id) of \(feed.didKey.did)" }
}

extension String {
    /// Equal as bytes (`==` compares canonical equivalence: another spelling of the same text
    /// is equal there). In one pass over contiguous bytes, where comparing the `utf8` views
    /// steps through an iterator byte by byte.
    package func hasSameUTF8(as other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        var (a, b) = (self, other)  // contiguous UTF-8 for native strings, as `withUTF8` makes them
        return a.withUTF8 { x in b.withUTF8 { y in x.elementsEqual(y) } }
    }

    /// Hashes the bytes `hasSameUTF8` compares, in one call rather than one per byte.
    package func hashUTF8(into hasher: inout Hasher) {
        var text = self  // contiguous UTF-8 for a native string
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Credential ids: `urn:uuid:` followed by printable ASCII, at most 100 bytes. ASCII has one
/// spelling per string (no Unicode normalization applies), so ids compare as bytes, and a
/// bound on length bounds the work any id causes.
public enum CredentialID {
    public static let maximumLength = 100

    public static func isValid(_ text: some StringProtocol) -> Bool {
        withBytes(text) { bytes in
            guard bytes.count <= maximumLength, bytes.count > 9, bytes.starts(with: "urn:uuid:".utf8) else { return false }
            return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        }
    }

    /// The rule for ids in entries another node signed: `urn:uuid:` as entries always required,
    /// and no control characters, spaces or DEL (a NUL would cut the id short in SQLite, and a
    /// space or newline would make the state root's text ambiguous). Other bytes, UTF-8
    /// included, compare as bytes.
    public static func isStorable(_ text: some StringProtocol) -> Bool {
        withBytes(text) { bytes in bytes.starts(with: "urn:uuid:".utf8) && bytes.allSatisfy { $0 > 0x20 && $0 != 0x7F } }
    }

    /// `text`'s UTF-8 as one buffer: checking it byte by byte through the `utf8` view's
    /// iterator cost a status answer about 2% of its CPU.
    private static func withBytes(_ text: some StringProtocol, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        text.utf8.withContiguousStorageIfAvailable(body) ?? Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// Throws a message naming the problem unless `text` is a valid credential id.
    public static func validate(_ text: String) throws(VellumError) {
        guard isValid(text) else {
            throw VellumError(.invalidInput, "'\(text.prefix(100))' is not a credential id (urn:uuid:..., printable ASCII, at most \(maximumLength) bytes)")
        }
    }
}
