// Scripts/fuzz builds this with `-sanitize=fuzzer,address -D FUZZING`: libFuzzer then owns
// `main` and calls the two hooks below, for the target named by VELLUM_FUZZ_TARGET. A plain
// build lists the targets, writes the seed corpus and replays inputs without libFuzzer.
import Foundation
import VellumFuzzing

#if FUZZING
nonisolated(unsafe) var target: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>>>) -> CInt {
    let name = ProcessInfo.processInfo.environment["VELLUM_FUZZ_TARGET"] ?? ""
    guard let found = FuzzTarget.named(name) else {
        print("set VELLUM_FUZZ_TARGET to one of: \(FuzzTarget.all.map(\.name).joined(separator: ", "))")
        exit(2)
    }
    target = found
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target!.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#else
@main
struct VellumFuzz {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.isEmpty || arguments == ["--list"] {
            for target in FuzzTarget.all { print(target.name.padding(toLength: 14, withPad: " ", startingAt: 0) + target.about) }
        } else if arguments.count == 2, arguments[0] == "--seeds" {
            for (name, inputs) in try FuzzSeeds.make() {
                let dir = arguments[1] + "/" + name
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for (i, input) in inputs.enumerated() { try Data(input).write(to: URL(fileURLWithPath: "\(dir)/seed-\(i)")) }
            }
        } else if let target = FuzzTarget.named(arguments[0]) {
            for file in arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("cannot read \(file)\n".utf8))
                    exit(1)
                }
                target.run(Array(data))
                print("\(target.name) \(file): ok")
            }
        } else {
            FileHandle.standardError.write(Data("usage: vellum-fuzz --list | --seeds DIR | TARGET FILE...\n".utf8))
            exit(2)
        }
    }
}
#endif
