import Foundation
import Metrics
import ServiceLifecycle
import VellumCore
import VellumStore
import VellumWire

/// The replication shell around a node: serves peers' requests on a CURVE ROUTER socket,
/// reconciles with every peer on the allow-list over DEALER sockets, pushes new entries
/// promptly and runs anti-entropy. The protocol's decisions come from `Reconciliation` and
/// `EntryVerifier` in Core; this actor only moves bytes and schedules. It runs on a thread of
/// its own (`ThreadExecutor`), so its SQLite work never blocks Swift's shared cooperative pool.
public actor Replicator {
    private nonisolated let executor = ThreadExecutor(name: "vellum-replicator")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let node: Node
    let reactor: WireReactor
    let log: @Sendable (String) -> Void
    private var router: SocketID?
    private var links: [String: Link] = [:]  // by peer key
    private var pending: [UInt32: CheckedContinuation<SyncMessage?, Never>] = [:]
    private var nextRequestID: UInt32 = 0
    private var strikes: [String: Strikes] = [:]
    private var allowed: Set<String> = []
    private var dispatcher: Task<Void, Never>?
    /// The reconciliation round with every peer under way, if any (see `run`).
    private var round: Task<Void, Never>?
    private var stopping = false
    public private(set) var bytesSent = 0
    public private(set) var bytesReceived = 0

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
    static let batchLimit: UInt32 = UInt32(SyncMessage.maxEntriesPerMessage)

    public init(dataPath: String, log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        node = try Node.open(at: dataPath)
        reactor = try WireReactor()
        self.log = log
    }

    /// Starts reading the reactor's inbox. Call once.
    public func start() {
        guard dispatcher == nil else { return }
        dispatcher = Task { [reactor] in
            while let message = await reactor.receive() { await self.handle(message) }
        }
    }

    /// Fails every request in flight, then closes the sockets. Prompt: nothing waits for a peer.
    public func shutdown() async {
        stopping = true
        for (_, c) in pending { c.resume(returning: nil) }
        pending.removeAll()
        await round?.value  // ends promptly: its requests just failed, and new ones fail at once
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

    /// Re-reads the allow-list: admits new keys, connects to new addresses, drops removed peers.
    public func refreshPeers() async throws {
        let peers = try node.peers()
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
    /// A round runs beside this loop, so a slow or absent peer delays neither the allow-list
    /// nor the next tick.
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
            if round == nil, row != lastRow || now - lastRound >= antiEntropy {
                lastRow = row
                lastRound = now
                round = Task {
                    // Every peer at once: a slow or absent peer does not hold up the others.
                    await withTaskGroup(of: Void.self) { group in
                        for key in links.keys.sorted() {
                            group.addTask { await self.syncAndLog(with: key) }
                        }
                    }
                    round = nil
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

    func request(_ message: SyncMessage, on socket: SocketID) async throws -> SyncMessage {
        guard !stopping else { throw VellumError(.io, "shutting down") }
        nextRequestID &+= 1
        let id = nextRequestID
        let frames = message.frames(requestID: id)
        let reply: SyncMessage? = await withCheckedContinuation { (continuation: CheckedContinuation<SyncMessage?, Never>) in
            guard !stopping else { return continuation.resume(returning: nil) }
            pending[id] = continuation
            Task {
                // The connection may still be handshaking: retry for a second, then give up
                // (the link is then rebuilt); a sent request waits for its answer until the deadline.
                let connectDeadline = ContinuousClock.now + .seconds(1)
                let deadline = ContinuousClock.now + Replicator.requestTimeout
                while true {
                    do throws(ZMQError) {
                        try await reactor.send(frames, on: socket)
                        self.sent(frames)
                        break
                    } catch {
                        guard error.code == .again, ContinuousClock.now < connectDeadline else {
                            self.expire(id)
                            return
                        }
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
                try? await Task.sleep(until: deadline)
                self.expire(id)
            }
        }
        guard let reply else {
            throw VellumError(.io, "no answer (is the peer up, and is this node's transport key \(node.transport.publicKey) on its allow-list?)")
        }
        if case .error(let code, let text) = reply { throw VellumError(.invalidInput, "peer refused \(message.name) (\(code)): \(text)") }
        return reply
    }

    private func sent(_ frames: [[UInt8]]) { bytesSent += frames.reduce(0) { $0 + $1.count } }

    private func expire(_ id: UInt32) {
        pending.removeValue(forKey: id)?.resume(returning: nil)
    }

    /// One reconciliation with a peer: exchange heads, prove forks, pull what we lack, push
    /// what it lacks, in bounded batches with at most two requests in flight.
    /// `progress` hears (entries moved, entries to move) after every batch.
    public func syncRound(with key: String, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> SyncReport {
        guard var link = links[key], !link.busy else { return SyncReport() }
        link.busy = true
        links[key] = link
        defer { links[key]?.busy = false }
        let (sentBefore, receivedBefore) = (bytesSent, bytesReceived)
        var report = SyncReport()
        let store = node.store

        report.roundTrips += 1
        guard case .heads(var theirs) = try await request(.heads(try ourHeads()), on: link.socket) else {
            throw VellumError(.invalidInput, "peer answered HEADS with something else")
        }
        // Forks: a head of theirs that differs from what we hold at that seq.
        for suspect in Reconciliation.divergent(remote: theirs, localID: { try? store.entryID(feed: $0, seq: $1) }) {
            report.roundTrips += 1
            guard case .entries(let got) = try await request(.want([WantRange(feed: suspect.feed, fromSeq: suspect.seq, limit: 1)]), on: link.socket),
                let theirEntry = got.first, let mine = try store.entryID(feed: suspect.feed, seq: suspect.seq).flatMap({ try store.entry(id: $0) })
            else { continue }
            if (try? Reconciliation.verifyFork(mine, theirEntry)) != nil {
                try recordFork(mine, theirEntry, from: key)
                report.forks += 1
                report.roundTrips += 1
                _ = try? await request(.fork(mine, theirEntry), on: link.socket)
            }
        }
        let localHeads = try store.heads()
        let remoteSeqs = Dictionary(theirs.map { ($0.feed, $0.seq) }, uniquingKeysWith: max)
        let toPull = theirs.reduce(0) { sum, h in sum + Int(h.seq - min(h.seq, localHeads[h.feed]?.seq ?? 0)) }
        let toPush = localHeads.values.reduce(0) { sum, h in sum + Int(h.seq - min(h.seq, remoteSeqs[h.feed] ?? 0)) }
        Gauge(label: "vellum_sync_lag_entries", dimensions: [("peer", String(key.prefix(8)))]).record(toPull)
        // Fork evidence travels with every round (forks are rare; receivers keep one copy).
        for (a, b, _) in try store.forks() {
            report.roundTrips += 1
            _ = try? await request(.fork(a, b), on: link.socket)
        }
        // Pull, with the next request in flight while the current batch is verified (on
        // every core, off this actor) and stored: at most two requests per peer at a time.
        var projected = try store.heads()
        let quarantinedAtStart = try store.quarantinedFeeds()
        func nextWants() -> [WantRange] {
            Reconciliation.wants(local: projected, remote: theirs, limit: Replicator.batchLimit, quarantined: quarantinedAtStart)
        }
        let socket = link.socket
        var inFlight: Task<SyncMessage, Error>? = nextWants().isEmpty ? nil : Task { try await self.request(.want(nextWants()), on: socket) }
        defer { inFlight?.cancel() }
        while let current = inFlight {
            report.roundTrips += 1
            guard case .entries(let entries) = try await current.value, !entries.isEmpty else { break }
            for e in entries where e.seq > (projected[e.feed]?.seq ?? 0) {
                projected[e.feed] = FeedHead(feed: e.feed, seq: e.seq, id: e.id)
            }
            let wants = nextWants()
            inFlight = wants.isEmpty ? nil : Task { try await self.request(.want(wants), on: socket) }
            let result = try await ingest(entries, from: key)
            report.pulled += result
            progress?(report.pulled + report.pushed, toPull + toPush)
            if result == 0 { break }
        }
        // Push.
        while true {
            let quarantined = try store.quarantinedFeeds()
            let gives = Reconciliation.gives(local: try store.heads(), remote: theirs, limit: Replicator.batchLimit, quarantined: quarantined)
            guard !gives.isEmpty else { break }
            let batch = try entries(for: gives)
            guard !batch.isEmpty else { break }
            report.roundTrips += 1
            guard case .heads(let updated) = try await request(.entries(batch), on: link.socket) else { break }
            let progressed = updated.reduce(0) { $0 + Int($1.seq) } > theirs.reduce(0) { $0 + Int($1.seq) }
            theirs = updated
            report.pushed += batch.count
            progress?(report.pulled + report.pushed, toPull + toPush)
            if !progressed { break }
        }
        try markCaughtUp(with: theirs)
        Counter(label: "vellum_sync_rounds_total").increment()
        report.bytesSent = bytesSent - sentBefore
        report.bytesReceived = bytesReceived - receivedBefore
        return report
    }

    // MARK: server side

    private func handle(_ message: WireMessage) async {
        bytesReceived += message.frames.reduce(0) { $0 + $1.count }
        // A peer removed from the allow-list (or shut out) gets nothing, even on a connection
        // it authenticated before.
        if message.socket == router, !allowed.contains(message.peerKey ?? "") { return }
        let decoded: (requestID: UInt32, message: SyncMessage)
        do { decoded = try SyncMessage.decode(message.frames) } catch {
            reject(message.peerKey ?? "?", "malformed message: \(error.message)", kind: "malformed")
            if let router, message.socket == router {
                try? await reactor.send(SyncMessage.error(code: 400, message: error.message).frames(requestID: 0), on: router, to: message.routingID)
            }
            return
        }
        guard let router, message.socket == router else {
            // A reply to one of our requests.
            pending.removeValue(forKey: decoded.requestID)?.resume(returning: decoded.message)
            return
        }
        let peer = message.peerKey ?? "?"
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
        switch message {
        case .heads(let theirs):
            try markCaughtUp(with: theirs)
            return .heads(try ourHeads())
        case .want(let ranges):
            return .entries(try entries(for: ranges))
        case .entries(let entries):
            _ = try await ingest(entries, from: peer)
            return .heads(try ourHeads())
        case .fork(let a, let b):
            try Reconciliation.verifyFork(a, b)
            try recordFork(a, b, from: peer)
            return .heads(try ourHeads())
        case .error(let code, let text):
            log("peer \(peer.prefix(8)) sent error \(code): \(text)")
            return .heads(try ourHeads())
        }
    }

    // MARK: shared

    /// Records that this node holds everything a peer knew of its feeds (each of `theirs` not
    /// ahead of ours): the `heardAt` of status answers.
    private func markCaughtUp(with theirs: [FeedHead]) throws {
        let held = try node.store.heads()
        try node.store.markHeard(theirs.filter { $0.seq <= held[$0.feed]?.seq ?? 0 }.map(\.feed), at: Node.systemClock().millisecondsSinceEpoch)
    }

    private func ourHeads() throws -> [FeedHead] {
        try node.store.heads().values.sorted { $0.feed < $1.feed }
    }

    /// Entries for the ranges, at most one message's worth.
    private func entries(for ranges: [WantRange]) throws -> [Entry] {
        var out: [Entry] = []
        var bytes = 0
        for r in ranges {
            let room = SyncMessage.maxEntriesPerMessage - out.count
            guard room > 0 else { break }
            for e in try node.store.entries(feed: r.feed, fromSeq: r.fromSeq, limit: min(Int(r.limit), room)) {
                bytes += e.payload.count + 200
                if bytes > SyncMessage.maxBytesPerMessage / 2 { return out }
                out.append(e)
            }
        }
        return out
    }

    /// Verifies and stores received entries. A different entry at a held (feed, seq) is kept
    /// as fork evidence and quarantines the feed; entries of quarantined feeds are ignored.
    private func ingest(_ entries: [Entry], from peer: String) async throws -> Int {
        let store = node.store
        var quarantined = try store.quarantinedFeeds()
        var clean: [Entry] = []
        for e in entries where !quarantined.contains(e.feed) {
            if let held = try store.entryID(feed: e.feed, seq: e.seq), held != e.id,
                let mine = try store.entry(id: held), (try? Reconciliation.verifyFork(mine, e)) != nil
            {
                try recordFork(mine, e, from: peer)
                quarantined.insert(e.feed)
                continue
            }
            clean.append(e)
        }
        clean.removeAll { quarantined.contains($0.feed) }
        guard !clean.isEmpty else { return 0 }
        // Signatures are checked off this actor, so it keeps serving peers meanwhile.
        let batch = clean
        let contents = await Task.detached { () -> Result<[VerifiedEntry], VellumError> in
            do throws(VellumError) { return .success(try EntryVerifier.verifyContents(batch)) } catch { return .failure(error) }
        }.value
        return try node.importVerified(try contents.get()).added
    }

    private func recordFork(_ a: Entry, _ b: Entry, from peer: String) throws {
        try node.store.addFork(a, b, at: Node.systemClock().millisecondsSinceEpoch)
        log("FORK: feed \(a.feed.hex.prefix(16)) seq \(a.seq) has entries \(a.id.hex.prefix(16)) and \(b.id.hex.prefix(16)) (from \(peer.prefix(8))); feed quarantined")
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
    }
}
