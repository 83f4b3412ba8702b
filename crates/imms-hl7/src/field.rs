//! Fields, repetitions and components: views into a segment, split on demand.

use std::borrow::Cow;

use crate::escape::unescape;
use crate::split::{self, SplitOn};
use crate::Delimiters;

/// The HL7 explicit null: the value must be deleted at the receiver.
const NULL: &str = "\"\"";

/// The separators a view splits on. For a literal view (MSH-1, MSH-2, a segment id) every
/// separator is the field separator, which cannot occur inside a field, so nothing splits.
#[derive(Debug, Clone, Copy)]
struct View<'a> {
    raw: &'a str,
    delimiters: Delimiters,
    literal: bool,
}

impl<'a> View<'a> {
    fn repetition_separator(&self) -> char {
        if self.literal {
            self.delimiters.field
        } else {
            self.delimiters.repetition
        }
    }

    fn component_separator(&self) -> char {
        if self.literal {
            self.delimiters.field
        } else {
            self.delimiters.component
        }
    }

    fn subcomponent_separator(&self) -> char {
        if self.literal {
            self.delimiters.field
        } else {
            self.delimiters.subcomponent
        }
    }

    fn with_raw(self, raw: &'a str) -> Self {
        View { raw, ..self }
    }

    /// The unescaped text of the first sub-component of the first component of the first
    /// repetition.
    fn value(&self) -> Cow<'a, str> {
        if self.literal {
            return Cow::Borrowed(self.raw);
        }
        let d = &self.delimiters;
        let end = if d.repetition.is_ascii() && d.component.is_ascii() && d.subcomponent.is_ascii()
        {
            let (r, c, s) = (d.repetition as u8, d.component as u8, d.subcomponent as u8);
            let bytes = self.raw.as_bytes();
            let is_separator = |&b: &u8| b == r || b == c || b == s;
            match bytes.get(split::SHORT..) {
                None => bytes.iter().position(is_separator),
                Some(rest) => match bytes[..split::SHORT].iter().position(is_separator) {
                    Some(i) => Some(i),
                    None => memchr::memchr3(r, c, s, rest).map(|i| i + split::SHORT),
                },
            }
        } else {
            self.raw.find([d.repetition, d.component, d.subcomponent])
        };
        unescape(&self.raw[..end.unwrap_or(self.raw.len())], d)
    }
}

/// Piece `n` (1-based) of `raw` split on `sep`; empty when absent.
fn nth(raw: &str, sep: char, n: usize) -> &str {
    match n.checked_sub(1) {
        Some(i) => split::nth(raw, sep, i),
        None => "",
    }
}

/// How many pieces `raw` splits into on `sep`; 0 when `raw` is empty.
fn count(raw: &str, sep: char) -> usize {
    if raw.is_empty() {
        0
    } else {
        split::count(raw, sep) + 1
    }
}

/// Splits `raw` on `sep`, yielding nothing for an empty `raw`.
fn pieces(raw: &str, sep: char) -> Option<SplitOn<'_>> {
    (!raw.is_empty()).then(|| SplitOn::new(raw, sep))
}

/// A field of a segment, with all its repetitions.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    view: View<'a>,
}

impl<'a> Field<'a> {
    pub(crate) fn new(raw: &'a str, delimiters: Delimiters) -> Self {
        Field {
            view: View {
                raw,
                delimiters,
                literal: false,
            },
        }
    }

    /// A field that is read as is: never split, never unescaped (MSH-1, MSH-2, the id).
    pub(crate) fn literal(raw: &'a str, delimiters: Delimiters) -> Self {
        Field {
            view: View {
                raw,
                delimiters,
                literal: true,
            },
        }
    }

    /// The field as received, escapes and all.
    pub fn raw(&self) -> &'a str {
        self.view.raw
    }

    /// Whether the field is absent or empty (not the same as the explicit null `""`).
    pub fn is_empty(&self) -> bool {
        self.view.raw.is_empty()
    }

    /// Whether the field is the HL7 explicit null `""`: the sender asks to delete the value.
    pub fn is_null(&self) -> bool {
        self.view.raw == NULL
    }

    /// The repetitions, in order; none when the field is empty.
    pub fn repetitions(&self) -> Repetitions<'a> {
        Repetitions {
            split: pieces(self.view.raw, self.view.repetition_separator()),
            view: self.view,
        }
    }

    /// How many repetitions the field has; 0 when it is empty.
    pub fn repetition_count(&self) -> usize {
        count(self.view.raw, self.view.repetition_separator())
    }

    /// Repetition `n`, from 1; empty when absent.
    pub fn rep(&self, n: usize) -> Repetition<'a> {
        let raw = nth(self.view.raw, self.view.repetition_separator(), n);
        Repetition {
            view: self.view.with_raw(raw),
        }
    }

    /// Component `n` (from 1) of the first repetition; empty when absent.
    pub fn component(&self, n: usize) -> Component<'a> {
        self.rep(1).component(n)
    }

    /// The unescaped text of the first repetition's first component's first sub-component:
    /// the whole value of a simple field such as PID-7.
    pub fn value(&self) -> Cow<'a, str> {
        self.view.value()
    }
}

