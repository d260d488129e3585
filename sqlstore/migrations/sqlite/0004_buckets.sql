-- 0004_buckets: one row per bucket holding a storage.State (issue 6).
--
-- Times in this table are now INTEGER Unix microseconds, as the state
-- carries them (the audit log and the rules keep nanoseconds). Tickets in
-- flight are counted in two cohorts (reserved: cohort slot, older: cohort
-- slot - 1). The users' shares of the failures of a bucket whose key has
-- no username live in the row itself: shares is the JSON array that
-- encoding/json writes for []storage.Share, [{"user":"...","failures":N}],
-- sorted by user, or '' for none. The attribution rows (kind = 1) go.
--
-- The table is rebuilt (create, copy, drop, rename), converting the rows:
--   * ns -> us: integer division by 1000 (0, no time, stays 0);
--   * reservations of the old schema cannot be settled by this build, so
--     they become failures now (as they would have when their lease
--     lapsed): failures + reserved, and last_failure the later of
--     last_failure and reserved_at;
--   * attribution rows fold into their parent's shares: their failures
--     plus their reservations (converted like the parent's), at most the
--     parent's failures each, the 32 largest (storage.MaxShares; on a tie
--     the first by user goes); those already expired at the time of the
--     migration are left out, as the old store would no longer read them,
--     and so are the rows whose parent is gone;
--   * locked, locked_until (derived from the failures), lapsed_at, kind
--     and parent disappear; rows left with nothing in them are dropped.
--
-- Unlike the earlier migrations this one is not additive: a build of
-- schema 3 fails on the new table. Stop the old instances before running it.

CREATE TABLE {prefix}attempt_new (
    bucket_key   TEXT    NOT NULL PRIMARY KEY, -- Do: SELECT ... IN (...), UPDATE and DELETE by key
    params       TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    username     TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    failures     INTEGER NOT NULL DEFAULT 0,
    last_failure INTEGER NOT NULL DEFAULT 0,
    reserved     INTEGER NOT NULL DEFAULT 0,
    older        INTEGER NOT NULL DEFAULT 0,
    slot         INTEGER NOT NULL DEFAULT 0,
    shares       TEXT    NOT NULL DEFAULT '',
    expires_at   INTEGER NOT NULL DEFAULT 0     -- 0: never
);

WITH share AS (
    SELECT parent, username, sum(failures + reserved) AS n
    FROM {prefix}attempt
    WHERE kind = 1 AND username <> ''
      AND (expires_at = 0 OR expires_at > CAST((julianday('now') - 2440587.5) * 86400000000000.0 AS INTEGER))
    GROUP BY parent, username
    HAVING sum(failures + reserved) > 0
), ranked AS (
    SELECT parent, username, n,
           row_number() OVER (PARTITION BY parent ORDER BY n DESC, username DESC) AS place
    FROM share
)
INSERT INTO {prefix}attempt_new
    (bucket_key, params, ip, username, user_agent, failures, last_failure, reserved, older, slot, shares, expires_at)
SELECT a.bucket_key, a.params, a.ip, a.username, a.user_agent,
       a.failures + a.reserved,
       max(a.last_failure, CASE WHEN a.reserved > 0 THEN a.reserved_at ELSE 0 END) / 1000,
       0, 0, 0,
       coalesce(nullif((
           SELECT json_group_array(json_object('user', o.username, 'failures', min(o.n, a.failures + a.reserved)))
           FROM (SELECT username, n FROM ranked
                 WHERE parent = a.bucket_key AND place <= 32
                 ORDER BY username) AS o
       ), '[]'), ''),
       a.expires_at / 1000
FROM {prefix}attempt AS a
WHERE a.kind = 0 AND a.failures + a.reserved > 0;

DROP TABLE {prefix}attempt;
ALTER TABLE {prefix}attempt_new RENAME TO {prefix}attempt;

-- Purge: DELETE ... WHERE expires_at > 0 AND expires_at <= ?
CREATE INDEX {prefix}attempt_expires_at ON {prefix}attempt (expires_at);
-- List by IP (a reset by address, with or without ShareOf).
CREATE INDEX {prefix}attempt_ip ON {prefix}attempt (ip);
-- List by username (a reset of a user: the buckets whose key has it).
CREATE INDEX {prefix}attempt_username ON {prefix}attempt (username);
-- List(ShareOf) alone (a reset of a user: the buckets without username that
-- hold a share of it) reads the table and decodes the rows with shares <> '';
-- a share inside a JSON text has no index. It is an operator's action, and
-- an index here would cost every write of a shared bucket.
