-- 0002_rules: operators' allow and deny rules (axes allow/deny add).
CREATE TABLE {prefix}rule (
    rule_key TEXT    NOT NULL PRIMARY KEY, -- action + " " + prefix: PutRule/DeleteRule by key
    prefix   TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    reason   TEXT    NOT NULL DEFAULT '',
    created  INTEGER NOT NULL DEFAULT 0,
    expires  INTEGER NOT NULL DEFAULT 0   -- 0: until removed
);
-- Rules(now) reads the whole (small) table; no index beyond the key.
