//! One typed `Settings`, read from flags or their `INSIGHTS_*` environment variables.
//! Secrets never reach Debug output.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use url::Url;

mod durations;
mod sizes;

pub use durations::{duration_setting, parse_duration, parse_duration_within, show_duration};
pub use sizes::{MAX_UPLOAD_LIMIT, parse_size_within};

const DAY: u64 = 86_400;
/// Longest delay between two delivery attempts (each entry of `INSIGHTS_RETRY_SCHEDULE`).
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(7 * DAY);
/// Longest timeout of one callback request (`INSIGHTS_DELIVERY_TIMEOUT`).
pub const MAX_DELIVERY_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest time delivered records are kept (`INSIGHTS_DELIVERY_RETENTION`): ten years, far
/// from the dates a timestamp can hold.
pub const MAX_DELIVERY_RETENTION: Duration = Duration::from_secs(3650 * DAY);
/// Longest interval between key fetches caused by unknown `kid`s
/// (`INSIGHTS_JWKS_REFETCH_INTERVAL`): the keys are fetched again daily anyway.
pub const MAX_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(DAY);
/// Longest window of `INSIGHTS_RATE_LIMIT` and `INSIGHTS_REPORT_RATE_LIMIT`.
pub const MAX_RATE_LIMIT_WINDOW: Duration = Duration::from_secs(DAY);
/// Longest time a client may take to send a request's line and headers
/// (`INSIGHTS_CLIENT_REQUEST_TIMEOUT`): longer only helps clients that hold connections open.
pub const MAX_CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest an idempotency key may keep a retried report a no-op.
pub const MAX_IDEMPOTENCY_RETENTION: Duration = Duration::from_secs(365 * DAY);
/// Longest lifetime of a token printed by `insights-connector token`.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(366 * DAY);
/// Shortest timeout: a timeout of zero would fail every request.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// A secret string: shown as `<redacted>` in Debug output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() < 16 {
            return Err("a secret must be at least 16 characters".into());
        }
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Listen address.
    #[arg(long, env = "INSIGHTS_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// sled database directory (created when missing).
    #[arg(long, env = "INSIGHTS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Absolute base URL clients reach; defaults to http:// + the bound address.
    #[arg(long, env = "INSIGHTS_PUBLIC_URL")]
    pub public_url: Option<Url>,

    /// Shared secret for HS256 bearer tokens (at least 16 characters).
    #[arg(long, env = "INSIGHTS_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<Secret>,

    /// Let callbacks go to loopback and private addresses (tests, on-premises).
    #[arg(long, env = "INSIGHTS_CALLBACK_ALLOW_PRIVATE", default_value = "false",
          value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub callback_allow_private: bool,

    /// PEM file of root certificates trusted for callback receivers beside the public web
    /// roots (receivers with certificates of an organisation's own authority).
    #[arg(long, env = "INSIGHTS_CALLBACK_CA_FILE")]
    pub callback_ca_file: Option<PathBuf>,

    /// Delays between delivery attempts, comma-separated (`500ms`, `5s`, `5m`, `2h`).
    #[arg(long, env = "INSIGHTS_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h",
          value_parser = named("INSIGHTS_RETRY_SCHEDULE", parse_schedule))]
    pub retry_schedule: RetrySchedule,

    /// Timeout of one callback request.
    #[arg(long, env = "INSIGHTS_DELIVERY_TIMEOUT", default_value = "15s",
          value_parser = duration_setting("INSIGHTS_DELIVERY_TIMEOUT", MIN_TIMEOUT, MAX_DELIVERY_TIMEOUT))]
    pub delivery_timeout: Duration,

    /// Callback requests in flight at once, over all receivers.
    #[arg(long, env = "INSIGHTS_DELIVERY_CONCURRENCY", default_value_t = 256)]
    pub delivery_concurrency: usize,

    /// Callback requests in flight at once to one receiver (`host:port`), so that a slow or
    /// dead receiver cannot take every slot. Power Automate's callback URLs share a few hosts,
    /// so a fan-out to many flows goes mostly to one: the default lets it use half the slots.
    #[arg(
        long,
        env = "INSIGHTS_DELIVERY_CONCURRENCY_PER_HOST",
        default_value_t = 128
    )]
    pub delivery_concurrency_per_host: usize,

    /// How long delivered records are kept (listing, replay) before they are pruned.
    #[arg(long, env = "INSIGHTS_DELIVERY_RETENTION", default_value = "7d",
          value_parser = duration_setting("INSIGHTS_DELIVERY_RETENTION", Duration::ZERO, MAX_DELIVERY_RETENTION))]
    pub delivery_retention: Duration,

    /// 404 answers in a row from a callback URL after which its subscription is removed.
    #[arg(long, env = "INSIGHTS_CALLBACK_404_LIMIT", default_value_t = 3)]
    pub callback_404_limit: u32,

    /// How long a client may take to send a request's line and headers; past it the HTTP
    /// layer answers 408 and closes the connection. Zero would disable it, so it is refused.
    #[arg(long, env = "INSIGHTS_CLIENT_REQUEST_TIMEOUT", default_value = "5s",
          value_parser = duration_setting("INSIGHTS_CLIENT_REQUEST_TIMEOUT", MIN_TIMEOUT, MAX_CLIENT_REQUEST_TIMEOUT))]
    pub client_request_timeout: Duration,

    /// HTTP worker threads; 0 means one per core.
    #[arg(long, env = "INSIGHTS_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Where the token issuer (Azure AD) publishes its signing keys, for RS256 bearer tokens.
    #[arg(long, env = "INSIGHTS_JWKS_URL")]
    pub jwks_url: Option<Url>,

    /// Accepted `aud` values of RS256 tokens, comma-separated; defaults to the Azure AD
    /// resource URI and client id.
    #[arg(long, env = "INSIGHTS_JWT_AUDIENCE", value_delimiter = ',')]
    pub jwt_audience: Vec<String>,

    /// Accepted `iss` values of RS256 tokens, comma-separated; `{tid}` stands for the token's
    /// own tenant.
    #[arg(long, env = "INSIGHTS_JWT_ISSUER", value_delimiter = ',')]
    pub jwt_issuer: Vec<String>,

    /// Accepted tenants (`tid` of tokens, tenant of API keys), comma-separated; none means any.
    #[arg(long, env = "INSIGHTS_ALLOWED_TENANTS", value_delimiter = ',')]
    pub allowed_tenants: Vec<String>,

    /// The shortest time between two fetches of the signing keys caused by an unknown `kid`.
    #[arg(long, env = "INSIGHTS_JWKS_REFETCH_INTERVAL", default_value = "60s",
          value_parser = duration_setting("INSIGHTS_JWKS_REFETCH_INTERVAL", Duration::ZERO, MAX_JWKS_REFETCH_INTERVAL))]
    pub jwks_refetch_interval: Duration,

    /// The application (client) id of the connector's Azure AD app registration.
    #[arg(long, env = "INSIGHTS_AAD_CLIENT_ID")]
    pub aad_client_id: Option<String>,

    /// The Application ID URI of that app (the OAuth resource), for example `api://insights`.
    #[arg(long, env = "INSIGHTS_AAD_RESOURCE_URI")]
    pub aad_resource_uri: Option<String>,

    /// Connector calls a tenant may make per window, as `calls/window` (`100/60s`).
    #[arg(long, env = "INSIGHTS_RATE_LIMIT", default_value = "100/60s",
          value_parser = named("INSIGHTS_RATE_LIMIT", parse_rate_limit))]
    pub rate_limit: RateLimit,

    /// Report API calls a tenant may make per window, counted apart from connector calls.
    #[arg(long, env = "INSIGHTS_REPORT_RATE_LIMIT", default_value = "1000/60s",
          value_parser = named("INSIGHTS_REPORT_RATE_LIMIT", parse_rate_limit))]
    pub report_rate_limit: RateLimit,

    /// The only directory `file` data sources may read from; unset refuses file sources.
    #[arg(long, env = "INSIGHTS_IMPORT_DIR")]
    pub import_dir: Option<PathBuf>,

    /// The largest data source upload (`100MiB`, `512KiB`, `2GiB`); also the largest download
    /// of a `url` data source.
    #[arg(long, env = "INSIGHTS_UPLOAD_LIMIT", default_value = "100MiB",
          value_parser = named("INSIGHTS_UPLOAD_LIMIT", parse_upload_limit))]
    pub upload_limit: u64,

    /// Tenant `demo` gets the instance "Demo retail" with sample data, definitions and a
    /// schedule, refreshed at start (`--demo` alone means true).
    #[arg(long, env = "INSIGHTS_DEMO", default_value = "false", num_args = 0..=1,
          default_missing_value = "true", value_parser = BoolishValueParser::new(),
          action = clap::ArgAction::Set)]
    pub demo: bool,

    #[command(flatten)]
    pub quotas: Quotas,
}

