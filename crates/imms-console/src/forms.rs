//! The console's forms as submitted, and their checks. Every text field has a length limit;
//! codes must come from the code tables; dates must be real and not in the future. A form
//! that fails comes back with its values and one message per field.

use chrono::NaiveDate;
use imms_core::CodeTables;
use imms_registry::store::corrections::DoseFields;
use imms_registry::store::lookup::LookupQuery;
use serde::Deserialize;

use crate::choices::Choices;

/// Longest lot number, amount, and provider text accepted.
pub const MAX_LOT: usize = 50;
pub const MAX_SHORT: usize = 20;
pub const MAX_PROVIDER: usize = 100;
/// Longest name, street, phone or identifier typed into the search.
pub const MAX_SEARCH_FIELD: usize = 100;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchForm {
    pub csrf: String,
    pub family_name: String,
    pub given_name: String,
    pub birth_date: String,
    pub street: String,
    pub postal_code: String,
    pub phone: String,
    pub identifier: String,
}

/// A field's problem, shown beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn too_long(field: &'static str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    if value.chars().count() > max {
        errors.push(FieldError {
            field,
            message: format!("Use at most {max} characters."),
        });
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError {
            field,
            message: "Remove the control characters.".into(),
        });
    }
}

fn date(
    field: &'static str,
    value: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<NaiveDate> {
    let v = value.trim();
    if v.is_empty() {
        if required {
            errors.push(FieldError {
                field,
                message: "Enter a date as YYYY-MM-DD.".into(),
            });
        }
        return None;
    }
    match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) if d.format("%Y-%m-%d").to_string() == v => Some(d),
        _ => {
            errors.push(FieldError {
                field,
                message: "Enter a real date as YYYY-MM-DD, for example 2021-04-30.".into(),
            });
            None
        }
    }
}

