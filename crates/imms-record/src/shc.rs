//! SMART Health Card (spec.smarthealth.cards): a minimized FHIR R4 Bundle in a verifiable
//! credential, DEFLATE-compressed (raw), signed as a compact JWS (ES256), then written as
//! `shc:/` numeric strings, split into chunks when one QR code (version 22) cannot hold it.

use std::io::Write as _;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::input::{Dose, RecordInput};
use crate::issuer::Issuer;
use crate::RecordError;

pub const CVX_SYSTEM: &str = "http://hl7.org/fhir/sid/cvx";
pub const VC_TYPES: [&str; 2] = [
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
];
/// The longest JWS one QR code of version 22 holds in numeric mode (spec: chunking).
pub const SINGLE_QR_MAX: usize = 1195;
/// The longest JWS part of one chunk when a card is split.
pub const CHUNK_MAX: usize = 1191;

/// The minimized FHIR Bundle: one Patient, one Immunization per dose (in date order).
/// Resource references are `resource:N`; no ids, narratives, metadata or display texts.
pub fn fhir_bundle(input: &RecordInput) -> Value {
    let mut name = json!({ "family": input.name.family.trim() });
    let given: Vec<&str> = input
        .name
        .given
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect();
    if !given.is_empty() {
        name["given"] = json!(given);
    }
    if let Some(suffix) = input
        .name
        .suffix
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        name["suffix"] = json!([suffix]);
    }
    let mut entries = vec![json!({
        "fullUrl": "resource:0",
        "resource": {
            "resourceType": "Patient",
            "name": [name],
            "birthDate": input.birth_date.format("%Y-%m-%d").to_string(),
        }
    })];
    let mut doses: Vec<&Dose> = input.doses.iter().collect();
    doses.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.cvx.cmp(&b.cvx)));
    for (i, dose) in doses.into_iter().enumerate() {
        let mut immunization = json!({
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": { "coding": [{ "system": CVX_SYSTEM, "code": dose.cvx.trim() }] },
            "patient": { "reference": "resource:0" },
            "occurrenceDateTime": dose.date.format("%Y-%m-%d").to_string(),
        });
        if !dose.facility.trim().is_empty() {
            immunization["performer"] = json!([{ "actor": { "display": dose.facility.trim() } }]);
        }
        if let Some(lot) = dose.lot.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            immunization["lotNumber"] = json!(lot);
        }
        entries.push(json!({ "fullUrl": format!("resource:{}", i + 1), "resource": immunization }));
    }
    json!({ "resourceType": "Bundle", "type": "collection", "entry": entries })
}

/// The JWS payload: the verifiable credential around the bundle.
pub fn credential(issuer: &Issuer, input: &RecordInput, nbf: i64) -> Value {
    json!({
        "iss": issuer.public_url(),
        "nbf": nbf,
        "vc": {
            "type": VC_TYPES,
            "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": fhir_bundle(input),
            }
        }
    })
}

/// The signed card as a compact JWS: header {"alg":"ES256","zip":"DEF","kid":…}, payload
/// raw-DEFLATEd, signature the raw 64-byte r || s.
pub fn jws(issuer: &Issuer, input: &RecordInput, nbf: i64) -> Result<String, RecordError> {
    let payload = serde_json::to_vec(&credential(issuer, input, nbf))
        .map_err(|e| RecordError::Card(e.to_string()))?;
    let mut deflate = DeflateEncoder::new(Vec::new(), Compression::best());
    deflate
        .write_all(&payload)
        .map_err(|e| RecordError::Card(e.to_string()))?;
    let compressed = deflate
        .finish()
        .map_err(|e| RecordError::Card(e.to_string()))?;
    let header = json!({ "alg": "ES256", "zip": "DEF", "kid": issuer.kid() });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(compressed)
    );
    let signature = issuer.sign(signing_input.as_bytes());
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The `shc:/` strings for a JWS: one when it fits a version-22 QR code, else
/// `shc:/C/N/…` chunks of balanced size, each at most [`CHUNK_MAX`] JWS characters.
pub fn qr_strings(jws: &str) -> Vec<String> {
    if jws.len() <= SINGLE_QR_MAX {
        return vec![format!("shc:/{}", numeric(jws))];
    }
    let count = jws.len().div_ceil(CHUNK_MAX);
    let size = jws.len().div_ceil(count);
    let bytes = jws.as_bytes();
    bytes
        .chunks(size)
        .enumerate()
        .map(|(i, part)| {
            // The JWS is ASCII (base64url and dots), so byte chunks are whole characters.
            let part = std::str::from_utf8(part).unwrap_or_default();
            format!("shc:/{}/{}/{}", i + 1, count, numeric(part))
        })
        .collect()
}

/// Each character as two digits: its code minus 45.
pub fn numeric(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        let v = b.saturating_sub(45);
        out.push(char::from(b'0' + v / 10));
        out.push(char::from(b'0' + v % 10));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_encoding_follows_the_spec_example_range() {
        // '-' is the lowest character a JWS holds (45 → "00"); 'z' the highest (122 → "77").
        assert_eq!(numeric("-.z"), "000177");
        assert_eq!(numeric("eyJ"), "567629");
    }

    #[test]
    fn long_cards_are_split_into_balanced_chunks() {
        let jws = "a".repeat(3000);
        let parts = qr_strings(&jws);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].starts_with("shc:/1/3/"));
        assert!(parts[2].starts_with("shc:/3/3/"));
        let lens: Vec<usize> = parts
            .iter()
            .map(|p| p.rsplit('/').next().map(str::len).unwrap_or(0) / 2)
            .collect();
        assert_eq!(lens.iter().sum::<usize>(), 3000);
        assert!(lens.iter().all(|l| *l <= CHUNK_MAX && *l >= 999));
        assert_eq!(qr_strings(&"a".repeat(SINGLE_QR_MAX)).len(), 1);
        assert!(qr_strings(&"a".repeat(SINGLE_QR_MAX))
            .first()
            .is_some_and(|s| !s.contains("/1/")));
    }
}
