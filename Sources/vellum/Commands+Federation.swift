import ArgumentParser
import Foundation
import VellumCore
import VellumNode

// `vellum org …` and `vellum federation create|sign` work on files alone (a registrar's
// directory, document files): no node needed. `federation propose|show`, `publish` and `trust`
// read a node's registry.

struct Org: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage an organization's identity (a university): its keys and signed log, kept off the nodes.",
        subcommands: [OrgCreate.self, OrgDelegate.self, OrgUndelegate.self, OrgRotate.self])
}

struct OrgCreate: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create an organization: keys (mode 0600) and its public record DIR/org.json; prints its id.")
    @OptionGroup var output: OutputOptions
    @Option(help: "The organization's name, as verifiers will see it.") var name: String
    @Option(help: "The organization's directory (new or empty).") var out: String

    func execute() throws {
        let id = try OrgDirectory.create(at: out, name: name)
        if output.json { Terminal.print(["id": .string(id), "name": .string(name), "record": .string(out + "/org.json")]) } else { print(id) }
    }
}

/// `--org DIR` and `--out FILE`, shared by the commands that sign an organization event.
struct OrgOptions: ParsableArguments {
    @Option(help: "The organization's directory (from 'vellum org create').") var org: String
    @Option(help: "Where to write the signed document (the organization's updated record), to publish on a node.") var out: String

    func sign(_ body: OrgEvent.Body) throws -> FederationDocument {
        let document = try OrgDirectory(path: org).append(body)
        try OrgDirectory.writeAtomically(document.json.prettyString + "\n", to: out)
        return document
    }
}

struct OrgDelegate: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "delegate",
        abstract: "Let a campus node issue and change the status of this organization's credentials.",
        discussion: "The campus publishes the file on its own node ('vellum publish FILE'); it takes effect from its next entry.")
    @OptionGroup var options: OrgOptions
    @Option(help: "The campus node's identity: the output of 'vellum id --json' on it.") var node: String
    @Option(help: "Until when the campus issues under it (ISO 8601 date-time or date).") var until: String?
    @Option(help: "Where the campus node listens for peers (tcp://HOST:PORT), so other nodes learn it.") var endpoint: String?

    func execute() throws {
        let identity: JSON
        do { identity = try JSON(parsing: try String(contentsOfFile: node, encoding: .utf8)) } catch {
            throw VellumError(.invalidInput, "\(node): not the JSON of 'vellum id --json' (\(error))")
        }
        guard let did = identity["did"]?.stringValue, let transport = identity["transportKey"]?.stringValue else {
            throw VellumError(.invalidInput, "\(node) lacks 'did' or 'transportKey' (use 'vellum id --json' on the campus node)")
        }
        let feed = FeedKey(try DIDKey(parsing: did).publicKey)!
        let end = try until.map { text throws(VellumError) in try Timestamp(query: text, option: "--until") }
        if let endpoint { try Node.validatePeerAddress(endpoint) }
        _ = try options.sign(.delegation(Delegation(feed: feed, transport: transport, endpoint: endpoint, until: end)))
        print("delegated \(did); publish \(options.out) on that node")
    }
}

struct OrgUndelegate: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "undelegate",
        abstract: "End a campus delegation: superseded (clean) or compromised, accepted through seq S.",
        discussion: """
            With --through S, the feed's entries after S count for nothing anywhere, and with --entry, an entry at S other than \
            that one (a fork) neither. A compromise without --through accepts nothing. Publish the file on any node.
            """)
    @OptionGroup var options: OrgOptions
    @Option(help: "The campus feed's did:key.") var feed: String
    @Option(help: "The last seq of the feed that still counts.") var through: UInt64?
    @Option(help: "The id of the feed's entry at --through (hex), as the registrar knows it.") var entry: String?
    @Option(help: "superseded or compromised.") var reason: String = "superseded"

    func execute() throws {
        guard let why = Undelegation.Reason(rawValue: reason) else {
            throw VellumError(.invalidInput, "--reason must be superseded or compromised, not '\(reason)'")
        }
        let id = try entry.map { text throws(VellumError) -> EntryID in
            guard let id = EntryID(hex: text) else { throw VellumError(.invalidInput, "--entry is not an entry id (64 hex digits)") }
            return id
        }
        if id != nil, through == nil { throw VellumError(.invalidInput, "--entry needs --through") }
        let key = FeedKey(try DIDKey(parsing: feed).publicKey)!
        _ = try options.sign(.undelegation(Undelegation(feed: key, reason: why, through: through, entry: id)))
        print("undelegated \(feed) (\(why.rawValue)\(through.map { ", through seq \($0)" } ?? "")); publish \(options.out) on any node")
    }
}

