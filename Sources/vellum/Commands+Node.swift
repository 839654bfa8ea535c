import ArgumentParser
import VellumCore
import VellumNode

struct Init: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Create a node: keys (mode 0600) and an empty ledger.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The issuing institution's name, shown in its credentials.") var name: String
    @Option(name: .customLong("base-url"), help: "Public base URL of this node; status list URLs in credentials start with it.")
    var baseURL = "http://127.0.0.1:8080"
    @Option(help: "The federation genesis this node joins (signed by every founder); entries of any other federation are refused.")
    var federation: String?

    func execute() throws {
        let genesis = try federation.map { file throws(VellumError) in try OrgDirectory.readDocument(file) }
        let node = try Node.create(at: data.path, name: name, baseURL: baseURL, federation: genesis)
        if output.json {
            Terminal.print(identity(node))
        } else {
            print("created node '\(node.name)' in \(data.path)")
            print("issuer \(node.did.did)")
        }
    }
}

struct Id: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Show this node's identity.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func execute() throws {
        let node = try data.open()
        if output.json { Terminal.print(identity(node)) } else { print(node.did.did) }
    }
}

func identity(_ node: Node) -> JSON {
    [
        "name": .string(node.name), "did": .string(node.did.did), "feedKey": .string(node.feed.hex),
        "transportKey": .string(node.transport.publicKey), "baseURL": .string(node.baseURL),
    ]
}

struct Digest: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Print the state root: equal on replicas that hold the same entries.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func execute() throws {
        let node = try data.open()
        let root = try node.digest()
        if output.json {
            Terminal.print(["stateRoot": .string(root.hex), "entries": .number(Double(try node.store.entryCount()))])
        } else {
            print(root.hex)
        }
    }
}

struct Audit: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-verify every entry, chain link and signature, and the materialized state.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func execute() async throws {
        let report = try await data.open().audit()
        if output.json {
            Terminal.print(report.json)
        } else if report.ok {
            print("audit ok: \(report.entries) entries in \(report.feeds) feeds, \(report.credentials) credentials, state root \(report.stateRoot!.hex)")
            for note in report.notes { print("  note: \(note)") }
        }
        if let problem = report.problem { fail("audit failed: \(problem)") }
    }
}

struct Log: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "List the entries of every feed, in arrival order.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func execute() throws {
        let node = try data.open()
        try node.store.forEachEntry { e in
            if output.json {
                print(e.json.canonicalString)
            } else {
                let about = (try? EntryPayload(kind: e.kind, bytes: e.payload))?.credentialID ?? "-"
                let own = e.feed == node.feed ? "own" : String(e.feed.hex.prefix(8))
                print("\(own) #\(e.seq)  \(e.hlc.timestamp.rfc3339)  \(e.kind.description.padding(toLength: 11, withPad: " ", startingAt: 0))  \(about)  \(e.id.hex.prefix(16))")
            }
        }
    }
}

struct Export: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Write every entry of every feed as JSON Lines (offline sync).")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Write to FILE instead of standard output.") var out: String?

    func execute() throws {
        let node = try data.open()
        if let out {
            var text = ""
            let count = try node.export { text += $0 }
            try writeOutput(text, to: out)
            if output.json {
                Terminal.print(["entries": .number(Double(count)), "file": .string(out)])
            } else {
                print("exported \(count) entries to \(out)")
            }
        } else {
            _ = try node.export { print($0, terminator: "") }
        }
    }
}

struct Import: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify every entry of an export file, then merge them (all or nothing; idempotent).")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "An export file ('-' for standard input).") var file: String

    func execute() async throws {
        let node = try data.open()
        let entries = try Node.parseExport(String(decoding: try readInput(file), as: UTF8.self), file: file)
        let report: Node.ImportReport
        do { report = try await node.importEntries(entries) } catch let error as VellumError {
            throw VellumError(error.code, "\(file): \(error.message); nothing imported")
        }
        if output.json {
            Terminal.print(report.json)
        } else {
            let aside = report.setAside > 0 ? ", \(report.setAside) of forked feeds set aside" : ""
            print("imported \(report.added) new entries (\(report.received - report.added - report.setAside) already held\(aside)) from \(file)")
            for feed in report.forks {
                print("fork: \(feed.didKey.did) signed two histories; kept as evidence, its entries set aside (see `vellum forks`)")
            }
        }
    }
}
