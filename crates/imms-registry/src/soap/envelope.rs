//! SOAP 1.2 envelopes of the CDC IIS web service, read and written with quick-xml.
//!
//! Reading is strict and bounded: a document type declaration (and so any entity
//! definition, external or not) is refused before anything else is read; references other
//! than XML's five predefined entities and character references are refused; nesting and
//! element counts are capped. quick-xml never fetches or expands external entities, and no
//! text is produced beyond what the (size-limited) input holds, so XXE and
//! "billion laughs" cost nothing.
//!
//! Writing goes through quick-xml's writer: values are escaped by the crate, never pasted
//! into markup.

use std::io::Cursor;

use quick_xml::escape::escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Writer};

pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
pub const CDC_NS: &str = "urn:cdc:iisb:2011";

/// Deepest element nesting read.
const MAX_DEPTH: usize = 16;
/// Most elements read from one envelope.
const MAX_ELEMENTS: usize = 256;

/// A request's operation, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    ConnectivityTest {
        echo_back: String,
    },
    SubmitSingleMessage {
        username: String,
        password: String,
        facility_id: String,
        hl7_message: String,
    },
    /// Another element in the body: its local name and namespace (for the fault's text).
    Unsupported {
        name: String,
    },
}

/// Why an envelope could not be read (becomes an UnknownFault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the request is not well-formed XML")]
    Malformed,
    #[error("document type declarations (DTDs) and entity definitions are not accepted")]
    DocType,
    #[error("entity references other than XML's predefined ones are not accepted")]
    Entity,
    #[error("the request nests elements too deeply or holds too many")]
    TooComplex,
    #[error("the request is not a SOAP 1.2 envelope (namespace http://www.w3.org/2003/05/soap-envelope)")]
    NotSoap12,
    #[error("the SOAP envelope has no Body")]
    NoBody,
}

fn ns_of(r: &ResolveResult<'_>) -> Option<String> {
    match r {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        _ => None,
    }
}

fn predefined(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

/// Reads a SOAP 1.2 request of the CDC service.
pub fn read_request(xml: &str) -> Result<Request, EnvelopeError> {
    let mut reader = NsReader::from_str(xml);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    // Path of (namespace, local name) from the root.
    let mut path: Vec<(Option<String>, String)> = Vec::new();
    let mut elements = 0usize;
    let mut operation: Option<(Option<String>, String)> = None;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut text = String::new();
    let mut saw_envelope = false;
    let mut saw_body = false;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|_| EnvelopeError::Malformed)?;
        let ns = ns_of(&resolved);
        match event {
            Event::DocType(_) => return Err(EnvelopeError::DocType),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > MAX_ELEMENTS || path.len() >= MAX_DEPTH {
                    return Err(EnvelopeError::TooComplex);
                }
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match path.len() {
                    0 => {
                        if local != "Envelope" || ns.as_deref() != Some(SOAP12_NS) {
                            return Err(EnvelopeError::NotSoap12);
                        }
                        saw_envelope = true;
                    }
                    1 if local == "Body" && ns.as_deref() == Some(SOAP12_NS) => {
                        saw_body = true;
                    }
                    2 if path[1].1 == "Body" && operation.is_none() => {
                        operation = Some((ns.clone(), local.clone()));
                    }
                    3 if operation.is_some() && path[1].1 == "Body" => {
                        text.clear();
                    }
                    _ => {}
                }
                if empty {
                    if path.len() == 3 && path[1].1 == "Body" {
                        fields.push((local, String::new()));
                    }
                } else {
                    path.push((ns, local));
                }
            }
            Event::End(_) => {
                let Some((_, local)) = path.pop() else {
                    return Err(EnvelopeError::Malformed);
                };
                if path.len() == 3 && path[1].1 == "Body" {
                    fields.push((local, std::mem::take(&mut text)));
                }
            }
            Event::Text(t) => {
                if path.len() == 4 && path[1].1 == "Body" {
                    text.push_str(&t.decode().map_err(|_| EnvelopeError::Malformed)?);
                }
            }
            Event::CData(c) => {
                if path.len() == 4 && path[1].1 == "Body" {
                    text.push_str(&c.decode().map_err(|_| EnvelopeError::Malformed)?);
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|_| EnvelopeError::Entity)?
                        .ok_or(EnvelopeError::Entity)?
                } else {
                    let name = r.decode().map_err(|_| EnvelopeError::Malformed)?;
                    predefined(&name).ok_or(EnvelopeError::Entity)?
                };
                if path.len() == 4 && path[1].1 == "Body" {
                    text.push(c);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !path.is_empty() || !saw_envelope {
        return Err(EnvelopeError::Malformed);
    }
    if !saw_body {
        return Err(EnvelopeError::NoBody);
    }
    let Some((ns, name)) = operation else {
        return Err(EnvelopeError::NoBody);
    };
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(match (ns.as_deref(), name.as_str()) {
        (Some(CDC_NS), "connectivityTest") => Request::ConnectivityTest {
            echo_back: get("echoBack"),
        },
        (Some(CDC_NS), "submitSingleMessage") => Request::SubmitSingleMessage {
            username: get("username"),
            password: get("password"),
            facility_id: get("facilityID"),
            hl7_message: get("hl7Message"),
        },
        _ => Request::Unsupported { name },
    })
}

/// The four faults the CDC WSDL defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Unknown,
    Security,
    MessageTooLarge,
    UnsupportedOperation,
}

