//! The query protocol, as STS speaks it: parameters from the URL query and a form body
//! (`Action=AssumeRole&Version=…&Tags.member.1.Key=…`), answers as XML documents, and
//! errors as an XML `ErrorResponse`.

use std::collections::BTreeMap;

use hyper::{HeaderMap, StatusCode};

use super::error::ApiError;
use super::http::{HttpResponse, media_type, request_id, response, status_of};
use super::xml::Xml;

/// The parameters of a query-protocol request: the URL query and a form body together.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>, form_body: &[u8]) -> Params {
        let query = form_urlencoded::parse(query.unwrap_or_default().as_bytes());
        let body = form_urlencoded::parse(form_body);
        Params {
            pairs: query
                .chain(body)
                .map(|(key, value)| (key.into_owned(), value.into_owned()))
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The members of a list parameter (`Name.member.N[.field]`), by position N; each
    /// member maps its field (empty for a list of strings) to its value.
    pub fn members(&self, list: &str) -> BTreeMap<u32, BTreeMap<&str, &str>> {
        let prefix = format!("{list}.member.");
        let mut members: BTreeMap<u32, BTreeMap<&str, &str>> = BTreeMap::new();
        for (key, value) in &self.pairs {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(index) = index.parse() {
                members.entry(index).or_default().insert(field, value);
            }
        }
        members
    }
}

/// Whether the body is a form (`application/x-www-form-urlencoded`), as the query
/// protocol sends its parameters.
pub fn is_form(headers: &HeaderMap) -> bool {
    media_type(headers).as_deref() == Some("application/x-www-form-urlencoded")
}

/// A successful answer: the XML document of the operation's output.
pub fn ok_response(document: String) -> HttpResponse {
    response(StatusCode::OK, "text/xml", document.into_bytes())
}

/// The query protocol's error: an XML `ErrorResponse` in `namespace`, `Type` `Sender` for
/// 4xx and `Receiver` for 5xx, with the status the model gives the error.
pub fn error_response(namespace: &str, err: &ApiError) -> HttpResponse {
    let document = Xml::root(namespace, "ErrorResponse", |x| {
        x.element("Error", |x| {
            x.text(
                "Type",
                if err.status < 500 {
                    "Sender"
                } else {
                    "Receiver"
                },
            );
            x.text("Code", err.code);
            x.text("Message", &err.message);
        });
        x.text("RequestId", &request_id());
    });
    response(status_of(err), "text/xml", document.into_bytes())
}

/// The `ResponseMetadata` every answer ends with.
pub fn response_metadata(x: &mut Xml) {
    x.element("ResponseMetadata", |x| x.text("RequestId", &request_id()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_members_by_position() {
        let p = Params::parse(
            None,
            b"Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=x&TransitiveTagKeys.member.1=a",
        );
        let tags = p.members("Tags");
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[&1]["Key"], "a");
        assert_eq!(tags[&1]["Value"], "x");
        assert_eq!(p.members("TransitiveTagKeys")[&1][""], "a");
        let both = Params::parse(Some("Action=A"), b"Version=V");
        assert_eq!(
            (both.get("Action"), both.get("Version")),
            (Some("A"), Some("V"))
        );
    }
}
