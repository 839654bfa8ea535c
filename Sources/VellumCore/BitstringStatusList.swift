/// A W3C Bitstring Status List: one bit per credential, index 0 the left-most (most
/// significant) bit of byte 0. Compression and multibase encoding happen at the edge
/// (`Gzip` in VellumNode); this type is the bits and the credential that carries them.
public struct BitstringStatusList: Sendable, Equatable {
    /// The spec's minimum: 16 KiB of bits, so one set bit does not single out a credential.
    public static let minimumSize = 131_072
    public private(set) var bytes: [UInt8]

    public init(size: Int = minimumSize) {
        precondition(size > 0 && size % 8 == 0, "a status list holds whole bytes")
        bytes = [UInt8](repeating: 0, count: size / 8)
    }

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var size: Int { bytes.count * 8 }

    public func isSet(_ index: Int) -> Bool { bytes[index / 8] & (0x80 >> UInt8(index % 8)) != 0 }

    public mutating func set(_ index: Int, _ value: Bool = true) {
        if value { bytes[index / 8] |= 0x80 >> UInt8(index % 8) } else { bytes[index / 8] &= ~(0x80 >> UInt8(index % 8)) }
    }

    /// Every set index, ascending.
    public var setIndices: [Int] {
        var out: [Int] = []
        for (i, byte) in bytes.enumerated() where byte != 0 {
            for bit in 0..<8 where byte & (0x80 >> UInt8(bit)) != 0 { out.append(i * 8 + bit) }
        }
        return out
    }

    /// An unsigned `BitstringStatusListCredential` (VC 2.0) for one purpose.
    public static func credential(
        url: String, purpose: String, encodedList: String, issuer: DIDKey, validFrom: Timestamp
    ) -> JSON {
        [
            "@context": [.string(OpenBadges.vcContext)],
            "id": .string(url),
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": .string(issuer.did),
            "validFrom": .string(validFrom.rfc3339),
            "credentialSubject": [
                "id": .string(url + "#list"),
                "type": "BitstringStatusList",
                "statusPurpose": .string(purpose),
                "encodedList": .string(encodedList),
            ],
        ]
    }
}

/// The name of one status list, the last path segment of its URL:
/// `{issuer did:key multibase}-{purpose}-{number}`. List `n` holds indexes `n*size ..< (n+1)*size`.
public struct StatusListName: Sendable, Hashable, CustomStringConvertible {
    public static let purposes = ["revocation", "suspension"]

    public let issuer: DIDKey
    public let purpose: String
    public let number: Int

    public init(issuer: DIDKey, purpose: String, number: Int) {
        precondition(StatusListName.purposes.contains(purpose) && number >= 0)
        self.issuer = issuer
        self.purpose = purpose
        self.number = number
    }

    public init(parsing text: some StringProtocol) throws(VellumError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let issuer = try? DIDKey(multibase: parts[0]) else {
            throw VellumError(.invalidInput, "'\(text)' is not a status list name (ISSUER-PURPOSE-NUMBER)")
        }
        guard StatusListName.purposes.contains(String(parts[1])) else {
            throw VellumError(.invalidInput, "status purpose '\(parts[1])' is not revocation or suspension")
        }
        guard let number = Int(parts[2]), number >= 0, String(number) == parts[2] else {
            throw VellumError(.invalidInput, "status list number '\(parts[2])' is not a non-negative integer")
        }
        self.init(issuer: issuer, purpose: String(parts[1]), number: number)
    }

    public var description: String { "\(issuer.multibase)-\(purpose)-\(number)" }

    /// The status a set bit means.
    public var status: CredentialStatus { purpose == "revocation" ? .revoked : .suspended }
}

/// The payload of a `status-list` entry: an issuer-signed `BitstringStatusListCredential`, held
/// as is so any node can serve the issuer's own bytes. Checked here for shape; its proof and
/// that its issuer is the feed's own key are checked by `EntryVerifier`.
public struct StatusListPayload: Sendable, Hashable {
    public let credential: JSON
    public let name: StatusListName

    public init(json: JSON) throws(VellumError) {
        func fail(_ problem: String) -> VellumError { VellumError(.invalidEntry, "status list payload \(problem)") }
        guard json["type"]?.arrayValue?.contains(.string("BitstringStatusListCredential")) == true else {
            throw fail("is not a BitstringStatusListCredential")
        }
        guard let url = json["id"]?.stringValue, let slash = url.lastIndex(of: "/"),
            url[..<slash].hasSuffix("/v1/status-lists"), let name = try? StatusListName(parsing: url[url.index(after: slash)...])
        else { throw fail("id is not a .../v1/status-lists/ISSUER-PURPOSE-NUMBER URL") }
        guard json["issuer"]?.stringValue == name.issuer.did else { throw fail("issuer does not match its list name") }
        let subject = json["credentialSubject"]
        guard subject?["statusPurpose"]?.stringValue == name.purpose else { throw fail("statusPurpose does not match its list name") }
        guard let list = subject?["encodedList"]?.stringValue, list.hasPrefix("u"), list.count > 1 else {
            throw fail("encodedList is not base64url multibase ('u...')")
        }
        guard json["proof"] != nil else { throw fail("has no proof") }
        credential = json
        self.name = name
    }
}
