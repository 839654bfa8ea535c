import Foundation
import VellumCore
import VellumStore
import VellumWire

extension Node {
    /// Checks a peer address, `tcp://HOST:PORT`; port 0 ("any free port") only where listening.
    public static func validatePeerAddress(_ address: String, listening: Bool = false) throws(VellumError) {
        guard address.hasPrefix("tcp://"), let colon = address.lastIndex(of: ":"), colon > address.index(address.startIndex, offsetBy: 6),
            let port = Int(address[address.index(after: colon)...]), ((listening ? 0 : 1)...65535).contains(port)
        else { throw VellumError(.invalidInput, "address '\(address)' is not tcp://HOST:PORT") }
    }

    /// Adds (or updates) a peer on the allow-list. A running node applies it within a second.
    public func addPeer(address: String, key: String) throws(VellumError) {
        try Node.validatePeerAddress(address)
        guard CurveKeyPair.isValidKey(key) else {
            throw VellumError(.invalidKey, "'\(key)' is not a CURVE public key (40 Z85 characters; see 'vellum id' on the peer)")
        }
        guard key != transport.publicKey else { throw VellumError(.invalidInput, "that is this node's own key") }
        try store.addPeer(key: key, address: address, at: clock().millisecondsSinceEpoch)
    }

    public func removePeer(key: String) throws(VellumError) {
        guard try store.removePeer(key: key) else { throw VellumError(.notFound, "no peer with key \(key)") }
    }

    public func peers() throws(VellumError) -> [LedgerStore.Peer] { try store.peers() }

    /// The peers this node's federation gives it: the node of every campus a current member
    /// delegated and has not undelegated (by transport key, with its endpoint if the delegation
    /// names one). They are admitted without `peer add`, and refused again once their
    /// organization is removed or their delegation ends.
    public func federationPeers() throws(VellumError) -> [LedgerStore.Peer] {
        guard let registry = try registry() else { return [] }
        return registry.delegatedFeeds.filter { $0.delegation.feed != feed && $0.delegation.transport != transport.publicKey }.map {
            LedgerStore.Peer(key: $0.delegation.transport, address: $0.delegation.endpoint ?? "")
        }
    }

    /// Fork evidence held, each pair checkable by anyone.
    public func forks() throws(VellumError) -> [JSON] {
        try store.forks().map { a, b, found in
            [
                "feed": .string(a.feed.hex), "seq": .number(Double(a.seq)),
                "found": .string(Timestamp(millisecondsSinceEpoch: found).rfc3339),
                "entries": [a.json, b.json],
            ]
        }
    }
}
