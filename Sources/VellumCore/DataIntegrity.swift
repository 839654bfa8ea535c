import Foundation
@preconcurrency import Crypto

/// W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite.
///
/// The signed bytes are SHA-256(JCS(proof config)) ‖ SHA-256(JCS(document without proof)),
/// so any RFC 8785 + Ed25519 implementation can verify a Vellum credential independently.
public enum DataIntegrity {
    public static let proofType = "DataIntegrityProof"
    public static let cryptosuite = "eddsa-jcs-2022"

    /// The options of a proof before it is signed (everything but `proofValue` and `@context`).
    public struct ProofOptions: Sendable {
        public var verificationMethod: String
        public var created: String
        public var proofPurpose: String
        /// For a presentation's `authentication` proof: the verifier's challenge and domain.
        public var challenge: String?
        public var domain: String?

        public init(
            verificationMethod: String, created: String, proofPurpose: String = "assertionMethod", challenge: String? = nil,
            domain: String? = nil
        ) {
            self.verificationMethod = verificationMethod
            self.created = created
            self.proofPurpose = proofPurpose
            self.challenge = challenge
            self.domain = domain
        }
    }

    /// The proof configuration as the suite defines it: the options plus the document's `@context`.
    public static func proofConfiguration(for document: JSON, options: ProofOptions) -> JSON {
        try! JSON(parsing: proofBytes(context: document["@context"]?.canonicalBytes, options: options, value: nil))  // bytes written just above
    }

    /// The proof's canonical bytes: the options and `context` (the document's `@context`, as
    /// canonical bytes), then `value` (its `proofValue`) once signed; without it, the proof
    /// configuration that is signed.
    static func proofBytes(context: [UInt8]?, options: ProofOptions, value: String?) -> [UInt8] {
        var w = CanonicalJSONWriter()
        w.object { o in
            if let context {
                o.key("@context")
                o.canonical(context)
            }
            if let challenge = options.challenge { o.member("challenge", challenge) }
            o.member("created", options.created)
            o.member("cryptosuite", cryptosuite)
            if let domain = options.domain { o.member("domain", domain) }
            o.member("proofPurpose", options.proofPurpose)
            if let value { o.member("proofValue", value) }
            o.member("type", proofType)
            o.member("verificationMethod", options.verificationMethod)
        }
        return w.bytes
    }

    /// proofConfig hash first, then document hash, as the suite specifies.
    public static func hashData(document: JSON, proofConfiguration: JSON) -> [UInt8] {
        hashData(document: document.canonicalBytes, proofConfiguration: proofConfiguration.canonicalBytes)
    }

