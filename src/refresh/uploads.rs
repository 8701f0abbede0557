//! Uploaded data source content: one file per data source under `<data dir>/uploads/<instance>/`,
//! streamed to a temporary file beside it, synced, and renamed over the previous upload in one
//! step, so a refresh reads either the old upload or the new one, never half of one.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::domain::{InstanceId, ItemId};
use crate::engine::items::EntityName;

/// What temporary uploads are named with; whatever a stopped process left is removed at start.
const TEMPORARY: &str = ".part-";

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the upload could not be stored")]
    Io(#[from] io::Error),
}

/// The directory of uploads.
#[derive(Debug, Clone)]
pub struct Uploads {
    dir: PathBuf,
}

impl Uploads {
    /// Opens (creating it) the uploads directory and removes the temporary files of uploads
    /// that a stopped process left unfinished.
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        for instance in std::fs::read_dir(&dir)? {
            let instance = instance?.path();
            if !instance.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&instance)? {
                let file = file?.path();
                let temporary = file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.contains(TEMPORARY));
                if temporary {
                    std::fs::remove_file(&file)?;
                }
            }
        }
        Ok(Self { dir })
    }

    /// Where the upload of a data source is (the id is hashed into a safe file name).
    pub fn path(&self, instance: InstanceId, id: &ItemId) -> io::Result<PathBuf> {
        let name = EntityName::parse(id.as_str())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        Ok(self.dir.join(instance.to_string()).join(name.dir_name()))
    }

    /// Starts a new upload of a data source, of at most `limit` bytes.
    pub async fn begin(
        &self,
        instance: InstanceId,
        id: &ItemId,
        limit: u64,
    ) -> Result<Upload, UploadError> {
        let target = self.path(instance, id)?;
        let dir = target
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| io::Error::other("an upload path has a directory"))?;
        tokio::fs::create_dir_all(&dir).await?;
        let mut temporary = target.clone().into_os_string();
        temporary.push(format!("{TEMPORARY}{}", Uuid::new_v4()));
        let temporary = PathBuf::from(temporary);
        let file = tokio::fs::File::create(&temporary).await?;
        Ok(Upload {
            file: Some(file),
            temporary,
            target,
            dir,
            written: 0,
            limit,
        })
    }
}

/// An upload being received. Dropped without [`Upload::commit`], it leaves the previous
/// upload in place and removes its temporary file.
pub struct Upload {
    file: Option<tokio::fs::File>,
    temporary: PathBuf,
    target: PathBuf,
    dir: PathBuf,
    written: u64,
    limit: u64,
}

impl Upload {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.written += chunk.len() as u64;
        if self.written > self.limit {
            return Err(UploadError::TooLarge { limit: self.limit });
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("an upload written after it was committed"))?;
        file.write_all(chunk).await?;
        Ok(())
    }

    /// Makes the upload durable and the data source's current one; answers its size.
    pub async fn commit(mut self) -> Result<u64, UploadError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("an upload committed twice"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&self.temporary, &self.target).await?;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(io::Error::other)??;
        Ok(self.written)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Best effort: a file left behind is removed at the next start.
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_upload_replaces_the_previous_one_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = Uploads::open(dir.path().join("uploads")).unwrap();
        let (instance, id) = (InstanceId::new(), ItemId::parse("crm").unwrap());
        let mut first = uploads.begin(instance, &id, 100).await.unwrap();
        first.write(b"id\n1\n").await.unwrap();
        assert_eq!(first.commit().await.unwrap(), 5);
        let path = uploads.path(instance, &id).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"id\n1\n");

        let mut too_large = uploads.begin(instance, &id, 8).await.unwrap();
        too_large.write(b"id\n").await.unwrap();
        assert!(matches!(
            too_large.write(b"2\n3\n4\n").await,
            Err(UploadError::TooLarge { limit: 8 })
        ));
        drop(too_large);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"id\n1\n",
            "the previous upload stays"
        );
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left");
    }

    #[tokio::test]
    async fn opening_removes_what_an_unfinished_upload_left() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("uploads");
        let uploads = Uploads::open(root.clone()).unwrap();
        let (instance, id) = (InstanceId::new(), ItemId::parse("crm").unwrap());
        let mut upload = uploads.begin(instance, &id, 100).await.unwrap();
        upload.write(b"id\n").await.unwrap();
        // A crash: the temporary file stays.
        std::mem::forget(upload);
        Uploads::open(root).unwrap();
        let instance_dir = uploads.path(instance, &id).unwrap();
        let left = std::fs::read_dir(instance_dir.parent().unwrap())
            .unwrap()
            .count();
        assert_eq!(left, 0);
    }
}