impl FaultKind {
    /// The detail element's name in the WSDL.
    pub fn element(self) -> &'static str {
        match self {
            FaultKind::Unknown => "fault",
            FaultKind::Security => "SecurityFault",
            FaultKind::MessageTooLarge => "MessageTooLargeFault",
            FaultKind::UnsupportedOperation => "UnsupportedOperationFault",
        }
    }

    /// The fault's name in the WSDL's port type.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Unknown => "UnknownFault",
            FaultKind::Security => "SecurityFault",
            FaultKind::MessageTooLarge => "MessageTooLargeFault",
            FaultKind::UnsupportedOperation => "UnsupportedOperationFault",
        }
    }

    /// The Code inside the detail.
    pub fn code(self) -> u32 {
        match self {
            FaultKind::Unknown => 0,
            FaultKind::Security => 10,
            FaultKind::UnsupportedOperation => 20,
            FaultKind::MessageTooLarge => 30,
        }
    }

    /// SOAP 1.2 env:Code value: whose fault it is.
    pub fn soap_code(self) -> &'static str {
        match self {
            FaultKind::Unknown => "soap:Receiver",
            _ => "soap:Sender",
        }
    }
}

/// A fault to send: its kind, a sentence for people, and the sizes for MessageTooLarge.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub reason: String,
    pub detail: String,
    pub sizes: Option<(usize, usize)>,
}

impl Fault {
    pub fn new(kind: FaultKind, reason: &str, detail: &str) -> Fault {
        Fault {
            kind,
            reason: reason.to_string(),
            detail: detail.to_string(),
            sizes: None,
        }
    }
}

/// Escapes text for XML content, writing CR as a character reference so that HL7 segment
/// ends survive XML end-of-line normalisation.
fn text(value: &str) -> BytesText<'static> {
    let escaped = escape(value).replace('\r', "&#13;");
    BytesText::from_escaped(escaped)
}

type W = Writer<Cursor<Vec<u8>>>;

fn start(w: &mut W, name: &str, attrs: &[(&str, &str)]) {
    let mut s = BytesStart::new(name);
    for a in attrs {
        s.push_attribute(*a);
    }
    w.write_event(Event::Start(s)).expect("writing to memory");
}

fn end(w: &mut W, name: &str) {
    w.write_event(Event::End(BytesEnd::new(name)))
        .expect("writing to memory");
}

fn leaf(w: &mut W, name: &str, value: &str) {
    start(w, name, &[]);
    w.write_event(Event::Text(text(value)))
        .expect("writing to memory");
    end(w, name);
}

fn envelope(body: impl FnOnce(&mut W)) -> String {
    let mut w = Writer::new(Cursor::new(Vec::new()));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .expect("writing to memory");
    start(&mut w, "soap:Envelope", &[("xmlns:soap", SOAP12_NS)]);
    start(&mut w, "soap:Body", &[]);
    body(&mut w);
    end(&mut w, "soap:Body");
    end(&mut w, "soap:Envelope");
    String::from_utf8(w.into_inner().into_inner()).expect("UTF-8 in, UTF-8 out")
}

