//! The data directory is the service user's alone: it holds callback URLs, signing secrets and
//! the key behind unsubscribe secrets. The real binary creates it 0700 with 0600 files, and
//! tightens one that an older release left readable by other local users.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::helpers::{TENANT, token};
use crate::process::{ServerProcess, serve_command};

/// Every directory and file under `root` (itself included) with its permission bits; links
/// are not followed.
fn modes(root: &Path) -> Vec<(PathBuf, bool, u32)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
        found.push((path, meta.is_dir(), meta.permissions().mode() & 0o777));
    }
    found
}

fn assert_owner_only(root: &Path) {
    let found = modes(root);
    assert!(found.iter().any(|(_, dir, _)| !dir), "sled wrote no file");
    for (path, dir, mode) in found {
        let expected = if dir { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
    }
}

/// Starts the binary on `data_dir`, stores something, and stops it with SIGTERM.
async fn run_once(data_dir: &Path) -> String {
    let mut server = ServerProcess::start(serve_command(data_dir));
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/instances", server.address))
        .bearer_auth(token(TENANT, false))
        .json(&json!({"name": "secrets live here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    server.signal("TERM");
    assert!(server.wait().success());
    server.logs()
}

#[tokio::test]
async fn a_new_data_dir_and_everything_sled_writes_in_it_are_owner_only() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    run_once(&data_dir).await;
    assert_owner_only(&data_dir);
}

#[tokio::test]
async fn an_existing_data_dir_readable_by_others_is_tightened_at_start() {
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    run_once(&data_dir).await;
    // What an older release left: directories 0755, files 0644.
    for (path, dir, _) in modes(&data_dir) {
        let mode = if dir { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let outside = parent.path().join("not-ours.txt");
    std::fs::write(&outside, "left alone").unwrap();
    std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&outside, data_dir.join("link")).unwrap();

    let logs = run_once(&data_dir).await;
    assert_owner_only(&data_dir);
    let told: Vec<_> = logs
        .lines()
        .filter(|line| line.contains("readable by other users"))
        .collect();
    assert_eq!(told.len(), 1, "one log line says what changed: {logs}");
    assert!(
        told[0].contains(&data_dir.display().to_string()),
        "{}",
        told[0]
    );
    let outside_mode = std::fs::metadata(&outside).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        outside_mode, 0o644,
        "a link out of the data dir is not followed"
    );
}