impl Settings {
    /// Every setting at its default, whatever the environment says, listening on a port the
    /// system picks on loopback and keeping its data in `data_dir`: where a program that
    /// embeds the service (the benchmarks, the tests) starts, before it sets what it needs.
    pub fn defaults(data_dir: &std::path::Path) -> Result<Self, clap::Error> {
        use clap::{Args, FromArgMatches};
        let command = Self::augment_args(clap::Command::new("defaults"))
            .mut_args(|arg| arg.env(None::<&str>));
        let mut settings = Self::from_arg_matches(&command.try_get_matches_from(["defaults"])?)?;
        settings.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.data_dir = data_dir.to_path_buf();
        Ok(settings)
    }
}

fn parse_upload_limit(raw: &str) -> Result<u64, String> {
    parse_size_within(raw, MAX_UPLOAD_LIMIT)
}

/// What one tenant may keep stored.
#[derive(Debug, Clone, clap::Args)]
pub struct Quotas {
    /// Instances a tenant may create.
    #[arg(long, env = "INSIGHTS_MAX_INSTANCES", default_value_t = 100)]
    pub max_instances: u64,

    /// Trigger subscriptions a tenant may hold (over all its instances).
    #[arg(long, env = "INSIGHTS_MAX_SUBSCRIPTIONS", default_value_t = 10_000)]
    pub max_subscriptions: u64,