/// `<{operation}Response><return>…</return></…>`.
pub fn response(operation: &str, value: &str) -> String {
    let name = format!("{operation}Response");
    envelope(|w| {
        start(w, &name, &[("xmlns", CDC_NS)]);
        leaf(w, "return", value);
        end(w, &name);
    })
}

/// A SOAP 1.2 fault with the CDC detail element.
pub fn fault(f: &Fault) -> String {
    envelope(|w| {
        start(w, "soap:Fault", &[]);
        start(w, "soap:Code", &[]);
        leaf(w, "soap:Value", f.kind.soap_code());
        end(w, "soap:Code");
        start(w, "soap:Reason", &[]);
        start(w, "soap:Text", &[("xml:lang", "en")]);
        w.write_event(Event::Text(text(&f.reason)))
            .expect("writing to memory");
        end(w, "soap:Text");
        end(w, "soap:Reason");
        start(w, "soap:Detail", &[]);
        let el = f.kind.element();
        start(w, el, &[("xmlns", CDC_NS)]);
        leaf(w, "Code", &f.kind.code().to_string());
        leaf(w, "Reason", f.kind.name());
        leaf(w, "Detail", &f.detail);
        if let Some((size, max)) = f.sizes {
            leaf(w, "Size", &size.to_string());
            leaf(w, "MaxSize", &max.to_string());
        }
        end(w, el);
        end(w, "soap:Detail");
        end(w, "soap:Fault");
    })
}

/// A request envelope, for `imms hl7 send --to soap+URL`.
pub fn submit_single_message(
    username: &str,
    password: &str,
    facility_id: &str,
    hl7_message: &str,
) -> String {
    envelope(|w| {
        start(w, "submitSingleMessage", &[("xmlns", CDC_NS)]);
        leaf(w, "username", username);
        leaf(w, "password", password);
        leaf(w, "facilityID", facility_id);
        leaf(w, "hl7Message", hl7_message);
        end(w, "submitSingleMessage");
    })
}

/// What a service answered: the `return` text, or a fault (its WSDL name and reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Return(String),
    Fault { name: String, reason: String },
}

