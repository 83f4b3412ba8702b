//! Parsing and walking a typical VXU^V04 of about 2 KB, reported in bytes per second.
//!
//! Run: `cargo bench -p imms-hl7 -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use imms_hl7::{encode, parse, Delimiters, Message, SegmentBuilder};

/// Two doses with their observations, as an EHR reports a visit.
fn vxu() -> String {
    let mut s = String::from(
        "MSH|^~\\&|MYEHR2.5|RI88140101|IMMS|STATEIIS|20240315083012-0500||VXU^V04^VXU_V04|NIST-IZ-AD-10.1_Send_V04_Z22|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS|RI88140101^^^^^NIST-AA-1^XX^^^RI88140101|STATEIIS\r\
PID|1||90012^^^NIST-MPI-1^MR~444-22-1234^^^MAA^SS||Nuclear^Nancy^D^^^^L~Nuclear^Nan^^^^^A|Brown^Maria^^^^^M|20140125|F||2106-3^White^CDCREC|3030 Pine St^^Lansing^MI^48912^USA^P||^PRN^PH^^^517^5551234~^NET^Internet^nancy@example.com|||||||||2186-5^Not Hispanic or Latino^CDCREC||N|1|||||N\r\
PD1|||||||||||02^Reminder/Recall - any method^HL70215|N|20240315|||A|20140125|20240315\r\
NK1|1|Nuclear^Sally^^^^^L|MTH^Mother^HL70063|3030 Pine St^^Lansing^MI^48912^USA^P|^PRN^PH^^^517^5551234\r",
    );
    for (i, (cvx, name, lot)) in [
        ("08", "Hep B, adolescent or pediatric", "Z0860BB"),
        ("20", "DTaP", "AC52B030AA"),
    ]
    .iter()
    .enumerate()
    {
        s.push_str(&format!(
            "ORC|RE||IZ-78327{i}^NDA|||||||I-23432^Burden^Donna^A^^^^^NIST-AA-1&2.16.840.1.113883.3.72.5.30.1&ISO^^^^^^^^^^^^^^MD||57422^RADON^NICHOLAS^^^^^^NIST-AA-1^L^^^^^^^^^^^^^^^MD\r\
RXA|0|1|20240315|20240315|{cvx}^{name}^CVX|0.5|mL^milliliters^UCUM||00^New Immunization Record^NIP001|7832-1^Lemon^Mike^A^^^^^NIST-AA-1^^^^^^^^^^^^^^^^MD|^^^NIST-Clinic-1||||{lot}|20251230|MSD^Merck and Co., Inc.^MVX|||CP|A\r\
RXR|C28161^Intramuscular^NCIT|LD^Left Arm^HL70163\r\
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|{i}|V02^VFC eligible - Medicaid/Medicaid Managed Care^HL70064||||||F|||20240315|||VXC40^Eligibility captured at the immunization level^CDCPHINVS\r\
OBX|2|CE|30956-7^vaccine type^LN|{i}|45^Hep B, unspecified formulation^CVX||||||F\r\
OBX|3|TS|29768-9^Date vaccine information statement published^LN|{i}|20120202||||||F\r\
OBX|4|TS|29769-7^Date vaccine information statement presented^LN|{i}|20240315||||||F\r"
        ));
    }
    s
}

/// Reads every value of every component of every repetition of every field.
fn walk(m: &Message<'_>) -> usize {
    let mut n = 0;
    for s in m.segments() {
        for f in s.fields() {
            for r in f.repetitions() {
                for c in r.components() {
                    n += c.value().len();
                }
            }
        }
    }
    n
}

/// Reads the fields a VXU mapping needs, the way it would.
fn read_vxu(m: &Message<'_>) -> usize {
    let mut n = 0;
    let msh = m.first("MSH").expect("MSH");
    for f in [3, 4, 7, 10, 11, 12, 21] {
        n += msh.field(f).value().len();
    }
    n += msh.field(9).component(2).value().len();
    if let Some(pid) = m.first("PID") {
        for id in pid.field(3).repetitions() {
            n += id.value().len() + id.component(4).value().len() + id.component(5).value().len();
        }
        for name in pid.field(5).repetitions() {
            n += name.value().len()
                + name.component(2).value().len()
                + name.component(7).value().len();
        }
        n += pid.field(6).value().len() + pid.field(7).value().len() + pid.field(8).value().len();
        n += pid.field(11).component(5).value().len();
    }
    for rxa in m.all("RXA") {
        for f in [3, 6, 15, 16, 20, 21] {
            n += rxa.field(f).value().len();
        }
        n += rxa.field(5).component(1).value().len() + rxa.field(17).value().len();
    }
    for obx in m.all("OBX") {
        n += obx.field(3).value().len() + obx.field(5).value().len() + obx.field(4).value().len();
    }
    n
}

fn bench(c: &mut Criterion) {
    let text = vxu();
    let mut group = c.benchmark_group("vxu");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function(format!("parse ({} bytes)", text.len()), |b| {
        b.iter(|| parse(black_box(&text)).map(|m| m.segment_count()))
    });
    group.bench_function("parse and read the VXU fields", |b| {
        b.iter(|| parse(black_box(&text)).map(|m| read_vxu(&m)))
    });
    group.bench_function("parse and walk", |b| {
        b.iter(|| parse(black_box(&text)).map(|m| walk(&m)))
    });
    group.bench_function("parse and re-encode", |b| {
        b.iter(|| {
            let m = parse(black_box(&text)).expect("valid");
            let builders: Vec<_> = m
                .segments()
                .map(|s| SegmentBuilder::from_segment(&s))
                .collect();
            encode(&Delimiters::default(), &builders)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