    /// Failed deliveries (dead letters) kept per tenant; past it the oldest are pruned.
    #[arg(long, env = "INSIGHTS_MAX_FAILED_DELIVERIES", default_value_t = 10_000)]
    pub max_failed_deliveries: u64,

    /// Idempotency keys a tenant may hold at once (each lives for the idempotency retention).
    #[arg(long, env = "INSIGHTS_MAX_IDEMPOTENCY_KEYS", default_value_t = 100_000)]
    pub max_idempotency_keys: u64,

    /// How long an Idempotency-Key makes a retried report a no-op; a retry after it is a new
    /// report.
    #[arg(long, env = "INSIGHTS_IDEMPOTENCY_RETENTION", default_value = "24h",
          value_parser = duration_setting("INSIGHTS_IDEMPOTENCY_RETENTION", Duration::ZERO, MAX_IDEMPOTENCY_RETENTION))]
    pub idempotency_retention: Duration,
}

impl Default for Quotas {
    fn default() -> Self {
        let limits = crate::storage::Limits::default();
        Self {
            max_instances: limits.instances_per_tenant,
            max_subscriptions: limits.subscriptions_per_tenant,
            max_failed_deliveries: limits.failed_deliveries_per_tenant,
            max_idempotency_keys: limits.idempotency_keys_per_tenant,
            idempotency_retention: limits.idempotency_retention,
        }
    }
}

