//! The wire: HTTP and the AWS protocols as clients speak them. The server loop and request
//! bodies (`http`), the rest-json protocol of KVS (`rest_json`), the query protocol and XML
//! of STS (`query`, `xml`), what a SigV4 signature says (`sigv4`) and whether it holds
//! (`signing`), and the errors as AWS writes them (`error`). Nothing here knows an
//! operation's meaning.

pub mod error;
pub mod http;
pub mod query;
pub mod rest_json;
pub mod signing;
pub mod sigv4;
pub mod xml;