struct OrgRotate: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Rotate the organization's key to the one its log committed to, committing to a fresh next key.")
    @Option(help: "The organization's directory.") var org: String
    @Option(help: "Where to write the updated record, to publish on a node.") var out: String

    func execute() throws {
        let document = try OrgDirectory(path: org).rotate()
        try OrgDirectory.writeAtomically(document.json.prettyString + "\n", to: out)
        print("rotated; publish \(out) on any node")
    }
}

struct Federation: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Found a federation of organizations, sign and propose membership changes, show membership.",
        subcommands: [FederationCreate.self, FederationSign.self, FederationPropose.self, FederationShow.self])
}

struct FederationCreate: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Write a federation genesis for its founders to sign ('vellum federation sign').")
    @Option(help: "The federation's name.") var name: String
    @Option(help: "Signatures of members needed to admit or remove an organization.") var threshold: Int
    @Option(help: "A founder's public record (DIR/org.json); repeat for each founder.") var founder: [String] = []
    @Option(help: "Where to write the genesis.") var out: String

    func execute() throws {
        var ids: [String] = []
        var events: [OrgEvent] = []
        for file in founder {
            guard case .organization(let log) = try OrgDirectory.readDocument(file) else {
                throw VellumError(.invalidInput, "\(file) is not an organization record (DIR/org.json)")
            }
            ids.append(log[0].org)
            events += log
        }
        let genesis = try Genesis(json: Genesis(name: name, threshold: threshold, founders: ids).json)
        try OrgDirectory.writeAtomically(FederationDocument.genesis(genesis, events: events).json.prettyString + "\n", to: out)
        print("\(genesis.federationID): \(genesis.name), threshold \(threshold) of \(ids.count); each founder signs \(out)")
    }
}

struct FederationSign: VellumCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign", abstract: "Add an organization's signature to a genesis or proposal, in place.")
    @Argument(help: "The genesis or proposal file.") var file: String
    @Option(help: "The signing organization's directory.") var org: String

    func execute() throws {
        let document = try OrgDirectory.readDocument(file)
        let digest: Bytes32
        switch document {
        case .genesis(let g, _): digest = g.digest
        case .proposal(let p, _): digest = p.digest
        case .organization: throw VellumError(.invalidInput, "\(file) is an organization record; only a genesis or a proposal is signed")
        }
        let directory = OrgDirectory(path: org)
        let own = try directory.events()
        if Organization.resolve(own[0].org, from: own)?.endorsement(of: digest) != nil {
            throw VellumError(.conflict, "\(own[0].org) has already signed \(file)")
        }
        guard case .organization(let log) = try directory.append(.endorsement(digest: digest)) else { return }
        try OrgDirectory.writeAtomically(document.replacingEvents(of: log[0].org, with: log).json.prettyString + "\n", to: file)
        print("signed \(file) as \(log[0].org)")
    }
}

struct FederationPropose: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propose", abstract: "Propose admitting or removing an organization, at the node's current membership version.",
        subcommands: [ProposeAdmit.self, ProposeRemove.self])
}

/// Writes a proposal against the membership version of the node in `--data`.
func propose(_ action: Proposal.Action, org: String, events: [OrgEvent], data: DataOptions, out: String) throws {
    let node = try data.open()
    guard let registry = try node.registry() else { throw VellumError(.notFound, "\(data.path) belongs to no federation") }
    let proposal = Proposal(federation: registry.federationID, version: registry.version.id, action: action, org: org)
    try OrgDirectory.writeAtomically(FederationDocument.proposal(proposal, events: events).json.prettyString + "\n", to: out)
    print("proposal to \(action.rawValue) \(org) at membership version \(registry.version.number); \(registry.threshold) members sign \(out)")
}

