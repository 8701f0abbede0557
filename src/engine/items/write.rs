//! Writing one generation of an entity: rows streamed to disk, index entries kept as 16 bytes
//! a row, then sorted, checked for duplicate keys, fsynced and switched in by the manifest.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use super::codec::{decode_row, encode_row};
use super::read::Entity;
use super::{
    EntityName, FORMAT, ItemStore, ItemsError, MANIFEST, MANIFEST_TMP, Manifest, Result,
    generation_dir, io_error, read_manifest, sync_dir,
};
use crate::domain::InstanceId;
use crate::engine::hash::hash64;
use crate::engine::schema::Schema;
use crate::engine::value::{FieldType, Row, ValueRef};

/// Write buffer of the rows file.
const ROWS_BUFFER: usize = 1 << 20;

/// A generation being written. Dropping it without [`EntityWriter::commit`] removes it.
pub struct EntityWriter {
    store: ItemStore,
    instance: InstanceId,
    name: EntityName,
    schema: Schema,
    types: Vec<FieldType>,
    indexes: Vec<usize>,
    entity_dir: PathBuf,
    generation: u64,
    generation_dir: PathBuf,
    rows: Option<BufWriter<File>>,
    offset: u64,
    encoded: Vec<u8>,
    key_bytes: Vec<u8>,
    key_entries: Vec<[u64; 2]>,
    index_entries: Vec<Vec<[u64; 2]>>,
    finished: bool,
}

/// Where a test stops a commit, leaving the files as a crash at that point would.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CrashPoint {
    GenerationWritten,
    TemporaryManifestWritten,
    Switched,
}

