import Foundation
import Testing
import VellumCore
import VellumNode

@Suite("Bitstring Status List: the W3C vectors and a round trip")
struct StatusListTests {
    static let vectors: JSON = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Vectors/bitstring-status-list/bsl_vectors.json")
        return try! JSON(parsing: Array(try! Data(contentsOf: url)))
    }()

    @Test("every vector decodes to its length and its set bits (index 0 is the left-most bit)")
    func vectors() throws {
        let cases = try #require(Self.vectors["cases"]?.arrayValue)
        #expect(cases.count == 4)
        for c in cases {
            let list = try Gzip.decodeList(c["encodedList"]!.stringValue!)
            let name = c["name"]!.stringValue!
            #expect(list.size == Int(c["decodedLengthBits"]!.numberValue!), "\(name)")
            #expect(list.setIndices == c["setIndices"]!.arrayValue!.map { Int($0.numberValue!) }, "\(name)")
            for (key, hex) in c["byteChecks"]?.objectValue ?? [:] {
                let index = Int(key.dropFirst(4))!
                #expect(Hex.encode([list.bytes[index]]) == hex.stringValue, "\(name) \(key)")
            }
        }
    }

    @Test("encode then decode gives the same bits", arguments: [[Int](), [0], [131_071], [1, 4, 94_567], Array(stride(from: 3, to: 131_072, by: 997))])
    func roundTrip(indices: [Int]) throws {
        var list = BitstringStatusList()
        for i in indices { list.set(i) }
        let encoded = try Gzip.encodedList(list)
        #expect(encoded.hasPrefix("u") && !encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
        #expect(try Gzip.decodeList(encoded) == list)
        #expect(list.setIndices == indices)
    }

    @Test("malformed lists are refused", arguments: ["H4sIAAAA", "u!!!", "uAAAA", "u" + String(repeating: "A", count: 40)])
    func malformed(encoded: String) {
        #expect(throws: VellumError.self) { try Gzip.decodeList(encoded) }
    }
}
