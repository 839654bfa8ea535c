import Foundation
import Testing
import VellumCore
import VellumTestSupport

@Suite("RFC 8785 JCS")
struct JCSTests {
    @Test("testdata: every input canonicalizes to its output byte for byte", arguments: try! Vectors.files("jcs/testdata/input"))
    func testdata(file: String) throws {
        let input = try Vectors.json("jcs/testdata/input/\(file)")
        let expected = try Vectors.data("jcs/testdata/output/\(file)")
        #expect(input.canonicalBytes == Array(expected))
    }

    static func checkNumberLines(_ text: String) -> (checked: Int, failures: [String]) {
        var checked = 0
        var failures: [String] = []
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, let bits = UInt64(parts[0], radix: 16) else { continue }
            let value = Double(bitPattern: bits)
            guard value.isFinite else { continue }
            checked += 1
            let got = ES6Number.format(value)
            if got != parts[1] { failures.append("\(parts[0]): got \(got), want \(parts[1])") }
        }
        return (checked, failures)
    }

    @Test("es6numbers: the 10,000-line file")
    func es6Numbers10k() throws {
        let (checked, failures) = Self.checkNumberLines(try Vectors.text("jcs/es6numbers/es6testfile_10000.txt"))
        #expect(checked == 10_000)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    @Test("es6numbers: the gzipped 100,000-line file")
    func es6Numbers100k() throws {
        let gunzip = Process()
        gunzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gunzip.arguments = ["-dc", Vectors.url("jcs/es6numbers/es6testfile_100000.txt.gz").path]
        let pipe = Pipe()
        gunzip.standardOutput = pipe
        try gunzip.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        gunzip.waitUntilExit()
        let (checked, failures) = Self.checkNumberLines(String(decoding: data, as: UTF8.self))
        #expect(checked == 100_000)
        #expect(failures.isEmpty, "\(failures.prefix(5))")
    }

    @Test("numbers parse and print as ECMAScript does", arguments: [
        ("1e21", "1e+21"), ("1e20", "100000000000000000000"), ("0.000001", "0.000001"), ("1e-7", "1e-7"),
        ("-0", "0"), ("123.456", "123.456"), ("4.5e-3", "0.0045"), ("9007199254740993", "9007199254740992"),
    ])
    func numbers(input: String, expected: String) throws {
        #expect(try JSON(parsing: input).canonicalString == expected)
    }

    @Test("malformed JSON is rejected with a reason", arguments: [
        "{\"a\":1,\"a\":2}", "[1,]", "{\"a\" 1}", "\"\\ud800\"", "01", "1.", "nul", "[1] x", "\"a\u{01}\"", "1e999", "",
    ])
    func rejects(input: String) {
        #expect(throws: JSONError.self) { try JSON(parsing: input) }
    }

    @Test("strings escape only what JCS requires")
    func strings() throws {
        let value = JSON.string("\u{0}\u{1f}\"\\/\u{7f}é€😀\n")
        #expect(value.canonicalString == "\"\\u0000\\u001f\\\"\\\\/\u{7f}é€😀\\n\"")
        #expect(try JSON(parsing: value.canonicalString) == value)
    }
}

@Suite("Base58 and key order")
struct EncodingTests {
    @Test("base58btc round-trips, keeps leading zeros, and matches known values", arguments: [
        ([UInt8](), ""), ([0], "1"), ([0, 0, 1], "112"), (Array("hello world".utf8), "StV1DL6CwTryKyV"),
        ([0xFF, 0xFF, 0xFF, 0xFF], "7YXq9G"), ([0x00, 0xFF] + [UInt8](repeating: 0xAB, count: 40), nil),
    ])
    func base58(bytes: [UInt8], text: String?) {
        let encoded = Base58.encode(bytes)
        if let text { #expect(encoded == text) }
        #expect(Base58.decode(encoded, maxBytes: bytes.count) == bytes)
    }

    @Test("base58 agrees with the simple quadratic algorithm on random inputs")
    func base58Random() {
        var rng = SeededGenerator(seed: 7)
        for length in 0..<80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(Base58.decode(Base58.encode(bytes), maxBytes: length) == bytes)
        }
    }

    @Test("member order is by UTF-16 code units, also beyond ASCII", arguments: [
        ("a", "b", true), ("b", "a", false), ("a", "ab", true), ("", "a", true), ("a", "a", false),
        ("\u{E000}", "\u{1F600}", false),  // U+1F600 is D83D DE00 in UTF-16, so it sorts first
        ("\u{1F600}", "\u{E000}", true), ("é", "z", false), ("Z", "a", true),
    ])
    func keyOrder(a: String, b: String, precedes: Bool) {
        #expect(JSON.canonicalOrder(a, b) == precedes)
        #expect(a.utf16.lexicographicallyPrecedes(b.utf16) == precedes)
    }
}
