//! What the listings share: ListStreams and ListSignalingChannels take `MaxResults`, an
//! opaque `NextToken` and a `BEGINS_WITH` name condition; ListTagsForStream and
//! ListTagsForResource answer a page of tags.

use std::collections::BTreeMap;

use serde::Serialize;

use super::validate::{Enum, STREAM_NAME};
use crate::model::config::Settings;
use crate::state::paging::{Page, decode_token};
use crate::wire::error::ApiError;
use crate::wire::rest_json::encode;

/// The only ComparisonOperator of the model.
static COMPARISON_OPERATORS: Enum = Enum(&["BEGINS_WITH"]);

input! {
    /// `StreamNameCondition` / `ChannelNameCondition` (the two name shapes have the same
    /// constraints).
    pub struct NameCondition {
        comparison_operator: String = "ComparisonOperator", optional COMPARISON_OPERATORS;
        comparison_value: String = "ComparisonValue", required STREAM_NAME;
    }
}

/// The listing members of one request.
pub struct Listing<'a> {
    max_results: Option<i64>,
    next_token: Option<&'a str>,
    condition: Option<&'a NameCondition>,
}

impl<'a> Listing<'a> {
    pub fn new(
        max_results: Option<i64>,
        next_token: Option<&'a str>,
        condition: Option<&'a NameCondition>,
    ) -> Listing<'a> {
        Listing {
            max_results,
            next_token,
            condition,
        }
    }

    /// The page asked for: the name prefix, the name to continue after, and how many at
    /// most (`MaxResults`, default 10,000, and never more than the settings' page size:
    /// AWS too may answer fewer than asked, with a NextToken).
    pub fn page(&self, settings: &Settings) -> Result<(&'a str, Option<String>, usize), ApiError> {
        let after = decode_token(self.next_token)?;
        let prefix = self
            .condition
            .and_then(|c| c.comparison_value.as_deref())
            .unwrap_or("");
        let page_size = settings.limits.list_page_size;
        let asked = self.max_results.and_then(|n| usize::try_from(n).ok());
        let max = asked.map_or(page_size, |asked| asked.min(page_size));
        Ok((prefix, after, max))
    }
}

/// A page of tags as ListTagsForStream and ListTagsForResource answer it.
pub fn tags_page(page: Page<(&String, &String)>) -> Result<Vec<u8>, ApiError> {
    #[derive(Serialize)]
    struct Output<'a> {
        #[serde(rename = "Tags")]
        tags: BTreeMap<&'a String, &'a String>,
        #[serde(rename = "NextToken", skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
    }
    encode(&Output {
        next_token: page.next_token(),
        tags: page.items.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_the_smaller_of_max_results_and_the_page_size() {
        let mut settings = Settings::default();
        let page = |settings: &Settings, max: Option<i64>| {
            Listing::new(max, None, None).page(settings).unwrap().2
        };
        assert_eq!(page(&settings, None), 10_000);
        assert_eq!(page(&settings, Some(7)), 7);
        settings.limits.list_page_size = 3;
        assert_eq!(page(&settings, None), 3);
        assert_eq!(page(&settings, Some(7)), 3);
        assert_eq!(page(&settings, Some(2)), 2);
    }
}
