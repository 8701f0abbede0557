//! The item store: the one store of every entity's items (data source entities, the unified
//! `Customer` entity, activity items), in files under a directory the caller gives, one
//! directory per instance and entity. It owns generations, the switch between them, indexes
//! and reads; it knows nothing of sources, HTTP or sled.
//!
//! Layout: `<root>/<instance id>/<entity dir>/MANIFEST` names the current generation, whose
//! files are in `gen-<n>/` beside it: `rows` (see [`codec`]), `key` (the primary key index)
//! and `index-<field position>` (secondary indexes). An index file is a sorted array of
//! 16-byte entries, a stable hash of the value ([`crate::engine::hash::hash64`]) and the row's
//! offset, searched with positioned reads.
//!
//! Durability: a new generation is written beside the current one and fsynced, then the
//! manifest is replaced by writing `MANIFEST.tmp`, fsyncing it and renaming it over
//! `MANIFEST` (then the directory is fsynced): that rename is the one step that switches. The
//! old generation is removed after. [`ItemStore::open`] removes whatever an interrupted write
//! left, so a half-written generation is never visible, even after SIGKILL.

pub mod codec;
mod names;
mod query;
mod read;
#[cfg(test)]
mod tests;
mod write;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::domain::InstanceId;
use crate::engine::schema::Schema;
use crate::engine::value::{FieldType, Value};

pub use names::{EntityName, EntityNameError, MAX_NAME_CHARS};
pub use query::{Item, OrderKey, Page, Query, QueryError, parse_order_by, parse_select};
pub use read::Entity;
pub use write::EntityWriter;

const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";
const GENERATION_PREFIX: &str = "gen-";
const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ItemsError {
    #[error("the item store could not use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the manifest {path} is corrupt")]
    CorruptManifest {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the stored items of entity '{entity}' are corrupt ({what})")]
    Corrupt { entity: String, what: &'static str },
    #[error("entity '{entity}' is already being written")]
    WriteInProgress { entity: String },
    #[error("field '{field}' is {expected}, but a row holds a {found} value")]
    WrongType {
        field: String,
        expected: FieldType,
        found: FieldType,
    },
    #[error("a row has no primary key ('{field}' is null)")]
    NullKey { field: String },
    #[error("the primary key '{}' appears twice", key.as_ref().key_text().unwrap_or_default())]
    DuplicateKey { key: Value },
    #[error("entity '{entity}' has no index on '{field}'")]
    NotIndexed { entity: String, field: String },
    #[error("'{field}' is not a field of entity '{entity}'")]
    UnknownField { entity: String, field: String },
}

pub type Result<T, E = ItemsError> = std::result::Result<T, E>;

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ItemsError + '_ {
    move |source| ItemsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What `MANIFEST` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    format: u32,
    name: String,
    generation: u64,
    schema: Schema,
    item_count: u64,
    /// Fields with a secondary index, by name.
    indexes: Vec<String>,
}

/// The entities of all instances. Cheap to clone: clones share one cache of open
/// generations, and readers keep the generation they started with until they finish.
#[derive(Clone)]
pub struct ItemStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    open: Mutex<HashMap<(InstanceId, EntityName), Arc<Entity>>>,
    writing: Mutex<HashSet<(InstanceId, EntityName)>>,
}

/// One entity as `GetEntities` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityInfo {
    pub name: String,
    pub schema: Schema,
    pub item_count: u64,
}

