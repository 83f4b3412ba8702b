-- How many persons carry each name key (the "FN|..." and "GN|..." rows of match_keys), for
-- the term frequencies that make common names weigh less. Counting a name's keys visits up
-- to 5,000 index entries, and on PostgreSQL each of them is also a visit to the table's
-- page until VACUUM marks the page all-visible: while a registry is being filled, that
-- count was the costliest read of ingest. Kept by triggers on match_keys in the writer's
-- own transaction, so it is always exactly the count of those rows. (SQLite counts the
-- keys themselves: its index holds all it needs, and a trigger per row cost more there.)
--
-- Each database session adds to its own row (shard = its backend pid, never 0), so
-- concurrent writers never wait on each other's lock on a common name; a read sums the
-- rows of a name. fold_name_counts() moves the rows of sessions that have ended into
-- shard 0 (run at start-up and every few minutes by `imms serve`).
CREATE TABLE name_counts (
    name_key TEXT NOT NULL,
    shard INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (name_key, shard)
);

-- One function for both triggers: each names its transition table "changed", and a
-- deletion counts down.
CREATE FUNCTION name_counts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO name_counts (name_key, shard, n)
    SELECT block_key, pg_backend_pid(),
           CASE TG_OP WHEN 'DELETE' THEN -COUNT(*) ELSE COUNT(*) END
    FROM changed
    WHERE block_key LIKE 'FN|%' OR block_key LIKE 'GN|%'
    GROUP BY block_key
    ON CONFLICT (name_key, shard) DO UPDATE SET n = name_counts.n + EXCLUDED.n;
    RETURN NULL;
END
$$;

CREATE TRIGGER match_keys_names_added AFTER INSERT ON match_keys
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION name_counts_changed();
CREATE TRIGGER match_keys_names_removed AFTER DELETE ON match_keys
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION name_counts_changed();

-- Rows of ended sessions into shard 0. One fold at a time (an advisory lock), so two nodes
-- starting together do not race on shard 0; a live session's rows are left alone.
CREATE FUNCTION fold_name_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7310);
    WITH gone AS (
        DELETE FROM name_counts
        WHERE shard <> 0 AND shard NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)
        RETURNING name_key, n
    )
    INSERT INTO name_counts (name_key, shard, n)
    SELECT name_key, 0, SUM(n) FROM gone GROUP BY name_key
    ON CONFLICT (name_key, shard) DO UPDATE SET n = name_counts.n + EXCLUDED.n;
END
$$;

-- The counts made again from the keys themselves, in one row per name: here for the keys
-- already stored, and by a bulk load, which pauses the insert trigger while it loads.
-- Only while nothing else writes keys: it replaces every session's rows.
CREATE FUNCTION recount_name_counts() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM name_counts;
    INSERT INTO name_counts (name_key, shard, n)
    SELECT block_key, 0, COUNT(*) FROM match_keys
    WHERE block_key LIKE 'FN|%' OR block_key LIKE 'GN|%'
    GROUP BY block_key;
END
$$;

SELECT recount_name_counts();
