@preconcurrency import Crypto
import Foundation
import VellumCore
import VellumStore
import VellumWire

/// A Vellum node: its data directory, its feed key and its ledger, and the operations a
/// registrar, operator or verifier performs on them. It reads the clock and randomness (the
/// core does not) and does all of its writing through `LedgerStore` transactions.
public final class Node {
    public let directory: NodeDirectory
    public let store: LedgerStore
    let key: Curve25519.Signing.PrivateKey
    public let feed: FeedKey
    public let name: String
    public let baseURL: String
    /// The CurveZMQ key pair that authenticates and encrypts this node's connections.
    public let transport: CurveKeyPair
    let clock: () -> Timestamp

    /// The issuer identity: the feed key as a did:key.
    public let did: DIDKey
    /// The federation this node was created in, if any (`vellum init --federation`).
    public let federationID: String?
    public let registryCache = RegistryCache()

    static let format = "vellum-node-v1"

    /// The wall clock, shifted by `VELLUM_CLOCK_OFFSET` seconds when that is set: clock error
    /// on purpose, with which Scripts/chaos skews each node by minutes to show the ledger holds.
    public static func systemClock() -> Timestamp {
        Timestamp(millisecondsSinceEpoch: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) + clockOffset)
    }

    static let clockOffset: Int64 = ((try? clockOffsetSeconds()) ?? 0) * 1000

    /// `VELLUM_CLOCK_OFFSET`, in whole seconds within a day either way. Opening or creating a
    /// node checks it first, so a bad value is an error, not a silent 0.
    public static func clockOffsetSeconds() throws(VellumError) -> Int64 {
        guard let text = ProcessInfo.processInfo.environment["VELLUM_CLOCK_OFFSET"] else { return 0 }
        guard let seconds = Int64(text), abs(seconds) <= 86_400 else {
            throw VellumError(.invalidInput, "VELLUM_CLOCK_OFFSET must be whole seconds between -86400 and 86400, not '\(text)'")
        }
        return seconds
    }

    init(directory: NodeDirectory, store: LedgerStore, key: Curve25519.Signing.PrivateKey, clock: @escaping () -> Timestamp) throws(VellumError) {
        self.directory = directory
        self.store = store
        self.key = key
        self.feed = FeedKey(key.publicKey.rawRepresentation)!
        self.did = feed.didKey
        self.clock = clock
        self.transport = try directory.loadTransportKey()
        guard try store.meta("format") == Node.format else {
            throw VellumError(.storage, "\(directory.ledgerPath) is not a Vellum ledger")
        }
        guard try store.meta("feed") == feed.hex else {
            throw VellumError(.invalidKey, "\(directory.keyPath) does not belong to the ledger in \(directory.path)")
        }
        name = try store.meta("name") ?? ""
        baseURL = try store.meta("base_url") ?? ""
        federationID = try store.meta("federation")
    }

    /// Creates a node: directory, key (0600) and ledger; in a federation, its genesis is the
    /// node's first entry, and the node answers for that federation only.
    public static func create(
        at path: String, name: String, baseURL: String, federation genesis: FederationDocument? = nil,
        clock: @escaping () -> Timestamp = Node.systemClock
    ) throws(VellumError) -> Node {
        _ = try clockOffsetSeconds()
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw VellumError(.invalidInput, "--name is empty") }
        guard let url = URL(string: baseURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw VellumError(.invalidInput, "base URL '\(baseURL)' is not an http(s) URL")
        }
        let federationID = try genesis.map(Node.federationID(ofGenesis:))
        let directory = NodeDirectory(path: path)
        let key = try directory.create()
        do {
            let store = try LedgerStore(path: directory.ledgerPath, create: true)
            try store.transaction {
                try store.setMeta("format", format)
                try store.setMeta("name", name)
                try store.setMeta("base_url", baseURL)
                try store.setMeta("feed", Hex.encode(key.publicKey.rawRepresentation))
                try store.setMeta("clock", "0")
                try store.setMeta("next_status_index", "0")
                if let federationID { try store.setMeta("federation", federationID) }
            }
            directory.protectLedger()
            let node = try Node(directory: directory, store: store, key: key, clock: clock)
            if let genesis { try node.publish(genesis) }
            return node
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error as? VellumError ?? VellumError(.storage, "\(error)")
        }
    }

    /// Opens an existing node.
    public static func open(at path: String, clock: @escaping () -> Timestamp = Node.systemClock) throws(VellumError) -> Node {
        _ = try clockOffsetSeconds()
        let directory = NodeDirectory(path: path)
        let key = try directory.loadKey()
        let store: LedgerStore
        do { store = try LedgerStore(path: directory.ledgerPath, create: false) } catch {
            throw VellumError(error.code, "\(path) is not a Vellum data directory: \(error.message)")
        }
        return try Node(directory: directory, store: store, key: key, clock: clock)
    }

    // MARK: own feed

    /// Runs `body` with a writer positioned at the head of this node's feed, inside one write
    /// transaction, and persists the clock. Concurrent `vellum` processes queue on the lock.
    func appendToOwnFeed<T>(_ body: (inout FeedWriter, Timestamp) throws -> T) throws -> T {
        try store.transaction {
            var state = try readFeedState()
            var writer = state.writer(key)
            let result = try body(&writer, clock())
            state.clock = writer.clock
            try writeFeedState(state)
            return result
        }
    }

    /// Revokes, suspends or reinstates a credential this node issued (in a federation: any
    /// credential of the organization this node acts for), and publishes the status lists that
    /// change with it, in one transaction.
    @discardableResult
    public func changeStatus(_ kind: EntryKind, of credentialID: String, reason: String?) throws -> LinkedEntry {
        precondition(kind != .issue)
        try CredentialID.validate(credentialID)
        let org = try issuingOrganization()
        return try appendToOwnFeed { writer, now in
            let key = try credentialToChange(credentialID, org: org)
            let current = try status(of: key).resolution?.base ?? .unknown
            switch (kind, current) {
            case (_, .revoked): throw VellumError(.conflict, "\(credentialID) is revoked; revocation is final")
            case (.suspend, .suspended): throw VellumError(.conflict, "\(credentialID) is already suspended")
            case (.reinstate, .active): throw VellumError(.conflict, "\(credentialID) is not suspended")
            default: break
            }
            let entries = writer.append([(kind, .status(StatusPayload(credentialID: credentialID, reason: reason)))], now: now)
            try store.append(entries)
            if key.feed == feed, let (record, _) = try store.record(of: key) {
                let lists = listsChanged(by: kind, statusListIndex: record.payload.statusListIndex, wasSuspended: current == .suspended)
                try publish(lists, with: &writer, now: now)
            }
            return entries[0]
        }
    }

    /// The credential a status change names: this node's own, or (in a federation) one issued
    /// by a feed acting for the same organization.
    private func credentialToChange(_ credentialID: String, org: (id: String, name: String)?) throws -> CredentialKey {
        let feeds = try store.issuingFeeds(of: credentialID)
        if feeds.contains(feed) { return CredentialKey(feed: feed, id: credentialID) }
        if let org {
            for other in feeds {
                let key = CredentialKey(feed: other, id: credentialID)
                if try status(of: key).trust?.organization?.id == org.id { return key }
            }
        }
        if let other = feeds.first {
            throw VellumError(.unauthorized, "\(credentialID) was issued by \(other.didKey.did), \(org == nil ? "not by this node" : "which does not act for \(org!.name)")")
        }
        throw VellumError(.notFound, "unknown credential \(credentialID)")
    }

    /// The node's clock, as status answers read it.
    public func now() -> Timestamp { clock() }
}

extension Node: LedgerQueries {}