    /// The same, from canonical bytes.
    static func hashData(document: [UInt8], proofConfiguration: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: proofConfiguration)) + Array(SHA256.hash(data: document))
    }

    /// Adds a `proof` to an unsecured document.
    public static func sign(
        _ document: JSON, options: ProofOptions, with key: Curve25519.Signing.PrivateKey
    ) throws(VellumError) -> JSON {
        guard document.objectValue != nil else { throw VellumError(.invalidCredential, "only a JSON object can be signed") }
        let unsecured = document.removing("proof")
        let proof = try proof(signing: unsecured.canonicalBytes, context: unsecured["@context"]?.canonicalBytes, options: options, with: key)
        return unsecured.setting("proof", to: try! JSON(parsing: proof))  // bytes `proofBytes` wrote
    }

    /// Signs a document given as its canonical bytes without a proof (`context`: its
    /// `@context`, canonical: bytes in any other form would be signed as they are, and no
    /// verifier would rebuild them), and returns the proof's canonical bytes: what `sign` adds,
    /// for a caller that writes the document's bytes itself.
    public static func proof(
        signing document: [UInt8], context: [UInt8]?, options: ProofOptions, with key: Curve25519.Signing.PrivateKey
    ) throws(VellumError) -> [UInt8] {
        let config = proofBytes(context: context, options: options, value: nil)
        let signature: Data
        do {
            signature = try key.signature(for: hashData(document: document, proofConfiguration: config))
        } catch {
            throw VellumError(.invalidKey, "signing failed: \(error)")
        }
        return proofBytes(context: context, options: options, value: "z" + Base58.encode(Array(signature)))
    }

    /// What a valid proof establishes: which key signed, when and for what purpose.
    public struct VerifiedProof: Sendable, Equatable {
        public let signer: DIDKey
        public let verificationMethod: String
        public let created: String?
        public let proofPurpose: String
    }

    /// Verifies the single `eddsa-jcs-2022` proof of a secured document.
    public static func verify(_ secured: JSON) throws(VellumError) -> VerifiedProof {
        guard secured.objectValue != nil else { throw VellumError(.invalidProof, "the document is not a JSON object") }
        guard let proofValue = secured["proof"] else { throw VellumError(.invalidProof, "the document has no proof") }
        let proof: JSON
        switch proofValue {
        case .object: proof = proofValue
        case .array(let proofs):
            guard proofs.count == 1, let only = proofs.first, only.objectValue != nil else {
                throw VellumError(.invalidProof, "expected exactly one proof, found \(proofs.count)")
            }
            proof = only
        default: throw VellumError(.invalidProof, "proof is not an object")
        }
        guard proof["type"]?.stringValue == proofType else {
            throw VellumError(.invalidProof, "proof type is not \(proofType)")
        }
        guard let suite = proof["cryptosuite"]?.stringValue else {
            throw VellumError(.invalidProof, "proof has no cryptosuite")
        }
        guard suite == cryptosuite else {
            throw VellumError(.invalidProof, "unsupported cryptosuite '\(suite)' (Vellum verifies \(cryptosuite))")
        }
        guard let purpose = proof["proofPurpose"]?.stringValue else {
            throw VellumError(.invalidProof, "proof has no proofPurpose")
        }
        guard let method = proof["verificationMethod"]?.stringValue else {
            throw VellumError(.invalidProof, "proof has no verificationMethod")
        }
        let created = proof["created"]?.stringValue
        if let created, Timestamp(parsing: created) == nil {
            throw VellumError(.invalidProof, "proof created '\(created)' is not an RFC 3339 date-time")
        }
        guard let value = proof["proofValue"]?.stringValue else {
            throw VellumError(.invalidProof, "proof has no proofValue")
        }
        // Refused by length before decoding: base58 decoding is quadratic in the length.
        let longest = 1 + Base58.maximumLength(forBytes: 64)
        guard value.utf8.count <= longest else {
            throw VellumError(.invalidProof, "proofValue has \(value.utf8.count) characters; an Ed25519 signature takes at most \(longest)")
        }
        guard value.first == "z", let signature = Base58.decode(value.dropFirst(), maxBytes: 64) else {
            throw VellumError(.invalidProof, "proofValue is not a base58btc multibase string of at most 64 bytes")
        }
        guard signature.count == 64 else {
            throw VellumError(.invalidProof, "proofValue holds \(signature.count) bytes, an Ed25519 signature has 64")
        }
        let signer: DIDKey
        do { signer = try DIDKey(parsing: method) } catch {
            throw VellumError(.invalidProof, "unsupported verificationMethod \(VellumError.quoted(method)): \(error.message)")
        }
        var unsecured = secured.removing("proof")
        if let proofContext = proof["@context"] {
            guard let docContext = secured["@context"]?.arrayValue, let wanted = proofContext.arrayValue,
                docContext.starts(with: wanted)
            else { throw VellumError(.invalidProof, "proof @context does not match the document's @context") }
            unsecured = unsecured.setting("@context", to: proofContext)
        }
        let config = proof.removing("proofValue")
        let data = hashData(document: unsecured, proofConfiguration: config)
        guard signer.signingPublicKey.isValidSignature(signature, for: data) else {
            throw VellumError(.invalidProof, "the signature does not verify with \(method)")
        }
        return VerifiedProof(signer: signer, verificationMethod: method, created: created, proofPurpose: purpose)
    }
}
