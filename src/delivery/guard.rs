//! The SSRF guard: callbacks (and `url` data sources) must not reach loopback, private or metadata addresses unless
//! the operator allows private callbacks.

use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

use crate::domain::CallbackUrl;
use crate::domain::callback_url::is_non_public;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("notificationUrl points to a private, loopback or reserved address ({0})")]
    NonPublic(IpAddr),
    #[error("the host of notificationUrl does not resolve")]
    Unresolvable,
}

/// Checks the host of `url`: a literal address directly, a name by resolving it (every
/// address it resolves to must be public).
pub async fn check(url: &CallbackUrl, allow_private: bool) -> Result<(), GuardError> {
    check_url(url.as_url(), allow_private).await
}

/// [`check`] for any http(s) URL, such as a `url` data source's.
pub async fn check_url(url: &Url, allow_private: bool) -> Result<(), GuardError> {
    if allow_private {
        return Ok(());
    }
    let literal = match url.host() {
        None => return Err(GuardError::Unresolvable),
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
    };
    if let Some(ip) = literal {
        return if is_non_public(ip) {
            Err(GuardError::NonPublic(ip))
        } else {
            Ok(())
        };
    }
    let target = (
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(443),
    );
    let addrs: Vec<_> = tokio::net::lookup_host(target)
        .await
        .map_err(|_| GuardError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable);
    }
    match addrs.iter().map(|a| a.ip()).find(|ip| is_non_public(*ip)) {
        Some(ip) => Err(GuardError::NonPublic(ip)),
        None => Ok(()),
    }
}

/// Resolves `host` for a client to connect to: every address must be public unless
/// `allow_private`. The addresses returned are the only ones the clients connect to, so
/// checking them here pins the connection to a checked address and a DNS answer that
/// changes between subscribe and delivery (rebinding) cannot slip through.
pub async fn resolve(host: &str, allow_private: bool) -> Result<Vec<SocketAddr>, GuardError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| GuardError::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable);
    }
    if !allow_private && let Some(ip) = addrs.iter().map(|a| a.ip()).find(|ip| is_non_public(*ip)) {
        return Err(GuardError::NonPublic(ip));
    }
    Ok(addrs)
}

/// [`resolve`] as the download client's (reqwest) resolver.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: reqwest::dns::Addrs =
                Box::new(resolve(name.as_str(), allow_private).await?.into_iter());
            Ok(addrs)
        })
    }
}

/// [`resolve`] as the callback client's (hyper) resolver.
#[derive(Clone, Copy)]
pub struct GuardedDns {
    pub allow_private: bool,
}

type DnsName = hyper_util::client::legacy::connect::dns::Name;

impl tower_service::Service<DnsName> for GuardedDns {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = GuardError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, GuardError>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), GuardError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: DnsName) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move { Ok(resolve(name.as_str(), allow_private).await?.into_iter()) })
    }
}

/// Whether a request failed because the guard refused the address.
pub fn refused_by_guard(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |err| err.source()).any(|err| {
        matches!(
            err.downcast_ref::<GuardError>(),
            Some(GuardError::NonPublic(_))
        )
    })
}

#[cfg(test)]
mod tests {
    use reqwest::dns::Resolve;

    use super::*;
    use crate::domain::address_policy::ADDRESS_CASES;

    /// The resolver path at delivery time judges each resolved address like a literal one:
    /// the address table is resolved as names (a literal resolves to itself, with no DNS).
    #[tokio::test]
    async fn the_resolver_refuses_every_non_public_address_it_resolves_to() {
        let guarded = GuardedResolver {
            allow_private: false,
        };
        for (raw, refused, why) in ADDRESS_CASES {
            let name: reqwest::dns::Name = raw.parse().unwrap();
            match guarded.resolve(name).await {
                Ok(addrs) => {
                    assert!(!refused, "{raw} must be refused: {why}");
                    let resolved: Vec<_> = addrs.map(|a| a.ip()).collect();
                    assert_eq!(resolved, [raw.parse::<IpAddr>().unwrap()], "{raw}");
                }
                Err(err) => {
                    assert!(refused, "{raw} must be accepted: {why} ({err})");
                    assert!(refused_by_guard(err.as_ref()), "{raw}: {err}");
                }
            }
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_loopback_unless_allowed() {
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let guarded = GuardedResolver {
            allow_private: false,
        };
        let err = match guarded.resolve(name("localhost")).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(err) => err,
        };
        assert!(refused_by_guard(err.as_ref()), "{err}");
        let open = GuardedResolver {
            allow_private: true,
        };
        assert!(open.resolve(name("localhost")).await.is_ok());
    }
}
