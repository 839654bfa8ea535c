import ArgumentParser
import Foundation
import VellumCore
import VellumNode

/// The data directory, shared by every command.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "The node's data directory (default: $VELLUM_DATA, else ./vellum-data).")
    var data: String?

    var path: String { data ?? ProcessInfo.processInfo.environment["VELLUM_DATA"] ?? "./vellum-data" }

    func open() throws -> Node { try Node.open(at: path) }
}

/// `--json` for every command that reports.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON.")
    var json = false
}

/// A command whose failures print one line on stderr and exit non-zero.
protocol VellumCommand: ParsableCommand {
    func execute() throws
}

extension VellumCommand {
    func run() throws {
        do { try execute() } catch { try report(error) }
    }
}

/// Turns an error into the one-line message and exit status 1; lets ArgumentParser's own
/// exits through.
func report(_ error: any Error) throws -> Never {
    switch error {
    case let error as VellumError: fail(error.message)
    case let error as ExitCode: throw error
    case let error as CleanExit: throw error
    default: fail("\(error)")
    }
}

func fail(_ message: String) -> Never {
    Terminal.error("error: \(message)")
    Foundation.exit(1)
}

enum Terminal {
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    static func print(_ json: JSON) { Swift.print(json.prettyString) }
}

/// Reads a file named on the command line ('-' for standard input).
func readInput(_ path: String) throws -> Data {
    if path == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            throw VellumError(.io, isDirectory.boolValue ? "\(path) is a directory" : "cannot read \(path)")
        }
        throw VellumError(.notFound, "no such file: \(path)")
    }
    return data
}

/// Writes a file whole or not at all: into `PATH.partial`, then renamed over `path`. Fast
/// enough for one file per credential of a bulk run (no fsync: the ledger is the durable
/// record, and a re-run of the bulk file writes every file again).
func writeWhole(_ bytes: [UInt8], to path: String) throws {
    let partial = path + ".partial"
    let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw VellumError(.io, "cannot create \(partial): \(String(cString: strerror(errno)))") }
    var done = 0
    while done < bytes.count {
        let n = bytes[done...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n > 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw VellumError(.io, "cannot write \(partial): \(reason)")
        }
        done += n
    }
    close(fd)
    guard rename(partial, path) == 0 else { throw VellumError(.io, "cannot rename \(partial) to \(path): \(String(cString: strerror(errno)))") }
}

/// Writes a file atomically (temporary file, then rename); refuses to replace one unless asked.
func writeOutput(_ text: String, to path: String, replace: Bool = false) throws {
    if !replace, FileManager.default.fileExists(atPath: path) {
        throw VellumError(.conflict, "\(path) already exists; refusing to overwrite it")
    }
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw VellumError(.io, "cannot write \(path): \(error.localizedDescription)")
    }
}
