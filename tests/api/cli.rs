//! The `insights-connector serve` binary: a held data dir is a clear error, SIGTERM a clean
//! stop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn serve(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_insights-connector"));
    command
        .arg("serve")
        .env("INSIGHTS_BIND", "127.0.0.1:0")
        .env("INSIGHTS_DATA_DIR", data_dir)
        .env("INSIGHTS_JWT_HS256_SECRET", crate::helpers::SECRET)
        .env("INSIGHTS_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Waits until the child logs that it listens; panics after 20 s.
fn wait_until_listening(child: &mut Child) {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the server never listened");
}

/// Waits for the child to exit; panics after 20 s.
fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the process did not exit");
}

#[test]
fn a_held_data_dir_is_a_clear_error_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = serve(dir.path()).spawn().unwrap();
    wait_until_listening(&mut first);

    let second = serve(dir.path()).output().unwrap();
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

    let killed = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        wait_for_exit(&mut first).success(),
        "SIGTERM must stop the server cleanly"
    );
}
