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

/// A file written whole or not at all: its bytes go to a new file beside `path`
/// (`.NAME.partial-RANDOM`, created exclusively with the umask's permissions, so nothing else
/// can be opened or redirected through it), which `commit` moves into place. A process killed
/// before that leaves `path` untouched and a leftover that `removeLeftovers` clears.
final class PartialFile {
    let path: String
    let temporary: String
    private var fd: Int32

    init(for path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let prefix = url.deletingLastPathComponent().path + "/" + PartialFile.leftoverPrefix(of: url.lastPathComponent)
        var name = ""
        var opened: Int32 = -1
        for _ in 0..<8 where opened < 0 {
            name = prefix + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            opened = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if opened < 0, errno != EEXIST { break }
        }
        guard opened >= 0 else { throw VellumError(.io, "cannot create \(name): \(String(cString: strerror(errno)))") }
        (fd, temporary) = (opened, name)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(temporary)
        }
    }

    static func leftoverPrefix(of name: String) -> String { "." + name + ".partial-" }

    /// Deletes what killed runs left in `directory`: files named like a `PartialFile` of a name
    /// for which `owned` holds.
    static func removeLeftovers(in directory: String, owned: (String) -> Bool) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where entry.hasPrefix(".") {
            guard let mark = entry.range(of: ".partial-"), owned(String(entry[entry.index(after: entry.startIndex)..<mark.lowerBound])) else { continue }
            unlink(directory + "/" + entry)
        }
    }

    func write(_ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw VellumError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Flushes the bytes to disk and moves them to `path`: over an existing file only if
    /// `replacing`; else a file that appeared at `path` meanwhile is kept, and this is an error.
    func commit(replacing: Bool, sync: Bool = true) throws {
        if sync, fsync(fd) != 0 { throw VellumError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        let closed = close(fd)
        fd = -1
        var moved = false
        defer { if !moved { unlink(temporary) } }
        guard closed == 0 else { throw VellumError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        if !replacing {
            // link() refuses an existing name at this very moment; where a filesystem has no
            // hard links (FAT, some network mounts), a check just before the rename must do.
            if link(temporary, path) == 0 { return }
            guard [EPERM, EOPNOTSUPP, ENOSYS].contains(errno), !FileManager.default.fileExists(atPath: path) else {
                throw VellumError(errno == EEXIST ? .conflict : .io, "cannot create \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard rename(temporary, path) == 0 else { throw VellumError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
        moved = true
    }
}

/// Writes a credential file of a bulk run whole (a `PartialFile`), replacing one a run before
/// wrote. Fast enough for one file per credential: no fsync, as the ledger is the durable
/// record and a re-run of the bulk file writes every file again.
func writeWhole(_ bytes: [UInt8], to path: String) throws {
    let file = try PartialFile(for: path)
    try file.write(bytes)
    try file.commit(replacing: true, sync: false)
}

/// Writes a file whole (a `PartialFile`, flushed to disk); refuses to replace one unless
/// asked, also one that appears while it is written.
func writeOutput(_ text: String, to path: String, replace: Bool = false) throws {
    let exists = VellumError(.conflict, "\(path) already exists; refusing to overwrite it")
    if !replace, FileManager.default.fileExists(atPath: path) { throw exists }
    let file = try PartialFile(for: path)
    try file.write(Array(text.utf8))
    do { try file.commit(replacing: replace) } catch let error as VellumError where error.code == .conflict { throw exists }
}

/// What tells one version of a file from another: its inode and modification time (ns).
/// Nil if nothing is at `path`.
func fileIdentity(_ path: String) -> (inode: UInt64, modified: Int)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return (UInt64(info.st_ino), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)
}
