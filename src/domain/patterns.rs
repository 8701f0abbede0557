//! The text rules of ids, names, callback URLs and idempotency keys: their length limits and
//! their regular expressions. The same constants are what the parsers check and the `pattern`,
//! `minLength` and `maxLength` the API documents declare, so what the documents promise and what
//! the service accepts cannot differ. The patterns avoid `\s` and other classes whose meaning
//! varies between regex dialects: only literal characters and ranges.

use std::sync::LazyLock;

use regex::Regex;

/// The longest catalog item id (data source, segment, measure), in characters.
pub const ITEM_ID_MAX_CHARS: usize = 200;
/// The longest display name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// The longest `notificationUrl` accepted, in bytes (its characters are all ASCII). Parsing may
/// add the `/` of an empty path, so a stored callback URL may be one byte longer.
pub const CALLBACK_URL_MAX_BYTES: usize = 4095;
/// The longest path of a `file` data source under the import directory, in characters.
pub const IMPORT_PATH_MAX_CHARS: usize = 1024;
/// The longest field name a definition names (a primary key, a customer field), in characters.
pub const FIELD_NAME_MAX_CHARS: usize = 200;
/// The longest `Idempotency-Key`, in bytes (its characters are all ASCII).
pub const IDEMPOTENCY_KEY_MAX_BYTES: usize = 255;
/// The longest tenant id, in bytes.
pub const TENANT_ID_MAX_BYTES: usize = 128;
/// The longest `X-Request-Id` taken from a caller, in bytes; a longer one is replaced.
pub const REQUEST_ID_MAX_BYTES: usize = 128;

/// What the documents promise about a request field or header of this name, so that a
/// schema-valid request is never refused: its length range and pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Documented {
    pub min_length: usize,
    pub max_length: usize,
    pub pattern: &'static str,
}

/// The rule of a request field or header, by its wire name.
pub fn documented(name: &str) -> Option<Documented> {
    let (max_length, pattern) = match name {
        "dataSourceId" | "segmentId" | "measureId" => (ITEM_ID_MAX_CHARS, ITEM_ID),
        "name" => (NAME_MAX_CHARS, NAME),
        "notificationUrl" | "url" => (CALLBACK_URL_MAX_BYTES, CALLBACK_URL),
        "path" => (IMPORT_PATH_MAX_CHARS, IMPORT_PATH),
        "primaryKey" | "field" => (FIELD_NAME_MAX_CHARS, FIELD_NAME),
        "Idempotency-Key" => (IDEMPOTENCY_KEY_MAX_BYTES, IDEMPOTENCY_KEY),
        _ => return None,
    };
    Some(Documented {
        min_length: 1,
        max_length,
        pattern,
    })
}

/// A catalog item id: no `/`, no control characters, no space at either end.
pub const ITEM_ID: &str =
    r"^[^ /\x00-\x1f\x7f-\x9f]([^/\x00-\x1f\x7f-\x9f]*[^ /\x00-\x1f\x7f-\x9f])?$";

/// A display name: no control characters and at least one character that is not a space.
pub const NAME: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^ \x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// An absolute http(s) URL whose host is a DNS name (its last label starting with a letter),
/// an IPv4 address or an IPv6 address, with an optional port, path and query of URL-safe
/// characters: every such string parses as a URL with no character escaped.
pub const CALLBACK_URL: &str = concat!(
    r"^https?://(([a-z0-9-]+\.)*[a-z][a-z0-9-]*",
    r"|((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
    r"|\[(([0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|([0-9a-f]{1,4}:){1,7}:|([0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}",
    r"|([0-9a-f]{1,4}:){1,5}(:[0-9a-f]{1,4}){1,2}|([0-9a-f]{1,4}:){1,4}(:[0-9a-f]{1,4}){1,3}",
    r"|([0-9a-f]{1,4}:){1,3}(:[0-9a-f]{1,4}){1,4}|([0-9a-f]{1,4}:){1,2}(:[0-9a-f]{1,4}){1,5}",
    r"|[0-9a-f]{1,4}:(:[0-9a-f]{1,4}){1,6}|:((:[0-9a-f]{1,4}){1,7}|:))\])",
    r"(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?",
    r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$",
);

/// A relative path of a `file` data source: segments separated by single `/`, none of them
/// `..`, no leading `/`, no control characters. Written without look-around, which not every
/// regex dialect has: a segment is `.`, or starts with a character other than `.`, or with one
/// `.` and then another character, or with `..` and at least one more.
pub const IMPORT_PATH: &str = concat!(
    r"^(\.|[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+)",
    r"(/(\.|[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.[^./\x00-\x1f\x7f-\x9f][^/\x00-\x1f\x7f-\x9f]*|\.\.[^/\x00-\x1f\x7f-\x9f]+))*$",
);

/// A field name a definition names: any characters but NUL.
pub const FIELD_NAME: &str = r"^[^\x00]+$";

/// Idempotency keys: visible ASCII characters or spaces.
pub const IDEMPOTENCY_KEY: &str = r"^[ -~]+$";

/// A request id a caller may choose: a token that is safe in a log line and a header (letters,
/// digits and `-._~:+/=`, no spaces or quotes).
pub const REQUEST_ID: &str = r"^[A-Za-z0-9._~:+/=-]+$";

fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static ITEM_ID_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(ITEM_ID));
static NAME_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(NAME));
static CALLBACK_URL_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(CALLBACK_URL));
static IMPORT_PATH_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(IMPORT_PATH));
static FIELD_NAME_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(FIELD_NAME));
static IDEMPOTENCY_KEY_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(IDEMPOTENCY_KEY));
static REQUEST_ID_RE: LazyLock<Option<Regex>> = LazyLock::new(|| compile(REQUEST_ID));

fn is_match(regex: &LazyLock<Option<Regex>>, text: &str) -> bool {
    regex.as_ref().is_some_and(|r| r.is_match(text))
}

pub fn is_item_id(text: &str) -> bool {
    is_match(&ITEM_ID_RE, text)
}

pub fn is_name(text: &str) -> bool {
    is_match(&NAME_RE, text)
}

pub fn is_callback_url(text: &str) -> bool {
    is_match(&CALLBACK_URL_RE, text)
}

pub fn is_import_path(text: &str) -> bool {
    text.chars().count() <= IMPORT_PATH_MAX_CHARS && is_match(&IMPORT_PATH_RE, text)
}

pub fn is_field_name(text: &str) -> bool {
    text.chars().count() <= FIELD_NAME_MAX_CHARS && is_match(&FIELD_NAME_RE, text)
}

pub fn is_idempotency_key(text: &str) -> bool {
    text.len() <= IDEMPOTENCY_KEY_MAX_BYTES && is_match(&IDEMPOTENCY_KEY_RE, text)
}

pub fn is_request_id(text: &str) -> bool {
    text.len() <= REQUEST_ID_MAX_BYTES && is_match(&REQUEST_ID_RE, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for pattern in [
            ITEM_ID,
            NAME,
            CALLBACK_URL,
            IMPORT_PATH,
            FIELD_NAME,
            IDEMPOTENCY_KEY,
            REQUEST_ID,
        ] {
            assert!(compile(pattern).is_some(), "{pattern}");
        }
    }

    #[test]
    fn callback_urls_table() {
        let accepted = [
            "https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=x-Y_z",
            "http://127.0.0.1:8080/run",
            "http://127.0.0.1:65535/run",
            "http://[::1]/run",
            "http://[fd00::1]:9/x",
            "https://a",
        ];
        for url in accepted {
            assert!(is_callback_url(url), "{url} must be accepted");
        }
        let refused = [
            ("ftp://a/x", "not http"),
            ("HTTP://a/", "upper-case scheme"),
            ("http://a*/", "a character no host has"),
            (
                "http://a.1/",
                "a numeric last label reads as a broken IPv4 address",
            ),
            ("http://256.1.1.1/", "not an IPv4 address"),
            ("http://[1::2::3]/", "not an IPv6 address"),
            ("http://user@a/", "credentials"),
            ("http://a/#frag", "a fragment"),
            ("http://a/ b", "a space"),
            ("http://a:123456/", "a port out of range"),
            ("http://a:65536/", "a port out of range"),
        ];
        for (url, why) in refused {
            assert!(!is_callback_url(url), "{url} must be refused: {why}");
        }
    }

    #[test]
    fn import_paths_table() {
        for path in [
            "orders.csv",
            "in/2024/orders.jsonl",
            "./a",
            "a/./b",
            ".hidden",
            "...",
            "..x",
            "a b/é.csv",
        ] {
            assert!(is_import_path(path), "{path:?} must be accepted");
        }
        let long = "x".repeat(IMPORT_PATH_MAX_CHARS + 1);
        let refused = [
            ("", "empty"),
            ("/etc/passwd", "absolute"),
            ("..", "the parent"),
            ("../x", "leads out"),
            ("a/../../x", "leads out through a segment"),
            ("a/..", "ends in the parent"),
            ("a//b", "an empty segment"),
            ("a/", "a trailing slash names a directory"),
            ("a\nb", "a control character"),
            ("a\u{0}b", "NUL"),
            (long.as_str(), "too long"),
        ];
        for (path, why) in refused {
            assert!(!is_import_path(path), "{path:?} must be refused: {why}");
        }
    }

    #[test]
    fn request_ids_table() {
        for id in ["abc", "0f8c-11:22", "trace/1+x="] {
            assert!(is_request_id(id), "{id:?}");
        }
        let long = "x".repeat(REQUEST_ID_MAX_BYTES + 1);
        let refused = [
            ("", "empty"),
            ("a b", "a space splits a log field"),
            ("a\"b", "a quote ends a log field"),
            ("a\nb", "a line break forges a log line"),
            ("é", "not ASCII"),
            (long.as_str(), "too long"),
        ];
        for (id, why) in refused {
            assert!(!is_request_id(id), "{id:?} must be refused: {why}");
        }
    }

    #[test]
    fn ids_and_names_table() {
        for id in ["crm", "a b", "é", "x-1_2.3"] {
            assert!(is_item_id(id), "{id:?}");
        }
        for id in ["", " a", "a ", "a/b", "a\nb", "\u{85}"] {
            assert!(!is_item_id(id), "{id:?}");
        }
        for name in ["Production", " Padded ", "\u{2003}"] {
            assert!(is_name(name), "{name:?}");
        }
        for name in ["", "   ", "tab\tbed"] {
            assert!(!is_name(name), "{name:?}");
        }
    }
}
