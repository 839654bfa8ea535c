import ArgumentParser
import Foundation
import VellumCore
import VellumNode

struct Issue: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a signed Open Badges 3.0 credential, or one per row of a CSV file.",
        discussion: """
            One credential: --subject and --achievement; the credential goes to --out or standard output and its \
            id to standard output (standard error when the credential itself goes there).
            Bulk: --csv FILE and either --out-dir DIR (one file per credential and manifest.csv) or --out FILE.jsonl \
            (one credential per line, in row order); the header names the columns with the flag names \
            (subject, achievement, achievement-type, description, criteria, valid-until).
            """)
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "The learner: a URI (did:, urn:, https:) or an e-mail address.") var subject: String?
    @Option(help: "The achievement's name.") var achievement: String?
    @Option(name: .customLong("achievement-type"), help: "Open Badges achievementType, e.g. MicroCredential, Badge, Certificate, Degree.")
    var achievementType = "MicroCredential"
    @Option(help: "What the achievement recognizes (default: its name).") var description: String?
    @Option(help: "How it is earned (criteria narrative).") var criteria: String?
    @Option(name: .customLong("valid-until"), help: "Expiry: an ISO 8601 date (end of that day, UTC) or date-time.")
    var validUntil: String?
    @Option(help: "Write the credential to FILE; with --csv, every credential to FILE.jsonl, one per line.") var out: String?
    @Option(help: "Bulk: a CSV file with a header line.") var csv: String?
    @Option(name: .customLong("out-dir"), help: "Bulk: the directory that receives one credential file per row.")
    var outDir: String?

    func validate() throws {
        if csv != nil {
            guard (outDir != nil) != (out != nil) else { throw ValidationError("--csv needs --out-dir DIR or --out FILE.jsonl (one of them)") }
            if let out, !out.hasSuffix(".jsonl") { throw ValidationError("with --csv, --out names a JSON Lines file: FILE.jsonl") }
            guard subject == nil, achievement == nil else {
                throw ValidationError("--csv takes its subjects and achievements from the file; drop --subject/--achievement")
            }
        } else {
            guard subject != nil, achievement != nil else { throw ValidationError("give --subject and --achievement, or --csv FILE") }
            guard outDir == nil else { throw ValidationError("--out-dir goes with --csv") }
        }
    }

    func execute() async throws {
        if let csv { return try await bulk(csv: csv) }
        let request = CredentialRequest(
            subject: subject!, achievementName: achievement!, achievementType: achievementType, description: description,
            criteria: criteria, validUntil: try validUntil.map(BulkIssuance.parseValidUntil))
        if let out, FileManager.default.fileExists(atPath: out) {
            throw VellumError(.conflict, "\(out) already exists; refusing to overwrite it")
        }
        let node = try data.open()
        try node.store.syncEveryCommit()
        let issued = try await node.issue(request)
        let document = issued.document.prettyString + "\n"
        if let out {
            try writeOutput(document, to: out)
            if output.json { Terminal.print(["id": .string(issued.id), "file": .string(out)]) } else { print(issued.id) }
        } else {
            print(document, terminator: "")
            Terminal.error(issued.id)
        }
    }

    /// What names a CSV file for `beginBulkRun`: its real path; "-" for standard input and
    /// anything that is not a regular file (a pipe, `<(...)`), whose next bytes are not its last.
    static func runPath(_ csv: String) -> String {
        var info = stat()
        guard csv != "-", stat(csv, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return "-" }
        return URL(fileURLWithPath: csv).resolvingSymlinksInPath().path
    }

    /// Issues a row at most once: a re-run of the same file (same bytes) after an interruption
    /// issues only the rows still missing and writes every row's file and the manifest again.
    func bulk(csv: String) async throws {
        let bytes = Array(try readInput(csv))
        let file = BulkIssuance.digest(bytes)
        let node = try data.open()
        try node.store.syncEveryCommit()  // output files never outlive the ledger's record of them
        let issued = try node.bulkIssued(of: file)
        let rows = try BulkIssuance.rows(
            csv: String(decoding: bytes, as: UTF8.self), file: csv, now: Node.systemClock(), issued: Set(issued.keys))
        var sink = try BulkOutput(outDir: outDir, jsonl: out, issuedEarlier: Set(issued.values))
        try node.beginBulkRun(file: file, path: Self.runPath(csv), rows: rows.count)
        let progress = ProgressBar(total: rows.count, label: "issuing", enabled: Terminal.stderrIsTerminal && !output.json)
        let started = Date()
        var written = 0
        let earlier = try await node.issue(rows, file: file) { batch in
            try await sink.write(batch)
            written += batch.count
            progress.update(written)
        }
        progress.finish()
        try sink.finish()
        let (fresh, seconds) = (written - earlier, Date().timeIntervalSince(started))
        let again = earlier == 0 ? "" : " (\(earlier) rows were issued by an earlier run of \(csv) and not again)"
        if output.json {
            var report: [String: JSON] = [
                "issued": .number(Double(fresh)), "alreadyIssued": .number(Double(earlier)), "seconds": .number((seconds * 1000).rounded() / 1000),
            ]
            if let outDir { report["outDir"] = .string(outDir) }
            report[out == nil ? "manifest" : "out"] = .string(sink.summaryPath)
            Terminal.print(.object(report))
        } else if let outDir {
            print("issued \(fresh) credentials into \(outDir) in \(String(format: "%.2f", seconds)) s\(again) (manifest: \(sink.summaryPath))")
        } else {
            print("issued \(fresh) credentials into \(sink.summaryPath) in \(String(format: "%.2f", seconds)) s\(again)")
        }
    }
}

