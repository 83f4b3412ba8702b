-- match_keys is the matcher's index, derived from persons and their names, addresses and
-- date of birth, and written only by the code that writes those rows, in the same
-- transaction. Its foreign key to persons made PostgreSQL run one check query per key row
-- (seven per new person): the largest single cost of an import after the inserts
-- themselves (docs/benchmarks.md). A key whose person were gone would only name a
-- candidate whose profile is not found, which the matcher skips. Persons are never
-- deleted (a merge marks merged_into). SQLite keeps the constraint: its checks are cheap.
ALTER TABLE match_keys DROP CONSTRAINT IF EXISTS match_keys_person_id_fkey;
