@preconcurrency import Crypto
import VellumCore

/// Convergence of a federation after a partition heals, for more nodes than one machine can
/// run as processes: every node speaks the real protocol (`SyncSession` rounds opened with a
/// `SUMMARY`, the serving side of `MemoryReplica.answer`, every message encoded to its wire
/// frames and decoded on arrival) over a simulated network, in simulated time.
///
/// Each node behaves as `Replicator.run` does: every `tick` it starts a round with each peer
/// it dials that has none under way, if its log grew or `antiEntropy` has passed. A message
/// takes a random one-way latency plus its size over the link's bandwidth, and is lost with
/// probability `loss` (its round then fails at `requestTimeout`, as a node's does). A node's
/// CPU is busy `storeCost` per new entry it stores, pulled or pushed (what `Scripts/bench`
/// measured a catch-up to cost on this machine, both cores of a node included); entries it
/// holds already cost nothing, and serving reads costs nothing here. Not modelled: a pull
/// batch fetched from two peers at once is charged twice (the node waits and stores it once).
/// Within one process a seed replays exactly; across processes Swift's per-process hash
/// seeding may change the order of equal-time events (`SWIFT_DETERMINISTIC_HASHING=1` fixes it).
public struct GossipSimulation {
    public struct Configuration: Sendable {
        public var nodes = 128
        public var entries = 10_000
        /// Peers each node dials: its ring successor and random others.
        public var fanout = 4
        public var seed: UInt64 = 1
        /// One-way delay of a message in seconds, drawn uniformly, before its size over `bandwidth`.
        public var latency: ClosedRange<Double> = 0.005...0.050
        /// Bytes per second of a link (100 Mbit/s).
        public var bandwidth = 12_500_000.0
        /// Probability that a message is lost.
        public var loss = 0.01
        /// Seconds of a node's CPU per entry stored (verification included).
        public var storeCost = 1.0 / 20_000
        public var tick = 0.2
        public var antiEntropy = 2.0
        public var requestTimeout = 5.0
        /// Simulated seconds after which the run gives up.
        public var limit = 120.0

        public init() {}
    }

    public struct Outcome: Sendable {
        /// Simulated seconds from the heal until every node held every entry; nil if not within the limit.
        public var converged: Double?
        public var messages = 0
        public var lost = 0
        public var rounds = 0
        public var failedRounds = 0
        /// Bytes each node sent, sorted.
        public var bytesSent: [Int] = []
        public var events = 0
    }

    /// Each node's own entries, issued while it was cut off: `entries` spread over `nodes`
    /// feeds, with their checkpoints, signed by keys drawn from `seed`.
    public static func partitionedFeeds(_ config: Configuration) -> [[Entry]] {
        var rng = SeededGenerator(seed: config.seed)
        let now = Timestamp(millisecondsSinceEpoch: 1_800_000_000_000)
        return (0..<config.nodes).map { n in
            let seedBytes = (0..<4).flatMap { _ in withUnsafeBytes(of: rng.next()) { Array($0) } }
            let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: seedBytes)
            let issuer = try! DIDKey(publicKey: Array(key.publicKey.rawRepresentation)).did
            var writer = FeedWriter(key: key, head: nil, clock: HLC(rawValue: 0))
            let share = config.entries / config.nodes + (n < config.entries % config.nodes ? 1 : 0)
            let items: [(EntryKind, EntryPayload)] = (0..<share).map { k in
                let payload = IssuePayload(
                    credentialID: "urn:uuid:00000000-0000-4000-8000-\(String(format: "%06d%06d", n, k))",
                    digest: String(repeating: "ab", count: 32), issuer: issuer, achievementID: "urn:uuid:course-\(k % 40)",
                    achievementName: "Course \(k % 40)", achievementType: "Course", validFrom: "2026-09-01T00:00:00Z",
                    validUntil: nil, statusListIndex: k, subjectCommitment: String(repeating: "cd", count: 32))
                return (.issue, .issue(payload))
            }
            return writer.append(items, now: now).map(\.entry)
        }
    }

    /// Runs the heal: every node starts with its own feed and gossips until all hold everything.
    public static func run(_ config: Configuration, feeds: [[Entry]]) -> Outcome {
        let network = Network(config, feeds: feeds)
        return network.run()
    }
}

