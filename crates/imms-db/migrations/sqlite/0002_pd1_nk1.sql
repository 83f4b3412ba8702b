-- PD1 (reminder/recall and sharing choices, registry status) and NK1 (next of kin), so that
-- a query answer (RSP Z32) can return them where known.

ALTER TABLE persons ADD COLUMN publicity_code TEXT;
ALTER TABLE persons ADD COLUMN protection_indicator TEXT;
ALTER TABLE persons ADD COLUMN protection_date TEXT;
ALTER TABLE persons ADD COLUMN registry_status TEXT;
ALTER TABLE persons ADD COLUMN registry_status_date TEXT;

CREATE TABLE next_of_kin (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    family TEXT NOT NULL,
    given TEXT NOT NULL,
    middle TEXT NOT NULL,
    relationship TEXT NOT NULL,
    street TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    phone TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    UNIQUE (person_id, family, given, relationship)
);