/// Where `vellum issue --csv` puts what it issued: one file per credential and a manifest
/// (`--out-dir`), or one JSON Lines file (`--out FILE.jsonl`), written a batch at a time.
/// Every file appears whole or not at all (written to a new temporary file, then moved into
/// place): a run killed midway leaves no half-written credential, and its re-run writes every
/// row's file again.
struct BulkOutput {
    let outDir: String?
    let jsonl: PartialFile?
    let summaryPath: String
    /// The JSON Lines file or manifest already there, which a re-run that wrote it replaces.
    private let replacing: (inode: UInt64, modified: Int)?
    private var manifest = "line,credential,file\n"

    /// `issuedEarlier`: the credentials earlier runs of this file issued. An output file already
    /// there is replaced only if it names nothing else; anything else is refused before a row
    /// is issued.
    init(outDir: String?, jsonl: String?, issuedEarlier: Set<String>) throws {
        self.outDir = outDir
        if let jsonl {
            summaryPath = jsonl
            let directory = URL(fileURLWithPath: jsonl).deletingLastPathComponent().path
            let name = URL(fileURLWithPath: jsonl).lastPathComponent
            PartialFile.removeLeftovers(in: directory) { $0 == name }
            replacing = try BulkOutput.replaceable(jsonl, issuedEarlier: issuedEarlier) { line in
                (try? JSON(parsing: Array(line.utf8)))?["id"]?.stringValue
            }
            self.jsonl = try PartialFile(for: jsonl)
        } else {
            let dir = outDir!
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw VellumError(.io, "cannot create \(dir): \(error.localizedDescription)")
            }
            summaryPath = dir + "/manifest.csv"
            PartialFile.removeLeftovers(in: dir) { $0.hasSuffix(".json") || $0 == "manifest.csv" }
            replacing = try BulkOutput.replaceable(summaryPath, issuedEarlier: issuedEarlier, header: true) { line in
                line.split(separator: ",").dropFirst().first.map(String.init)
            }
            self.jsonl = nil
        }
    }

    /// nil if nothing is at `path`; its identity if every line names a credential of
    /// `issuedEarlier` (`id` reads a line's); else the refusal.
    static func replaceable(
        _ path: String, issuedEarlier: Set<String>, header: Bool = false, id: (Substring) -> String?
    ) throws -> (inode: UInt64, modified: Int)? {
        guard let identity = fileIdentity(path) else { return nil }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").dropFirst(header ? 1 : 0)
        guard !lines.isEmpty, lines.allSatisfy({ id($0).map(issuedEarlier.contains) ?? false }) else {
            throw VellumError(.conflict, "\(path) already exists and is not this file's earlier output; refusing to overwrite it")
        }
        return identity
    }

    mutating func write(_ batch: [BulkCredential]) async throws {
        if let jsonl {
            var bytes: [UInt8] = []
            for credential in batch { bytes += credential.canonicalDocument + [0x0A] }
            return try jsonl.write(bytes)
        }
        let dir = outDir!
        // File creation is slow on some filesystems: write a batch's files on every core.
        let names = batch.map { $0.id.replacingOccurrences(of: "urn:uuid:", with: "") + ".json" }
        let failures = await Parallel.map(Array(zip(batch, names)), chunk: 32) { credential, file -> String? in
            do { try writeWhole(Array((JSON(parsing: credential.canonicalDocument).prettyString + "\n").utf8), to: dir + "/" + file) } catch { return "\(error)" }
            return nil
        }
        if let failure = failures.compactMap({ $0 }).first { throw VellumError(.io, failure) }
        for (credential, file) in zip(batch, names) { manifest += "\(credential.line),\(credential.id),\(file)\n" }
    }

    /// Moves the output into place; a file that was replaceable must not have changed since.
    func finish() throws {
        if let replacing {
            guard let now = fileIdentity(summaryPath), now == replacing else {
                throw VellumError(.conflict, "\(summaryPath) changed during this run; the credentials are issued: run the same command again to write it")
            }
        }
        let file = try jsonl ?? PartialFile(for: summaryPath)
        if jsonl == nil { try file.write(Array(manifest.utf8)) }
        do { try file.commit(replacing: replacing != nil) } catch let error as VellumError where error.code == .conflict {
            throw VellumError(.conflict, "\(summaryPath) appeared during this run; the credentials are issued: run the same command with another output to write them")
        }
    }
}

