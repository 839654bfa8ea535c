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
