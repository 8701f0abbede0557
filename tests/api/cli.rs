//! The `insights-connector serve` binary: a held data dir is a clear error, SIGTERM a clean
//! stop.

use crate::process::{ServerProcess, serve_command};

#[test]
fn a_held_data_dir_is_a_clear_error_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = ServerProcess::start(serve_command(dir.path()));

    let second = serve_command(dir.path()).output().unwrap();
    let message = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "a second server on the same dir must fail"
    );
    assert!(
        message.contains("in use by another process"),
        "unclear message: {message}"
    );
    assert!(!message.contains("panicked"), "{message}");

    first.signal("TERM");
    assert!(
        first.wait().success(),
        "SIGTERM must stop the server cleanly"
    );
}