/// Reads a response envelope (the client side of `imms hl7 send`).
pub fn read_reply(xml: &str) -> Result<Reply, EnvelopeError> {
    let mut reader = NsReader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut reason = String::new();
    let mut fault_name: Option<String> = None;
    let mut in_return = false;
    let mut in_reason = false;
    let mut elements = 0usize;
    loop {
        let (_, event) = reader
            .read_resolved_event()
            .map_err(|_| EnvelopeError::Malformed)?;
        match event {
            Event::DocType(_) => return Err(EnvelopeError::DocType),
            Event::Start(e) => {
                elements += 1;
                if elements > MAX_ELEMENTS || path.len() >= MAX_DEPTH {
                    return Err(EnvelopeError::TooComplex);
                }
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.last().is_some_and(|p| p == "Detail") && path.contains(&"Fault".into()) {
                    fault_name.get_or_insert_with(|| match local.as_str() {
                        "fault" => "UnknownFault".into(),
                        other => other.to_string(),
                    });
                }
                in_return = local == "return";
                in_reason = local == "Text" && path.last().is_some_and(|p| p == "Reason");
                path.push(local);
            }
            Event::End(_) => {
                path.pop();
                in_return = false;
                in_reason = false;
            }
            Event::Empty(_) => {}
            Event::Text(t) => {
                let s = t.decode().map_err(|_| EnvelopeError::Malformed)?;
                if in_return {
                    value.push_str(&s);
                } else if in_reason {
                    reason.push_str(&s);
                }
            }
            Event::CData(c) if in_return => {
                value.push_str(&c.decode().map_err(|_| EnvelopeError::Malformed)?);
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|_| EnvelopeError::Entity)?
                        .ok_or(EnvelopeError::Entity)?
                } else {
                    let name = r.decode().map_err(|_| EnvelopeError::Malformed)?;
                    predefined(&name).ok_or(EnvelopeError::Entity)?
                };
                if in_return {
                    value.push(c);
                } else if in_reason {
                    reason.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(match fault_name {
        Some(name) => Reply::Fault { name, reason },
        None if !reason.is_empty() => Reply::Fault {
            name: "UnknownFault".into(),
            reason,
        },
        None => Reply::Return(value),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(body: &str) -> String {
        format!("<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"{SOAP12_NS}\"><s:Header/><s:Body>{body}</s:Body></s:Envelope>")
    }

    #[test]
    fn reads_both_operations() {
        let r = read_request(&env(
            "<c:submitSingleMessage xmlns:c=\"urn:cdc:iisb:2011\"><c:username>u</c:username><c:password>p&amp;q</c:password><c:facilityID>F</c:facilityID><c:hl7Message>MSH|^~\\&amp;|A&#13;PID|1&#13;</c:hl7Message></c:submitSingleMessage>",
        ))
        .unwrap();
        assert_eq!(
            r,
            Request::SubmitSingleMessage {
                username: "u".into(),
                password: "p&q".into(),
                facility_id: "F".into(),
                hl7_message: "MSH|^~\\&|A\rPID|1\r".into()
            }
        );
        let r = read_request(&env(
            "<connectivityTest xmlns=\"urn:cdc:iisb:2011\"><echoBack>hi</echoBack></connectivityTest>",
        ))
        .unwrap();
        assert_eq!(
            r,
            Request::ConnectivityTest {
                echo_back: "hi".into()
            }
        );
        let r = read_request(&env(
            "<submitBatch xmlns=\"urn:cdc:iisb:2011\"><x>1</x></submitBatch>",
        ))
        .unwrap();
        assert!(matches!(r, Request::Unsupported { .. }));
    }

    #[test]
    fn refuses_dtds_entities_and_bad_xml() {
        let xxe = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
            env("<connectivityTest xmlns=\"urn:cdc:iisb:2011\"><echoBack>&x;</echoBack></connectivityTest>")
        );
        assert_eq!(read_request(&xxe), Err(EnvelopeError::DocType));
        let lol = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>{}",
            env("<connectivityTest xmlns=\"urn:cdc:iisb:2011\"><echoBack>&lol3;</echoBack></connectivityTest>")
        );
        assert_eq!(read_request(&lol), Err(EnvelopeError::DocType));
        // An entity reference without a DTD is refused too.
        let bare = env("<connectivityTest xmlns=\"urn:cdc:iisb:2011\"><echoBack>&lol3;</echoBack></connectivityTest>");
        assert_eq!(read_request(&bare), Err(EnvelopeError::Entity));
        assert_eq!(
            read_request(&env("<a><b></a>")),
            Err(EnvelopeError::Malformed)
        );
        assert_eq!(read_request("<a><b></a>"), Err(EnvelopeError::NotSoap12));
        assert_eq!(
            read_request("not xml at all"),
            Err(EnvelopeError::Malformed)
        );
        let soap11 = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>";
        assert_eq!(read_request(soap11), Err(EnvelopeError::NotSoap12));
        let deep = env(&"<a>".repeat(100));
        assert!(read_request(&deep).is_err());
    }

    #[test]
    fn writes_escaped_values_that_read_back() {
        let hl7 = "MSH|^~\\&|A<b>&\"'\rPID|1\r";
        let xml = submit_single_message("u", "p<", "F&", hl7);
        assert!(xml.contains("&#13;"));
        match read_request(&xml).unwrap() {
            Request::SubmitSingleMessage {
                password,
                facility_id,
                hl7_message,
                ..
            } => {
                assert_eq!(password, "p<");
                assert_eq!(facility_id, "F&");
                assert_eq!(hl7_message, hl7);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_reply(&response("submitSingleMessage", hl7)).unwrap(),
            Reply::Return(hl7.into())
        );
        let f = fault(&Fault::new(FaultKind::Security, "no <access>", "d"));
        assert_eq!(
            read_reply(&f).unwrap(),
            Reply::Fault {
                name: "SecurityFault".into(),
                reason: "no <access>".into()
            }
        );
    }
}