impl ItemStore {
    /// Opens (creating it when missing) the store under `root`, and removes what interrupted
    /// writes left: temporary manifests, generations the manifest does not name, and entity
    /// directories that never got a manifest.
    pub fn open(root: impl Into<PathBuf>) -> Result<ItemStore> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_error(&root))?;
        for instance in read_dir(&root)? {
            if instance.is_dir() {
                for entity in read_dir(&instance)? {
                    if entity.is_dir() {
                        clean_entity_dir(&entity)?;
                    }
                }
            }
        }
        Ok(ItemStore {
            inner: Arc::new(Inner {
                root,
                open: Mutex::new(HashMap::new()),
                writing: Mutex::new(HashSet::new()),
            }),
        })
    }

    fn entity_dir(&self, instance: InstanceId, name: &EntityName) -> PathBuf {
        self.inner
            .root
            .join(instance.to_string())
            .join(name.dir_name())
    }

    fn open_cache(&self) -> MutexGuard<'_, HashMap<(InstanceId, EntityName), Arc<Entity>>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert or
        // remove), so a poisoned lock is still a consistent map.
        self.inner
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn writing(&self) -> MutexGuard<'_, HashSet<(InstanceId, EntityName)>> {
        self.inner
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current generation of an entity, or `None` when it has never been written. The
    /// handle stays valid (and unchanged) while later generations replace it.
    pub fn entity(&self, instance: InstanceId, name: &EntityName) -> Result<Option<Arc<Entity>>> {
        let key = (instance, name.clone());
        if let Some(entity) = self.open_cache().get(&key) {
            return Ok(Some(entity.clone()));
        }
        let dir = self.entity_dir(instance, name);
        let Some(manifest) = read_manifest(&dir)? else {
            return Ok(None);
        };
        let entity = Arc::new(Entity::open(&dir, manifest)?);
        // Another thread may have opened it meanwhile, or a writer switched it: keep the
        // newer generation.
        let mut cache = self.open_cache();
        let current = cache.entry(key).or_insert_with(|| entity.clone());
        if current.generation() < entity.generation() {
            *current = entity;
        }
        Ok(Some(current.clone()))
    }

    /// Every entity of an instance, by name.
    pub fn entities(&self, instance: InstanceId) -> Result<Vec<EntityInfo>> {
        let dir = self.inner.root.join(instance.to_string());
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for entity_dir in read_dir(&dir)? {
            if let Some(manifest) = read_manifest(&entity_dir)? {
                out.push(EntityInfo {
                    name: manifest.name,
                    schema: manifest.schema,
                    item_count: manifest.item_count,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Starts writing a new generation of an entity with `schema`, with a secondary index on
    /// each field of `indexes`. Nothing is visible until [`EntityWriter::commit`]; dropping
    /// the writer abandons the generation. One writer per entity at a time.
    pub fn write(
        &self,
        instance: InstanceId,
        name: &EntityName,
        schema: Schema,
        indexes: &[&str],
    ) -> Result<EntityWriter> {
        let key = (instance, name.clone());
        if !self.writing().insert(key.clone()) {
            return Err(ItemsError::WriteInProgress {
                entity: name.to_string(),
            });
        }
        let started =
            write::EntityWriter::start(self.clone(), instance, name.clone(), schema, indexes);
        if started.is_err() {
            self.writing().remove(&key);
        }
        started
    }

    /// Removes an entity and its items (a deleted data source). The manifest goes first, so
    /// a crash halfway leaves an entity directory without one, which the next open removes.
    pub fn remove(&self, instance: InstanceId, name: &EntityName) -> Result<bool> {
        let dir = self.entity_dir(instance, name);
        self.open_cache().remove(&(instance, name.clone()));
        let manifest = dir.join(MANIFEST);
        match fs::remove_file(&manifest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_error(&manifest)(e)),
        }
        sync_dir(&dir)?;
        fs::remove_dir_all(&dir).map_err(io_error(&dir))?;
        Ok(true)
    }

    /// Called by a writer that switched generations, with the new one opened (`None` when
    /// opening failed: the next read opens it from the manifest).
    fn switched(&self, instance: InstanceId, name: &EntityName, entity: Option<Arc<Entity>>) {
        let key = (instance, name.clone());
        let mut cache = self.open_cache();
        match entity {
            Some(entity) => cache.insert(key, entity),
            None => cache.remove(&key),
        };
    }

    /// Called by a writer when it finishes, committed or not.
    fn release(&self, instance: InstanceId, name: &EntityName) {
        self.writing().remove(&(instance, name.clone()));
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        out.push(entry.map_err(io_error(dir))?.path());
    }
    Ok(out)
}

fn read_manifest(entity_dir: &Path) -> Result<Option<Manifest>> {
    let path = entity_dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(&path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| ItemsError::CorruptManifest { path, source })
}

fn generation_dir(entity_dir: &Path, generation: u64) -> PathBuf {
    entity_dir.join(format!("{GENERATION_PREFIX}{generation}"))
}

/// Removes what an interrupted write left in one entity directory.
fn clean_entity_dir(dir: &Path) -> Result<()> {
    let Some(manifest) = read_manifest(dir)? else {
        // Never committed, or removed halfway.
        return fs::remove_dir_all(dir).map_err(io_error(dir));
    };
    let current = generation_dir(dir, manifest.generation);
    for path in read_dir(dir)? {
        let is_generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(GENERATION_PREFIX));
        if is_generation && path != current {
            fs::remove_dir_all(&path).map_err(io_error(&path))?;
        } else if path.file_name().is_some_and(|n| n == MANIFEST_TMP) {
            fs::remove_file(&path).map_err(io_error(&path))?;
        }
    }
    Ok(())
}

/// Makes a directory's entries (created, renamed or removed files) durable.
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}
