//! A third-party Standard Webhooks verifier: the `standardwebhooks` Python package, pinned in
//! `.ci/run`. CI sets `INSIGHTS_THIRD_PARTY_VERIFIER=required`; elsewhere a missing package
//! skips this check with a note (the in-process verification still runs).

use std::io::Write;
use std::process::{Command, Stdio};

const SCRIPT: &str = r#"
import sys, json
from standardwebhooks import Webhook
secret, msg_id, timestamp, signature = sys.argv[1:5]
body = sys.stdin.buffer.read()
Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature})
print("verified")
"#;

pub fn verify_with_standardwebhooks(
    secret: &str,
    msg_id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) {
    let required = std::env::var("INSIGHTS_THIRD_PARTY_VERIFIER").is_ok_and(|v| v == "required");
    let available = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            !required,
            "the standardwebhooks Python package is not installed"
        );
        eprintln!("note: standardwebhooks (Python) not installed; third-party check skipped");
        return;
    }
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, secret, msg_id, timestamp, signature])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).contains("verified"),
        "standardwebhooks refused our signature: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
