"""An independent SMART Health Card verifier (jwcrypto, the Python standard library).

Reads the QR contents (`shc:/...` strings, one a line, in any order, as zbarimg prints them
with --raw) on standard input, reassembles chunks, decodes the numeric form, verifies the
compact JWS (ES256) against the issuer's published JWKS, inflates the payload and checks the
credential against what the caller expects.

    verify_shc.py --jwks URL-or-FILE --iss ISSUER --expect EXPECT.json < qr.txt

EXPECT.json: {"family": ..., "given": [...], "birthDate": "YYYY-MM-DD",
              "doses": [{"cvx": "141", "date": "YYYY-MM-DD", "lot": ..., "performer": ... (both optional)}, ...],
              "chunks": N (optional)}

Prints a JSON summary and exits 0 when every check holds; prints what failed and exits 1.
"""

import argparse
import base64
import json
import re
import sys
import time
import urllib.request
import zlib

from jwcrypto import jwk, jws

HEALTH_CARD = "https://smarthealth.cards#health-card"
IMMUNIZATION = "https://smarthealth.cards#immunization"
CVX = "http://hl7.org/fhir/sid/cvx"


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def b64url(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def reassemble(lines):
    single, chunks, total = [], {}, None
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = re.fullmatch(r"shc:/(?:(\d+)/(\d+)/)?(\d+)", line)
        check(m is not None, f"not an shc:/ numeric string: {line[:40]}...")
        if m.group(1) is None:
            single.append(m.group(3))
            continue
        index, count = int(m.group(1)), int(m.group(2))
        check(1 <= index <= count, f"chunk {index} of {count}")
        check(total in (None, count), "chunks disagree on their count")
        total = count
        check(index not in chunks, f"chunk {index} twice")
        chunks[index] = m.group(3)
    check(not (single and chunks), "a whole card and chunks mixed")
    if single:
        check(len(single) == 1, f"{len(single)} whole cards")
        return single[0], 1
    check(total is not None, "no QR content")
    check(sorted(chunks) == list(range(1, total + 1)), f"chunks {sorted(chunks)} of {total}")
    return "".join(chunks[i] for i in range(1, total + 1)), total


def numeric_to_jws(digits):
    check(len(digits) % 2 == 0, "odd number of digits")
    out = []
    for i in range(0, len(digits), 2):
        v = int(digits[i : i + 2])
        check(v <= 77, f"digit pair {v} above 77")
        out.append(chr(v + 45))
    return "".join(out)


def load_jwks(source):
    if source.startswith("http://") or source.startswith("https://"):
        with urllib.request.urlopen(source, timeout=10) as r:
            check(r.status == 200, f"JWKS answered {r.status}")
            return r.read().decode()
    with open(source, encoding="utf-8") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jwks", required=True)
    ap.add_argument("--iss", required=True)
    ap.add_argument("--expect", required=True)
    args = ap.parse_args()
    with open(args.expect, encoding="utf-8") as f:
        expect = json.load(f)

    digits, count = reassemble(sys.stdin.read().splitlines())
    if "chunks" in expect:
        check(count == expect["chunks"], f"{count} QR code(s), expected {expect['chunks']}")
    token = numeric_to_jws(digits)
    parts = token.split(".")
    check(len(parts) == 3, "not a compact JWS")
    header = json.loads(b64url(parts[0]))
    check(header.get("alg") == "ES256", f"alg {header.get('alg')}")
    check(header.get("zip") == "DEF", f"zip {header.get('zip')}")
    check(isinstance(header.get("kid"), str), "no kid")
    check(len(b64url(parts[2])) == 64, "signature is not the raw 64-byte r||s")

    jwks_text = load_jwks(args.jwks)
    raw_keys = json.loads(jwks_text)["keys"]
    keyset = jwk.JWKSet.from_json(jwks_text)
    key = keyset.get_key(header["kid"])
    check(key is not None, "kid not in the issuer's JWKS")
    published = next(k for k in raw_keys if k.get("kid") == header["kid"])
    for name, want in [("kty", "EC"), ("crv", "P-256"), ("use", "sig"), ("alg", "ES256")]:
        check(published.get(name) == want, f"JWK {name} is {published.get(name)}")
    check("d" not in published, "the JWKS publishes a private key")
    check(key.thumbprint() == header["kid"], "kid is not the JWK thumbprint")

    verifier = jws.JWS()
    verifier.deserialize(token)
    try:
        verifier.verify(key, alg="ES256")
    except jws.InvalidJWSSignature as e:
        raise Failed(f"signature does not verify: {e}") from e
    payload = zlib.decompress(verifier.objects["payload"], wbits=-15)
    cred = json.loads(payload)

    check(cred.get("iss") == args.iss, f"iss {cred.get('iss')!r}, expected {args.iss!r}")
    check(not cred["iss"].endswith("/"), "iss ends with a slash")
    nbf = cred.get("nbf")
    check(isinstance(nbf, (int, float)), "no nbf")
    check(nbf <= time.time() + 60, "nbf in the future")
    vc = cred["vc"]
    check(HEALTH_CARD in vc["type"] and IMMUNIZATION in vc["type"], f"vc type {vc['type']}")
    subject = vc["credentialSubject"]
    check(subject.get("fhirVersion") == "4.0.1", f"fhirVersion {subject.get('fhirVersion')}")
    bundle = subject["fhirBundle"]
    check(bundle.get("resourceType") == "Bundle", "not a Bundle")
    check(bundle.get("type") == "collection", f"Bundle type {bundle.get('type')}")
    entries = bundle["entry"]
    for i, e in enumerate(entries):
        check(e.get("fullUrl") == f"resource:{i}", f"fullUrl {e.get('fullUrl')}")
        for member in ("id", "text", "meta"):
            check(member not in e["resource"], f"not minimized: {member} in resource:{i}")
    patients = [e["resource"] for e in entries if e["resource"]["resourceType"] == "Patient"]
    check(len(patients) == 1, f"{len(patients)} Patient resources")
    patient = patients[0]
    name = patient["name"][0]
    check(name.get("family") == expect["family"], f"family {name.get('family')!r}")
    check(name.get("given", []) == expect["given"], f"given {name.get('given')!r}")
    check(patient.get("birthDate") == expect["birthDate"], f"birthDate {patient.get('birthDate')}")

    doses = []
    for e in entries:
        r = e["resource"]
        if r["resourceType"] != "Immunization":
            continue
        check(r.get("status") == "completed", f"status {r.get('status')}")
        check(r["patient"] == {"reference": "resource:0"}, "patient reference")
        coding = r["vaccineCode"]["coding"]
        check(len(coding) == 1 and coding[0]["system"] == CVX, f"coding {coding}")
        check("display" not in coding[0] and "text" not in r["vaccineCode"], "not minimized")
        performer = r.get("performer")
        if performer is not None:
            check(len(performer) == 1 and performer[0]["actor"].get("display"), "performer")
        doses.append(
            {
                "cvx": coding[0]["code"],
                "date": r["occurrenceDateTime"],
                "lot": r.get("lotNumber"),
                "performer": performer[0]["actor"]["display"] if performer else None,
            }
        )
    check(len(doses) == len(expect["doses"]), f"{len(doses)} Immunizations, expected {len(expect['doses'])}")
    key_of = lambda d: (d["date"], d["cvx"])
    for got, want in zip(sorted(doses, key=key_of), sorted(expect["doses"], key=key_of)):
        check((got["cvx"], got["date"]) == (want["cvx"], want["date"]), f"dose {got} != {want}")
        if "lot" in want:
            check(got["lot"] == want["lot"], f"lot {got['lot']!r} != {want['lot']!r}")
        if "performer" in want:
            check(got["performer"] == want["performer"], f"performer {got['performer']!r}")

    print(
        json.dumps(
            {
                "verified": True,
                "chunks": count,
                "kid": header["kid"],
                "immunizations": len(doses),
                "jws_chars": len(token),
            }
        )
    )


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print(f"verification failed: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # a malformed card: whatever jwcrypto, zlib or json raised
        print(f"verification failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
