import Foundation
import Testing
import VellumFuzzing

/// Every input in the fuzz corpus (Fuzz/corpus/TARGET) and every input that once crashed a
/// target (Fuzz/regressions/TARGET) runs through its target on each test run, without the
/// sanitizers: a fixed crash stays fixed.
struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ folder: String, _ target: FuzzTarget) -> [URL] {
        let dir = root.appendingPathComponent(folder).appendingPathComponent(target.name)
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? [])
            .sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func corpusAndRegressions(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let corpus = Self.inputs("corpus", target)
        #expect(!corpus.isEmpty, "Fuzz/corpus/\(name) has no seed inputs")
        // A crash traps and ends the test process: `vellum-fuzz TARGET FILE...` names the input.
        for file in corpus + Self.inputs("regressions", target) { target.run(Array(try Data(contentsOf: file))) }
    }

    @Test func everyTargetHasAFolder() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("corpus").path)
        #expect(Set(folders) == Set(FuzzTarget.all.map(\.name)), "Fuzz/corpus has a folder per target and no other")
    }
}
