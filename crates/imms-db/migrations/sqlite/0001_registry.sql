-- Registry core: code tables, facilities, persons, doses, messages and the audit trail.
-- Dates are ISO-8601 text (YYYY-MM-DD) and times RFC 3339 text in UTC, on both engines.

CREATE TABLE code_tables (
    name TEXT PRIMARY KEY,
    content TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);

CREATE TABLE facilities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE facility_credentials (
    username TEXT PRIMARY KEY,
    facility_id TEXT NOT NULL REFERENCES facilities(id),
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE persons (
    id INTEGER PRIMARY KEY,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    mother_maiden_family TEXT,
    mother_maiden_given TEXT,
    multiple_birth INTEGER,
    birth_order INTEGER,
    death_date TEXT,
    merged_into INTEGER REFERENCES persons(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX persons_birth_date ON persons(birth_date);

CREATE TABLE person_names (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    name_type TEXT NOT NULL,
    family TEXT NOT NULL,
    given TEXT NOT NULL,
    middle TEXT NOT NULL,
    suffix TEXT NOT NULL,
    family_key TEXT NOT NULL,
    given_key TEXT NOT NULL,
    UNIQUE (person_id, name_type, family_key, given_key, middle, suffix)
);
CREATE INDEX person_names_key ON person_names(family_key, given_key);

CREATE TABLE person_addresses (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    street TEXT NOT NULL,
    other TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    postal_code TEXT NOT NULL,
    country TEXT NOT NULL,
    address_type TEXT NOT NULL,
    street_key TEXT NOT NULL,
    zip_key TEXT NOT NULL,
    facility_id TEXT NOT NULL,
    reported_at TEXT NOT NULL,
    UNIQUE (person_id, street_key, zip_key)
);

CREATE TABLE person_phones (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    number TEXT NOT NULL,
    use_code TEXT NOT NULL,
    UNIQUE (person_id, number)
);

CREATE TABLE person_identifiers (
    facility_id TEXT NOT NULL,
    id_type TEXT NOT NULL,
    value TEXT NOT NULL,
    authority TEXT NOT NULL,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (facility_id, id_type, value)
);
CREATE INDEX person_identifiers_person ON person_identifiers(person_id);

CREATE TABLE immunizations (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    facility_id TEXT NOT NULL,
    filler_order_number TEXT,
    administered_date TEXT NOT NULL,
    cvx TEXT NOT NULL,
    mvx TEXT,
    lot_number TEXT,
    expiration_date TEXT,
    amount TEXT,
    amount_unit TEXT,
    information_source TEXT NOT NULL,
    route TEXT,
    site TEXT,
    administering_facility TEXT,
    administering_provider TEXT,
    completion_status TEXT NOT NULL,
    vfc_eligibility TEXT,
    funding_source TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX immunizations_person ON immunizations(person_id);
CREATE UNIQUE INDEX immunizations_order ON immunizations(facility_id, filler_order_number)
    WHERE filler_order_number IS NOT NULL;

CREATE TABLE observations (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    immunization_id INTEGER REFERENCES immunizations(id),
    facility_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    loinc TEXT NOT NULL,
    value_code TEXT NOT NULL,
    value_text TEXT NOT NULL,
    value_system TEXT NOT NULL,
    observed_date TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX observations_person ON observations(person_id);
CREATE INDEX observations_immunization ON observations(immunization_id);

CREATE TABLE refusals (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    facility_id TEXT NOT NULL,
    filler_order_number TEXT,
    cvx TEXT NOT NULL,
    refusal_date TEXT NOT NULL,
    reason_code TEXT,
    reason_text TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX refusals_person ON refusals(person_id);

-- One row per message accepted (AA) or partly accepted (AE): the answer it got, so that the
-- same MSH-4 + MSH-10 sent again gets the same answer and stores nothing twice.
CREATE TABLE messages (
    facility_id TEXT NOT NULL,
    control_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ack TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (facility_id, control_id)
);

-- Who changed what, when; ids only, never personal data.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    facility_id TEXT,
    control_id TEXT,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id INTEGER,
    person_id INTEGER
);
CREATE INDEX audit_log_person ON audit_log(person_id);

CREATE TABLE possible_duplicates (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    candidate_id INTEGER NOT NULL REFERENCES persons(id),
    reason TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL,
    UNIQUE (person_id, candidate_id)
);
