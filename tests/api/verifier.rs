//! A third-party Standard Webhooks verifier: the `standardwebhooks` Python package, pinned in
//! `tools/requirements.txt` and installed into `.venv` by `tools/test`.

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
    let mut child = Command::new(crate::helpers::venv_tool("python"))
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