/// Shared by revoke, suspend and reinstate.
struct StatusChangeArguments: ParsableArguments {
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The credential id (urn:uuid:...).") var id: String

    func change(_ kind: EntryKind, reason: String?) throws {
        let node = try data.open()
        try node.store.syncEveryCommit()
        let entry = try node.changeStatus(kind, of: id, reason: reason)
        let report = try node.status(of: id)
        if output.json {
            Terminal.print(report.json.setting("entry", to: .string(entry.id.hex)))
        } else {
            print("\(id) is now \(report.status.rawValue) (entry \(entry.id.hex.prefix(16)), seq \(entry.seq))")
        }
    }
}

struct Revoke: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke a credential (final).")
    @OptionGroup var arguments: StatusChangeArguments
    @Option(help: "Why, recorded in the ledger.") var reason: String?
    func execute() throws { try arguments.change(.revoke, reason: reason) }
}

struct Suspend: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Suspend a credential until it is reinstated.")
    @OptionGroup var arguments: StatusChangeArguments
    @Option(help: "Why, recorded in the ledger.") var reason: String?
    func execute() throws { try arguments.change(.suspend, reason: reason) }
}

struct Reinstate: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Lift a suspension.")
    @OptionGroup var arguments: StatusChangeArguments
    func execute() throws { try arguments.change(.reinstate, reason: nil) }
}

struct Status: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a credential's status and the signed entries that decided it.",
        discussion: "With --node, asks a running node over HTTP and checks its evidence (signatures, feed, recomputed status) before printing.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "The credential id (urn:uuid:...).") var id: String
    @Option(help: "Answer as of this past time (ISO 8601 date-time, or a date meaning its start in UTC).") var at: String?
    @Option(help: "The issuer's did:key: a credential is its issuer and its id (needed only when several issuers wrote the id).")
    var issuer: String?

    func execute() async throws {
        try CredentialID.validate(id)
        if let issuer { _ = try DIDKey(parsing: issuer) }
        let time = try at.map { text throws(VellumError) in try Timestamp(query: text, option: "--at") }
        let answer: JSON
        if let node = try remote.node() {
            answer = try await node.status(of: id, issuer: issuer, at: at)
            _ = try StatusEvidence.check(answer, credentialID: id, issuer: issuer)
        } else {
            answer = try data.open().status(of: id, issuer: issuer, at: time).json
        }
        let status = answer["status"]?.stringValue ?? "unknown"
        if output.json {
            Terminal.print(answer)
        } else {
            print("\(id): \(status)")
            if let issuer = answer["issuer"]?.stringValue { print("  issuer    \(issuer)") }
            if let until = answer["validUntil"]?.stringValue { print("  valid to  \(until)") }
            printEvidence(answer)
        }
        if status == "unknown" { fail("unknown credential \(id)" + (time.map { " as of \($0.rfc3339)" } ?? "")) }
    }
}

