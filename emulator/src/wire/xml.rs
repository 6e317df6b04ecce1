//! Just enough XML for the query protocol's answers: nested elements with escaped text,
//! and ISO 8601 timestamps.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// Builds a document element by element.
#[derive(Default)]
pub struct Xml {
    out: String,
}

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<name xmlns="namespace">` … `</name>` around what `body` writes.
    pub fn root(namespace: &str, name: &str, body: impl FnOnce(&mut Xml)) -> String {
        let mut xml = Xml::new();
        let _ = write!(xml.out, "<{name} xmlns=\"{}\">", escape(namespace));
        body(&mut xml);
        let _ = write!(xml.out, "</{name}>");
        xml.out
    }

    /// `<name>` … `</name>` around what `body` writes.
    pub fn element(&mut self, name: &str, body: impl FnOnce(&mut Xml)) {
        let _ = write!(self.out, "<{name}>");
        body(self);
        let _ = write!(self.out, "</{name}>");
    }

    /// `<name>text</name>`, escaped.
    pub fn text(&mut self, name: &str, text: &str) {
        let _ = write!(self.out, "<{name}>{}</{name}>", escape(text));
    }
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `2026-01-02T03:04:05Z`, the query protocol's timestamp format (UTC, whole seconds).
pub fn iso8601(time: SystemTime) -> String {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(seconds / 86_400).unwrap_or(0);
    let of_day = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(iso8601(leap_day), "2000-02-29T01:02:03Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_798_761_599);
        assert_eq!(iso8601(later), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn documents_escape_text() {
        let doc = Xml::root("urn:x", "A", |x| {
            x.element("B", |x| x.text("C", "1 < 2 & \"q\""));
        });
        assert_eq!(
            doc,
            "<A xmlns=\"urn:x\"><B><C>1 &lt; 2 &amp; &quot;q&quot;</C></B></A>"
        );
    }
}