/// One repetition of a field.
#[derive(Debug, Clone, Copy)]
pub struct Repetition<'a> {
    view: View<'a>,
}

impl<'a> Repetition<'a> {
    /// The repetition as received.
    pub fn raw(&self) -> &'a str {
        self.view.raw
    }

    /// Whether the repetition is empty.
    pub fn is_empty(&self) -> bool {
        self.view.raw.is_empty()
    }

    /// Whether the repetition is the explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.view.raw == NULL
    }

    /// The components, in order; none when the repetition is empty.
    pub fn components(&self) -> Components<'a> {
        Components {
            split: pieces(self.view.raw, self.view.component_separator()),
            view: self.view,
        }
    }

    /// How many components the repetition has; 0 when it is empty.
    pub fn component_count(&self) -> usize {
        count(self.view.raw, self.view.component_separator())
    }

    /// Component `n`, from 1; empty when absent.
    pub fn component(&self, n: usize) -> Component<'a> {
        let raw = nth(self.view.raw, self.view.component_separator(), n);
        Component {
            view: self.view.with_raw(raw),
        }
    }

    /// The unescaped text of the first component's first sub-component.
    pub fn value(&self) -> Cow<'a, str> {
        self.view.value()
    }
}

/// One component of a repetition, possibly made of sub-components.
#[derive(Debug, Clone, Copy)]
pub struct Component<'a> {
    view: View<'a>,
}

impl<'a> Component<'a> {
    /// The component as received.
    pub fn raw(&self) -> &'a str {
        self.view.raw
    }

    /// Whether the component is empty.
    pub fn is_empty(&self) -> bool {
        self.view.raw.is_empty()
    }

    /// Whether the component is the explicit null `""`.
    pub fn is_null(&self) -> bool {
        self.view.raw == NULL
    }

    /// Sub-component `n` (from 1) as received, escapes and all; empty when absent.
    pub fn subcomponent(&self, n: usize) -> &'a str {
        nth(self.view.raw, self.view.subcomponent_separator(), n)
    }

    /// Sub-component `n` (from 1), unescaped; empty when absent.
    pub fn subcomponent_value(&self, n: usize) -> Cow<'a, str> {
        self.view.with_raw(self.subcomponent(n)).value()
    }

    /// The sub-components as received, in order; none when the component is empty.
    pub fn subcomponents(&self) -> Subcomponents<'a> {
        Subcomponents {
            split: pieces(self.view.raw, self.view.subcomponent_separator()),
        }
    }

    /// How many sub-components the component has; 0 when it is empty.
    pub fn subcomponent_count(&self) -> usize {
        count(self.view.raw, self.view.subcomponent_separator())
    }

    /// The unescaped first sub-component (the whole component when it has no
    /// sub-components).
    pub fn value(&self) -> Cow<'a, str> {
        self.view.value()
    }
}

/// Iterator over a field's repetitions, from [`Field::repetitions`].
#[derive(Debug, Clone)]
pub struct Repetitions<'a> {
    split: Option<SplitOn<'a>>,
    view: View<'a>,
}

impl<'a> Iterator for Repetitions<'a> {
    type Item = Repetition<'a>;

    fn next(&mut self) -> Option<Repetition<'a>> {
        let raw = self.split.as_mut()?.next()?;
        Some(Repetition {
            view: self.view.with_raw(raw),
        })
    }
}

/// Iterator over a repetition's components, from [`Repetition::components`].
#[derive(Debug, Clone)]
pub struct Components<'a> {
    split: Option<SplitOn<'a>>,
    view: View<'a>,
}

impl<'a> Iterator for Components<'a> {
    type Item = Component<'a>;

    fn next(&mut self) -> Option<Component<'a>> {
        let raw = self.split.as_mut()?.next()?;
        Some(Component {
            view: self.view.with_raw(raw),
        })
    }
}