struct ProposeAdmit: VellumCommand {
    static let configuration = CommandConfiguration(commandName: "admit", abstract: "Propose admitting an organization.")
    @OptionGroup var data: DataOptions
    @Option(help: "The organization's public record (DIR/org.json).") var record: String
    @Option(help: "Where to write the proposal.") var out: String

    func execute() throws {
        guard case .organization(let log) = try OrgDirectory.readDocument(record) else {
            throw VellumError(.invalidInput, "\(record) is not an organization record (DIR/org.json)")
        }
        try propose(.admit, org: log[0].org, events: log, data: data, out: out)
    }
}

struct ProposeRemove: VellumCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Propose removing a member.")
    @OptionGroup var data: DataOptions
    @Option(name: .customLong("org-id"), help: "The member's id (did:vellum:...).") var orgID: String
    @Option(help: "Where to write the proposal.") var out: String

    func execute() throws {
        guard orgID.hasPrefix(OrgEvent.idPrefix) else { throw VellumError(.invalidInput, "--org-id is not a did:vellum id") }
        try propose(.remove, org: orgID, events: [], data: data, out: out)
    }
}

struct FederationShow: VellumCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the federation this node belongs to and its members.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions

    func execute() throws {
        let node = try data.open()
        guard let r = try node.registry() else { throw VellumError(.notFound, "\(data.path) belongs to no federation") }
        let members: [JSON] = r.members.values.sorted { ($0.since, $0.id) < ($1.since, $1.id) }.map { m in
            ["id": .string(m.id), "name": .string(r.organizations[m.id]?.name ?? ""), "since": .number(Double(m.since))]
        }
        if output.json {
            Terminal.print([
                "id": .string(r.federationID), "name": .string(r.name), "threshold": .number(Double(r.threshold)),
                "version": ["number": .number(Double(r.version.number)), "id": .string(r.version.id.hex)], "members": .array(members),
                "notes": .array(r.notes.map(JSON.string)),
            ])
        } else {
            print("\(r.name) (\(r.federationID)): \(r.members.count) members, threshold \(r.threshold), membership version \(r.version.number)")
            for m in members { print("  \(m["name"]!.stringValue!)  \(m["id"]!.stringValue!)  since version \(Int(m["since"]!.numberValue!))") }
            for note in r.notes { print("  note: \(note)") }
        }
    }
}

struct Publish: VellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append a signed organization or federation document to this node's feed (refused, with the reason, if invalid).")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "The document: an org record, a delegation, undelegation or rotation, a genesis or a proposal.") var file: String

    func execute() throws {
        let document = try OrgDirectory.readDocument(file)
        let entry = try data.open().publish(document)
        if output.json {
            Terminal.print(["entry": .string(entry.id.hex), "seq": .number(Double(entry.seq)), "document": .string(document.typeName)])
        } else {
            print("published \(document.typeName) as entry \(entry.id.hex) (seq \(entry.seq))")
        }
    }
}

struct Trust: VellumCommand {
    static let configuration = CommandConfiguration(
        abstract: "Is an issuer (a campus did:key) or an organization (did:vellum) recognised by this node's federation? With the signed path.")
    @OptionGroup var data: DataOptions
    @OptionGroup var output: OutputOptions
    @Argument(help: "A did:key or did:vellum.") var did: String

    func execute() throws {
        let answer = try data.open().trust(did)
        if output.json {
            Terminal.print(answer.json)
        } else {
            print("\(did): \(answer.trusted ? "trusted" : "not trusted")")
            if let org = answer.organization { print("  organization  \(org.name) (\(org.id))") }
            print("  federation    \(answer.federation.name) (\(answer.federation.id))")
            if let reason = answer.reason { print("  reason        \(reason)") }
            print("  evidence      \(answer.evidence.count) signed entries")
        }
    }
}
