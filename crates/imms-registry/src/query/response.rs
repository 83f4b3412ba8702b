//! RSP^K11 per the CDC IG release 1.5: Z32 (the history of the one person found) and Z33 (no
//! person: QAK-2 NF, TM, AE or AR).
//!
//! Personal data appears only in a Z32, and only the matched person's own record. QPD is
//! echoed with its query name and tag (QPD-1, QPD-2) and not the demographic parameters,
//! so that no answer repeats personal data it did not find in the registry.

use chrono::{DateTime, Utc};
use imms_core::CodeTables;
use imms_hl7::{encode, Delimiters, SegmentBuilder};

use crate::ack::err_segment;
use crate::problem::Problem;
use crate::store::record::PersonRecord;

/// QAK-2, HL7 table 0208.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    /// Data found (Z32).
    Ok,
    /// No person found.
    NotFound,
    /// More than one person could be meant; none is sent.
    TooMany,
    /// The query is malformed.
    Error,
    /// The query is refused (unsupported, or the header or credentials are wrong).
    Rejected,
}

impl QueryStatus {
    pub fn code(self) -> &'static str {
        match self {
            QueryStatus::Ok => "OK",
            QueryStatus::NotFound => "NF",
            QueryStatus::TooMany => "TM",
            QueryStatus::Error => "AE",
            QueryStatus::Rejected => "AR",
        }
    }

    /// MSA-1 for this status.
    pub fn msa(self) -> &'static str {
        match self {
            QueryStatus::Ok | QueryStatus::NotFound | QueryStatus::TooMany => "AA",
            QueryStatus::Error => "AE",
            QueryStatus::Rejected => "AR",
        }
    }
}

/// Who asks, and who answers.
pub struct ResponseContext<'a> {
    pub registry_id: &'a str,
    pub delimiters: &'a Delimiters,
    pub sending_application: &'a str,
    pub sending_facility: &'a str,
    pub control_id: &'a str,
    pub processing_id: &'a str,
    pub now: DateTime<Utc>,
    pub response_control_id: &'a str,
    /// QPD-1.1 of the query (Z34, Z44, or empty when unknown).
    pub query_name: &'a str,
    pub tag: &'a str,
}

fn query_name_components(name: &str) -> [&str; 3] {
    match name {
        "Z34" => ["Z34", "Request Immunization History", "CDCPHINVS"],
        "Z44" => ["Z44", "Request Evaluated History and Forecast", "CDCPHINVS"],
        _ => ["", "", ""],
    }
}

fn head(ctx: &ResponseContext<'_>, profile: &str, status: QueryStatus) -> Vec<SegmentBuilder> {
    let mut msh = SegmentBuilder::new("MSH");
    msh.set(3, ctx.registry_id)
        .set(4, ctx.registry_id)
        .set(5, ctx.sending_application)
        .set(6, ctx.sending_facility)
        .set(7, &ctx.now.format("%Y%m%d%H%M%S%z").to_string())
        .set_components(9, &["RSP", "K11", "RSP_K11"])
        .set(10, ctx.response_control_id)
        .set(
            11,
            if ctx.processing_id.is_empty() {
                "P"
            } else {
                ctx.processing_id
            },
        )
        .set(12, "2.5.1")
        .set(15, "NE")
        .set(16, "NE")
        .set_components(21, &[profile, "CDCPHINVS"]);
    let mut msa = SegmentBuilder::new("MSA");
    msa.set(1, status.msa()).set(2, ctx.control_id);
    vec![msh, msa]
}

fn tail(ctx: &ResponseContext<'_>, status: QueryStatus) -> Vec<SegmentBuilder> {
    let name = query_name_components(ctx.query_name);
    let mut qak = SegmentBuilder::new("QAK");
    qak.set(1, ctx.tag)
        .set(2, status.code())
        .set_components(3, &name);
    let mut qpd = SegmentBuilder::new("QPD");
    qpd.set_components(1, &name).set(2, ctx.tag);
    vec![qak, qpd]
}

/// A Z33: no person is returned (NF, TM, AE, AR), with an ERR per problem.
pub fn build_z33(ctx: &ResponseContext<'_>, status: QueryStatus, problems: &[Problem]) -> String {
    let mut segments = head(ctx, "Z33", status);
    segments.extend(problems.iter().map(err_segment));
    segments.extend(tail(ctx, status));
    encode(ctx.delimiters, &segments)
}

fn hl7_date(iso: &str) -> String {
    iso.chars().filter(char::is_ascii_digit).take(8).collect()
}

fn information_source_text(code: &str) -> &'static str {
    match code {
        "00" => "New immunization record",
        "01" => "Historical information - source unspecified",
        "02" => "Historical information - from other provider",
        "03" => "Historical information - from parent's written record",
        "04" => "Historical information - from parent's recall",
        "05" => "Historical information - from other registry",
        "06" => "Historical information - from birth certificate",
        "07" => "Historical information - from school record",
        "08" => "Historical information - from public agency",
        _ => "",
    }
}

fn cvx_text<'c>(codes: &'c CodeTables, cvx: &str) -> &'c str {
    codes
        .cvx(cvx)
        .map(|c| c.short_description.as_str())
        .unwrap_or("")
}

