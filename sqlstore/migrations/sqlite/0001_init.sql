-- 0001_init: the lockout records and the audit log.
--
-- {prefix} is replaced by the store's table prefix (default "axes_").
-- Times are INTEGER Unix nanoseconds, UTC; 0 means "no time" (the zero
-- time.Time). Booleans are INTEGER 0 or 1.

-- One row per bucket: the counterpart of django-axes AccessAttempt.
CREATE TABLE {prefix}attempt (
    bucket_key   TEXT    NOT NULL PRIMARY KEY, -- Do: SELECT/UPSERT/DELETE by key
    kind         INTEGER NOT NULL,             -- 0 lockout, 1 attribution
    params       TEXT    NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    username     TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    parent       TEXT    NOT NULL DEFAULT '',  -- attribution: key of its lockout bucket
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL DEFAULT 0,
    locked       INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER NOT NULL DEFAULT 0,
    expires_at   INTEGER NOT NULL DEFAULT 0
);
-- Purge: DELETE ... WHERE expires_at > 0 AND expires_at <= ?
CREATE INDEX {prefix}attempt_expires_at ON {prefix}attempt (expires_at);
-- List and Delete by IP (axes reset --ip).
CREATE INDEX {prefix}attempt_ip ON {prefix}attempt (ip, kind);
-- List and Delete by username (axes reset --username).
CREATE INDEX {prefix}attempt_username ON {prefix}attempt (username, kind);
-- Delete: the attribution rows of the deleted lockout rows
-- (DELETE ... WHERE parent IN (SELECT ...) AND kind = 1). Partial, so that
-- the many lockout rows with parent '' do not make it look unselective.
CREATE INDEX {prefix}attempt_parent ON {prefix}attempt (parent) WHERE kind = 1;

-- Successful logins: the counterpart of django-axes AccessLog.
CREATE TABLE {prefix}access_log (
    id           INTEGER PRIMARY KEY,
    attempt_time INTEGER NOT NULL,
    username     TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    path         TEXT    NOT NULL DEFAULT '',
    session_hash TEXT    NOT NULL DEFAULT '',
    logout_time  INTEGER NOT NULL DEFAULT 0
);
-- LogLogout: UPDATE ... WHERE username = ? AND session_hash = ? AND logout_time = 0;
-- AccessLog(username): WHERE username = ? ORDER BY attempt_time DESC, id DESC.
CREATE INDEX {prefix}access_log_username ON {prefix}access_log (username, session_hash, logout_time);
CREATE INDEX {prefix}access_log_username_time ON {prefix}access_log (username, attempt_time);
-- PruneAccessLog: DELETE ... WHERE attempt_time < ?; AccessLog(""): ORDER BY attempt_time DESC.
CREATE INDEX {prefix}access_log_time ON {prefix}access_log (attempt_time);

-- Failed attempts: the counterpart of django-axes AccessFailureLog.
CREATE TABLE {prefix}access_failure_log (
    id           INTEGER PRIMARY KEY,
    attempt_time INTEGER NOT NULL,
    username     TEXT    NOT NULL DEFAULT '',
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    path         TEXT    NOT NULL DEFAULT '',
    locked_out   INTEGER NOT NULL DEFAULT 0
);
-- LogFailure's per-user cap and FailureLog(username):
-- WHERE username = ? ORDER BY attempt_time DESC, id DESC.
CREATE INDEX {prefix}access_failure_log_username_time ON {prefix}access_failure_log (username, attempt_time);
-- PruneFailureLog: DELETE ... WHERE attempt_time < ?; FailureLog(""): ORDER BY attempt_time DESC.
CREATE INDEX {prefix}access_failure_log_time ON {prefix}access_failure_log (attempt_time);
