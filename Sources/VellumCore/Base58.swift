/// Base58 with the Bitcoin alphabet (base58btc), used by multibase `z` strings in `did:key`
/// identifiers and Data Integrity `proofValue`s.
public enum Base58 {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".utf8)
    static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = Int8(i) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        let zeros = bytes.prefix(while: { $0 == 0 }).count
        // The number as big-endian 32-bit limbs, divided by 58^5 repeatedly: five digits a pass.
        var limbs: [UInt32] = []
        limbs.reserveCapacity(bytes.count / 4 + 1)
        let significant = bytes[zeros...]
        var limb: UInt32 = 0
        for (i, byte) in significant.enumerated() {
            limb = limb << 8 | UInt32(byte)
            if (significant.count - 1 - i) % 4 == 0 {
                limbs.append(limb)
                limb = 0
            }
        }
        let radix: UInt64 = 656_356_768  // 58^5
        var digits: [UInt8] = []  // least significant first
        var first = 0
        while first < limbs.count {
            var remainder: UInt64 = 0
            for i in first..<limbs.count {
                let current = remainder << 32 | UInt64(limbs[i])
                limbs[i] = UInt32(current / radix)
                remainder = current % radix
            }
            while first < limbs.count, limbs[first] == 0 { first += 1 }
            for _ in 0..<5 {
                digits.append(UInt8(remainder % 58))
                remainder /= 58
            }
        }
        while digits.last == 0 { digits.removeLast() }
        let text = [UInt8](repeating: alphabet[0], count: zeros) + digits.reversed().map { alphabet[Int($0)] }
        return String(decoding: text, as: UTF8.self)
    }

    /// The most characters base58btc takes for `count` bytes: each byte adds at most
    /// log(256)/log(58) ≈ 1.36566 digits (a leading zero byte adds one `1`). Rounded up, so
    /// 64 bytes (an Ed25519 signature) take at most 88 and 34 (a multicodec key) at most 47.
    public static func maximumLength(forBytes count: Int) -> Int { (count * 13_657 + 9_999) / 10_000 }

    /// Decodes base58btc; nil when a character is outside the alphabet or the value has more
    /// than `maxBytes` bytes. Decoding is quadratic in the length, so text longer than
    /// `maximumLength(forBytes: maxBytes)` is refused before any arithmetic: an outsider's
    /// megabyte of `z...` costs nothing.
    public static func decode(_ text: some StringProtocol, maxBytes: Int) -> [UInt8]? {
        guard text.utf8.count <= maximumLength(forBytes: maxBytes) else { return nil }
        let utf8 = Array(text.utf8)
        let zeros = utf8.prefix(while: { $0 == alphabet[0] }).count
        var bytes: [UInt8] = []  // least significant first
        for c in utf8[zeros...] {
            guard c < 128, decodeTable[Int(c)] >= 0 else { return nil }
            var carry = Int(decodeTable[Int(c)])
            for i in bytes.indices {
                carry += Int(bytes[i]) * 58
                bytes[i] = UInt8(carry & 0xFF)
                carry >>= 8
            }
            while carry > 0 {
                bytes.append(UInt8(carry & 0xFF))
                carry >>= 8
            }
        }
        guard zeros + bytes.count <= maxBytes else { return nil }
        return [UInt8](repeating: 0, count: zeros) + bytes.reversed()
    }
}
