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

#[test]
fn a_duration_past_its_bound_stops_the_server_with_a_message_naming_it() {
    use std::io::Read;

    let dir = tempfile::tempdir().unwrap();
    let mut command = serve_command(dir.path());
    command.env("INSIGHTS_DELIVERY_RETENTION", "100000000d");
    let mut child = command.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut message = String::new();
        let _ = stderr.read_to_string(&mut message);
        let _ = tx.send(message);
    });
    // stderr closes when the process exits; a server that started keeps it open.
    let Ok(message) = rx.recv_timeout(std::time::Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server started with a retention of 100000000 days");
    };
    let status = child.wait().unwrap();
    assert!(!status.success(), "{message}");
    for part in ["INSIGHTS_DELIVERY_RETENTION", "100000000d", "3650d"] {
        assert!(message.contains(part), "no {part:?} in {message}");
    }
    assert!(!message.contains("panicked"), "{message}");
}
