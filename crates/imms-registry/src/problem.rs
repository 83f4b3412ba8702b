//! A problem found in a message, in the terms of an HL7 ERR segment: where (ERR-2), what kind
//! (ERR-3, HL7 table 0357), how bad (ERR-4, table 0516), the CDC application error (ERR-5,
//! table 0533) and a sentence a person can act on (ERR-8).
//!
//! Problems never quote values from the message: ACKs are stored and logged, and the values
//! may be personal data.

/// HL7 table 0357, message error condition codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    SegmentSequence = 100,
    RequiredFieldMissing = 101,
    DataType = 102,
    TableValueNotFound = 103,
    UnsupportedMessageType = 200,
    UnsupportedEventCode = 201,
    UnsupportedProcessingId = 202,
    UnsupportedVersionId = 203,
    UnknownKeyIdentifier = 204,
    DuplicateKeyIdentifier = 205,
    ApplicationInternalError = 207,
}

impl Condition {
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The 0357 display names, as published.
    pub fn text(self) -> &'static str {
        match self {
            Condition::SegmentSequence => "Segment sequence error",
            Condition::RequiredFieldMissing => "Required field missing",
            Condition::DataType => "Data type error",
            Condition::TableValueNotFound => "Table value not found",
            Condition::UnsupportedMessageType => "Unsupported message type",
            Condition::UnsupportedEventCode => "Unsupported event code",
            Condition::UnsupportedProcessingId => "Unsupported processing ID",
            Condition::UnsupportedVersionId => "Unsupported version ID",
            Condition::UnknownKeyIdentifier => "Unknown key identifier",
            Condition::DuplicateKeyIdentifier => "Duplicate key identifier",
            Condition::ApplicationInternalError => "Application internal error",
        }
    }
}

/// CDC table 0533, application error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppError {
    IllogicalDate = 1,
    InvalidDate = 2,
    IllogicalValue = 3,
    InvalidValue = 4,
    TableValueNotFound = 5,
    RequiredObservationMissing = 6,
}

impl AppError {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn text(self) -> &'static str {
        match self {
            AppError::IllogicalDate => "Illogical Date error",
            AppError::InvalidDate => "Invalid Date",
            AppError::IllogicalValue => "Illogical Value error",
            AppError::InvalidValue => "Invalid value",
            AppError::TableValueNotFound => "Table value not found",
            AppError::RequiredObservationMissing => "Required observation missing",
        }
    }
}

/// ERR-4, table 0516.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Information,
    Warning,
    Error,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Error => "E",
            Severity::Warning => "W",
            Severity::Information => "I",
        }
    }
}

/// What a problem stops from being stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Stored as sent (warnings and information).
    Nothing,
    /// One dose (RXA group) is not stored; the rest is.
    Dose,
    /// The person cannot be identified: nothing is stored.
    Person,
    /// The message itself is unusable (header, type, version, credentials): MSA-1 AR.
    Message,
}

/// ERR-2 (ERL): segment id, its occurrence in the message, field, repetition, component.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub segment: String,
    pub occurrence: usize,
    pub field: usize,
    pub repetition: usize,
    pub component: usize,
}

impl Location {
    pub fn new(segment: &str, occurrence: usize, field: usize) -> Location {
        Location {
            segment: segment.to_string(),
            occurrence,
            field,
            repetition: 1,
            component: 0,
        }
    }

    pub fn component(mut self, component: usize) -> Location {
        self.component = component;
        self
    }

    pub fn repetition(mut self, repetition: usize) -> Location {
        self.repetition = repetition;
        self
    }

    /// "RXA-5.1" style, for people and `imms hl7 validate`.
    pub fn display(&self) -> String {
        let mut s = self.segment.clone();
        if self.occurrence > 1 {
            s.push_str(&format!("[{}]", self.occurrence));
        }
        if self.field > 0 {
            s.push_str(&format!("-{}", self.field));
            if self.component > 0 {
                s.push_str(&format!(".{}", self.component));
            }
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Location,
    pub condition: Condition,
    pub severity: Severity,
    pub app_error: Option<AppError>,
    pub scope: Scope,
    pub text: String,
}

impl Problem {
    pub fn new(
        location: Location,
        condition: Condition,
        scope: Scope,
        text: impl Into<String>,
    ) -> Problem {
        let severity = if scope == Scope::Nothing {
            Severity::Warning
        } else {
            Severity::Error
        };
        Problem {
            location,
            condition,
            severity,
            app_error: None,
            scope,
            text: text.into(),
        }
    }

    pub fn app(mut self, app_error: AppError) -> Problem {
        self.app_error = Some(app_error);
        self
    }

    pub fn informational(mut self) -> Problem {
        self.severity = Severity::Information;
        self
    }
}
