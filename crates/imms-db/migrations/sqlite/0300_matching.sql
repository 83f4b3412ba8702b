-- Person matching (crate imms-match): blocking keys kept on every ingest, in the same
-- transaction, so that candidates come from an index and never from a scan of persons.
-- block_key is e.g. "D|19800412" (date of birth) or "F|KNTR|1980" (surname sound + birth year);
-- "FN|..." and "GN|..." rows count names for term-frequency weights.
CREATE TABLE match_keys (
    block_key TEXT NOT NULL,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    PRIMARY KEY (block_key, person_id)
) WITHOUT ROWID;
CREATE INDEX match_keys_person ON match_keys(person_id);

-- Trained m/u parameters and decision thresholds (JSON); the newest row is used.
CREATE TABLE match_params (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    params TEXT NOT NULL,
    trained_at TEXT NOT NULL
);