impl EntityWriter {
    pub(super) fn start(
        store: ItemStore,
        instance: InstanceId,
        name: EntityName,
        schema: Schema,
        indexes: &[&str],
    ) -> Result<EntityWriter> {
        let indexes = indexes
            .iter()
            .map(|field| {
                schema
                    .position(field)
                    .ok_or_else(|| ItemsError::UnknownField {
                        entity: name.to_string(),
                        field: (*field).to_owned(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let entity_dir = store.entity_dir(instance, &name);
        fs::create_dir_all(&entity_dir).map_err(io_error(&entity_dir))?;
        let current = read_manifest(&entity_dir)?.map_or(0, |m| m.generation);
        let generation = current + 1;
        let generation_dir = generation_dir(&entity_dir, generation);
        if generation_dir.exists() {
            // Left by a writer of this process that could not remove it.
            fs::remove_dir_all(&generation_dir).map_err(io_error(&generation_dir))?;
        }
        fs::create_dir(&generation_dir).map_err(io_error(&generation_dir))?;
        let rows_path = generation_dir.join("rows");
        // Readable too: commit reads rows back to compare keys whose hashes collide.
        let rows = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&rows_path)
            .map_err(io_error(&rows_path))?;
        Ok(EntityWriter {
            types: schema.fields().iter().map(|f| f.ty).collect(),
            index_entries: vec![Vec::new(); indexes.len()],
            indexes,
            store,
            instance,
            name,
            schema,
            entity_dir,
            generation,
            generation_dir,
            rows: Some(BufWriter::with_capacity(ROWS_BUFFER, rows)),
            offset: 0,
            encoded: Vec::new(),
            key_bytes: Vec::new(),
            key_entries: Vec::new(),
            finished: false,
        })
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Items written so far.
    pub fn count(&self) -> u64 {
        self.key_entries.len() as u64
    }

    /// Appends one row, its values in the schema's order (an integer may fill a number
    /// field). The primary key may not be null; duplicates are found at commit.
    pub fn push<R: Row + ?Sized>(&mut self, row: &R) -> Result<()> {
        let key = row.value(self.schema.primary_key());
        if key.is_null() {
            return Err(ItemsError::NullKey {
                field: self.schema.primary_key_field().name.clone(),
            });
        }
        self.encoded.clear();
        encode_row(&self.types, row, &mut self.encoded).map_err(|wrong| ItemsError::WrongType {
            field: self
                .schema
                .field(wrong.field)
                .map_or_else(String::new, |f| f.name.clone()),
            expected: wrong.expected,
            found: wrong.found,
        })?;
        let offset = self.offset;
        let key_hash = index_hash(&mut self.key_bytes, key);
        self.key_entries.push([key_hash, offset]);
        for (n, field) in self.indexes.iter().enumerate() {
            let value = row.value(*field);
            if !value.is_null() {
                let hash = index_hash(&mut self.key_bytes, value);
                self.index_entries[n].push([hash, offset]);
            }
        }
        let Some(rows) = self.rows.as_mut() else {
            return Err(ItemsError::Corrupt {
                entity: self.name.to_string(),
                what: "a writer was used after it failed",
            });
        };
        if let Err(error) = rows.write_all(&self.encoded) {
            return Err(io_error(&self.generation_dir.join("rows"))(error));
        }
        self.offset += self.encoded.len() as u64;
        Ok(())
    }

    /// Makes the generation durable and switches readers to it in one atomic step; the
    /// previous generation is removed after. Fails with [`ItemsError::DuplicateKey`] when two
    /// rows share a primary key, leaving the previous generation in place.
    pub fn commit(self) -> Result<Arc<Entity>> {
        self.commit_until(None)
    }

    pub(super) fn commit_until(mut self, crash: Option<CrashPoint>) -> Result<Arc<Entity>> {
        let rows_path = self.generation_dir.join("rows");
        let rows = self
            .rows
            .take()
            .ok_or_else(|| ItemsError::Corrupt {
                entity: self.name.to_string(),
                what: "a writer was used after it failed",
            })?
            .into_inner()
            .map_err(|e| io_error(&rows_path)(e.into_error()))?;
        let mut key_entries = std::mem::take(&mut self.key_entries);
        let mut index_entries = std::mem::take(&mut self.index_entries);
        let this = &self;
        // The rows reach the disk while the indexes are sorted and written.
        std::thread::scope(|scope| {
            let synced = scope.spawn(|| rows.sync_all());
            sort_entries(&mut key_entries);
            this.check_unique_keys(&rows, &key_entries)?;
            this.write_index("key", &key_entries)?;
            for (entries, field) in index_entries.iter_mut().zip(&this.indexes) {
                sort_entries(entries);
                this.write_index(&format!("index-{field}"), entries)?;
            }
            synced
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map_err(io_error(&rows_path))
        })?;
        drop(index_entries);
        sync_dir(&self.generation_dir)?;
        sync_dir(&self.entity_dir)?;
        if crash == Some(CrashPoint::GenerationWritten) {
            return self.crash();
        }

        let manifest = Manifest {
            format: FORMAT,
            name: self.name.to_string(),
            generation: self.generation,
            schema: self.schema.clone(),
            item_count: key_entries.len() as u64,
            indexes: self
                .indexes
                .iter()
                .filter_map(|f| self.schema.field(*f).map(|f| f.name.clone()))
                .collect(),
        };
        let previous = read_manifest(&self.entity_dir)?.map(|m| m.generation);
        let tmp = self.entity_dir.join(MANIFEST_TMP);
        let json = serde_json::to_vec(&manifest).map_err(|source| ItemsError::CorruptManifest {
            path: tmp.clone(),
            source,
        })?;
        let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
        file.write_all(&json).map_err(io_error(&tmp))?;
        file.sync_all().map_err(io_error(&tmp))?;
        if crash == Some(CrashPoint::TemporaryManifestWritten) {
            return self.crash();
        }
        let path = self.entity_dir.join(MANIFEST);
        fs::rename(&tmp, &path).map_err(io_error(&path))?;
        sync_dir(&self.entity_dir)?;
        self.finished = true;
        if crash == Some(CrashPoint::Switched) {
            return self.crash();
        }

        let entity = Entity::open(&self.entity_dir, manifest).map(Arc::new);
        self.store
            .switched(self.instance, &self.name, entity.as_ref().ok().cloned());
        let entity = entity?;
        if let Some(previous) = previous {
            let old = generation_dir(&self.entity_dir, previous);
            if let Err(error) = fs::remove_dir_all(&old) {
                // Readers are already on the new generation; the next open removes it.
                tracing::warn!(path = %old.display(), %error, "could not remove an old generation");
            }
        }
        Ok(entity)
    }

    /// Leaves the files as they are, as a killed process would.
    fn crash(mut self) -> Result<Arc<Entity>> {
        self.finished = true;
        Err(ItemsError::Corrupt {
            entity: self.name.to_string(),
            what: "a test crashed the commit",
        })
    }

    /// Equal hashes are compared by reading both rows' keys back.
    fn check_unique_keys(&self, rows: &File, entries: &[[u64; 2]]) -> Result<()> {
        let key = self.schema.primary_key();
        let mut first = Vec::new();
        let mut second = Vec::new();
        for pair in entries.windows(2) {
            if pair[0][0] != pair[1][0] {
                continue;
            }
            let a = read_row_bytes(rows, pair[0][1], &mut first, &self.name)?;
            let b = read_row_bytes(rows, pair[1][1], &mut second, &self.name)?;
            let corrupt = || ItemsError::Corrupt {
                entity: self.name.to_string(),
                what: "a row just written",
            };
            let mut va = Vec::new();
            let mut vb = Vec::new();
            decode_row(&self.types, a, &mut va).map_err(|_| corrupt())?;
            decode_row(&self.types, b, &mut vb).map_err(|_| corrupt())?;
            let (ka, kb) = (va.value(key), vb.value(key));
            if ka.compare(kb) == Some(std::cmp::Ordering::Equal) {
                return Err(ItemsError::DuplicateKey {
                    key: ka.to_owned_value(),
                });
            }
        }
        Ok(())
    }

    fn write_index(&self, file_name: &str, entries: &[[u64; 2]]) -> Result<()> {
        let path = self.generation_dir.join(file_name);
        let file = File::create(&path).map_err(io_error(&path))?;
        let mut out = BufWriter::with_capacity(ROWS_BUFFER, file);
        for [hash, offset] in entries {
            out.write_all(&hash.to_le_bytes())
                .map_err(io_error(&path))?;
            out.write_all(&offset.to_le_bytes())
                .map_err(io_error(&path))?;
        }
        let file = out
            .into_inner()
            .map_err(|e| io_error(&path)(e.into_error()))?;
        file.sync_data().map_err(io_error(&path))
    }
}

/// Index entries in (hash, offset) order: by hash for the binary search, and in stored
/// order among equal hashes. Compared as one `u128`, faster than a two-word array.
fn sort_entries(entries: &mut [[u64; 2]]) {
    entries.sort_unstable_by_key(|[hash, offset]| (u128::from(*hash) << 64) | u128::from(*offset));
}

/// The hash an index holds for a value; `scratch` is reused between calls.
pub(super) fn index_hash(scratch: &mut Vec<u8>, value: ValueRef<'_>) -> u64 {
    scratch.clear();
    value.write_index_key(scratch);
    hash64(scratch)
}

/// The payload of the row at `offset` (after its length prefix), read into `buf`.
pub(super) fn read_row_bytes<'b>(
    rows: &File,
    offset: u64,
    buf: &'b mut Vec<u8>,
    entity: &EntityName,
) -> Result<&'b [u8]> {
    let corrupt = |_| ItemsError::Corrupt {
        entity: entity.to_string(),
        what: "a row offset past the end of the rows",
    };
    let mut len = [0u8; 4];
    rows.read_exact_at(&mut len, offset).map_err(corrupt)?;
    buf.resize(u32::from_le_bytes(len) as usize, 0);
    rows.read_exact_at(buf, offset + 4).map_err(corrupt)?;
    Ok(buf)
}

impl Drop for EntityWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.rows = None;
            if let Err(error) = fs::remove_dir_all(&self.generation_dir) {
                tracing::warn!(path = %self.generation_dir.display(), %error, "could not remove an abandoned generation");
            }
        }
        self.store.release(self.instance, &self.name);
    }
}