/// Iterator over a component's raw sub-components, from [`Component::subcomponents`].
#[derive(Debug, Clone)]
pub struct Subcomponents<'a> {
    split: Option<SplitOn<'a>>,
}

impl<'a> Iterator for Subcomponents<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.split.as_mut()?.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(raw: &str) -> Field<'_> {
        Field::new(raw, Delimiters::default())
    }

    #[test]
    fn empty_field() {
        let f = field("");
        assert!(f.is_empty());
        assert!(!f.is_null());
        assert_eq!(f.repetition_count(), 0);
        assert_eq!(f.repetitions().count(), 0);
        assert!(f.rep(1).is_empty());
        assert_eq!(f.rep(1).component_count(), 0);
        assert!(f.component(1).is_empty());
        assert_eq!(f.component(1).subcomponent_count(), 0);
        assert_eq!(f.component(1).subcomponents().count(), 0);
        assert_eq!(f.value(), "");
    }

    #[test]
    fn explicit_null() {
        let f = field("\"\"");
        assert!(f.is_null());
        assert!(!f.is_empty());
        assert_eq!(f.value(), "\"\"");
        let f = field("\"\"^X~Y");
        assert!(!f.is_null());
        assert!(f.rep(1).component(1).is_null());
        assert!(!f.rep(2).is_null());
        assert!(field("A~\"\"").rep(2).is_null());
    }

    #[test]
    fn structure() {
        // An XCN with a sub-componented assigning authority, repeated.
        let f = field("I-23432^Burden^Donna^A^^^^^NIST-AA-1&2.16.840.1.113883&ISO~7832^Lemon");
        assert_eq!(f.repetition_count(), 2);
        assert_eq!(f.value(), "I-23432");
        let first = f.rep(1);
        assert_eq!(first.component_count(), 9);
        assert_eq!(first.component(2).value(), "Burden");
        assert!(first.component(5).is_empty());
        assert!(first.component(10).is_empty());
        assert!(first.component(0).is_empty());
        let aa = first.component(9);
        assert_eq!(aa.subcomponent_count(), 3);
        assert_eq!(aa.subcomponent(1), "NIST-AA-1");
        assert_eq!(aa.subcomponent(2), "2.16.840.1.113883");
        assert_eq!(aa.subcomponent(3), "ISO");
        assert_eq!(aa.subcomponent(4), "");
        assert_eq!(aa.subcomponent(0), "");
        assert_eq!(aa.value(), "NIST-AA-1");
        assert_eq!(
            aa.subcomponents().collect::<Vec<_>>(),
            ["NIST-AA-1", "2.16.840.1.113883", "ISO"]
        );
        assert_eq!(f.rep(2).value(), "7832");
        assert_eq!(f.rep(2).component(2).value(), "Lemon");
        assert!(f.rep(3).is_empty());
        assert!(f.rep(0).is_empty());
        let comps: Vec<_> = f.rep(2).components().map(|c| c.raw()).collect();
        assert_eq!(comps, ["7832", "Lemon"]);
        let reps: Vec<_> = f.repetitions().map(|r| r.component(1).raw()).collect();
        assert_eq!(reps, ["I-23432", "7832"]);
    }

    #[test]
    fn empty_repetitions_are_kept() {
        let f = field("~B~");
        assert_eq!(f.repetition_count(), 3);
        let reps: Vec<_> = f.repetitions().map(|r| r.raw()).collect();
        assert_eq!(reps, ["", "B", ""]);
    }

    #[test]
    fn values_are_unescaped_after_splitting() {
        let f = field(r"Smith\S\Jones^O\T\Brien&x\F\y~\R\");
        assert_eq!(f.value(), "Smith^Jones");
        assert_eq!(f.component(2).value(), "O&Brien");
        assert_eq!(f.component(2).subcomponent(2), r"x\F\y");
        assert_eq!(f.component(2).subcomponent_value(2), "x|y");
        assert_eq!(f.rep(2).value(), "~");
        assert!(matches!(field("plain").value(), Cow::Borrowed("plain")));
    }

    #[test]
    fn literal_fields_do_not_split() {
        let f = Field::literal("^~\\&", Delimiters::default());
        assert_eq!(f.repetition_count(), 1);
        assert_eq!(f.rep(1).component_count(), 1);
        assert_eq!(f.component(1).subcomponent_count(), 1);
        assert_eq!(f.value(), "^~\\&");
        assert_eq!(f.component(1).value(), "^~\\&");
        assert_eq!(f.component(1).subcomponent_value(1), "^~\\&");
    }
}
