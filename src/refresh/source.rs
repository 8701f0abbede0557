//! Opening what a refresh reads: the current upload, a file under the import directory (links
//! out of it refused), or a URL downloaded to a temporary file. The file is opened once and
//! every ingest pass reads that same open file, so an upload or a file replaced meanwhile
//! cannot mix two contents into one refresh.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::delivery::fetch::Fetcher;
use crate::domain::{DataSource, ImportPath, Source, SourceUrl};

use super::Failure;
use super::uploads::Uploads;

/// The `errorCode` of a `file` source whose path leads out of the import directory.
pub const OUTSIDE_IMPORT_DIR: &str = "source_outside_import_dir";

/// Where the sources of one service are.
pub struct Sources {
    pub uploads: Uploads,
    /// The import directory, canonical.
    pub import_dir: Option<PathBuf>,
    /// Where downloads are written while they are read.
    pub downloads: PathBuf,
    pub fetcher: Fetcher,
    pub download_limit: u64,
}

/// Where a `file` source leads, when it stays inside the import directory: `Ok(None)` when
/// nothing is there yet.
pub fn resolve_import(import_dir: &Path, path: &ImportPath) -> Result<Option<PathBuf>, Failure> {
    let joined = import_dir.join(path.as_str());
    let canonical = match std::fs::canonicalize(&joined) {
        Ok(canonical) => canonical,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(_) => return Err(unreadable(path)),
    };
    if !canonical.starts_with(import_dir) {
        return Err(Failure::new(
            OUTSIDE_IMPORT_DIR,
            format!(
                "The path '{}' leads out of the import directory (through a link); sources may only be read from inside it.",
                path.as_str()
            ),
        ));
    }
    Ok(Some(canonical))
}

fn unreadable(path: &ImportPath) -> Failure {
    Failure::new(
        "source_unreadable",
        format!("The file '{}' could not be read.", path.as_str()),
    )
}

/// An open source, read from its start by each pass.
pub struct Opened {
    file: File,
    stopping: Arc<AtomicBool>,
}

impl Opened {
    /// A reader from the start of the source. It fails once the service is stopping, so an
    /// ingest cut off by a stop ends at once (and is marked interrupted at the next start).
    pub fn reader(&self) -> io::Result<impl Read + Send + use<>> {
        let mut file = self.file.try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(StopReader {
            file,
            stopping: Arc::clone(&self.stopping),
        })
    }
}

struct StopReader {
    file: File,
    stopping: Arc<AtomicBool>,
}

impl Read for StopReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err(io::Error::other("the service is stopping"));
        }
        self.file.read(buf)
    }
}

impl Sources {
    /// Opens what `source` reads; `name` is the temporary download's file name.
    pub async fn open(
        &self,
        source: &DataSource,
        name: &str,
        stopping: Arc<AtomicBool>,
    ) -> Result<Opened, Failure> {
        let file = match &source.source {
            Source::Upload => self.open_upload(source)?,
            Source::File { path } => self.open_import(path)?,
            Source::Url { url } => self.download(url, name).await?,
        };
        Ok(Opened { file, stopping })
    }

    fn open_upload(&self, source: &DataSource) -> Result<File, Failure> {
        let no_upload = || {
            Failure::new(
                "no_upload",
                "No content was uploaded for this data source; upload it with PUT .../content first.",
            )
        };
        let path = self
            .uploads
            .path(source.instance_id, &source.id)
            .map_err(|_| no_upload())?;
        match File::open(path) {
            Ok(file) => Ok(file),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Err(no_upload()),
            Err(_) => Err(Failure::new(
                "source_unreadable",
                "The uploaded content could not be read.",
            )),
        }
    }

    fn open_import(&self, path: &ImportPath) -> Result<File, Failure> {
        let Some(import_dir) = &self.import_dir else {
            return Err(Failure::new(
                "file_sources_disabled",
                "File data sources are off: the service has no INSIGHTS_IMPORT_DIR.",
            ));
        };
        let Some(canonical) = resolve_import(import_dir, path)? else {
            return Err(Failure::new(
                "source_not_found",
                format!(
                    "There is no file '{}' in the import directory.",
                    path.as_str()
                ),
            ));
        };
        // The canonical path has no links left; one put there since is not followed.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&canonical)
            .map_err(|_| unreadable(path))?;
        let is_file = file.metadata().map_err(|_| unreadable(path))?.is_file();
        if !is_file {
            return Err(Failure::new(
                "source_not_a_file",
                format!("'{}' is not a regular file.", path.as_str()),
            ));
        }
        Ok(file)
    }

    async fn download(&self, url: &SourceUrl, name: &str) -> Result<File, Failure> {
        let storage = |_| Failure::new("storage_failure", "The download could not be stored.");
        let path = self.downloads.join(name);
        let mut file = tokio::fs::File::create(&path).await.map_err(storage)?;
        let fetched = self
            .fetcher
            .download(url.as_url(), &mut file, self.download_limit)
            .await;
        drop(file);
        let opened = match fetched {
            Ok(_) => File::open(&path).map_err(storage),
            Err(err) => Err(Failure::new(err.code(), err.to_string())),
        };
        // The open file stays readable; its name goes at once.
        let _ = std::fs::remove_file(&path);
        opened
    }
}
