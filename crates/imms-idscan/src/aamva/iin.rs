//! Issuer Identification Numbers (IIN) of US and Canadian jurisdictions, as assigned by AAMVA.

/// The jurisdiction code (USPS state / Canada Post province) that an IIN belongs to.
pub(crate) fn jurisdiction(iin: &str) -> Option<&'static str> {
    IINS.iter().find(|(i, _)| *i == iin).map(|(_, j)| *j)
}

/// Canadian province and territory codes: their cards write dates CCYYMMDD.
pub(crate) fn is_canadian(code: &str) -> bool {
    matches!(
        code,
        "AB" | "BC" | "MB" | "NB" | "NL" | "NS" | "NT" | "NU" | "ON" | "PE" | "QC" | "SK" | "YT"
    )
}

const IINS: &[(&str, &str)] = &[
    ("636000", "VA"),
    ("636001", "NY"),
    ("636002", "MA"),
    ("636003", "MD"),
    ("636004", "NC"),
    ("636005", "SC"),
    ("636006", "CT"),
    ("636007", "LA"),
    ("636008", "MT"),
    ("636009", "NM"),
    ("636010", "FL"),
    ("636011", "DE"),
    ("636012", "ON"),
    ("636013", "NS"),
    ("636014", "CA"),
    ("636015", "TX"),
    ("636016", "NL"),
    ("636017", "NB"),
    ("636018", "IA"),
    ("636019", "GU"),
    ("636020", "CO"),
    ("636021", "AR"),
    ("636022", "KS"),
    ("636023", "OH"),
    ("636024", "VT"),
    ("636025", "PA"),
    ("636026", "AZ"),
    ("636028", "BC"),
    ("636029", "OR"),
    ("636030", "MO"),
    ("636031", "WI"),
    ("636032", "MI"),
    ("636033", "AL"),
    ("636034", "ND"),
    ("636035", "IL"),
    ("636036", "NJ"),
    ("636037", "IN"),
    ("636038", "MN"),
    ("636039", "NH"),
    ("636040", "UT"),
    ("636041", "ME"),
    ("636042", "SD"),
    ("636043", "DC"),
    ("636044", "SK"),
    ("636045", "WA"),
    ("636046", "KY"),
    ("636047", "HI"),
    ("636048", "MB"),
    ("636049", "NV"),
    ("636050", "ID"),
    ("636051", "MS"),
    ("636052", "RI"),
    ("636053", "TN"),
    ("636054", "NE"),
    ("636055", "GA"),
    ("636058", "OK"),
    ("636059", "AK"),
    ("636060", "WY"),
    ("636061", "WV"),
    ("636062", "VI"),
    ("604426", "PE"),
    ("604428", "QC"),
    ("604429", "YT"),
    ("604430", "MP"),
    ("604431", "PR"),
    ("604432", "AB"),
    ("604433", "NU"),
    ("604434", "NT"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_iins() {
        assert_eq!(jurisdiction("636000"), Some("VA"));
        assert_eq!(jurisdiction("636015"), Some("TX"));
        assert_eq!(jurisdiction("636012"), Some("ON"));
        assert_eq!(jurisdiction("999999"), None);
        assert!(is_canadian("QC"));
        assert!(!is_canadian("CA"));
    }

    #[test]
    fn no_iin_listed_twice() {
        for (i, (a, _)) in IINS.iter().enumerate() {
            assert!(IINS[i + 1..].iter().all(|(b, _)| a != b), "{a} twice");
        }
    }
}
