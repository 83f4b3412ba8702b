//! Splitting a file into HL7 messages: each message starts with an `MSH` segment. Batch
//! envelopes (FHS, BHS, BTS, FTS) and MLLP framing bytes are dropped.

/// The messages in `text`, in order, each with `\r` segment ends.
pub fn split_messages(text: &str) -> Vec<String> {
    let mut messages = Vec::new();
    let mut current: Option<String> = None;
    let cleaned = text.trim_start_matches('\u{feff}');
    for line in cleaned.split(['\r', '\n']) {
        let line = line.trim_matches(|c| c == '\u{0b}' || c == '\u{1c}');
        if line.trim().is_empty() {
            continue;
        }
        let id = line.get(..3).unwrap_or("");
        if matches!(id, "FHS" | "BHS" | "BTS" | "FTS") {
            continue;
        }
        if id == "MSH" {
            if let Some(m) = current.take() {
                messages.push(m);
            }
            current = Some(String::new());
        }
        match current.as_mut() {
            Some(m) => {
                m.push_str(line);
                m.push('\r');
            }
            // Text before the first MSH is not a message; keep it so that it is reported.
            None => current = Some(format!("{line}\r")),
        }
    }
    messages.extend(current);
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_msh_and_drops_envelopes() {
        let text =
            "FHS|^~\\&\nBHS|^~\\&\nMSH|^~\\&|A\r\nPID|1\nMSH|^~\\&|B\rPID|2\r\nBTS|2\nFTS|1\n";
        assert_eq!(
            split_messages(text),
            vec!["MSH|^~\\&|A\rPID|1\r", "MSH|^~\\&|B\rPID|2\r"]
        );
        assert!(split_messages("").is_empty());
        assert_eq!(split_messages("garbage\nMSH|^~\\&|A").len(), 2);
    }
}
