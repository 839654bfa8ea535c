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
        var config: [String: JSON] = [
            "type": .string(proofType),
            "cryptosuite": .string(cryptosuite),
            "created": .string(options.created),
            "verificationMethod": .string(options.verificationMethod),
            "proofPurpose": .string(options.proofPurpose),
        ]
        if let challenge = options.challenge { config["challenge"] = .string(challenge) }
        if let domain = options.domain { config["domain"] = .string(domain) }
        if let context = document["@context"] { config["@context"] = context }
        return .object(config)
    }

    /// proofConfig hash first, then document hash, as the suite specifies.
    public static func hashData(document: JSON, proofConfiguration: JSON) -> [UInt8] {
        Array(SHA256.hash(data: proofConfiguration.canonicalBytes)) + Array(SHA256.hash(data: document.canonicalBytes))
    }

    /// Adds a `proof` to an unsecured document.
    public static func sign(
        _ document: JSON, options: ProofOptions, with key: Curve25519.Signing.PrivateKey
    ) throws(VellumError) -> JSON {
        guard document.objectValue != nil else { throw VellumError(.invalidCredential, "only a JSON object can be signed") }
        let unsecured = document.removing("proof")
        let config = proofConfiguration(for: unsecured, options: options)
        let signature: Data
        do {
            signature = try key.signature(for: hashData(document: unsecured, proofConfiguration: config))
        } catch {
            throw VellumError(.invalidKey, "signing failed: \(error)")
        }
        let proof = config.setting("proofValue", to: .string("z" + Base58.encode(Array(signature))))
        return unsecured.setting("proof", to: proof)
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
