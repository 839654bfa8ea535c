import Dispatch
import Foundation
import VellumCore
import VellumNode

/// `vellum-bench status-profile DIR IDS`: where a status answer's time goes, in process.
enum StatusProfile {
    static func run(path: String, ids: String) throws {
        let node = try Node.open(at: path)
        let list = try String(contentsOfFile: ids, encoding: .utf8).split(separator: "\n").map(String.init)
        let n = 20_000
        func time(_ label: String, _ body: (String) throws -> Void) rethrows {
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<n { try body(list[i % list.count]) }
            print(String(format: "%6.1f us  ",  Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(n)) + label)
        }
        try time("trivial query") { _ in _ = try node.store.count("feeds") }
        try time("statusListIndexes-free: hlc by id") { _ in _ = try node.store.hlc(of: node.store.heads()[node.feed]!.id) }
        let payload = try node.store.entries(feed: node.feed, fromSeq: 1, limit: 1)[0].payload
        time("parse issue payload") { _ in _ = try? EntryPayload(stored: .issue, bytes: payload) }
        time("parse payload JSON only") { _ in _ = try? JSON(parsing: payload) }
        try time("record") { _ = try node.store.record(of: $0) }
        try time("status") { _ = try node.status(of: $0) }
        try time("status + json") { _ = try node.status(of: $0).json }
        try time("status + json + bytes") { _ = try node.status(of: $0).json.canonicalBytes }
        try time("status + direct bytes") { _ = try node.status(of: $0).canonicalBytes }
        try time("freshness") { _ in _ = try node.freshness(of: node.feed) }
        // Two threads, a connection each: does a query slow down when another runs beside it?
        nonisolated(unsafe) let nodes = [node, try Node.open(at: path)]
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: 2) { t in
            for i in 0..<n { _ = try? nodes[t].status(of: list[(i * 7 + t) % list.count]).canonicalBytes }
        }
        print(String(format: "%6.1f us  two threads, per answer per thread", Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(n)))
    }
}
