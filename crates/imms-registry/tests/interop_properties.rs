//! Property tests for what the transports read from strangers: SOAP envelopes and QBP
//! queries. Whatever arrives, reading answers (an error is an answer) and never panics;
//! what our own writer escapes reads back unchanged.

use chrono::NaiveDate;
use imms_registry::query::request::read_query;
use imms_registry::soap::envelope::{read_reply, read_request, submit_single_message, Request};
use proptest::prelude::*;

const ENV_START: &str = "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><submitSingleMessage xmlns=\"urn:cdc:iisb:2011\"><hl7Message>";
const ENV_END: &str = "</hl7Message></submitSingleMessage></s:Body></s:Envelope>";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_answered(xml in ".{0,400}") {
        let _ = read_request(&xml);
        let _ = read_reply(&xml);
    }

    #[test]
    fn any_text_inside_an_envelope_is_answered(body in "[<>&;!\\[\\]A-Za-z0-9 =\"'/#x:]{0,200}") {
        let _ = read_request(&format!("{ENV_START}{body}{ENV_END}"));
    }

    #[test]
    fn what_we_write_reads_back(
        user in "[ -~]{0,30}",
        password in "[ -~]{0,30}",
        message in "[ -~\r\n\t\u{a0}-\u{17f}]{0,300}",
    ) {
        let xml = submit_single_message(&user, &password, "F", &message);
        match read_request(&xml) {
            Ok(Request::SubmitSingleMessage { username, password: p, hl7_message, .. }) => {
                prop_assert_eq!(username, user);
                prop_assert_eq!(p, password);
                prop_assert_eq!(hl7_message, message);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn any_query_parameters_are_answered(qpd in "[A-Za-z0-9|^~&\\\\ .\\-]{0,300}", rcp in "[A-Za-z0-9|^&]{0,40}") {
        let raw = format!(
            "MSH|^~\\&|EHR|C1|IMMS|IMMS|20240601||QBP^Q11^QBP_Q11|Q1|P|2.5.1\rQPD|Z34^x^CDCPHINVS|{qpd}\rRCP|{rcp}\r"
        );
        if let Ok(m) = imms_hl7::parse(&raw) {
            let q = read_query(&m, NaiveDate::from_ymd_opt(2024, 6, 1).unwrap());
            prop_assert!(q.tag.chars().count() <= 32);
        }
    }
}
