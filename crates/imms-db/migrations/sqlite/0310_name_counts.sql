-- How many persons carry each name key (the "FN|..." and "GN|..." rows of match_keys), for
-- the term frequencies that make common names weigh less: one row read per name instead of
-- counting up to thousands of keys. Kept by triggers on match_keys in the writer's own
-- transaction, so it is always exactly the count of those rows. SQLite has one writer at a
-- time, so every count is in shard 0 (PostgreSQL gives each session its own shard).
CREATE TABLE name_counts (
    name_key TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (name_key, shard)
) WITHOUT ROWID;

CREATE TRIGGER match_keys_name_added AFTER INSERT ON match_keys
WHEN substr(NEW.block_key, 1, 3) IN ('FN|', 'GN|')
BEGIN
    INSERT INTO name_counts (name_key, shard, n) VALUES (NEW.block_key, 0, 1)
    ON CONFLICT (name_key, shard) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER match_keys_name_removed AFTER DELETE ON match_keys
WHEN substr(OLD.block_key, 1, 3) IN ('FN|', 'GN|')
BEGIN
    UPDATE name_counts SET n = n - 1 WHERE name_key = OLD.block_key AND shard = 0;
END;

INSERT INTO name_counts (name_key, shard, n)
SELECT block_key, 0, COUNT(*) FROM match_keys
WHERE substr(block_key, 1, 3) IN ('FN|', 'GN|')
GROUP BY block_key;