impl SearchForm {
    pub fn query(&self, today: NaiveDate) -> Result<LookupQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (field, v) in [
            ("family_name", &self.family_name),
            ("given_name", &self.given_name),
            ("street", &self.street),
            ("postal_code", &self.postal_code),
            ("phone", &self.phone),
            ("identifier", &self.identifier),
        ] {
            too_long(field, v, MAX_SEARCH_FIELD, &mut errors);
        }
        if let Some(d) = date("birth_date", &self.birth_date, false, &mut errors) {
            if d > today {
                errors.push(FieldError {
                    field: "birth_date",
                    message: "The date of birth is in the future.".into(),
                });
            }
        }
        let has_family = !self.family_name.trim().is_empty();
        let has_given = !self.given_name.trim().is_empty();
        let name_and_dob = (has_family || has_given) && !self.birth_date.trim().is_empty();
        let full_name = has_family && has_given;
        let has_id = !self.identifier.trim().is_empty();
        if !(has_id || name_and_dob || full_name) {
            errors.push(FieldError {
                field: "family_name",
                message: "Enter a name and the date of birth, the full name, or an identifier."
                    .into(),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(LookupQuery {
            family_name: self.family_name.trim().to_string(),
            given_name: self.given_name.trim().to_string(),
            birth_date: self.birth_date.trim().to_string(),
            street: self.street.trim().to_string(),
            postal_code: self.postal_code.trim().to_string(),
            phone: self.phone.trim().to_string(),
            identifier: self.identifier.trim().to_string(),
        })
    }
}

/// The add-a-dose and correct-a-dose form.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DoseForm {
    pub csrf: String,
    /// The revision the correction was made from (corrections only).
    pub revision: String,
    pub administered_date: String,
    pub cvx: String,
    pub mvx: String,
    pub lot_number: String,
    pub expiration_date: String,
    pub amount: String,
    pub amount_unit: String,
    pub route: String,
    pub site: String,
    pub administering_provider: String,
    pub information_source: String,
    pub completion_status: String,
    pub reason: String,
}

fn opt(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

impl DoseForm {
    pub fn from_fields(f: &DoseFields) -> DoseForm {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        DoseForm {
            administered_date: f.administered_date.clone(),
            cvx: f.cvx.clone(),
            mvx: s(&f.mvx),
            lot_number: s(&f.lot_number),
            expiration_date: s(&f.expiration_date),
            amount: s(&f.amount),
            amount_unit: s(&f.amount_unit),
            route: s(&f.route),
            site: s(&f.site),
            administering_provider: s(&f.administering_provider),
            information_source: f.information_source.clone(),
            completion_status: f.completion_status.clone(),
            ..DoseForm::default()
        }
    }

    /// The dose's fields, checked against the code tables and the person's date of birth.
    pub fn fields(
        &self,
        codes: &CodeTables,
        choices: &Choices,
        birth_date: &str,
        today: NaiveDate,
    ) -> Result<DoseFields, Vec<FieldError>> {
        let mut errors = Vec::new();
        let given = date(
            "administered_date",
            &self.administered_date,
            true,
            &mut errors,
        );
        if let Some(d) = given {
            if d > today {
                errors.push(FieldError {
                    field: "administered_date",
                    message: "The date given is in the future.".into(),
                });
            }
            if let Ok(born) = NaiveDate::parse_from_str(birth_date, "%Y-%m-%d") {
                if d < born {
                    errors.push(FieldError {
                        field: "administered_date",
                        message: "The date given is before the person's date of birth.".into(),
                    });
                }
            }
        }
        date("expiration_date", &self.expiration_date, false, &mut errors);
        if codes.cvx(self.cvx.trim()).is_none() {
            errors.push(FieldError {
                field: "cvx",
                message: "Choose a vaccine from the list.".into(),
            });
        }
        if let Some(m) = opt(&self.mvx) {
            if codes.mvx(&m).is_none() {
                errors.push(FieldError {
                    field: "mvx",
                    message: "Enter a manufacturer's MVX code (for example PFR or MSD), or leave it empty.".into(),
                });
            }
        }
        too_long("lot_number", &self.lot_number, MAX_LOT, &mut errors);
        too_long("amount", &self.amount, MAX_SHORT, &mut errors);
        too_long("amount_unit", &self.amount_unit, MAX_SHORT, &mut errors);
        too_long(
            "administering_provider",
            &self.administering_provider,
            MAX_PROVIDER,
            &mut errors,
        );
        if let Some(a) = opt(&self.amount) {
            if a != "999"
                && a.parse::<f64>()
                    .map(|x| !(x > 0.0 && x < 1000.0))
                    .unwrap_or(true)
            {
                errors.push(FieldError {
                    field: "amount",
                    message: "Enter the amount as a number, for example 0.5, or leave it empty."
                        .into(),
                });
            }
        }
        for (field, value, list, what) in [
            ("route", &self.route, &choices.routes, "route"),
            ("site", &self.site, &choices.sites, "site"),
        ] {
            if let Some(v) = opt(value) {
                if !Choices::has(list, &v) {
                    errors.push(FieldError {
                        field,
                        message: format!("Choose a {what} from the list, or leave it empty."),
                    });
                }
            }
        }
        if !Choices::has(&choices.sources, self.information_source.trim()) {
            errors.push(FieldError {
                field: "information_source",
                message: "Choose where the information comes from.".into(),
            });
        }
        if !Choices::has(&choices.statuses, self.completion_status.trim()) {
            errors.push(FieldError {
                field: "completion_status",
                message: "Choose a completion status.".into(),
            });
        }
        reason_check(&self.reason, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(DoseFields {
            administered_date: self.administered_date.trim().to_string(),
            cvx: self.cvx.trim().to_string(),
            mvx: opt(&self.mvx).map(|m| m.to_uppercase()),
            lot_number: opt(&self.lot_number),
            expiration_date: opt(&self.expiration_date),
            amount: opt(&self.amount),
            amount_unit: opt(&self.amount_unit),
            route: opt(&self.route),
            site: opt(&self.site),
            administering_provider: opt(&self.administering_provider),
            information_source: self.information_source.trim().to_string(),
            completion_status: self.completion_status.trim().to_string(),
        })
    }
}

pub fn reason_check(reason: &str, errors: &mut Vec<FieldError>) {
    if let Err(e) = imms_registry::store::changes::check_reason(reason) {
        errors.push(FieldError {
            field: "reason",
            message: e.to_string(),
        });
    }
}

/// A form whose only content is a reason (entered in error, merge, not the same person,
/// undo a merge).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReasonForm {
    pub csrf: String,
    pub revision: String,
    pub reason: String,
    /// For a merge: the person who stays.
    pub survivor: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StaffForm {
    pub csrf: String,
    pub user_id: String,
    pub facility_id: String,
    pub role: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrganizationForm {
    pub csrf: String,
    pub facility_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> DoseForm {
        DoseForm {
            administered_date: "2020-05-01".into(),
            cvx: "115".into(),
            information_source: "01".into(),
            completion_status: "CP".into(),
            reason: "paper card".into(),
            ..DoseForm::default()
        }
    }

    fn check(f: &DoseForm) -> Result<DoseFields, Vec<FieldError>> {
        let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        f.fields(
            &CodeTables::embedded(),
            &Choices::embedded(),
            "1980-01-01",
            today,
        )
    }

    #[test]
    fn a_good_dose_passes() {
        let d = check(&good()).unwrap();
        assert_eq!(d.cvx, "115");
        assert_eq!(d.lot_number, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut f = good();
        f.administered_date = "2020-02-30".into();
        f.cvx = "XYZ".into();
        f.lot_number = "L".repeat(MAX_LOT + 1);
        f.reason = "r".repeat(501);
        f.route = "C99999".into();
        let errs = check(&f).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["administered_date", "cvx", "lot_number", "route", "reason"]
        );
    }

    #[test]
    fn dates_before_birth_or_in_the_future_are_refused() {
        let mut f = good();
        f.administered_date = "1979-12-31".into();
        assert!(check(&f).is_err());
        f.administered_date = "2024-01-02".into();
        assert!(check(&f).is_err());
    }

    #[test]
    fn search_needs_name_and_dob_or_identifier() {
        let today = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        let f = SearchForm {
            family_name: "Quintero".into(),
            ..SearchForm::default()
        };
        assert!(f.query(today).is_err());
        let f = SearchForm {
            family_name: "Quintero".into(),
            birth_date: "1980-04-12".into(),
            ..SearchForm::default()
        };
        assert!(f.query(today).is_ok());
        let f = SearchForm {
            identifier: "CLINIC-1:MRN-1".into(),
            ..SearchForm::default()
        };
        assert!(f.query(today).is_ok());
    }
}
