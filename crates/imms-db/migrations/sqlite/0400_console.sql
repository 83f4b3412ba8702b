-- Provider console: staff roles by organization, the history of every change staff make to a
-- dose, merges of duplicate persons (kept so they can be undone), and pairs staff decided are
-- different people. Ids and codes only in the audit trail; dose fields live here, beside the
-- doses themselves.

CREATE TABLE console_staff (
    user_id TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL REFERENCES facilities(id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX console_staff_facility ON console_staff(facility_id);

-- Optimistic locking: a correction names the version it was made from.
ALTER TABLE immunizations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE dose_changes (
    id INTEGER PRIMARY KEY,
    immunization_id INTEGER NOT NULL REFERENCES immunizations(id),
    person_id INTEGER NOT NULL REFERENCES persons(id),
    action TEXT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    actor_facility_id TEXT NOT NULL,
    at TEXT NOT NULL,
    before_fields TEXT,
    after_fields TEXT
);
CREATE INDEX dose_changes_person ON dose_changes(person_id);
CREATE INDEX dose_changes_immunization ON dose_changes(immunization_id);

CREATE TABLE person_merges (
    id INTEGER PRIMARY KEY,
    survivor_id INTEGER NOT NULL REFERENCES persons(id),
    merged_id INTEGER NOT NULL REFERENCES persons(id),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    moved TEXT NOT NULL,
    undone_at TEXT,
    undone_by TEXT,
    undo_reason TEXT
);
CREATE INDEX person_merges_merged ON person_merges(merged_id);
CREATE INDEX person_merges_survivor ON person_merges(survivor_id);

CREATE TABLE not_duplicates (
    low_id INTEGER NOT NULL REFERENCES persons(id),
    high_id INTEGER NOT NULL REFERENCES persons(id),
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (low_id, high_id)
);
