//! The SSRF guard: callbacks (and `url` data sources) must not reach loopback, private or metadata addresses unless
//! the operator allows private callbacks.

use std::net::IpAddr;

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

/// The resolver of the callback client: the addresses it returns are the only ones reqwest
/// connects to, so checking them here pins the connection to a checked address and a DNS
/// answer that changes between subscribe and delivery (rebinding) cannot slip through.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|_| GuardError::Unresolvable)?
                .collect();
            if addrs.is_empty() {
                return Err(GuardError::Unresolvable.into());
            }
            if !allow_private
                && let Some(ip) = addrs.iter().map(|a| a.ip()).find(|ip| is_non_public(*ip))
            {
                return Err(GuardError::NonPublic(ip).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Whether a request failed because the guard refused the address.
pub fn refused_by_guard(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(err) = source {
        if matches!(
            err.downcast_ref::<GuardError>(),
            Some(GuardError::NonPublic(_))
        ) {
            return true;
        }
        source = err.source();
    }
    false
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