/// A Z32: the one person found, their demographics and every dose, refusal and observation.
/// PD1 with what the registry knows (publicity, protection, registry status), if anything.
fn pd1_segment(pd1: &crate::store::record::Pd1Row) -> Option<SegmentBuilder> {
    if pd1 == &crate::store::record::Pd1Row::default() {
        return None;
    }
    let mut s = SegmentBuilder::new("PD1");
    if let Some(code) = &pd1.publicity_code {
        s.set_components(11, &[code, "", "HL70215"]);
    }
    if let Some(p) = &pd1.protection_indicator {
        s.set(12, p);
    }
    if let Some(d) = &pd1.protection_date {
        s.set(13, &hl7_date(d));
    }
    if let Some(r) = &pd1.registry_status {
        s.set(16, r);
    }
    if let Some(d) = &pd1.registry_status_date {
        s.set(17, &hl7_date(d));
    }
    Some(s)
}

pub fn build_z32(
    ctx: &ResponseContext<'_>,
    codes: &CodeTables,
    record: &PersonRecord,
    problems: &[Problem],
) -> String {
    let status = QueryStatus::Ok;
    let mut segments = head(ctx, "Z32", status);
    segments.extend(problems.iter().map(err_segment));
    segments.extend(tail(ctx, status));

    let mut pid = SegmentBuilder::new("PID");
    pid.set(1, "1");
    pid.add_repetition(
        3,
        &[&record.person_id.to_string(), "", "", ctx.registry_id, "SR"],
    );
    // The asking facility's own identifiers for the person (not other facilities').
    for id in record
        .identifiers
        .iter()
        .filter(|i| i.facility_id == ctx.sending_facility)
    {
        pid.add_repetition(3, &[&id.value, "", "", &id.facility_id, &id.id_type]);
    }
    let mut names: Vec<_> = record.names.iter().collect();
    names.sort_by_key(|n| n.name_type != "L");
    for n in names {
        pid.add_repetition(
            5,
            &[
                &n.family,
                &n.given,
                &n.middle,
                &n.suffix,
                "",
                "",
                &n.name_type,
            ],
        );
    }
    if let Some(m) = &record.mother_maiden_family {
        pid.set_components(6, &[m, "", "", "", "", "", "M"]);
    }
    pid.set(7, &hl7_date(&record.birth_date));
    pid.set(8, &record.sex);
    for a in &record.addresses {
        pid.add_repetition(
            11,
            &[
                &a.street,
                &a.other,
                &a.city,
                &a.state,
                &a.postal_code,
                &a.country,
                &a.address_type,
            ],
        );
    }
    for p in &record.phones {
        if p.len() == 10 {
            pid.add_repetition(13, &["", "PRN", "PH", "", "", &p[..3], &p[3..]]);
        } else {
            pid.add_repetition(13, &["", "PRN", "PH", "", "", "", p]);
        }
    }
    segments.push(pid);
    segments.extend(pd1_segment(&record.pd1));
    for (i, k) in record.next_of_kin.iter().enumerate() {
        let mut nk1 = SegmentBuilder::new("NK1");
        nk1.set(1, &(i + 1).to_string())
            .set_components(2, &[&k.family, &k.given, &k.middle, "", "", "", "L"])
            .set_components(3, &[&k.relationship, "", "HL70063"]);
        if !k.street.is_empty() || !k.city.is_empty() {
            nk1.set_components(
                4,
                &[&k.street, "", &k.city, &k.state, &k.postal_code, "", "H"],
            );
        }
        if k.phone.len() == 10 {
            nk1.set_components(5, &["", "PRN", "PH", "", "", &k.phone[..3], &k.phone[3..]]);
        } else if !k.phone.is_empty() {
            nk1.set_components(5, &["", "PRN", "PH", "", "", "", &k.phone]);
        }
        segments.push(nk1);
    }

    for imm in &record.immunizations {
        let mut orc = SegmentBuilder::new("ORC");
        orc.set(1, "RE")
            .set_components(3, &[&imm.id.to_string(), ctx.registry_id]);
        segments.push(orc);
        let mut rxa = SegmentBuilder::new("RXA");
        let date = hl7_date(&imm.administered_date);
        rxa.set(1, "0")
            .set(2, "1")
            .set(3, &date)
            .set(4, &date)
            .set_components(5, &[&imm.cvx, cvx_text(codes, &imm.cvx), "CVX"]);
        match &imm.amount {
            Some(a) if !a.is_empty() => {
                rxa.set(6, a);
                if let Some(u) = imm.amount_unit.as_deref().filter(|u| !u.is_empty()) {
                    rxa.set_components(7, &[u, u, "UCUM"]);
                }
            }
            _ => {
                rxa.set(6, "999");
            }
        }
        rxa.set_components(
            9,
            &[
                &imm.information_source,
                information_source_text(&imm.information_source),
                "NIP001",
            ],
        );
        if let Some(f) = imm
            .administering_facility
            .as_deref()
            .filter(|f| !f.is_empty())
        {
            rxa.set_components(11, &["", "", "", f]);
        }
        if let Some(lot) = imm.lot_number.as_deref().filter(|l| !l.is_empty()) {
            rxa.set(15, lot);
        }
        if let Some(exp) = imm.expiration_date.as_deref().filter(|e| !e.is_empty()) {
            rxa.set(16, &hl7_date(exp));
        }
        if let Some(mvx) = imm.mvx.as_deref().filter(|m| !m.is_empty()) {
            let name = codes.mvx(mvx).map(|m| m.name.as_str()).unwrap_or("");
            rxa.set_components(17, &[mvx, name, "MVX"]);
        }
        rxa.set(20, &imm.completion_status).set(21, "A");
        segments.push(rxa);
        let route = imm.route.as_deref().unwrap_or("");
        let site = imm.site.as_deref().unwrap_or("");
        if !route.is_empty() || !site.is_empty() {
            let mut rxr = SegmentBuilder::new("RXR");
            if !route.is_empty() {
                rxr.set_components(1, &[route, "", "NCIT"]);
            }
            if !site.is_empty() {
                rxr.set_components(2, &[site, "", "HL70163"]);
            }
            segments.push(rxr);
        }
        let mut n = 0;
        let mut obx = |loinc: &str,
                       loinc_text: &str,
                       code: &str,
                       text: &str,
                       system: &str,
                       date: Option<&str>| {
            n += 1;
            let mut s = SegmentBuilder::new("OBX");
            s.set(1, &n.to_string());
            if code.is_empty() {
                s.set(2, "ST").set(5, text);
            } else {
                s.set(2, "CE").set_components(5, &[code, text, system]);
            }
            s.set_components(3, &[loinc, loinc_text, "LN"])
                .set(4, &n.to_string())
                .set(11, "F");
            if let Some(d) = date {
                s.set(14, &hl7_date(d));
            }
            s
        };
        if let Some(v) = imm.vfc_eligibility.as_deref().filter(|v| !v.is_empty()) {
            segments.push(obx(
                "64994-7",
                "Vaccine funding program eligibility category",
                v,
                "",
                "HL70064",
                None,
            ));
        }
        if let Some(v) = imm.funding_source.as_deref().filter(|v| !v.is_empty()) {
            segments.push(obx(
                "30963-3",
                "Vaccine funding source",
                v,
                "",
                "CDCPHINVS",
                None,
            ));
        }
        for o in record
            .observations
            .iter()
            .filter(|o| o.immunization_id == Some(imm.id))
        {
            if o.loinc == "64994-7" || o.loinc == "30963-3" {
                continue;
            }
            segments.push(obx(
                &o.loinc,
                "",
                &o.value_code,
                &o.value_text,
                "",
                o.observed_date.as_deref(),
            ));
        }
    }

    for r in &record.refusals {
        let mut orc = SegmentBuilder::new("ORC");
        orc.set(1, "RE").set_components(3, &["9999", "CDC"]);
        segments.push(orc);
        let mut rxa = SegmentBuilder::new("RXA");
        let date = hl7_date(&r.refusal_date);
        rxa.set(1, "0")
            .set(2, "1")
            .set(3, &date)
            .set(4, &date)
            .set_components(5, &[&r.cvx, cvx_text(codes, &r.cvx), "CVX"])
            .set(6, "999");
        if let Some(reason) = r.reason_code.as_deref().filter(|c| !c.is_empty()) {
            rxa.set_components(18, &[reason, "", "NIP002"]);
        }
        rxa.set(20, "RE");
        segments.push(rxa);
    }

    // Observations about the person (evidence of immunity, contraindications): under a
    // "no vaccine administered" RXA, as the IG places them.
    let about_person: Vec<_> = record
        .observations
        .iter()
        .filter(|o| o.immunization_id.is_none())
        .collect();
    if !about_person.is_empty() {
        let mut orc = SegmentBuilder::new("ORC");
        orc.set(1, "RE").set_components(3, &["9999", "CDC"]);
        segments.push(orc);
        let mut rxa = SegmentBuilder::new("RXA");
        let date = about_person
            .iter()
            .find_map(|o| o.observed_date.as_deref())
            .map(hl7_date)
            .unwrap_or_default();
        rxa.set(1, "0")
            .set(2, "1")
            .set(3, &date)
            .set(4, &date)
            .set_components(5, &["998", "No vaccine administered", "CVX"])
            .set(6, "999")
            .set(20, "NA");
        segments.push(rxa);
        for (i, o) in about_person.iter().enumerate() {
            let n = (i + 1).to_string();
            let mut s = SegmentBuilder::new("OBX");
            s.set(1, &n);
            if o.value_code.is_empty() {
                s.set(2, "ST").set(5, &o.value_text);
            } else {
                s.set(2, "CE")
                    .set_components(5, &[&o.value_code, &o.value_text]);
            }
            s.set_components(3, &[&o.loinc, "", "LN"])
                .set(4, &n)
                .set(11, "F");
            if let Some(d) = &o.observed_date {
                s.set(14, &hl7_date(d));
            }
            segments.push(s);
        }
    }
    encode(ctx.delimiters, &segments)
}
