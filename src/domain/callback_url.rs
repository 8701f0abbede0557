//! A flow's callback URL: absolute http(s), and a secret (its query string carries the
//! signature), so it only ever prints redacted.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

pub use super::address_policy::is_non_public;
use super::patterns::CALLBACK_URL_MAX_BYTES;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallbackUrl(Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackUrlError {
    #[error("notificationUrl is not an absolute URL")]
    NotAbsolute,
    #[error("notificationUrl must use http or https")]
    Scheme,
    #[error("notificationUrl must not carry a user name or password")]
    Credentials,
    #[error("notificationUrl is longer than {CALLBACK_URL_MAX_BYTES} characters")]
    TooLong,
    #[error(
        "notificationUrl must be an absolute http or https URL naming a host, with URL-safe characters only"
    )]
    Grammar,
}

impl CallbackUrl {
    pub fn parse(raw: &str) -> Result<Self, CallbackUrlError> {
        if raw.len() > CALLBACK_URL_MAX_BYTES {
            return Err(CallbackUrlError::TooLong);
        }
        if !super::patterns::is_callback_url(raw) {
            return Err(CallbackUrlError::Grammar);
        }
        let url = Url::parse(raw).map_err(|_| CallbackUrlError::NotAbsolute)?;
        // Parsing may add the `/` of an empty path, so the stored form can be one longer than
        // what was sent; it still parses back to itself.
        if url.as_str().len() > CALLBACK_URL_MAX_BYTES + 1 {
            return Err(CallbackUrlError::TooLong);
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallbackUrlError::Scheme);
        }
        if url.host().is_none() {
            return Err(CallbackUrlError::NotAbsolute);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(CallbackUrlError::Credentials);
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The literal IP address of the host, when the URL names one.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        }
    }

    pub fn host_str(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    pub fn port_or_default(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// `host:port`: the receiver whose concurrency is bounded together.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host_str(), self.port_or_default())
    }
}

/// Reading back what was stored: it passed `parse` once, and its normalized form may differ from
/// what was sent (one character longer, say), so only its shape is checked again.
impl TryFrom<String> for CallbackUrl {
    type Error = CallbackUrlError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let url = Url::parse(&value).map_err(|_| CallbackUrlError::NotAbsolute)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallbackUrlError::Scheme);
        }
        Ok(Self(url))
    }
}

impl From<CallbackUrl> for String {
    fn from(url: CallbackUrl) -> Self {
        url.0.into()
    }
}

/// Scheme, host, port and path only: the query string is the flow's signature.
impl fmt::Display for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        write!(
            f,
            "{}://{}",
            url.scheme(),
            url.host_str().unwrap_or_default()
        )?;
        if let Some(port) = url.port() {
            write!(f, ":{port}")?;
        }
        f.write_str(url.path())?;
        if url.query().is_some() {
            f.write_str("?<redacted>")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallbackUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallbackUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_refuses_what_is_not_an_absolute_http_url() {
        let cases = [
            ("relative/path", CallbackUrlError::Grammar),
            ("ftp://example.com/x", CallbackUrlError::Grammar),
            ("javascript:alert(1)", CallbackUrlError::Grammar),
            ("https://user:pw@example.com/", CallbackUrlError::Grammar),
            ("file:///etc/passwd", CallbackUrlError::Grammar),
        ];
        for (raw, expected) in cases {
            assert_eq!(CallbackUrl::parse(raw), Err(expected), "{raw}");
        }
    }

    #[test]
    fn a_stored_url_of_the_longest_kind_reads_back() {
        let raw = format!("http://example.com?{}", "q".repeat(4095 - 19));
        let url = CallbackUrl::parse(&raw).unwrap();
        assert_eq!(url.as_str().len(), 4096, "parsing adds the empty path's /");
        let stored = serde_json::to_string(&url).unwrap();
        assert_eq!(serde_json::from_str::<CallbackUrl>(&stored).unwrap(), url);
    }

    #[test]
    fn a_parsed_url_parses_back_to_itself() {
        let raw = format!("http://example.com/{}", "%C3%A9".repeat(700));
        match CallbackUrl::parse(&raw) {
            Ok(url) => assert_eq!(CallbackUrl::parse(url.as_str()), Ok(url)),
            Err(err) => assert_eq!(err, CallbackUrlError::TooLong),
        }
        let url = CallbackUrl::parse("http://example.com/a/../b?x=1").unwrap();
        assert_eq!(CallbackUrl::parse(url.as_str()).unwrap(), url);
    }

    #[test]
    fn display_hides_the_signature() {
        let url = CallbackUrl::parse("https://prod.example.com:8443/run?sig=SECRET&sp=x").unwrap();
        let shown = format!("{url} {url:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("https://prod.example.com:8443/run?<redacted>"));
    }
}