/// The evidence and freshness lines shared by `status` and `verify`.
func printEvidence(_ answer: JSON) {
    for e in answer["evidence"]?.arrayValue ?? [] {
        let time = e["hlc"]?.stringValue.flatMap(UInt64.init).map { HLC(rawValue: $0).timestamp.rfc3339 } ?? "?"
        print("  evidence  \(e["kind"]?.stringValue ?? "?") \(e["id"]?.stringValue ?? "?") at \(time)")
    }
    if let at = answer["at"]?.stringValue { print("  at        \(at)") }
    if let asOf = answer["asOf"], asOf != .null {
        let heard =
            asOf["issuersNode"] == true
            ? ", on the issuer's own node" : asOf["heardAt"]?.stringValue.map { ", last caught up \($0)" } ?? ", not yet caught up with a peer"
        print("  as of     issuer feed #\(Int(asOf["seq"]?.numberValue ?? 0)) written \(asOf["issuerTime"]?.stringValue ?? "?")\(heard)")
    }
}

struct Verify: AsyncVellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a credential file: proof, issuer, ledger record and digest, status. Exit 0 only when verified.",
        discussion: "With --node, a running node supplies the ledger record over HTTP; its evidence is checked and the verification is redone here.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "A credential file ('-' for standard input).") var file: String

    func execute() async throws {
        let bytes = Array(try readInput(file))
        let credential: JSON
        do { credential = try JSON(parsing: bytes) } catch { throw VellumError(.invalidJSON, "\(file): \(error)") }
        let report: VerificationReport
        let answer: JSON
        if let node = try remote.node() {
            answer = try await node.verify(bytes)
            // Trust the node for nothing but completeness: redo the verification on its evidence.
            // ... about this credential's issuer: a credential is its issuer and its id.
            let checked = try StatusEvidence.check(
                answer, credentialID: credential["id"]?.stringValue ?? "", issuer: CredentialVerifier.issuer(of: credential))
            report = CredentialVerifier.verify(credential, record: checked.record, at: Node.systemClock())
            guard report.verified == (answer["verified"] == .bool(true)) else {
                throw VellumError(.invalidEntry, "\(node.base) says verified=\(answer["verified"]!.canonicalString), but its evidence says \(report.verified)")
            }
        } else {
            let result = try data.open().verify(credential)
            (report, answer) = (result.report, result.json)
        }
        if output.json {
            Terminal.print(answer)
        } else {
            print("\(report.credentialID ?? file): \(report.verified ? "VERIFIED" : "NOT VERIFIED") (status \(report.status.rawValue))")
            for check in report.checks { print("  \(check.ok ? "ok  " : "FAIL")  \(check.name.padding(toLength: 9, withPad: " ", startingAt: 0))  \(check.detail)") }
            printEvidence(answer)
        }
        if !report.verified { fail("\(file) is not verified: \(report.errors.joined(separator: "; "))") }
    }
}

struct StatusList: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "status-list",
        abstract: "Print the newest issuer-signed BitstringStatusListCredential (W3C Bitstring Status List v1.0) this node holds.",
        discussion: "Name a list (the last segment of a statusListCredential URL), or pick one of this node's own with --purpose and --list.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "A list name, ISSUER-PURPOSE-NUMBER (default: this node's own, by --purpose and --list).") var name: String?
    @Option(help: "revocation or suspension (for this node's own list).") var purpose = "revocation"
    @Option(help: "Which of this node's lists (each holds 131,072 credentials).") var list = 0
    @Option(help: "Write it to FILE (replacing it) instead of standard output.") var out: String?

    func execute() throws {
        let node = try data.open()
        let bytes = try name.map { try node.publishedStatusList(named: $0) } ?? node.ownStatusList(purpose: purpose, number: list)
        guard let bytes else {
            throw VellumError(.notFound, "no published status list \(name ?? "\(purpose) \(list)") in this ledger")
        }
        // The issuer's signed bytes are already canonical; the default output is indented.
        let text = (output.json ? String(decoding: bytes, as: UTF8.self) : try JSON(parsing: bytes).prettyString) + "\n"
        if let out { try writeOutput(text, to: out, replace: true) } else { print(text, terminator: "") }
    }
}
