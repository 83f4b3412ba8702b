#!/usr/bin/env python3
"""imms's matching engine and Splink (DuckDB backend) on the same files, in one table.

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r requirements-bench.txt
    imms gen persons --count 100000 --queries 5000 --out data/
    .venv-bench/bin/python scripts/splink_compare.py --data data/ --imms target/release/imms

Both engines read persons.csv and queries.csv (INTERFACE.md, "Matching") and answer each
query with one person or none; both answer sets are scored against truth.csv by the same
code: precision (right answers / answers), recall (right answers / queries whose person is
in the registry) and wrong-person answers, overall and on the hard cases (twins, Jr/Sr,
look-alikes who are not in the registry).

Splink is set up as its tutorials do for person data: names with Jaro-Winkler levels and
term-frequency adjustments, date of birth, sex, suffix, middle name, street and ZIP code;
u by random sampling, m by EM over two blocking rules; the same four blocking keys as imms
(date of birth; surname + birth year; given name + birth month and day; ZIP + birth year).
A query gets Splink's best candidate when its match probability reaches --threshold and no
second candidate does (a unique confident match, as imms's rule asks).
"""

import argparse
import csv
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time

COLUMNS = [
    "given_name",
    "middle_name",
    "family_name",
    "suffix",
    "birth_date",
    "sex",
    "street",
    "city",
    "state",
    "postal_code",
]
HARD = ("twin", "jr-sr", "look-alike")


def run_imms(imms, data, out, database):
    cmd = [
        imms,
        "match",
        "run",
        "--persons",
        os.path.join(data, "persons.csv"),
        "--queries",
        os.path.join(data, "queries.csv"),
        "--out",
        out,
    ]
    if database:
        cmd += ["--database", database]
    started = time.time()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    # The load time is on stderr ("persons=N load_s=S"), the look-up times on stdout.
    load = [l for l in done.stderr.splitlines() if l.startswith("persons=")]
    return time.time() - started, " ".join(load + done.stdout.strip().splitlines()[-1:])


def run_splink(data, out, threshold, threads):
    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.time()
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    cols = ", ".join(
        f"NULLIF(TRIM(LOWER({c})), '') AS {c}" for c in COLUMNS if c != "birth_date"
    )
    for table, id_col, file in (
        ("persons", "person_id", "persons.csv"),
        ("queries", "query_id", "queries.csv"),
    ):
        path = os.path.join(data, file).replace("'", "''")
        con.execute(
            f"CREATE TABLE {table} AS SELECT {id_col} AS unique_id, {cols}, "
            f"NULLIF(TRIM(birth_date), '') AS birth_date "
            f"FROM read_csv('{path}', all_varchar = true, header = true)"
        )
    db_api = DuckDBAPI(connection=con)
    persons = db_api.register("persons", dataset_display_name="persons")
    queries = db_api.register("queries", dataset_display_name="queries")
    blocking = [
        block_on("birth_date"),
        block_on("family_name", "substr(birth_date, 1, 4)"),
        block_on("given_name", "substr(birth_date, 6, 5)"),
        block_on("postal_code", "substr(birth_date, 1, 4)"),
    ]
    settings = SettingsCreator(
        link_type="link_only",
        blocking_rules_to_generate_predictions=blocking,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(
                term_frequency_adjustments=True
            ),
            cl.NameComparison("middle_name"),
            cl.ExactMatch("suffix"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("sex"),
            cl.LevenshteinAtThresholds("street", 2),
            cl.ExactMatch("city"),
            cl.ExactMatch("postal_code"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([persons, queries], settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "family_name", "birth_date")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"), record_sample_proportion=1.0
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name"), record_sample_proportion=1.0
    )
    trained = time.time() - started
    pred = linker.inference.predict(threshold_match_probability=0.01)
    rows = con.execute(
        f"SELECT unique_id_l, unique_id_r, source_dataset_l, match_probability, "
        f"match_weight FROM {pred.physical_name}"
    ).fetchall()
    best = {}
    for a, b, src_l, prob, weight in rows:
        query, person = (a, b) if src_l == "queries" else (b, a)
        best.setdefault(query, []).append((prob, weight, person))
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "person_id", "score"])
        for (qid,) in con.execute("SELECT unique_id FROM queries").fetchall():
            cands = sorted(best.get(qid, []), reverse=True)
            confident = [c for c in cands if c[0] >= threshold]
            if len(confident) == 1:
                w.writerow([qid, confident[0][2], f"{confident[0][1]:.2f}"])
            else:
                w.writerow([qid, "", ""])
    return time.time() - started, trained


def score(truth_path, results_path):
    answers = {}
    with open(results_path, newline="") as f:
        for r in csv.DictReader(f):
            answers[r["query_id"]] = r["person_id"] or None
    s = dict(answered=0, correct=0, wrong=0, findable=0, hard_wrong=0)
    with open(truth_path, newline="") as f:
        for t in csv.DictReader(f):
            truth = t["person_id"] or None
            answer = answers.get(t["query_id"])
            kinds = (t.get("kind") or "").split("+")
            if truth:
                s["findable"] += 1
            if answer:
                s["answered"] += 1
                if answer == truth:
                    s["correct"] += 1
                else:
                    s["wrong"] += 1
                    if any(k.startswith(HARD) for k in kinds):
                        s["hard_wrong"] += 1
    s["precision"] = s["correct"] / s["answered"] if s["answered"] else 1.0
    s["recall"] = s["correct"] / s["findable"] if s["findable"] else 0.0
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="directory of imms gen persons")
    ap.add_argument("--imms", default="imms", help="the imms binary")
    ap.add_argument("--database", help="imms match run --database URL")
    ap.add_argument(
        "--imms-results",
        help="score this R.csv of an earlier `imms match run` on the same files instead "
        "of running imms again",
    )
    ap.add_argument(
        "--keep",
        help="copy both answer files here (imms.csv, splink.csv), e.g. to compare engines",
    )
    ap.add_argument("--threshold", type=float, default=0.99)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    truth = os.path.join(args.data, "truth.csv")
    with tempfile.TemporaryDirectory() as tmp:
        imms_out = os.path.join(tmp, "imms.csv")
        splink_out = os.path.join(tmp, "splink.csv")
        if args.imms_results:
            imms_out, imms_s = args.imms_results, float("nan")
        else:
            imms_s, imms_line = run_imms(args.imms, args.data, imms_out, args.database)
            print(f"imms: {imms_line}", file=sys.stderr)
        splink_s, trained_s = run_splink(
            args.data, splink_out, args.threshold, args.threads
        )
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            shutil.copy(imms_out, os.path.join(args.keep, "imms.csv"))
            shutil.copy(splink_out, os.path.join(args.keep, "splink.csv"))
        rows = [
            ("imms", score(truth, imms_out), imms_s),
            (
                f"splink {__import__('splink').__version__} (p>={args.threshold})",
                score(truth, splink_out),
                splink_s,
            ),
        ]
    print(
        f"{'engine':<26} {'precision':>9} {'recall':>7} {'answered':>8} "
        f"{'wrong':>6} {'wrong_hard':>10} {'seconds':>8}"
    )
    for name, s, secs in rows:
        print(
            f"{name:<26} {s['precision']:>9.5f} {s['recall']:>7.4f} "
            f"{s['answered']:>8} {s['wrong']:>6} {s['hard_wrong']:>10} {secs:>8.1f}"
        )


if __name__ == "__main__":
    main()
