-- 0003_reservations: attempts being verified are kept apart from settled
-- failures, so that a refusal caused only by in-flight checks is not
-- counted, and a success does not move the failures' window.
ALTER TABLE {prefix}attempt ADD COLUMN reserved INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {prefix}attempt ADD COLUMN reserved_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE {prefix}attempt ADD COLUMN lapsed_at INTEGER NOT NULL DEFAULT 0;
