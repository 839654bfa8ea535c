import Foundation
import Metrics
import ServiceLifecycle
import VellumCore
import VellumStore
import VellumWire

/// The replication shell around a node: serves peers' requests on a CURVE ROUTER socket,
/// drives a `SyncSession` (Core) with every peer on the allow-list over DEALER sockets, pushes
/// new entries promptly, runs anti-entropy and shuts out peers that keep misbehaving. The
/// protocol's decisions come from `SyncSession`, `Reconciliation` and `EntryVerifier`; this
/// actor carries bytes, stores, schedules and bans. It runs on a thread of its own
/// (`ThreadExecutor`), so its SQLite work never blocks Swift's shared cooperative pool.
public actor Replicator {
    private nonisolated let executor = ThreadExecutor(name: "vellum-replicator")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let node: Node
    let reactor: WireReactor
    let log: @Sendable (String) -> Void
    private var router: SocketID?
    private var links: [String: Link] = [:]  // by peer key
    /// Peers that answered an `OFFER` as malformed (nodes from before it), and when: pushed to
    /// unannounced for an hour, so that each counts the unknown message against this node once
    /// an hour, not every round, and gets offers again once it has been upgraded.
    private var refusedOffers: [String: ContinuousClock.Instant] = [:]
    /// The round under way on each link's socket. A reply is delivered only to the round of
    /// the socket it came in on, and only if that round's session issued its id.
    private var rounds: [SocketID: AsyncStream<RoundEvent>.Continuation] = [:]
    private var strikes: [String: Strikes] = [:]
    private var allowed: Set<String> = []
    /// When a message from each shut-out key was last written to the rejections table.
    private var shutOutRecorded: [String: Date] = [:]
    private var dispatcher: Task<Void, Never>?
    /// The reconciliation round under way with each peer (see `run`).
    private var peerRounds: [String: Task<Void, Never>] = [:]
    private var stopping = false
    /// Entries being verified and stored, each with the work storing its batch (see `store`).
    private var importing: [EntryID: Task<Int, any Error>] = [:]
    /// What a reply must match to start verifying before this actor takes it in (`Reply`).
    private nonisolated let ahead = Ahead()
    public private(set) var bytesSent = 0
    public private(set) var bytesReceived = 0

    /// A round's inbound events, in arrival order.
    enum RoundEvent: Sendable {
        /// A reply, with the check of its entries started as it arrived (`Reply`).
        case reply(UInt32, SyncMessage, PreCheck?)
        case timeout(UInt32)
        /// The batch the round handed to the store is stored (how many entries were new), or failed.
        case stored(Result<Int, any Error>)
    }

    /// Bad messages from one peer within the current minute, and any ban in force.
    struct Strikes {
        var count = 0
        var since = Date()
        var bannedUntil: Date?
    }

    /// A connection to one peer.
    struct Link {
        let key: String
        let address: String
        let socket: SocketID
        var busy = false
    }

    public static let requestTimeout: Duration = .seconds(5)
    /// Bad messages within a minute after which a peer is shut out for 30 s.
    public static let strikesBeforeBan = 8

    public init(dataPath: String, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        node = try Node.open(at: dataPath)
        reactor = try WireReactor()
        self.log = log
    }

    /// Starts reading the reactor's inbox. Call once.
    public func start() {
        guard dispatcher == nil else { return }
        dispatcher = Task.detached { [reactor] in
            while let message = await reactor.receive() {
                // A reply (it came on one of our DEALER sockets) is decoded here, off this actor,
                // and the batch of entries a round asked for starts verifying at once: the actor
                // may be busy storing the batch before it, and would only then start its check.
                await self.handle(message, reply: message.routingID == nil ? Reply(message, ahead: self.ahead) : nil)
            }
        }
    }

    /// Fails every request in flight, then closes the sockets. Prompt: nothing waits for a peer.
    public func shutdown() async {
        stopping = true
        for events in rounds.values { events.finish() }
        for task in peerRounds.values { await task.value }  // prompt: their requests just failed, and new ones fail at once
        reactor.shutdown()
        await dispatcher?.value
    }

    /// Binds the CURVE server socket; returns the endpoint actually bound.
    public func listen(_ endpoint: String) async throws -> String {
        try await refreshPeers()
        let (socket, bound) = try await reactor.bindRouter(endpoint, curve: node.transport)
        router = socket
        return bound
    }

    // MARK: peers

    /// How many federation peers (learned from delegations) each node gossips with at once.
    public static let fanout = 4

    /// Re-reads the allow-list: admits new keys, connects to new addresses, drops removed peers.
    /// Peers added by hand are all dialed; of the federation's delegated campus nodes, every
    /// one is admitted and a bounded random subset (`fanout`) is dialed, kept while it stays
    /// delegated.
    public func refreshPeers() async throws {
        let manual = try node.peers()
        let federation = try node.federationPeers().filter { p in !manual.contains { $0.key == p.key } }
        var dialed = federation.filter { p in !p.address.isEmpty && links[p.key]?.address == p.address }
        for p in federation.filter({ !$0.address.isEmpty && links[$0.key] == nil }).shuffled() where dialed.count < Replicator.fanout {
            dialed.append(p)
        }
        let peers = manual + dialed + federation.filter { p in !dialed.contains(p) }.map { LedgerStore.Peer(key: $0.key, address: "") }
        let now = Date()
        let admitted = Set(peers.map(\.key)).filter { key in strikes[key]?.bannedUntil.map { $0 < now } ?? true }
        if admitted != allowed {
            allowed = admitted
            await reactor.setAllowedKeys(admitted)
        }
        for (key, link) in links where !peers.contains(where: { $0.key == key && $0.address == link.address }) {
            await reactor.closeSocket(link.socket)
            links[key] = nil
        }
        for peer in peers where links[peer.key] == nil && !peer.address.isEmpty {
            try await connect(address: peer.address, key: peer.key)
        }
    }

    /// Connects a DEALER to a peer, as a CURVE client of its key. `vellum sync` uses it for a
    /// peer that need not be on the allow-list.
    public func connect(address: String, key: String) async throws {
        let socket = try await reactor.connectDealer(address, serverKey: key, curve: node.transport)
        links[key] = Link(key: key, address: address, socket: socket)
    }

    // MARK: the daemon loop

    /// Runs until cancelled: new entries (local or received) are pushed within ~200 ms, the
    /// allow-list is re-read twice a second, and every peer is reconciled every `antiEntropy`.
    /// Rounds run beside this loop, one per peer, so a slow or absent peer delays neither the
    /// allow-list, nor the next tick, nor any other peer's round.
    public func run(antiEntropy: Duration = .seconds(2)) async {
        var lastRow = (try? node.store.lastRowID()) ?? 0
        var lastPeers = ContinuousClock.now
        var lastRound = ContinuousClock.now - antiEntropy
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(200))
            let now = ContinuousClock.now
            if now - lastPeers >= .milliseconds(500) {
                do { try await refreshPeers() } catch { log("peer list: \(error)") }
                lastPeers = now
            }
            let row = (try? node.store.lastRowID()) ?? lastRow
            if row != lastRow || now - lastRound >= antiEntropy {
                lastRow = row
                lastRound = now
                // Each peer on its own schedule: a slow or hostile peer's round holds up only
                // its own next round, never another peer's.
                for key in links.keys.sorted() where peerRounds[key] == nil {
                    peerRounds[key] = Task {
                        await self.syncAndLog(with: key)
                        self.peerRounds[key] = nil
                    }
                }
            }
        }
    }

    private func syncAndLog(with key: String) async {
        do {
            let report = try await syncRound(with: key)
            if report.pulled + report.pushed > 0 {
                log("synced with \(key.prefix(8)): pulled \(report.pulled), pushed \(report.pushed)")
            }
        } catch {
            log("sync with \(key.prefix(8)): \(error)")
            // Start the connection afresh (libzmq does not retry a handshake the peer's ZAP
            // refused, e.g. before it had us on its allow-list); the next refresh reconnects.
            if let link = links.removeValue(forKey: key) { await reactor.closeSocket(link.socket) }
        }
    }

    // MARK: client side

    /// One reconciliation with a peer: a `SyncSession` decides, this carries its directives
    /// out (see `SyncSession`). `progress` hears (entries moved, entries to move) after every batch.
    public func syncRound(with key: String, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> SyncReport {
        guard !stopping else { throw VellumError(.io, "shutting down") }
        guard var link = links[key], !link.busy else { return SyncReport() }
        link.busy = true
        links[key] = link
        defer { links[key]?.busy = false }
        let socket = link.socket
        let (sentBefore, receivedBefore) = (bytesSent, bytesReceived)
        ahead.hold(try node.store.heads().values)
        let (stream, events) = AsyncStream.makeStream(of: RoundEvent.self)
        rounds[socket] = events
        ahead.start(socket)
        defer {
            rounds[socket] = nil
            ahead.end(socket)
            events.finish()
        }
        let replica = StoreReplica(store: node.store)
        let offers = refusedOffers[key].map { ContinuousClock.now - $0 > .seconds(3600) } ?? true
        var session = SyncSession(firstRequestID: UInt32.random(in: 1...UInt32.max), summarize: true, offers: offers)
        defer { if offers, !session.offers { refusedOffers[key] = .now } }
        var directives = try session.start(replica)
        var inbound = stream.makeAsyncIterator()
        // A batch we asked for is verified (on every core) as soon as it arrives, while the one
        // before it is still being stored (`Reply`): each such check, under the id of every
        // entry it covers, once the round has accepted the reply.
        var verifying: [EntryID: PreCheck] = [:]
        // The batch being stored. It runs beside this loop and reports back as a `.stored`
        // event. While it waits for its batch's verification, the loop takes in the replies
        // that came meanwhile and starts verifying them; while it writes, it holds this actor,
        // and the replies wait their turn.
        var storing: Task<Result<Int, any Error>, Never>?
        do {
            while true {
                while !directives.isEmpty {
                    switch directives.removeFirst() {
                    case .send(let message, let id):
                        transmit(message, requestID: id, on: socket, events: events)
                    case .store(let entries):
                        let checks = Set(entries.compactMap { verifying[$0.id] })
                        verifying = verifying.filter { !checks.contains($0.value) }
                        storing = Task {
                            let result: Result<Int, any Error>
                            do { result = .success(try await self.store(entries, verified: Array(checks))) } catch { result = .failure(error) }
                            events.yield(.stored(result))
                            Self.retire((entries, checks))
                            return result
                        }
                    case .recordFork(let mine, let theirs):
                        try recordFork(mine, theirs, from: key)
                    case .markHeard(let feeds):
                        try node.store.markHeard(feeds, at: Node.systemClock().millisecondsSinceEpoch)
                    case .progress(let moved, let total):
                        progress?(moved, total)
                    case .drop(let reason, let message):
                        reject(key, message, kind: reason)
                    case .fail(let error) where error.code == .io:
                        throw VellumError(.io, "\(error.message) (is the peer up, and is this node's transport key \(node.transport.publicKey) on its allow-list?)")
                    case .fail(let error):
                        throw error
                    case .finished(var report):
                        assert(storing == nil, "a session finishes only once its last batch is stored")
                        Gauge(label: "vellum_sync_lag_entries", dimensions: [("peer", String(key.prefix(8)))]).record(session.toPull)
                        Counter(label: "vellum_sync_rounds_total").increment()
                        report.bytesSent = bytesSent - sentBefore
                        report.bytesReceived = bytesReceived - receivedBefore
                        return report
                    }
                }
                guard let event = await inbound.next(isolation: self) else { throw VellumError(.io, "shutting down") }
                switch event {
                case .reply(let id, let message, let check):
                    directives = try session.onReply(requestID: id, message: message, replica: replica)
                    if let check, session.isPulling, !directives.contains(where: { if case .drop = $0 { true } else { false } }) {
                        for id in check.ids { verifying[id] = check }
                    }
                case .timeout(let id): directives = session.onTimeout(requestID: id)
                case .stored(let result):
                    storing = nil
                    directives = try session.onStored(added: try counted(result, against: key), replica: replica)
                }
                // A stopped pull stores no more batches: those that waited still count if forged.
                if !session.isPulling {
                    await countForged(verifying, against: key)
                    verifying.removeAll()
                }
            }
        } catch {
            // A batch being stored finishes first (the next round starts from what it stored),
            // and batches that did not verify, stored or only waiting, still count against the peer.
            if let result = await storing?.value { _ = try? counted(result, against: key) }
            await countForged(verifying, against: key)
            throw error
        }
    }

    /// Frees a batch that has been stored (thousands of entries, their decoded payloads and
    /// checks) on another thread: freed here, as the task that stored it ended, it took a tenth
    /// of this actor's thread, the one every batch waits for. The 100 ms let that task end and
    /// let go of the batch first, so that this copy is the last; one batch is stored at a
    /// time, so this holds a batch or two at most.
    private nonisolated static func retire(_ batch: some Sendable) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .milliseconds(100)) { withExtendedLifetime(batch) {} }
    }

    /// Batches the peer sent that will not be stored: each whose check failed counts against it.
    private func countForged(_ verifying: [EntryID: PreCheck], against peer: String) async {
        for check in Set(verifying.values) {
            if case .failure(let error) = await check.task.value { _ = try? counted(.failure(error), against: peer) }
        }
    }

    /// A stored batch's count of new entries; entries we asked for that do not verify are
    /// counted against the peer that sent them.
    private func counted(_ result: Result<Int, any Error>, against peer: String) throws -> Int {
        do { return try result.get() } catch let error as VellumError where error.code != .storage && error.code != .io {
            reject(peer, error.message, kind: error.code.rawValue)
            throw error
        }
    }

    /// Sends a request of a round. The connection may still be handshaking: retry for a
    /// second, then give up (the link is then rebuilt); a sent request waits for its answer
    /// until the deadline, when the round hears of a timeout (ignored if answered by then).
    private func transmit(_ message: SyncMessage, requestID id: UInt32, on socket: SocketID, events: AsyncStream<RoundEvent>.Continuation) {
        if case .want(let ranges) = message { ahead.expect(id, ranges: ranges, on: socket) }
        let frames = message.frames(requestID: id)
        let reactor = reactor
        Task {
            let connectDeadline = ContinuousClock.now + .seconds(1)
            let deadline = ContinuousClock.now + Replicator.requestTimeout
            while true {
                do throws(ZMQError) {
                    try await reactor.send(frames, on: socket)
                    self.sent(frames)
                    break
                } catch {
                    guard error.code == .again, ContinuousClock.now < connectDeadline else {
                        events.yield(.timeout(id))
                        return
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            try? await Task.sleep(until: deadline)
            events.yield(.timeout(id))
        }
    }

    private func sent(_ frames: [[UInt8]]) { bytesSent += frames.reduce(0) { $0 + $1.count } }

    /// A message on one of our DEALER sockets: a reply, delivered to the round of that
    /// connection only. Anything else is dropped and counted.
    private func receiveReply(_ reply: Reply) {
        let message = reply.message
        guard let link = links.values.first(where: { $0.socket == message.socket }) else {
            // The link was closed (and maybe replaced) while this was on its way.
            Counter(label: "vellum_rejected_total", dimensions: [("reason", "closed-link")]).increment()
            return
        }
        let decoded: (requestID: UInt32, message: SyncMessage)
        switch reply.decoded {
        case .success(let d): decoded = d
        case .failure(let error): return reject(link.key, "malformed reply: \(error.message)", kind: "malformed")
        }
        guard let events = rounds[message.socket] else {
            return reject(link.key, "\(decoded.message.name) reply to request \(decoded.requestID) with no request in flight on its connection", kind: "unsolicited-reply")
        }
        events.yield(.reply(decoded.requestID, decoded.message, reply.check))
    }

    // MARK: server side

    private func handle(_ message: WireMessage, reply: Reply?) async {
        bytesReceived += message.frames.reduce(0) { $0 + $1.count }
        // (Decoded here, not by the dispatcher: a request that came before `listen` set the
        // router; `receiveReply` drops it.)
        guard let router, message.socket == router else { return receiveReply(reply ?? Reply(message, ahead: ahead)) }
        let peer = message.peerKey ?? "?"
        // A peer removed from the allow-list (or shut out) gets nothing, even on a connection
        // it authenticated before.
        guard allowed.contains(peer) else { return shutOut(peer) }
        let decoded: (requestID: UInt32, message: SyncMessage)
        do { decoded = try SyncMessage.decode(message.frames) } catch {
            reject(peer, "malformed message: \(error.message)", kind: "malformed")
            // Whenever the header parsed, the refusal carries the request's id.
            let id = SyncMessage.requestID(in: message.frames) ?? 0
            try? await reactor.send(SyncMessage.error(code: 400, message: error.message).frames(requestID: id), on: router, to: message.routingID)
            return
        }
        if case .error(let code, let text) = decoded.message {
            // An ERROR answers a request; as a request it asks nothing, and gets no answer.
            return reject(peer, "ERROR \(code) sent as a request: \(text.prefix(200))", kind: "error-as-request")
        }
        let reply: SyncMessage
        do {
            reply = try await answer(decoded.message, from: peer)
        } catch let error as VellumError where error.code == .storage || error.code == .io {
            // Our problem, not the peer's: it will ask again.
            log("could not serve \(decoded.message.name) from \(peer.prefix(8)): \(error.message)")
            reply = .error(code: 503, message: error.message)
        } catch let error as VellumError {
            reject(peer, error.message, kind: error.code.rawValue)
            reply = .error(code: 422, message: error.message)
        } catch {
            reply = .error(code: 500, message: "\(error)")
        }
        let frames = reply.frames(requestID: decoded.requestID)
        do {
            try await reactor.send(frames, on: router, to: message.routingID)
            sent(frames)
        } catch {
            log("reply to \(peer.prefix(8)) not sent (\(error)); it will ask again")
        }
    }

    private func answer(_ message: SyncMessage, from peer: String) async throws -> SyncMessage {
        let replica = StoreReplica(store: node.store)
        switch message {
        case .heads(let theirs):
            try markCaughtUp(with: theirs)
            return .heads(try ourHeads())
        case .summary(let theirs):
            let (reply, caughtUp) = Reconciliation.answer(theirs, heads: try ourHeads())
            try node.store.markHeard(caughtUp, at: Node.systemClock().millisecondsSinceEpoch)
            return reply
        case .want(let ranges):
            return .entries(try replica.entries(for: ranges))
        case .offer(let ranges):
            // Not what is held, nor any feed being stored or just asked for (`Ahead.busy`).
            let held = try node.store.heads().mapValues(\.seq)
            return .want(Reconciliation.wanted(ranges, held: held, skipping: try node.store.quarantinedFeeds().union(ahead.busy(beyond: held))))
        case .entries(let entries):
            let (clean, forks) = try Reconciliation.screen(entries, against: replica)
            for (mine, theirs) in forks { try recordFork(mine, theirs, from: peer) }
            if !clean.isEmpty { _ = try await store(clean) }
            let pushed = Set(entries.map(\.feed))
            return .heads(try ourHeads().filter { pushed.contains($0.feed) })
        case .fork(let a, let b):
            // One pair per feed is kept: evidence for a feed already quarantined costs no checks.
            if try !node.store.quarantinedFeeds().contains(a.feed) {
                try Reconciliation.verifyFork(a, b)
                try recordFork(a, b, from: peer)
            }
            return .heads(try ourHeads().filter { $0.feed == a.feed })
        case .error, .headsIn:
            throw VellumError(.invalidInput, "\(message.name) is not a request")
        }
    }

    // MARK: shared

    /// Records that this node holds everything a peer knew of its feeds (each of `theirs` not
    /// ahead of ours): the `heardAt` of status answers. Only ever from that peer's own HEADS.
    private func markCaughtUp(with theirs: [FeedHead]) throws {
        let held = try node.store.heads()
        try node.store.markHeard(theirs.filter { $0.seq <= held[$0.feed]?.seq ?? 0 }.map(\.feed), at: Node.systemClock().millisecondsSinceEpoch)
    }

    private func ourHeads() throws -> [FeedHead] {
        try node.store.heads().values.sorted { $0.feed < $1.feed }
    }

    /// Verifies entries (signatures on every core, off this actor, so it keeps serving peers
    /// meanwhile), then links and stores them; returns how many of them the replica now holds
    /// that it did not before. `verified`: checks of some of them already under way
    /// (`Reply`). Pull rounds with several peers often fetch the same entries at once (and
    /// a push may bring what a pull is storing; pushes themselves are handled one at a time):
    /// a batch that shares entries with batches being stored waits for them, once, then
    /// verifies and stores only what is still missing. Waiting, not skipping: another copy
    /// may fail (an entry's id does not cover its signature); once: a peer sending copy after
    /// copy cannot keep an honest batch waiting.
    private func store(_ entries: [Entry], verified: [PreCheck] = []) async throws -> Int {
        // Being stored from now on, before any wait: another peer's copy costs no check ahead.
        let token = ahead.storing(entries)
        var succeeded = false
        defer { ahead.stored(token, succeeded: succeeded) }
        var entries = entries
        var storedMeanwhile = 0
        let busy = Set(entries.compactMap { importing[$0.id] })
        if !busy.isEmpty {
            for other in busy { _ = try? await other.value }
            let before = entries.count
            entries = try entries.filter { try node.store.entryID(feed: $0.feed, seq: $0.seq) != $0.id }
            storedMeanwhile = before - entries.count
        }
        guard !entries.isEmpty else {
            succeeded = true
            return storedMeanwhile
        }
        let kept = entries
        let work = Task { try await self.verifyAndImport(kept, verified: verified) }
        for e in entries { importing[e.id] = work }
        defer { for e in entries where importing[e.id] == work { importing[e.id] = nil } }
        let added = try await work.value
        succeeded = true
        return added + storedMeanwhile
    }

    private func verifyAndImport(_ entries: [Entry], verified: [PreCheck]) async throws -> Int {
        var byID: [EntryID: VerifiedEntry] = [:]
        byID.reserveCapacity(entries.count)
        for check in verified {
            switch await check.task.value {
            case .success(let done): for v in done { byID[v.id] = v }
            // It checked this very batch: checking it again would only double the cost of a bad
            // one. (A check of part of it may have failed for want of the rest: a checkpoint
            // vouches only for signatures in the same check.)
            case .failure(let error) where check.ids == Set(entries.map(\.id)): throw error
            case .failure: continue
            }
        }
        let missing = entries.filter { byID[$0.id] == nil }
        if !missing.isEmpty { for v in try await Self.verify(missing).value.get() { byID[v.id] = v } }
        return try node.importVerified(entries.map { byID[$0.id]! }).added
    }

    /// A reply as it arrived, decoded; if it is the first answer to a WANT in flight and holds
    /// only entries of its ranges, the check of those not held or being stored yet, started at
    /// once (`Ahead`).
    struct Reply: Sendable {
        let message: WireMessage
        let decoded: Result<(requestID: UInt32, message: SyncMessage), VellumError>
        let check: PreCheck?

        init(_ message: WireMessage, ahead: Ahead) {
            self.message = message
            decoded = Result { () throws(VellumError) in try SyncMessage.decode(message.frames) }
            if case .success(let (id, reply)) = decoded, let fresh = ahead.settle(id, with: reply, on: message.socket), !fresh.isEmpty {
                check = PreCheck(ids: Set(fresh.map(\.id)), task: Replicator.verify(fresh))
            } else {
                check = nil
            }
        }
    }

    /// What the dispatcher may know before this actor takes a reply in: the WANTs each round
    /// has in flight, how far each feed is held, and the batches being stored. Only the first
    /// answer to one of those WANTs, and only if it holds entries of the ranges asked for,
    /// starts verifying on arrival, and only its entries past what is held and past the newest
    /// entry of each batch being stored: a reply to anything else, the entry a WANT overlaps to
    /// detect forks and another peer's copy of what a store is taking cost no check ahead. (A
    /// store still checks whatever it takes that no check covered.)
    final class Ahead: @unchecked Sendable {
        private let lock = NSLock()
        /// What each connection to a peer asks of it: the WANTs in flight of its round under way
        /// (nil between rounds), and when it began asking for each feed, kept across rounds.
        private struct Asking {
            var wants: [UInt32: [WantRange]]?
            var since: [FeedKey: ContinuousClock.Instant] = [:]
        }
        private var asking: [SocketID: Asking] = [:]
        /// The newest seq of each feed held, or set aside with its feed for good (quarantined):
        /// raised, never lowered.
        private var held: [FeedKey: UInt64] = [:]
        /// The newest seq of each feed in each batch being stored, by the store's token.
        private var batches: [Int: [FeedKey: UInt64]] = [:]
        private var nextToken = 0

        func start(_ socket: SocketID, at now: ContinuousClock.Instant = .now) {
            lock.withLock {
                // Connections closed (between rounds) whose asking has all expired are forgotten:
                // a peer redialed after a timeout comes back on a new socket.
                asking = asking.filter { $0.value.wants != nil || $0.value.since.values.contains { now - $0 < Self.renewing } }
                var link = asking[socket] ?? Asking()
                link.wants = [:]
                link.since = link.since.filter { now - $0.value < Self.renewing }
                asking[socket] = link
            }
        }

        func end(_ socket: SocketID) { lock.withLock { asking[socket]?.wants = nil } }

        func expect(_ id: UInt32, ranges: [WantRange], on socket: SocketID, at now: ContinuousClock.Instant = .now) {
            lock.withLock {
                guard asking[socket]?.wants != nil else { return }
                asking[socket]?.wants?[id] = ranges
                for r in ranges where asking[socket]?.since[r.feed].map({ now - $0 >= Self.renewing }) ?? true { asking[socket]?.since[r.feed] = now }
            }
        }

        func hold(_ heads: some Sequence<FeedHead>) {
            lock.withLock { for h in heads where h.seq > held[h.feed] ?? 0 { held[h.feed] = h.seq } }
        }

        /// A batch handed to the store; `stored(token, succeeded:)` when that store ends.
        func storing(_ entries: [Entry]) -> Int {
            var newest: [FeedKey: UInt64] = [:]
            for e in entries where e.seq > newest[e.feed] ?? 0 { newest[e.feed] = e.seq }
            return lock.withLock {
                nextToken += 1
                batches[nextToken] = newest
                return nextToken
            }
        }

        /// The store of batch `token` ended; if it `succeeded`, its entries are held.
        func stored(_ token: Int, succeeded: Bool) {
            lock.withLock {
                guard let newest = batches.removeValue(forKey: token), succeeded else { return }
                for (feed, seq) in newest where seq > held[feed] ?? 0 { held[feed] = seq }
            }
        }

        /// How long, from a connection's first WANT of a feed, its WANTs in flight get offers of
        /// that feed declined: a peer that answers slowly, or a little at a time, costs the
        /// other peers' offers no more than this per `renewing`, however many rounds it starts.
        static let declining: Duration = .seconds(1)
        /// How long after a connection began asking for a feed its asking counts as new again.
        static let renewing: Duration = .seconds(30)

        /// The feeds of which entries past `stored` are being stored, or asked for in a WANT in
        /// flight on a connection that began asking for the feed less than `declining` before
        /// `now`.
        func busy(beyond stored: [FeedKey: UInt64], at now: ContinuousClock.Instant = .now) -> Set<FeedKey> {
            lock.withLock {
                var feeds: Set<FeedKey> = []
                for link in asking.values {
                    for r in (link.wants ?? [:]).values.joined() where r.limit > 0 && r.fromSeq + UInt64(r.limit) - 1 > stored[r.feed] ?? 0 {
                        if let since = link.since[r.feed], now - since < Self.declining { feeds.insert(r.feed) }
                    }
                }
                for batch in batches.values {
                    for (feed, seq) in batch where seq > stored[feed] ?? 0 { feeds.insert(feed) }
                }
                return feeds
            }
        }

        /// Settles WANT `id` on `socket` with `reply`: if it was in flight and the reply holds
        /// entries of its ranges, those past what is held or being stored; otherwise nil.
        func settle(_ id: UInt32, with reply: SyncMessage, on socket: SocketID) -> [Entry]? {
            lock.withLock {
                guard let ranges = asking[socket]?.wants?.removeValue(forKey: id), case .entries(let entries) = reply,
                    SyncSession.entries(entries, answer: ranges)
                else { return nil }
                var past: [FeedKey: UInt64] = held
                for batch in batches.values {
                    for (feed, seq) in batch where seq > past[feed] ?? 0 { past[feed] = seq }
                }
                return entries.filter { $0.seq > past[$0.feed] ?? 0 }
            }
        }
    }

    /// A check of entries started as they arrived (`Reply`), with the ids it covers; one
    /// check is one task (it is hashed as its task, not as its thousands of ids).
    struct PreCheck: Hashable, Sendable {
        let ids: Set<EntryID>
        let task: Task<Result<[VerifiedEntry], VellumError>, Never>

        static func == (a: PreCheck, b: PreCheck) -> Bool { a.task == b.task }
        func hash(into hasher: inout Hasher) { hasher.combine(task) }
    }

    private static func verify(_ entries: [Entry]) -> Task<Result<[VerifiedEntry], VellumError>, Never> {
        Task.detached {
            do throws(VellumError) { return .success(try await EntryVerifier.verifyContents(entries)) } catch { return .failure(error) }
        }
    }

    private func recordFork(_ a: Entry, _ b: Entry, from peer: String) throws {
        try node.store.addFork(a, b, at: Node.systemClock().millisecondsSinceEpoch)
        log("FORK: feed \(a.feed.hex.prefix(16)) seq \(a.seq) has entries \(a.id.hex.prefix(16)) and \(b.id.hex.prefix(16)) (from \(peer.prefix(8))); feed quarantined")
    }

    /// A message from a key that is shut out (banned, or removed from the allow-list): dropped
    /// unanswered and counted; written to the rejections table at most once a minute per key,
    /// so a flood costs no writes.
    private func shutOut(_ peer: String) {
        Counter(label: "vellum_rejected_total", dimensions: [("reason", "shut-out")]).increment()
        let now = Date()
        guard shutOutRecorded[peer].map({ now.timeIntervalSince($0) > 60 }) ?? true else { return }
        // Recorded at most once a minute per key; a failed write is tried again on the next message.
        guard (try? node.store.addRejection(peer: peer, reason: "shut-out: message from a banned or removed key dropped", at: Node.systemClock().millisecondsSinceEpoch)) != nil
        else { return }
        shutOutRecorded[peer] = now
    }

    /// Logs and counts a refused message; a peer that keeps sending garbage is shut out for a while.
    private func reject(_ peer: String, _ reason: String, kind: String) {
        Counter(label: "vellum_rejected_total", dimensions: [("reason", kind)]).increment()
        try? node.store.addRejection(peer: peer, reason: reason, at: Node.systemClock().millisecondsSinceEpoch)
        log("rejected from \(peer.prefix(8)): \(reason)")
        let now = Date()
        var s = strikes[peer] ?? Strikes()
        if now.timeIntervalSince(s.since) > 60 { s = Strikes(since: now) }  // occasional faults are forgiven
        s.count += 1
        if s.count >= Replicator.strikesBeforeBan {
            s = Strikes(since: now, bannedUntil: now.addingTimeInterval(30))
            log("peer \(peer.prefix(8)) keeps sending bad data: shut out for 30 s")
            allowed.remove(peer)
            let keys = allowed
            Task { await reactor.setAllowedKeys(keys) }
        }
        strikes[peer] = s
    }
}

/// The replicator as a service of the node's `ServiceGroup`: runs until graceful shutdown,
/// then closes its sockets.
public struct ReplicatorService: Service {
    public let replicator: Replicator

    public init(_ replicator: Replicator) { self.replicator = replicator }

    public func run() async throws {
        await replicator.start()
        let replicator = self.replicator
        await cancelWhenGracefulShutdown { await replicator.run() }
        await replicator.shutdown()
        // What this node's replication cost, for Scripts/converge and anyone reading the log.
        let (sent, received) = await (replicator.bytesSent, replicator.bytesReceived)
        replicator.log("replication: sent \(sent) bytes, received \(received) bytes")
    }
}
