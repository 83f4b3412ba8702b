//! Sample messages shared by the registry's tests: a VXU as the CDC IG shows them, and ways
//! to vary it.
#![allow(dead_code)]

pub const VXU: &str = "MSH|^~\\&|MYEHR|CLINIC-1|IMMS|IMMS|20240115083000-0500||VXU^V04^VXU_V04|MSG-0001|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS\r\
PID|1||MRN-1001^^^CLINIC-1^MR||Quintero^Rosalind^Maeve^^^^L|Ferrante^Giulia^^^^^M|19800412|F||2106-3^White^CDCREC|417 Larkspur Ln^^Lansing^MI^48933-1234^USA^H||^PRN^PH^^^517^5550199|||||||||2186-5^not Hispanic or Latino^CDCREC||N|1\r\
PD1|||||||||||02^Reminder/Recall - any method^HL70215|N|20240115|||A|20240115|20240115\r\
ORC|RE||CLINIC-1-ORD-1^CLINIC-1||||||||||||||CLINIC-1^Clinic One\r\
RXA|0|1|20240115||115^Tdap^CVX|0.5|mL^milliliters^UCUM||00^New immunization record^NIP001|1234567890^Provider^Pat|^^^CLINIC-1||||TDAP-LOT-7|20251231|SKB^GlaxoSmithKline^MVX|||CP|A\r\
RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163\r\
OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^Not VFC eligible^HL70064||||||F|||20240115|||VXC40^Eligibility captured at the immunization level^CDCPHINVS\r\
ORC|RE||CLINIC-1-ORD-2^CLINIC-1\r\
RXA|0|1|19810601||03^MMR^CVX|999|||01^Historical information - source unspecified^NIP001|||||||||||CP|A\r";

/// The sample with `from` replaced by `to` (exactly once).
pub fn with(from: &str, to: &str) -> String {
    assert!(VXU.contains(from), "sample does not contain {from:?}");
    VXU.replacen(from, to, 1)
}

/// A minimal valid VXU for one person with the given control id, MRN and doses.
pub fn vxu(
    control_id: &str,
    mrn: &str,
    family: &str,
    given: &str,
    dob: &str,
    doses: &[(&str, &str, &str)],
) -> String {
    let mut m = format!(
        "MSH|^~\\&|MYEHR|CLINIC-1|IMMS|IMMS|20240115083000||VXU^V04^VXU_V04|{control_id}|P|2.5.1\r\
         PID|1||{mrn}^^^CLINIC-1^MR||{family}^{given}^^^^^L||{dob}|F|||12 Elm St^^Flint^MI^48502^USA^H\r"
    );
    for (order, date, cvx) in doses {
        m.push_str(&format!(
            "ORC|RE||{order}^CLINIC-1\rRXA|0|1|{date}||{cvx}^vaccine^CVX|0.5|mL^mL^UCUM||00^New^NIP001|||||||||||CP|A\r"
        ));
    }
    m
}
