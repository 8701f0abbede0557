//! Downloads of `url` data sources, through a client built like the callback client: the
//! guarded resolver (every address checked, the connection pinned to a checked one), no proxy,
//! no redirects, a timeout, and a size limit, streamed to a file, never held whole in memory.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use url::Url;

use super::guard::{self, GuardedResolver};
use super::{AGENT, DeliveryError};

/// How long connecting to a source may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a download failed. Each case has a stable [`FetchError::code`] (a refresh's
/// `errorCode`), and its message is a sentence for the refresh's `errorMessage`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "The URL's host is or resolves to a private, loopback or reserved address, which data sources may not be read from."
    )]
    NotAllowed,
    #[error("The URL could not be reached; check the host and that it serves the file.")]
    Unreachable(#[source] reqwest::Error),
    #[error("The URL did not send the whole file within {} seconds.", .0.as_secs())]
    Timeout(Duration),
    #[error(
        "The URL answered HTTP {status}, not 200; redirects are not followed, give the final URL."
    )]
    Status { status: u16 },
    #[error(
        "The file at the URL is larger than {limit} bytes, the most a source may be (INSIGHTS_UPLOAD_LIMIT)."
    )]
    TooLarge { limit: u64 },
    #[error("The download broke off before the end of the file.")]
    Body(#[source] reqwest::Error),
    #[error("The download could not be written to disk.")]
    Write(#[source] std::io::Error),
}

impl FetchError {
    /// The stable snake_case code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed => "source_address_not_allowed",
            Self::Unreachable(_) => "source_unreachable",
            Self::Timeout(_) => "source_timeout",
            Self::Status { .. } => "source_http_status",
            Self::TooLarge { .. } => "source_too_large",
            Self::Body(_) => "source_unreadable",
            Self::Write(_) => "storage_failure",
        }
    }
}

/// Downloads `url` data sources.
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

impl Fetcher {
    /// A fetcher whose downloads may take `timeout` each, to public addresses only unless
    /// `allow_private` (the setting that lets callbacks reach private addresses).
    pub fn new(allow_private: bool, timeout: Duration) -> Result<Self, DeliveryError> {
        let client = reqwest::Client::builder()
            .user_agent(AGENT)
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            // A redirect could lead anywhere, past the address check of the first host.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect for us, out of the guarded resolver's sight.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .build()?;
        Ok(Self {
            client,
            timeout,
            allow_private,
        })
    }

    /// Streams the body of `url` into `file`, refusing it past `limit` bytes; answers the
    /// number of bytes written. The file is flushed, not synced: it is read at once, and a
    /// refresh cut off by a crash reads it again.
    pub async fn download(
        &self,
        url: &Url,
        file: &mut tokio::fs::File,
        limit: u64,
    ) -> Result<u64, FetchError> {
        // A literal address never reaches the resolver: it is judged here, as the setting
        // says now (it may have changed since the source was defined).
        if let Err(guard::GuardError::NonPublic(_)) =
            guard::check_url(url, self.allow_private).await
        {
            return Err(FetchError::NotAllowed);
        }
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|err| self.request_error(err))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status {
                status: status.as_u16(),
            });
        }
        if response.content_length().is_some_and(|len| len > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut written: u64 = 0;
        while let Some(chunk) = response.chunk().await.map_err(|err| match err {
            err if err.is_timeout() => FetchError::Timeout(self.timeout),
            err => FetchError::Body(err),
        })? {
            written += chunk.len() as u64;
            if written > limit {
                return Err(FetchError::TooLarge { limit });
            }
            file.write_all(&chunk).await.map_err(FetchError::Write)?;
        }
        file.flush().await.map_err(FetchError::Write)?;
        Ok(written)
    }

    fn request_error(&self, err: reqwest::Error) -> FetchError {
        if guard::refused_by_guard(&err) {
            FetchError::NotAllowed
        } else if err.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else {
            FetchError::Unreachable(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn private_addresses_are_refused_whether_literal_or_resolved() {
        let fetcher = Fetcher::new(false, Duration::from_secs(5)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "http://127.0.0.1:9/a.csv",
            "http://[::1]:9/a.csv",
            "http://localhost:9/a.csv",
        ] {
            let mut file = tokio::fs::File::create(dir.path().join("a")).await.unwrap();
            let url = Url::parse(url).unwrap();
            let refused = fetcher.download(&url, &mut file, 100).await;
            assert!(
                matches!(refused, Err(FetchError::NotAllowed)),
                "{url}: {refused:?}"
            );
            assert_eq!(refused.unwrap_err().code(), "source_address_not_allowed");
        }
    }
}
