import Foundation

/// The database schema as an ordered list of migrations. A migration is never edited once
/// shipped; changes come as new migrations. `PRAGMA user_version` records how many ran.
enum Schema {
    static let migrations: [String] = [
        // 1: the append-only log, feed heads, materialized credential state, local documents.
        """
        CREATE TABLE entries (
            rowid INTEGER PRIMARY KEY,          -- local arrival order
            id BLOB NOT NULL UNIQUE,            -- SHA-256 of the canonical encoding
            feed BLOB NOT NULL,                 -- Ed25519 public key of the writer
            seq INTEGER NOT NULL,
            prev BLOB NOT NULL,
            hlc INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            payload BLOB NOT NULL,              -- JCS bytes
            signature BLOB NOT NULL,
            credential TEXT NOT NULL,           -- from the payload, for lookups
            UNIQUE (feed, seq)
        );
        CREATE INDEX entries_by_credential ON entries (credential);
        CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on entries is refused'); END;
        CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on entries is refused'); END;

        CREATE TABLE feeds (
            feed BLOB PRIMARY KEY,
            seq INTEGER NOT NULL,
            head BLOB NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE credentials (               -- materialized merge result, one row per issued credential
            credential TEXT PRIMARY KEY,
            status TEXT NOT NULL,               -- active | suspended | revoked
            issue_entry BLOB NOT NULL,
            decided_by BLOB,
            issuer TEXT NOT NULL,
            valid_until INTEGER                 -- ms since the epoch
        ) WITHOUT ROWID;

        CREATE TABLE local_credentials (         -- never replicated: holds personal data
            entry INTEGER PRIMARY KEY,          -- rowid of the issue entry: appended in order, no random index
            subject TEXT NOT NULL,
            salt BLOB NOT NULL,
            document TEXT NOT NULL
        );

        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
        // 2: replication: the peer allow-list, fork evidence, rejected entries.
        """
        CREATE TABLE peers (
            key TEXT PRIMARY KEY,               -- CURVE public key, Z85
            address TEXT NOT NULL,              -- tcp://host:port, or '' for a peer that only connects to us
            added INTEGER NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE forks (                     -- two valid entries at one (feed, seq): the feed is quarantined
            feed BLOB NOT NULL,
            seq INTEGER NOT NULL,
            first BLOB NOT NULL,                -- wire form: encoding ‖ signature
            second BLOB NOT NULL,
            found INTEGER NOT NULL,
            PRIMARY KEY (feed, seq)
        );

        CREATE TABLE rejections (
            rowid INTEGER PRIMARY KEY,
            at INTEGER NOT NULL,
            peer TEXT NOT NULL,
            reason TEXT NOT NULL
        );
        """,
        // 3: status lists and freshness: non-active credentials by issuer (what a status list
        // sets), and when each feed was last confirmed current with a peer.
        """
        CREATE INDEX credentials_not_active ON credentials (issuer, status) WHERE status != 'active';

        CREATE TABLE heard (
            feed BLOB PRIMARY KEY,
            at INTEGER NOT NULL                 -- ms since the epoch
        ) WITHOUT ROWID;
        """,
        // 4: a credential is its issuing feed and its id (Docs/LEDGER.md): the materialized state
        // is keyed by both, so another feed's entry naming the same id cannot touch it. The
        // state is derived, so the old table goes and `LedgerStore` rebuilds it from the log.
        """
        DROP TABLE credentials;
        CREATE TABLE credentials (               -- materialized merge result, one row per issued credential
            credential TEXT NOT NULL,
            feed BLOB NOT NULL,                 -- the issuing feed (its did:key is the issuer)
            status TEXT NOT NULL,               -- active | suspended | revoked
            issue_entry BLOB NOT NULL,
            decided_by BLOB,
            valid_until INTEGER,                -- ms since the epoch
            PRIMARY KEY (credential, feed)
        ) WITHOUT ROWID;
        CREATE INDEX credentials_not_active ON credentials (feed, status) WHERE status != 'active';
        INSERT OR REPLACE INTO meta (key, value) VALUES ('rematerialize', '1');
        """,
        // 5: merging one credential reads the entries of its issuing feed about its id. Indexed
        // by id alone, that read also walked every other feed's entries naming the same id, so
        // strangers writing a popular id would make each of its issuer's changes slower.
        """
        DROP INDEX IF EXISTS entries_by_credential;
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        """,
        // 6: federation documents (kind 6) are read whole whenever they change: a partial index
        // finds and counts them without scanning the log.
        """
        CREATE INDEX entries_documents ON entries (rowid) WHERE kind = 6;
        """,
        // 7: which row of which bulk file issued which credential, written in the issuing
        // transaction: a re-run of an interrupted `vellum issue --csv` issues no row twice; and
        // each bulk file's path, to notice one changed before its interrupted run finished.
        """
        CREATE TABLE bulk_rows (                 -- never replicated
            file BLOB NOT NULL,                 -- SHA-256 of the CSV file's bytes
            line INTEGER NOT NULL,              -- the row's first line in that file
            entry INTEGER NOT NULL,             -- rowid of the issue entry (local_credentials.entry)
            PRIMARY KEY (file, line)
        ) WITHOUT ROWID;
        CREATE TABLE bulk_runs (                 -- never replicated
            path TEXT NOT NULL,                 -- the file's real path when it was run
            file BLOB NOT NULL,                 -- SHA-256 of the CSV file's bytes
            rows INTEGER NOT NULL,
            PRIMARY KEY (path, file)
        ) WITHOUT ROWID;
        """,
        // 8: a feed by its number, not its 32-byte key, wherever it repeats per entry (the log
        // row, two of its indexes, the credential row), and a credential's issue entry by its
        // rowid: about 150 bytes less per replicated entry (Docs/PERFORMANCE.md, disk). `feeds`
        // numbers the keys; the log is copied with its rowids (local documents and bulk rows
        // point at them), and the derived state is rebuilt from it. A log row whose feed has no
        // number fails the NOT NULL constraint, so the copy is whole or the upgrade fails.
        """
        CREATE TABLE feeds_numbered (
            n INTEGER PRIMARY KEY,              -- the feed's number in this ledger (fixed by the triggers below)
            key BLOB NOT NULL UNIQUE,           -- Ed25519 public key of the writer
            seq INTEGER NOT NULL,
            head BLOB NOT NULL
        );
        INSERT INTO feeds_numbered (key, seq, head) SELECT feed, seq, head FROM feeds ORDER BY feed;
        DROP TABLE feeds;
        ALTER TABLE feeds_numbered RENAME TO feeds;
        CREATE TRIGGER feeds_numbers_fixed_update BEFORE UPDATE OF n, key ON feeds
            BEGIN SELECT RAISE(ABORT, 'a feed keeps its number: UPDATE of n or key on feeds is refused'); END;
        CREATE TRIGGER feeds_numbers_fixed_delete BEFORE DELETE ON feeds
            BEGIN SELECT RAISE(ABORT, 'a feed keeps its number: DELETE on feeds is refused'); END;

        CREATE TABLE entries_numbered (
            rowid INTEGER PRIMARY KEY,          -- local arrival order
            id BLOB NOT NULL UNIQUE,            -- SHA-256 of the canonical encoding
            feed INTEGER NOT NULL,              -- feeds.n of the writer
            seq INTEGER NOT NULL,
            prev BLOB NOT NULL,
            hlc INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            payload BLOB NOT NULL,              -- JCS bytes
            signature BLOB NOT NULL,
            credential TEXT NOT NULL,           -- from the payload, for lookups
            UNIQUE (feed, seq)
        );
        INSERT INTO entries_numbered (rowid, id, feed, seq, prev, hlc, kind, payload, signature, credential)
            SELECT rowid, id, (SELECT n FROM feeds WHERE key = entries.feed), seq, prev, hlc, kind, payload, signature, credential
            FROM entries ORDER BY rowid;
        DROP TABLE entries;
        ALTER TABLE entries_numbered RENAME TO entries;
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        CREATE INDEX entries_documents ON entries (rowid) WHERE kind = 6;
        CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on entries is refused'); END;
        CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on entries is refused'); END;

        DROP TABLE credentials;
        CREATE TABLE credentials (               -- materialized merge result, one row per issued credential
            credential TEXT NOT NULL,
            feed INTEGER NOT NULL,              -- feeds.n of the issuing feed (its did:key is the issuer)
            status TEXT NOT NULL,               -- active | suspended | revoked
            issue_entry INTEGER NOT NULL,       -- rowid of the issue entry
            decided_by BLOB,                    -- id of the status entry that decided it, if any
            valid_until INTEGER,                -- ms since the epoch
            PRIMARY KEY (credential, feed)
        ) WITHOUT ROWID;
        CREATE INDEX credentials_not_active ON credentials (feed, status) WHERE status != 'active';
        INSERT OR REPLACE INTO meta (key, value) VALUES ('rematerialize', '1');
        """,
        // 9: no index on the entry id. Ids are SHA-256 hashes, so each batch of a catch-up
        // landed on most of that index's pages and rewrote them: about three quarters of the
        // 8.2 GB a million-entry sync wrote (Docs/PERFORMANCE.md). An id is unique without it:
        // it hashes the entry's (feed, seq), which is unique. Entries are found by (feed, seq),
        // by rowid, by the credential they are about, or, for federation documents, by a partial
        // index of their ids. A credential's deciding entry is kept by rowid, like its issue
        // entry, mapped from its id while the old index still exists (should one not map to its
        // own feed's entry about the credential, the state is rebuilt from the log). The log is
        // copied with its rowids.
        """
        CREATE TABLE entries_unindexed (
            rowid INTEGER PRIMARY KEY,          -- local arrival order
            id BLOB NOT NULL,                   -- SHA-256 of the canonical encoding (unique: it hashes feed and seq)
            feed INTEGER NOT NULL,              -- feeds.n of the writer
            seq INTEGER NOT NULL,
            prev BLOB NOT NULL,
            hlc INTEGER NOT NULL,
            kind INTEGER NOT NULL,
            payload BLOB NOT NULL,              -- JCS bytes
            signature BLOB NOT NULL,
            credential TEXT NOT NULL,           -- from the payload, for lookups
            UNIQUE (feed, seq)
        );
        INSERT INTO entries_unindexed (rowid, id, feed, seq, prev, hlc, kind, payload, signature, credential)
            SELECT rowid, id, feed, seq, prev, hlc, kind, payload, signature, credential FROM entries ORDER BY rowid;

        CREATE TABLE credentials_by_rowid (      -- materialized merge result, one row per issued credential
            credential TEXT NOT NULL,
            feed INTEGER NOT NULL,              -- feeds.n of the issuing feed (its did:key is the issuer)
            status TEXT NOT NULL,               -- active | suspended | revoked
            issue_entry INTEGER NOT NULL,       -- rowid of the issue entry
            decided_by INTEGER,                 -- rowid of the status entry that decided it, if any
            valid_until INTEGER,                -- ms since the epoch
            PRIMARY KEY (credential, feed)
        ) WITHOUT ROWID;
        INSERT INTO credentials_by_rowid (credential, feed, status, issue_entry, decided_by, valid_until)
            SELECT credential, feed, status, issue_entry,
                (SELECT rowid FROM entries e WHERE e.id = credentials.decided_by AND e.feed = credentials.feed AND e.credential = credentials.credential),
                valid_until
            FROM credentials;
        INSERT OR REPLACE INTO meta (key, value) SELECT 'rematerialize', '1' WHERE EXISTS (
            SELECT 1 FROM credentials c
            WHERE c.decided_by IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = c.decided_by AND e.feed = c.feed AND e.credential = c.credential));

        DROP TABLE entries;
        ALTER TABLE entries_unindexed RENAME TO entries;
        CREATE INDEX entries_by_credential_feed ON entries (credential, feed);
        CREATE INDEX entries_documents ON entries (id) WHERE kind = 6;
        CREATE TRIGGER entries_append_only_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: UPDATE on entries is refused'); END;
        CREATE TRIGGER entries_append_only_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: DELETE on entries is refused'); END;

        DROP TABLE credentials;
        ALTER TABLE credentials_by_rowid RENAME TO credentials;
        CREATE INDEX credentials_not_active ON credentials (feed, status) WHERE status != 'active';
        """,
        // 10: which feeds hold facts about a credential the state has no row for (a status
        // change written before the credential's issue: the merge finds no issue). Where a
        // feed holds none, a credential with no row has no facts stored: a batch that issues it
        // is its whole history, and appending it needs no look at the log (LedgerStore.append).
        """
        ALTER TABLE feeds ADD COLUMN unissued INTEGER NOT NULL DEFAULT 0;
        UPDATE feeds SET unissued = 1 WHERE n IN (
            SELECT e.feed FROM entries e WHERE e.kind BETWEEN 1 AND 4
                AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.credential = e.credential AND c.feed = e.feed));
        """,
    ]

    /// The schemas whose migration copies the whole log (its time grows with the log).
    static let copiesOfTheLog: Set<Int> = [8, 9]

    static func version(_ db: SQLiteConnection) throws(SQLiteError) -> Int {
        let version = try db.prepare("PRAGMA user_version")
        _ = try version.step()
        return Int(version.int(0))
    }

    static func migrate(_ db: SQLiteConnection) throws {
        let current = try version(db)
        guard current <= migrations.count else {
            throw SQLiteError(code: .init(rawValue: 1), message: "the database has schema version \(current), newer than this vellum (\(migrations.count))")
        }
        // Upgrading an existing ledger can take a while (schemas 8 and 9 each copy the log: 46 and
        // 25 s per million entries on the benchmark machine, the second at half its usual speed):
        // say so instead of pausing silently.
        if current > 0, current < migrations.count {
            let copies = copiesOfTheLog.count { $0 > current }
            let note = "vellum: upgrading the ledger from schema \(current) to \(migrations.count)"
                + (copies > 0 ? "; a large ledger takes a while (it copies the log \(copies == 1 ? "once" : "twice"): up to a minute per million entries each time)" : "") + "\n"
            FileHandle.standardError.write(Data(note.utf8))
        }
        for (index, sql) in migrations.enumerated().dropFirst(current) {
            try db.transaction {
                // Another process opening the same ledger may have run this one meanwhile (then
                // it is skipped); one still running it holds the lock, and past the busy timeout
                // this open fails with "database is locked", changing nothing.
                guard try version(db) == index else { return }
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }
}