// MARK: the simulated network

private final class Round {
    var session: SyncSession
    var pending: [SyncSession.Directive] = []
    var inbox: [(UInt32, SyncMessage?)] = []  // replies (nil: a timeout), in arrival order
    var storing = false

    init(_ session: SyncSession) { self.session = session }
}

private final class SimNode {
    var replica: MemoryReplica
    var dials: [Int] = []
    var rounds: [Int: Round] = [:]  // by peer
    var busyUntil = 0.0
    var countAtLastRound = -1
    var lastRound = -Double.infinity
    var bytesSent = 0
    var done = false

    init(_ entries: [Entry]) { replica = MemoryReplica(entries) }
}

private enum Event {
    case tick(Int)
    case request(to: Int, from: Int, frames: [[UInt8]])
    case reply(to: Int, from: Int, frames: [[UInt8]])
    case stored(node: Int, peer: Int, entries: [Entry])
    /// A pushed batch is stored, after the node's CPU got to it: now it answers.
    case pushStored(node: Int, from: Int, requestID: UInt32, message: SyncMessage)
    case timeout(node: Int, peer: Int, requestID: UInt32)
}

private final class Network {
    let config: GossipSimulation.Configuration
    var rng: SeededGenerator
    var nodes: [SimNode]
    var queue = EventQueue<Event>()
    var now = 0.0
    let total: Int
    var doneCount = 0
    var outcome = GossipSimulation.Outcome()

    init(_ config: GossipSimulation.Configuration, feeds: [[Entry]]) {
        self.config = config
        rng = SeededGenerator(seed: config.seed ^ 0x5EED)
        nodes = feeds.map(SimNode.init)
        total = feeds.reduce(0) { $0 + $1.count }
        let n = nodes.count
        for i in 0..<n {
            var dials: Set<Int> = n > 1 ? [(i + 1) % n] : []
            while dials.count < min(config.fanout, n - 1) {
                let j = Int.random(in: 0..<n, using: &rng)
                if j != i { dials.insert(j) }
            }
            nodes[i].dials = dials.sorted()
            markIfDone(i)
        }
    }

    func run() -> GossipSimulation.Outcome {
        for i in nodes.indices { queue.push(.tick(i), at: Double.random(in: 0..<config.tick, using: &rng)) }
        while doneCount < nodes.count, let (time, event) = queue.pop(), time <= config.limit {
            now = time
            outcome.events += 1
            handle(event)
        }
        if doneCount == nodes.count { outcome.converged = now }
        outcome.bytesSent = nodes.map(\.bytesSent).sorted()
        return outcome
    }

    func handle(_ event: Event) {
        switch event {
        case .tick(let i):
            let node = nodes[i]
            if node.replica.count != node.countAtLastRound || now - node.lastRound >= config.antiEntropy {
                node.countAtLastRound = node.replica.count
                node.lastRound = now
                for peer in node.dials where node.rounds[peer] == nil { startRound(i, with: peer) }
            }
            queue.push(.tick(i), at: now + config.tick)
        case .request(let i, let from, let frames):
            guard let (id, message) = try? SyncMessage.decode(frames) else { return }
            let node = nodes[i]
            if case .entries(let entries) = message {
                // Stored (and answered) once the node's CPU has got to it; what it holds already costs nothing.
                let fresh = (try? Reconciliation.screen(entries, against: node.replica).clean.count) ?? entries.count
                node.busyUntil = max(now, node.busyUntil) + Double(fresh) * config.storeCost
                queue.push(.pushStored(node: i, from: from, requestID: id, message: message), at: node.busyUntil)
                return
            }
            send(node.replica.answer(message).frames(requestID: id), from: i, to: from, at: now, isReply: true)
        case .pushStored(let i, let from, let id, let message):
            let reply = nodes[i].replica.answer(message)
            markIfDone(i)
            send(reply.frames(requestID: id), from: i, to: from, at: now, isReply: true)
        case .reply(let i, let from, let frames):
            guard let round = nodes[i].rounds[from], let (id, message) = try? SyncMessage.decode(frames) else { return }
            round.inbox.append((id, message))
            drive(i, from)
        case .timeout(let i, let peer, let id):
            guard let round = nodes[i].rounds[peer] else { return }
            round.inbox.append((id, nil))
            drive(i, peer)
        case .stored(let i, let peer, let entries):
            let added = nodes[i].replica.add(entries)
            markIfDone(i)
            guard let round = nodes[i].rounds[peer] else { return }
            round.storing = false
            round.pending += (try? round.session.onStored(added: added, replica: nodes[i].replica)) ?? [.fail(VellumError(.storage, "store"))]
            drive(i, peer)
        }
    }

