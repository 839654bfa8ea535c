import ArgumentParser

@main
struct Vellum: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vellum",
        abstract: "A peer-to-peer ledger of academic credentials.",
        discussion: "Every command takes --data DIR (default $VELLUM_DATA, else ./vellum-data).",
        subcommands: [
            Init.self, Id.self, Issue.self, Revoke.self, Suspend.self, Reinstate.self, Status.self, Verify.self,
            Log.self, Audit.self, Digest.self, Export.self, Import.self, NodeDaemon.self, Sync.self, Peer.self,
            Forks.self, Rejections.self, StatusList.self, Org.self, Federation.self, Publish.self, Trust.self,
        ]
    )
}
