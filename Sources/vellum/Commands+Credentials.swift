import ArgumentParser
import Foundation
import VellumCore
import VellumNode

struct Issue: VellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Issue a signed Open Badges 3.0 credential, or one per row of a CSV file.",
        discussion: """
            One credential: --subject and --achievement; the credential goes to --out or standard output and its \
            id to standard output (standard error when the credential itself goes there).
            Bulk: --csv FILE --out-dir DIR; the header names the columns with the flag names \
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
    @Option(help: "Write the credential to FILE.") var out: String?
    @Option(help: "Bulk: a CSV file with a header line.") var csv: String?
    @Option(name: .customLong("out-dir"), help: "Bulk: the directory that receives one credential file per row.")
    var outDir: String?

    func validate() throws {
        if csv != nil {
            guard outDir != nil else { throw ValidationError("--csv needs --out-dir DIR") }
            guard subject == nil, achievement == nil, out == nil else {
                throw ValidationError("--csv takes its subjects and achievements from the file; drop --subject/--achievement/--out")
            }
        } else {
            guard subject != nil, achievement != nil else { throw ValidationError("give --subject and --achievement, or --csv FILE") }
            guard outDir == nil else { throw ValidationError("--out-dir goes with --csv") }
        }
    }

    func execute() throws {
        if let csv, let outDir { return try bulk(csv: csv, outDir: outDir) }
        let request = CredentialRequest(
            subject: subject!, achievementName: achievement!, achievementType: achievementType, description: description,
            criteria: criteria, validUntil: try validUntil.map(BulkIssuance.parseValidUntil))
        if let out, FileManager.default.fileExists(atPath: out) {
            throw VellumError(.conflict, "\(out) already exists; refusing to overwrite it")
        }
        let node = try data.open()
        let issued = try node.issue(request)
        let document = issued.document.prettyString + "\n"
        if let out {
            try writeOutput(document, to: out)
            if output.json { Terminal.print(["id": .string(issued.id), "file": .string(out)]) } else { print(issued.id) }
        } else {
            print(document, terminator: "")
            Terminal.error(issued.id)
        }
    }

    func bulk(csv: String, outDir: String) throws {
        let text = String(decoding: try readInput(csv), as: UTF8.self)
        let rows = try BulkIssuance.rows(csv: text, file: csv, now: Node.systemClock())
        let node = try data.open()
        do {
            try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        } catch {
            throw VellumError(.io, "cannot create \(outDir): \(error.localizedDescription)")
        }
        let progress = ProgressBar(total: rows.count, label: "issuing", enabled: Terminal.stderrIsTerminal && !output.json)
        let started = Date()
        var manifest = "line,credential,file\n"
        var done = 0
        try node.issue(rows.map(\.request)) { batch in
            // File creation is slow on some filesystems: write a batch's files on every core.
            let names = batch.map { $0.id.replacingOccurrences(of: "urn:uuid:", with: "") + ".json" }
            let failures = Parallel.map(Array(zip(batch, names)), chunk: 32) { credential, file -> String? in
                do { try createFile(credential.document.prettyString + "\n", at: outDir + "/" + file) } catch {
                    return "\(error)"
                }
                return nil
            }
            if let failure = failures.compactMap({ $0 }).first { throw VellumError(.io, failure) }
            for (credential, file) in zip(batch, names) {
                manifest += "\(rows[done].line),\(credential.id),\(file)\n"
                done += 1
            }
            progress.update(done)
        }
        progress.finish()
        try writeOutput(manifest, to: outDir + "/manifest.csv", replace: true)
        let seconds = Date().timeIntervalSince(started)
        if output.json {
            Terminal.print(["issued": .number(Double(done)), "outDir": .string(outDir), "manifest": .string(outDir + "/manifest.csv"), "seconds": .number((seconds * 1000).rounded() / 1000)])
        } else {
            print("issued \(done) credentials into \(outDir) in \(String(format: "%.2f", seconds)) s (manifest: \(outDir)/manifest.csv)")
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

struct Status: VellumCommand {
    static let configuration = CommandConfiguration(abstract: "Show a credential's current status and the entries that decided it.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The credential id (urn:uuid:...).") var id: String
    @Option(help: "Answer as of this past time (ISO 8601 date-time, or a date meaning its start in UTC).") var at: String?

    func execute() throws {
        guard id.hasPrefix("urn:uuid:") else { throw VellumError(.invalidInput, "'\(id)' is not a credential id (urn:uuid:...)") }
        let time = try at.map { text throws(VellumError) -> Timestamp in
            guard let t = Timestamp(parsing: text) ?? Timestamp(parsing: text, allowDateOnly: true) else {
                throw VellumError(.invalidInput, "--at '\(text)' is not an ISO 8601 date or date-time")
            }
            return t
        }
        let report = try data.open().status(of: id, at: time)
        if output.json {
            Terminal.print(report.json)
        } else {
            print("\(id): \(report.status.rawValue)")
            if let issuer = report.issuer { print("  issuer    \(issuer)") }
            if let until = report.validUntil { print("  valid to  \(until)") }
            for e in report.evidence { print("  evidence  \(e.kind) \(e.id.hex) at \(e.hlc.timestamp.rfc3339)") }
            print("  as of     \(report.at.rfc3339)")
        }
        if report.status == .unknown { fail("unknown credential \(id)" + (time.map { " as of \($0.rfc3339)" } ?? "")) }
    }
}

struct Verify: VellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify a credential file: proof, issuer, ledger record and digest, status. Exit 0 only when verified.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "A credential file ('-' for standard input).") var file: String

    func execute() throws {
        let bytes = Array(try readInput(file))
        let credential: JSON
        do { credential = try JSON(parsing: bytes) } catch { throw VellumError(.invalidJSON, "\(file): \(error)") }
        let report = try data.open().verify(credential)
        if output.json {
            Terminal.print(report.json)
        } else {
            print("\(report.credentialID ?? file): \(report.verified ? "VERIFIED" : "NOT VERIFIED") (status \(report.status.rawValue))")
            for check in report.checks { print("  \(check.ok ? "ok  " : "FAIL")  \(check.name.padding(toLength: 9, withPad: " ", startingAt: 0))  \(check.detail)") }
        }
        if !report.verified { fail("\(file) is not verified: \(report.errors.joined(separator: "; "))") }
    }
}

struct StatusList: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "status-list",
        abstract: "Print this node's signed BitstringStatusListCredential (W3C Bitstring Status List v1.0) for publishing.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "revocation or suspension.") var purpose: String
    @Option(help: "Which list (each holds 131,072 credentials).") var list = 0
    @Option(help: "Write it to FILE (replacing it) instead of standard output.") var out: String?

    func execute() throws {
        let credential = try data.open().statusListCredential(purpose: purpose, list: list)
        let text = (output.json ? credential.canonicalString : credential.prettyString) + "\n"
        if let out { try writeOutput(text, to: out, replace: true) } else { print(text, terminator: "") }
    }
}
