-- How many times a stored person's matching profile (names, addresses, sex) has changed
-- since the person was created. Names and addresses are only ever added, by one statement
-- path that also raises this number, so the matching engine's kept profiles are checked
-- with one read of the persons row instead of counting names and addresses.
ALTER TABLE persons ADD COLUMN profile_version INTEGER NOT NULL DEFAULT 0;