impl Quotas {
    pub fn limits(&self) -> crate::storage::Limits {
        crate::storage::Limits {
            instances_per_tenant: self.max_instances,
            subscriptions_per_tenant: self.max_subscriptions,
            failed_deliveries_per_tenant: self.max_failed_deliveries,
            idempotency_keys_per_tenant: self.max_idempotency_keys,
            idempotency_retention: self.idempotency_retention,
        }
    }
}

/// At most `calls` calls in each window of `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub calls: u32,
    pub per: Duration,
}

/// Parses `100/60s`: a positive number of calls, `/`, a window.
pub fn parse_rate_limit(raw: &str) -> Result<RateLimit, String> {
    let (calls, per) = raw
        .trim()
        .split_once('/')
        .ok_or_else(|| format!("'{raw}' must read calls/window, like 100/60s"))?;
    let calls: u32 = calls
        .trim()
        .parse()
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| format!("'{raw}' must start with a positive whole number of calls"))?;
    let per = parse_duration_within(per.trim(), Duration::ZERO, MAX_RATE_LIMIT_WINDOW)?;
    if per.is_zero() {
        return Err(format!("'{raw}' needs a window longer than zero"));
    }
    Ok(RateLimit { calls, per })
}

/// The delays between delivery attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrySchedule(pub Vec<Duration>);

/// Parses the delays between delivery attempts; each is at most [`MAX_RETRY_DELAY`].
pub fn parse_schedule(raw: &str) -> Result<RetrySchedule, String> {
    if raw.trim().is_empty() {
        return Ok(RetrySchedule(Vec::new()));
    }
    raw.split(',')
        .map(|delay| parse_duration_within(delay, Duration::ZERO, MAX_RETRY_DELAY))
        .collect::<Result<_, _>>()
        .map(RetrySchedule)
}

