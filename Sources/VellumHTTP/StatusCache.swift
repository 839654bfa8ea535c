import Foundation
import VellumCore
import VellumNode

/// Recent status answers, kept while their issuer's feed does not move. Only the issuer's feed
/// can change a credential's status, so an answer whose issuer head is still the same has the
/// same evidence; what is redone per request is cheap: the freshness (one indexed read), expiry
/// at the current time, and writing the bytes. Bounded: when full, each new answer displaces an
/// arbitrary old one (O(1), so no request pays for a sweep).
final class StatusCache: @unchecked Sendable {  // `items` is guarded by `lock`
    private struct Item {
        let report: StatusReport
        let evidenceJSON: [UInt8]
    }

    private let lock = NSLock()
    private var items: [String: Item] = [:]
    let capacity: Int

    init(capacity: Int = 50_000) { self.capacity = capacity }

    /// The current status answer's bytes, or nil for an unknown credential.
    func answer(_ id: String, node: Node) throws -> [UInt8]? {
        let now = node.now()
        if let item = lock.withLock({ items[id] }), let held = item.report.asOf, let resolution = item.report.resolution,
            let fresh = try node.freshness(of: held.head.feed), fresh.head == held.head
        {
            let r = item.report
            return StatusReport.canonicalBytes(
                asOf: fresh, at: now, evidenceJSON: item.evidenceJSON, id: r.credentialID, issuer: r.issuer,
                status: resolution.status(at: now), validUntil: r.validUntil)
        }
        let report = try node.status(of: id)
        guard report.status != .unknown else { return nil }
        let item = Item(report: report, evidenceJSON: report.evidenceJSON)
        lock.withLock {
            if items.count >= capacity, items[id] == nil { items.remove(at: items.startIndex) }
            items[id] = item
        }
        return StatusReport.canonicalBytes(
            asOf: report.asOf, at: report.at, evidenceJSON: item.evidenceJSON, id: id, issuer: report.issuer, status: report.status,
            validUntil: report.validUntil)
    }
}
