@preconcurrency import Crypto

/// A `did:key` for an Ed25519 public key: `did:key:z` + base58btc(0xed 0x01 ‖ key).
///
/// An issuer's identity is its feed key; `did:key` lets any verifier resolve it offline.
public struct DIDKey: Sendable, Hashable, CustomStringConvertible {
    public static func == (a: DIDKey, b: DIDKey) -> Bool { a.publicKey == b.publicKey }
    public func hash(into hasher: inout Hasher) { hasher.combine(publicKey) }

    public let publicKey: [UInt8]
    /// `z` + base58btc(0xed 0x01 ‖ key), computed once.
    public let multibase: String

    static let ed25519Multicodec: [UInt8] = [0xED, 0x01]
    /// The longest multibase an Ed25519 key can have: `z` and the base58btc of 34 bytes (in
    /// practice always 48). Anything longer is refused before it is decoded.
    public static let maximumMultibaseLength = 1 + Base58.maximumLength(forBytes: 34)

    public init(publicKey: [UInt8]) throws(VellumError) {
        guard publicKey.count == 32 else {
            throw VellumError(.invalidKey, "an Ed25519 public key has 32 bytes, not \(publicKey.count)")
        }
        self.publicKey = publicKey
        self.multibase = "z" + Base58.encode(DIDKey.ed25519Multicodec + publicKey)
    }

    /// Parses `did:key:z6Mk...`, optionally with a `#fragment` that must repeat the key.
    public init(parsing text: String) throws(VellumError) {
        // Refused by length before any character-wise work (searching a megabyte for '#' by
        // Character alone costs tens of milliseconds).
        let longest = "did:key:".utf8.count + 2 * DIDKey.maximumMultibaseLength + 1
        guard text.utf8.count <= longest else {
            throw VellumError(.invalidKey, "a did:key of \(text.utf8.count) characters is not an Ed25519 key (at most \(longest) with its fragment)")
        }
        var did = Substring(text)
        var fragment: Substring?
        if let hash = text.firstIndex(of: "#") {
            did = text[..<hash]
            fragment = text[text.index(after: hash)...]
        }
        guard did.hasPrefix("did:key:") else {
            throw VellumError(.invalidKey, "\(VellumError.quoted(text)) is not a did:key identifier")
        }
        let multibase = did.dropFirst("did:key:".count)
        try self.init(multibase: multibase)
        if let fragment, fragment != multibase {
            throw VellumError(.invalidKey, "the fragment of \(VellumError.quoted(text)) does not name its own key")
        }
    }

    /// Parses the multibase part (`z6Mk...`).
    public init(multibase: some StringProtocol) throws(VellumError) {
        let length = multibase.utf8.count
        guard length <= DIDKey.maximumMultibaseLength else {
            throw VellumError(
                .invalidKey, "a did:key multibase of \(length) characters is not an Ed25519 key (at most \(DIDKey.maximumMultibaseLength))")
        }
        guard multibase.first == "z", let bytes = Base58.decode(multibase.dropFirst(), maxBytes: 34) else {
            throw VellumError(.invalidKey, "\(VellumError.quoted(multibase)) is not a base58btc multibase value")
        }
        guard bytes.count == 34, bytes.starts(with: DIDKey.ed25519Multicodec) else {
            throw VellumError(.invalidKey, "\(VellumError.quoted(multibase)) is not a multicodec Ed25519 public key")
        }
        try self.init(publicKey: Array(bytes.dropFirst(2)))
    }

    public var did: String { "did:key:" + multibase }
    public var description: String { did }
    /// The verification method of this key: `did:key:z...#z...`.
    public var verificationMethod: String { did + "#" + multibase }

    public var signingPublicKey: Curve25519.Signing.PublicKey {
        // A 32-byte key always constructs.
        try! Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
    }
}