    func startRound(_ i: Int, with peer: Int) {
        let round = Round(SyncSession(firstRequestID: UInt32.random(in: 1...UInt32.max, using: &rng), summarize: true))
        nodes[i].rounds[peer] = round
        round.pending = (try? round.session.start(nodes[i].replica)) ?? []
        drive(i, peer)
    }

    /// Carries out a round's directives as `Replicator.syncRound` does: a store holds up the
    /// rest until it is done; replies that arrive meanwhile wait their turn.
    func drive(_ i: Int, _ peer: Int) {
        let node = nodes[i]
        while let round = node.rounds[peer], !round.storing {
            if !round.pending.isEmpty {
                switch round.pending.removeFirst() {
                case .send(let message, let id):
                    send(message.frames(requestID: id), from: i, to: peer, at: now, isReply: false)
                    queue.push(.timeout(node: i, peer: peer, requestID: id), at: now + config.requestTimeout)
                case .store(let entries):
                    round.storing = true
                    node.busyUntil = max(now, node.busyUntil) + Double(entries.count) * config.storeCost
                    queue.push(.stored(node: i, peer: peer, entries: entries), at: node.busyUntil)
                case .recordFork(let a, let b):
                    node.replica.addFork(a, b)
                case .finished:
                    node.rounds[peer] = nil
                    outcome.rounds += 1
                case .fail:
                    node.rounds[peer] = nil
                    outcome.rounds += 1
                    outcome.failedRounds += 1
                case .markHeard, .progress, .drop:
                    continue
                }
            } else if !round.inbox.isEmpty {
                let (id, message) = round.inbox.removeFirst()
                if let message {
                    round.pending = (try? round.session.onReply(requestID: id, message: message, replica: node.replica)) ?? [.fail(VellumError(.storage, "read"))]
                } else {
                    round.pending = round.session.onTimeout(requestID: id)
                }
            } else {
                return
            }
        }
    }

    func send(_ frames: [[UInt8]], from: Int, to: Int, at departs: Double, isReply: Bool) {
        let bytes = frames.reduce(0) { $0 + $1.count }
        nodes[from].bytesSent += bytes
        outcome.messages += 1
        guard Double.random(in: 0..<1, using: &rng) >= config.loss else {
            outcome.lost += 1
            return
        }
        let arrives = departs + Double.random(in: config.latency, using: &rng) + Double(bytes) / config.bandwidth
        queue.push(isReply ? .reply(to: to, from: from, frames: frames) : .request(to: to, from: from, frames: frames), at: arrives)
    }

    func markIfDone(_ i: Int) {
        guard !nodes[i].done, nodes[i].replica.count >= total else { return }
        nodes[i].done = true
        doneCount += 1
    }
}

/// A binary min-heap of events by time; ties leave in the order they were pushed.
private struct EventQueue<Element> {
    private var heap: [(time: Double, order: Int, element: Element)] = []
    private var pushed = 0

    mutating func push(_ element: Element, at time: Double) {
        heap.append((time, pushed, element))
        pushed += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Double, Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < heap.count, Self.before(heap[left], heap[first]) { first = left }
            if right < heap.count, Self.before(heap[right], heap[first]) { first = right }
            guard first != parent else { break }
            heap.swapAt(parent, first)
            parent = first
        }
        return (top.time, top.element)
    }

    private static func before(_ a: (time: Double, order: Int, element: Element), _ b: (time: Double, order: Int, element: Element)) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}
