//! [`Records`] over the registry: the registry's matcher finds the person, the record issuer
//! makes the PDF from the stored record. This is what `imms serve` plugs into the portal.

use std::sync::Arc;

use chrono::NaiveDate;
use imms_match::{Decision, Query, QueryAddress};
use imms_record::{Issuer, Lang};
use imms_registry::matching::Matcher;
use imms_registry::Ingestor;

use crate::records::{BoxFut, Found, Records, RecordsError, Search};

pub struct RegistryRecords {
    ingestor: Arc<Ingestor>,
    matcher: Matcher,
    issuer: Arc<Issuer>,
}

impl RegistryRecords {
    pub fn new(ingestor: Arc<Ingestor>, issuer: Arc<Issuer>) -> RegistryRecords {
        RegistryRecords {
            matcher: Matcher::new(ingestor.store().clone()),
            ingestor,
            issuer,
        }
    }
}

fn record_lang(code: &str) -> Lang {
    Lang::parse(code).unwrap_or(Lang::En)
}

impl Records for RegistryRecords {
    fn find<'a>(&'a self, s: &'a Search) -> BoxFut<'a, Found> {
        Box::pin(async move {
            let query = Query {
                given: s.given.clone(),
                middle: s.middle.clone(),
                family: s.family.clone(),
                suffix: s.suffix.clone(),
                birth_date: s.birth_date,
                sex: s.sex.chars().next(),
                addresses: s
                    .addresses
                    .iter()
                    .map(|a| QueryAddress {
                        street: a.street.clone(),
                        city: a.city.clone(),
                        state: a.state.clone(),
                        postal_code: a.postal_code.clone(),
                    })
                    .collect(),
                // The name is the ID's (the FAQ: it cannot be changed).
                former_family_names: Vec::new(),
            };
            match self.matcher.find(&query).await {
                Ok(Decision::Unique { person_id, .. }) => Ok(Found::Person(person_id)),
                Ok(Decision::NoUniqueMatch { reason }) => {
                    tracing::info!(reason = ?reason, "portal search: no unique match");
                    Ok(Found::NoUniqueMatch)
                }
                Err(e) => Err(RecordsError(format!("matching: {e}"))),
            }
        })
    }

    fn pdf<'a>(
        &'a self,
        person_id: i64,
        lang: &'a str,
        issued_on: NaiveDate,
    ) -> BoxFut<'a, Vec<u8>> {
        Box::pin(async move {
            let record = self
                .ingestor
                .store()
                .person_record(person_id)
                .await
                .map_err(|e| RecordsError(format!("reading person {person_id}: {e}")))?
                .ok_or_else(|| RecordsError(format!("person {person_id} is gone")))?;
            let names = self
                .ingestor
                .store()
                .facility_names()
                .await
                .map_err(|e| RecordsError(format!("reading facilities: {e}")))?;
            let input = imms_registry::record_input::to_record_input_with_facilities(
                &record,
                self.ingestor.codes(),
                &names,
            );
            drop(record);
            let issuer = self.issuer.clone();
            let lang = record_lang(lang);
            tokio::task::spawn_blocking(move || issuer.pdf(&input, lang, issued_on))
                .await
                .map_err(|e| RecordsError(format!("record task: {e}")))?
                .map_err(|e| RecordsError(e.to_string()))
        })
    }

    fn guide_html(&self, lang: &str) -> (String, String) {
        let lang = record_lang(lang);
        (
            lang.code().to_string(),
            imms_record::guide::html(lang).to_string(),
        )
    }
}
