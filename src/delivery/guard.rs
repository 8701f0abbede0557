//! The SSRF guard: callbacks must not reach loopback, private or metadata addresses unless
//! the operator allows private callbacks.

use std::net::IpAddr;

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
    if allow_private {
        return Ok(());
    }
    if let Some(ip) = url.literal_ip() {
        return if is_non_public(ip) {
            Err(GuardError::NonPublic(ip))
        } else {
            Ok(())
        };
    }
    let target = (url.host_str(), url.port_or_default());
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
