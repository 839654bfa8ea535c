@preconcurrency import Crypto
import Foundation
import Testing
import VellumCore

@Suite("Ed25519, did:key and eddsa-jcs-2022 vectors")
struct CryptoVectorTests {
    @Test("RFC 8032 section 7.1: keys derive and signatures reproduce")
    func rfc8032() throws {
        let vectors = try Vectors.json("ed25519/rfc8032_section7.1_ed25519.json")["vectors"]!.arrayValue!
        #expect(vectors.count >= 4)
        for v in vectors {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes(v["secretKey"]!.stringValue!))
            #expect(Hex.encode(key.publicKey.rawRepresentation) == v["publicKey"]!.stringValue!)
            let message = bytes(v["message"]!.stringValue!)
            let signature = try key.signature(for: message)
            #expect(Hex.encode(signature) == v["signature"]!.stringValue!, "\(v["name"]!)")
            #expect(key.publicKey.isValidSignature(bytes(v["signature"]!.stringValue!), for: message))
        }
    }

    @Test("Wycheproof: every case gives its expected result")
    func wycheproof() throws {
        let file = try Vectors.json("ed25519/wycheproof_ed25519_test.json")
        var count = 0
        for group in file["testGroups"]!.arrayValue! {
            let pk = bytes(group["publicKey"]!["pk"]!.stringValue!)
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: pk)
            for test in group["tests"]!.arrayValue! {
                count += 1
                let valid = key?.isValidSignature(bytes(test["sig"]!.stringValue!), for: bytes(test["msg"]!.stringValue!)) ?? false
                let expected = test["result"]!.stringValue! == "valid"
                #expect(valid == expected, "tcId \(test["tcId"]!): \(test["comment"]!)")
            }
        }
        #expect(count == 151)
    }

    @Test("did:key: seed -> did, and did -> key, for every vector")
    func didKey() throws {
        let file = try Vectors.json("didkey/ed25519-x25519.json").objectValue!
        #expect(file.count == 5)
        for (did, v) in file {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: bytes(v["seed"]!.stringValue!))
            let derived = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
            #expect(derived.did == did)
            let parsed = try DIDKey(parsing: did)
            if let base58 = v["verificationKeyPair"]?["publicKeyBase58"]?.stringValue {
                #expect(parsed.publicKey == Base58.decode(base58, maxBytes: 32))
            } else {
                #expect(parsed.publicKey == Array(key.publicKey.rawRepresentation))
            }
            let method = try #require(v["didDocument"]?["verificationMethod"]?.arrayValue?.first?["id"]?.stringValue)
            #expect(parsed.verificationMethod == method)
        }
    }

    @Test("did:key rejects what is not an Ed25519 did:key", arguments: [
        "did:web:example.com", "did:key:6Mk", "did:key:z6LShs9GGnqk85isEBzzshkuVWrVKsRp24GnDuHk8QWkARMW", "did:key:z0OIl",
        "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp#z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
    ])
    func didKeyRejects(text: String) {
        #expect(throws: VellumError.self) { try DIDKey(parsing: text) }
    }

    static func vectorKey() throws -> Curve25519.Signing.PrivateKey {
        let pair = try Vectors.json("eddsa/TestVectors/keyPair.json")
        let secret = Base58.decode(pair["privateKeyMultibase"]!.stringValue!.dropFirst(), maxBytes: 34)!
        #expect(secret.starts(with: [0x80, 0x26]))  // ed25519-priv multicodec
        return try Curve25519.Signing.PrivateKey(rawRepresentation: secret.dropFirst(2))
    }

    @Test("eddsa-jcs-2022: canonical forms, hashes and signature reproduce")
    func eddsaJCSReproduce() throws {
        let dir = "eddsa/TestVectors/eddsa-jcs-2022/"
        let key = try Self.vectorKey()
        let did = try DIDKey(publicKey: Array(key.publicKey.rawRepresentation))
        #expect(did.multibase == (try Vectors.json("eddsa/TestVectors/keyPair.json"))["publicKeyMultibase"]!.stringValue!)

        let unsigned = try Vectors.json("eddsa/TestVectors/unsigned.json")
        #expect(unsigned.canonicalString == (try Vectors.text(dir + "canonDocJCS.txt")).trimmingCharacters(in: .newlines))
        let config = try Vectors.json(dir + "proofConfigJCS.json")
        #expect(config.canonicalString == (try Vectors.text(dir + "proofCanonJCS.txt")).trimmingCharacters(in: .newlines))
        let options = DataIntegrity.ProofOptions(
            verificationMethod: config["verificationMethod"]!.stringValue!, created: config["created"]!.stringValue!)
        #expect(DataIntegrity.proofConfiguration(for: unsigned, options: options) == config)
        let hash = DataIntegrity.hashData(document: unsigned, proofConfiguration: config)
        #expect(Hex.encode(hash) == (try Vectors.text(dir + "combinedHashJCS.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(Hex.encode(hash.prefix(32)) == (try Vectors.text(dir + "proofHashJCS.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(Hex.encode(hash.suffix(32)) == (try Vectors.text(dir + "docHashJCS.txt")).trimmingCharacters(in: .whitespacesAndNewlines))

        let signed = try DataIntegrity.sign(unsigned, options: options, with: key)
        #expect(signed == (try Vectors.json(dir + "signedJCS.json")))
        #expect(signed["proof"]!["proofValue"]!.stringValue! == (try Vectors.text(dir + "sigBTC58JCS.txt")).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test("eddsa-jcs-2022: signedJCS.json verifies")
    func eddsaJCSVerify() throws {
        let signed = try Vectors.json("eddsa/TestVectors/eddsa-jcs-2022/signedJCS.json")
        let proof = try DataIntegrity.verify(signed)
        #expect(proof.signer.multibase == "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    }

    static let tamperings: [(String, @Sendable (JSON) -> JSON)] = [
        ("document changed", { $0.setting("name", to: "Forged Credential") }),
        ("document member added", { $0.setting("extra", to: true) }),
        ("proof options changed", { $0.setting("proof", to: $0["proof"]!.setting("created", to: "2024-01-01T00:00:00Z")) }),
        ("proof purpose changed", { $0.setting("proof", to: $0["proof"]!.setting("proofPurpose", to: "authentication")) }),
        ("wrong key", { $0.setting("proof", to: $0["proof"]!.setting("verificationMethod", to: "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp#z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp")) }),
        ("bad multibase prefix", { $0.setting("proof", to: $0["proof"]!.setting("proofValue", to: .string("u" + $0["proof"]!["proofValue"]!.stringValue!.dropFirst()))) }),
        ("bad base58 character", { $0.setting("proof", to: $0["proof"]!.setting("proofValue", to: .string($0["proof"]!["proofValue"]!.stringValue! + "0"))) }),
        ("truncated signature", { $0.setting("proof", to: $0["proof"]!.setting("proofValue", to: .string(String($0["proof"]!["proofValue"]!.stringValue!.dropLast(4))))) }),
        ("other cryptosuite", { $0.setting("proof", to: $0["proof"]!.setting("cryptosuite", to: "eddsa-rdfc-2022")) }),
        ("proof removed", { $0.removing("proof") }),
    ]

    @Test("eddsa-jcs-2022: tampered copies are rejected", arguments: tamperings.indices)
    func eddsaJCSTampered(index: Int) throws {
        let (name, tamper) = Self.tamperings[index]
        let signed = try Vectors.json("eddsa/TestVectors/eddsa-jcs-2022/signedJCS.json")
        #expect(throws: VellumError.self, "\(name)") { try DataIntegrity.verify(tamper(signed)) }
    }
}