/// `parse`, with errors naming `setting`: clap names only the flag, and operators set the
/// environment variable.
fn named<T: 'static>(
    setting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |raw| parse(raw).map_err(|err| format!("{setting}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Settings::defaults` gives the flags' defaults, with the loopback port and data dir.
    #[test]
    fn embedded_defaults_are_the_flags_defaults() {
        let dir = std::path::Path::new("some-dir");
        let settings = Settings::defaults(dir).expect("the defaults parse");
        assert_eq!(settings.data_dir, dir);
        assert_eq!(settings.bind, "127.0.0.1:0".parse().unwrap());
        assert_eq!(settings.delivery_concurrency_per_host, 128);
        assert_eq!(settings.delivery_timeout, Duration::from_secs(15));
        assert_eq!(settings.quotas.max_subscriptions, 10_000);
        assert!(!settings.callback_allow_private);
        assert!(settings.jwt_hs256_secret.is_none());
    }

    #[test]
    fn the_default_schedule_has_seven_delays() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            settings: Settings,
        }
        // The defaults as clap applies them, not a copy of the literal.
        let cli = <Cli as clap::Parser>::try_parse_from(["serve"]).expect("the defaults parse");
        let schedule = cli.settings.retry_schedule.0;
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(
            schedule,
            [
                Duration::from_secs(5),
                Duration::from_secs(300),
                Duration::from_secs(1800),
                hours(2),
                hours(5),
                hours(10),
                hours(10)
            ]
        );
        assert_eq!(
            cli.settings.quotas.limits().subscriptions_per_tenant,
            10_000
        );
    }

    #[test]
    fn rate_limits_parse_as_calls_per_window() {
        assert_eq!(
            parse_rate_limit("100/60s"),
            Ok(RateLimit {
                calls: 100,
                per: Duration::from_secs(60)
            })
        );
        let bad = [
            ("", "empty"),
            ("100", "no window"),
            ("0/60s", "zero calls admit nobody"),
            ("-1/60s", "negative calls"),
            ("100/0s", "an empty window never closes"),
            ("100/60", "a window without a unit"),
            ("many/60s", "calls not a number"),
        ];
        for (raw, reason) in bad {
            assert!(parse_rate_limit(raw).is_err(), "{reason}: {raw:?}");
        }
    }

    /// `Settings` as the command line parses it.
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn parse_flag(flag: &str, value: &str) -> Result<Settings, String> {
        use clap::Parser;
        Cli::try_parse_from(["serve", flag, value])
            .map(|cli| cli.settings)
            .map_err(|err| err.to_string())
    }

    #[test]
    fn every_duration_setting_refuses_a_value_past_its_bound_naming_variable_value_and_bound() {
        let bad = [
            (
                "--retry-schedule",
                "5s,8d",
                "INSIGHTS_RETRY_SCHEDULE",
                "7d",
                "a delay past a week parks a delivery for no one",
            ),
            (
                "--delivery-timeout",
                "6m",
                "INSIGHTS_DELIVERY_TIMEOUT",
                "5m",
                "a receiver slower than minutes holds a slot for nothing",
            ),
            (
                "--delivery-timeout",
                "0s",
                "INSIGHTS_DELIVERY_TIMEOUT",
                "1ms",
                "a zero timeout fails every callback",
            ),
            (
                "--delivery-retention",
                "100000000d",
                "INSIGHTS_DELIVERY_RETENTION",
                "3650d",
                "overflows date arithmetic and stops the delivery scheduler",
            ),
            (
                "--delivery-retention",
                "18446744073709551615d",
                "INSIGHTS_DELIVERY_RETENTION",
                "3650d",
                "more milliseconds than a Duration holds",
            ),
            (
                "--client-request-timeout",
                "2m",
                "INSIGHTS_CLIENT_REQUEST_TIMEOUT",
                "1m",
                "only clients that hold connections open need more than a minute",
            ),
            (
                "--client-request-timeout",
                "0s",
                "INSIGHTS_CLIENT_REQUEST_TIMEOUT",
                "1ms",
                "zero disables the timeout",
            ),
            (
                "--jwks-refetch-interval",
                "2d",
                "INSIGHTS_JWKS_REFETCH_INTERVAL",
                "1d",
                "the keys are fetched daily anyway",
            ),
            (
                "--rate-limit",
                "100/2d",
                "INSIGHTS_RATE_LIMIT",
                "1d",
                "a window past a day never resets in practice",
            ),
            (
                "--report-rate-limit",
                "100/100000000d",
                "INSIGHTS_REPORT_RATE_LIMIT",
                "1d",
                "a window past a day never resets in practice",
            ),
        ];
        for (flag, value, variable, bound, reason) in bad {
            let err = match parse_flag(flag, value) {
                Ok(_) => panic!("{flag} {value} must be refused: {reason}"),
                Err(err) => err,
            };
            for part in [variable, value, bound] {
                assert!(err.contains(part), "{flag} {value}: no {part:?} in {err:?}");
            }
        }
    }

    #[test]
    fn duration_settings_at_their_bounds_are_accepted() {
        let good = [
            ("--retry-schedule", "1ms,7d"),
            ("--delivery-timeout", "5m"),
            ("--delivery-timeout", "1ms"),
            ("--delivery-retention", "3650d"),
            ("--delivery-retention", "0s"),
            ("--jwks-refetch-interval", "1d"),
            ("--client-request-timeout", "60s"),
            ("--rate-limit", "100/1d"),
            ("--report-rate-limit", "1/24h"),
        ];
        for (flag, value) in good {
            assert!(parse_flag(flag, value).is_ok(), "{flag} {value}");
        }
        let defaults = parse_flag("--workers", "0").unwrap();
        assert_eq!(defaults.delivery_retention, Duration::from_secs(7 * DAY));
    }

    #[test]
    fn secrets_do_not_print() {
        let secret: Secret = "a-very-long-shared-secret".parse().unwrap();
        assert_eq!(format!("{secret:?}"), "<redacted>");
    }
}
