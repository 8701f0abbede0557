//! The data directory is owner-only: it holds callback URLs, signing secrets and the key behind
//! unsubscribe secrets. A missing one is created 0700; an existing one is tightened at start,
//! with everything in it, so that no other local user can read it. Links are never followed.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Group and other permission bits: none may stay on anything in the data directory.
const GROUP_AND_OTHER: u32 = 0o077;

/// What tightening changed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tightened {
    directories: usize,
    files: usize,
}

/// Makes what this process creates from now on owner-only (umask 077): sled creates files of
/// its own after start (snapshots, blobs), and they must not be readable by others either.
/// Called first thing by the commands that open a data directory.
pub fn owner_only_from_now_on() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(GROUP_AND_OTHER));
}

/// Creates `dir` 0700 when missing; otherwise removes group and other permissions from it and
/// everything under it, and logs once what was changed.
pub(super) fn secure_data_dir(dir: &Path) -> io::Result<()> {
    let context = |err: io::Error| io::Error::new(err.kind(), format!("{}: {err}", dir.display()));
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(context)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(context(err)),
    }
    let mut tightened = Tightened::default();
    // The directory itself may be a link the operator chose; what is inside is not followed.
    let meta = fs::metadata(dir).map_err(context)?;
    tighten(dir, &meta, &mut tightened).map_err(context)?;
    if tightened != Tightened::default() {
        tracing::warn!(
            data_dir = %dir.display(),
            directories = tightened.directories,
            files = tightened.files,
            "the data directory was readable by other users: removed group and other \
             permissions from these directories and files (now 0700 and 0600)"
        );
    }
    Ok(())
}

fn tighten(path: &Path, meta: &fs::Metadata, done: &mut Tightened) -> io::Result<()> {
    let mode = meta.permissions().mode();
    if mode & GROUP_AND_OTHER != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & !GROUP_AND_OTHER))?;
        match meta.is_dir() {
            true => done.directories += 1,
            false => done.files += 1,
        }
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            let meta = fs::symlink_metadata(entry.path())?;
            if !meta.file_type().is_symlink() {
                tighten(&entry.path(), &meta, done)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_missing_data_dir_is_created_owner_only() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("a").join("data");
        secure_data_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn an_open_data_dir_is_tightened_with_everything_in_it_but_not_through_links() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let sub = dir.join("blobs");
        fs::create_dir_all(&sub).unwrap();
        fs::write(dir.join("db"), "secrets").unwrap();
        fs::write(sub.join("1"), "secrets").unwrap();
        fs::write(dir.join("conf"), "private already").unwrap();
        let outside = parent.path().join("outside");
        fs::write(&outside, "not ours").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        for (path, m) in [
            (&dir, 0o755),
            (&sub, 0o750),
            (&dir.join("db"), 0o644),
            (&sub.join("1"), 0o666),
            (&dir.join("conf"), 0o600),
            (&outside, 0o644),
        ] {
            set_mode(path, m);
        }

        let mut done = Tightened::default();
        tighten(&dir, &fs::metadata(&dir).unwrap(), &mut done).unwrap();
        assert_eq!(
            done,
            Tightened {
                directories: 2,
                files: 2
            }
        );
        for dir in [&dir, &sub] {
            assert_eq!(mode(dir), 0o700, "{}", dir.display());
        }
        for file in [dir.join("db"), sub.join("1"), dir.join("conf")] {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        assert_eq!(
            mode(&outside),
            0o644,
            "the link's target is not ours to change"
        );

        secure_data_dir(&dir).unwrap();
        let mut again = Tightened::default();
        tighten(&dir, &fs::metadata(&dir).unwrap(), &mut again).unwrap();
        assert_eq!(again, Tightened::default(), "nothing is left to tighten");
    }
}
