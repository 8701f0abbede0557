//! Reading one generation of an entity: get by primary key and lookups through the indexes
//! (binary search with positioned reads, no scan), full scans in large sequential blocks, and
//! queries with filter, select, order and paging.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::codec::decode_row;
use super::query::{Item, OrderKey, Page, Query};
use super::write::read_row_bytes;
use super::{EntityName, FORMAT, ItemsError, Manifest, Result, generation_dir, io_error};
use crate::engine::filter::BoundFilter;
use crate::engine::schema::Schema;
use crate::engine::value::{FieldType, Row, Value, ValueRef, parse_text};

/// Size of the blocks a scan reads.
const SCAN_BLOCK: usize = 1 << 20;
const ENTRY: u64 = 16;

/// One committed generation of an entity: immutable, so readers need no lock.
#[derive(Debug)]
pub struct Entity {
    name: EntityName,
    generation: u64,
    schema: Schema,
    types: Vec<FieldType>,
    item_count: u64,
    rows: File,
    rows_len: u64,
    key: IndexFile,
    indexes: Vec<(usize, IndexFile)>,
}

#[derive(Debug)]
struct IndexFile {
    file: File,
    entries: u64,
}

impl IndexFile {
    fn open(path: &Path) -> Result<IndexFile> {
        let file = File::open(path).map_err(io_error(path))?;
        let len = file.metadata().map_err(io_error(path))?.len();
        Ok(IndexFile {
            file,
            entries: len / ENTRY,
        })
    }

    fn entry(&self, n: u64) -> std::io::Result<(u64, u64)> {
        let mut bytes = [0u8; ENTRY as usize];
        self.file.read_exact_at(&mut bytes, n * ENTRY)?;
        let (hash, offset) = bytes.split_at(8);
        let word = |b: &[u8]| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            u64::from_le_bytes(w)
        };
        Ok((word(hash), word(offset)))
    }

    /// Row offsets of the entries with `hash`, in stored order.
    fn offsets(&self, hash: u64) -> std::io::Result<Vec<u64>> {
        let (mut low, mut high) = (0, self.entries);
        while low < high {
            let mid = low + (high - low) / 2;
            if self.entry(mid)?.0 < hash {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let mut out = Vec::new();
        let mut n = low;
        while n < self.entries {
            let (h, offset) = self.entry(n)?;
            if h != hash {
                break;
            }
            out.push(offset);
            n += 1;
        }
        Ok(out)
    }
}

impl Entity {
    pub(super) fn open(entity_dir: &Path, manifest: Manifest) -> Result<Entity> {
        let corrupt = |what| ItemsError::Corrupt {
            entity: manifest.name.clone(),
            what,
        };
        if manifest.format != FORMAT {
            return Err(corrupt("an unknown format"));
        }
        let name = EntityName::parse(&manifest.name).map_err(|_| corrupt("a bad name"))?;
        let dir = generation_dir(entity_dir, manifest.generation);
        let rows_path = dir.join("rows");
        let rows = File::open(&rows_path).map_err(io_error(&rows_path))?;
        let rows_len = rows.metadata().map_err(io_error(&rows_path))?.len();
        let key = IndexFile::open(&dir.join("key"))?;
        if key.entries != manifest.item_count {
            return Err(corrupt("a key index of the wrong size"));
        }
        let mut indexes = Vec::new();
        for field in &manifest.indexes {
            let position = manifest
                .schema
                .position(field)
                .ok_or(corrupt("an index of an unknown field"))?;
            indexes.push((
                position,
                IndexFile::open(&dir.join(format!("index-{position}")))?,
            ));
        }
        Ok(Entity {
            name,
            generation: manifest.generation,
            types: manifest.schema.fields().iter().map(|f| f.ty).collect(),
            schema: manifest.schema,
            item_count: manifest.item_count,
            rows,
            rows_len,
            key,
            indexes,
        })
    }

    pub fn name(&self) -> &EntityName {
        &self.name
    }

    /// Grows by one with each commit of the entity.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn item_count(&self) -> u64 {
        self.item_count
    }

    /// Fields with a secondary index.
    pub fn indexed_fields(&self) -> impl Iterator<Item = &str> {
        self.indexes
            .iter()
            .filter_map(|(f, _)| self.schema.field(*f).map(|f| f.name.as_str()))
    }

    fn corrupt(&self, what: &'static str) -> ItemsError {
        ItemsError::Corrupt {
            entity: self.name.to_string(),
            what,
        }
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> ItemsError + '_ {
        |_| self.corrupt("an index that cannot be read")
    }

    /// The item whose primary key reads as `key` (`GetItem`'s `itemId`: `42` for an integer
    /// key, any RFC 3339 form of the instant for a datetime key), as values in schema order.
    pub fn get(&self, key: &str) -> Result<Option<Vec<Value>>> {
        let field = self.schema.primary_key_field();
        let Some(value) = parse_text(key, field.ty) else {
            return Ok(None);
        };
        let rows = self.matching(&self.key, self.schema.primary_key(), value.as_ref())?;
        Ok(rows.into_iter().next())
    }

    /// [`Entity::get`] as an answer's item, with the fields of `select` (all when `None`).
    pub fn get_item(&self, key: &str, select: Option<&[usize]>) -> Result<Option<Item>> {
        Ok(self
            .get(key)?
            .map(|values| self.render(values.as_slice(), select)))
    }

    /// Every item whose `field` equals `value`, through the field's secondary index (the
    /// primary key's index for the primary key), in stored order.
    pub fn lookup(&self, field: &str, value: &Value) -> Result<Vec<Vec<Value>>> {
        let position = self
            .schema
            .position(field)
            .ok_or_else(|| ItemsError::UnknownField {
                entity: self.name.to_string(),
                field: field.to_owned(),
            })?;
        let index = self
            .index_of(position)
            .ok_or_else(|| ItemsError::NotIndexed {
                entity: self.name.to_string(),
                field: field.to_owned(),
            })?;
        self.matching(index, position, value.as_ref())
    }

    fn index_of(&self, field: usize) -> Option<&IndexFile> {
        if field == self.schema.primary_key() {
            return Some(&self.key);
        }
        self.indexes
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, index)| index)
    }

    fn matching(
        &self,
        index: &IndexFile,
        field: usize,
        value: ValueRef<'_>,
    ) -> Result<Vec<Vec<Value>>> {
        let mut out = Vec::new();
        if value.is_null() {
            return Ok(out);
        }
        let offsets = index.offsets(index_hash(value)).map_err(self.io())?;
        let mut buf = Vec::new();
        for offset in offsets {
            let mut values = Vec::new();
            let payload = read_row_bytes(&self.rows, offset, &mut buf, &self.name)?;
            decode_row(&self.types, payload, &mut values)
                .map_err(|_| self.corrupt("a row that does not decode"))?;
            if values.value(field).compare(value) == Some(Ordering::Equal) {
                out.push(values.iter().map(|v| v.to_owned_value()).collect());
            }
        }
        Ok(out)
    }

    /// Row offsets an index gives for the filter's `field eq value` part, or `None` when no
    /// index applies (a full scan).
    pub(super) fn candidates(&self, filter: Option<&BoundFilter>) -> Result<Option<Vec<u64>>> {
        let Some((field, value)) = filter.and_then(BoundFilter::indexable_eq) else {
            return Ok(None);
        };
        let Some(index) = self.index_of(field) else {
            return Ok(None);
        };
        index
            .offsets(index_hash(value.as_ref()))
            .map(Some)
            .map_err(self.io())
    }

    /// Visits each row (offset and values) that passes `filter`, in stored order, until the
    /// visitor breaks.
    fn visit(
        &self,
        filter: Option<&BoundFilter>,
        mut visit: impl FnMut(u64, &[ValueRef<'_>]) -> ControlFlow<()>,
    ) -> Result<()> {
        let passes = |row: &[ValueRef<'_>]| filter.is_none_or(|f| f.matches(row));
        if let Some(offsets) = self.candidates(filter)? {
            let mut buf = Vec::new();
            for offset in offsets {
                let mut values = Vec::new();
                let payload = read_row_bytes(&self.rows, offset, &mut buf, &self.name)?;
                decode_row(&self.types, payload, &mut values)
                    .map_err(|_| self.corrupt("a row that does not decode"))?;
                if passes(&values) && visit(offset, &values).is_break() {
                    break;
                }
            }
            return Ok(());
        }
        let mut buf = vec![0u8; SCAN_BLOCK];
        let mut filled = 0;
        // File offset of buf[0].
        let mut base = 0u64;
        loop {
            let read_from = base + filled as u64;
            let want = (buf.len() - filled)
                .min(usize::try_from(self.rows_len - read_from).unwrap_or(usize::MAX));
            self.rows
                .read_exact_at(&mut buf[filled..filled + want], read_from)
                .map_err(|_| self.corrupt("rows that cannot be read"))?;
            filled += want;
            let at_end = base + filled as u64 == self.rows_len;
            let mut at = 0;
            {
                let mut values: Vec<ValueRef<'_>> = Vec::with_capacity(self.types.len());
                while at + 4 <= filled {
                    let len = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
                    let end = at + 4 + len as usize;
                    if end > filled {
                        break;
                    }
                    let payload = &buf[at + 4..end];
                    decode_row(&self.types, payload, &mut values)
                        .map_err(|_| self.corrupt("a row that does not decode"))?;
                    if passes(&values) && visit(base + at as u64, &values).is_break() {
                        return Ok(());
                    }
                    at = end;
                }
            }
            if at_end {
                return if at == filled {
                    Ok(())
                } else {
                    Err(self.corrupt("a truncated last row"))
                };
            }
            buf.copy_within(at..filled, 0);
            filled -= at;
            base += at as u64;
            if filled == buf.len() {
                // One row larger than the block.
                buf.resize(buf.len() * 2, 0);
            }
        }
    }

    /// Calls `visit` with each row that passes `filter`, values in schema order, in stored
    /// order: what measures and unification read.
    pub fn scan(
        &self,
        filter: Option<&BoundFilter>,
        mut visit: impl FnMut(&[ValueRef<'_>]),
    ) -> Result<()> {
        self.visit(filter, |_, row| {
            visit(row);
            ControlFlow::Continue(())
        })
    }

    /// How many items pass `filter`.
    pub fn count(&self, filter: Option<&BoundFilter>) -> Result<u64> {
        if filter.is_none() {
            return Ok(self.item_count);
        }
        let mut count = 0;
        self.scan(filter, |_| count += 1)?;
        Ok(count)
    }

    /// One page of items (`GetItems`).
    pub fn query(&self, query: &Query) -> Result<Page> {
        let select = query.select.as_deref();
        let wanted = query.skip.saturating_add(query.top as u64);
        if query.order_by.is_empty() {
            let mut seen = 0u64;
            let mut items = Vec::new();
            let mut more = false;
            self.visit(query.filter.as_ref(), |_, row| {
                if seen >= wanted {
                    more = true;
                    return ControlFlow::Break(());
                }
                if seen >= query.skip {
                    items.push(self.render(row, select));
                }
                seen += 1;
                ControlFlow::Continue(())
            })?;
            return Ok(Page { items, more });
        }
        // Keep the `wanted + 1` first rows in order (one more tells whether more follow).
        let keep = usize::try_from(wanted.saturating_add(1).min(self.item_count + 1))
            .unwrap_or(usize::MAX);
        let order = Order {
            keys: &query.order_by,
            primary_key: self.schema.primary_key(),
        };
        let mut heap: BinaryHeap<Ranked<'_>> = BinaryHeap::new();
        self.visit(query.filter.as_ref(), |offset, row| {
            if heap.len() >= keep {
                let beaten = heap
                    .peek()
                    .is_some_and(|last| order.row_vs_owned(row, &last.values) == Ordering::Less);
                if !beaten {
                    return ControlFlow::Continue(());
                }
                heap.pop();
            }
            heap.push(Ranked {
                order: &order,
                values: order.sort_values(row),
                offset,
            });
            ControlFlow::Continue(())
        })?;
        let ranked = heap.into_sorted_vec();
        let more = ranked.len() as u64 > wanted;
        let skip = usize::try_from(query.skip).unwrap_or(usize::MAX);
        let mut buf = Vec::new();
        let mut items = Vec::new();
        for entry in ranked.iter().skip(skip).take(query.top) {
            let mut values = Vec::new();
            let payload = read_row_bytes(&self.rows, entry.offset, &mut buf, &self.name)?;
            decode_row(&self.types, payload, &mut values)
                .map_err(|_| self.corrupt("a row that does not decode"))?;
            items.push(self.render(values.as_slice(), select));
        }
        Ok(Page { items, more })
    }

    /// An item as an answer carries it.
    pub fn render<R: Row + ?Sized>(&self, row: &R, select: Option<&[usize]>) -> Item {
        let mut item = Item::new();
        let mut put = |field: usize| {
            if let Some(f) = self.schema.field(field) {
                item.insert(f.name.clone(), row.value(field).to_json());
            }
        };
        match select {
            Some(fields) => fields.iter().copied().for_each(&mut put),
            None => (0..self.schema.len()).for_each(&mut put),
        }
        item
    }
}

/// The hash an index holds for a value.
fn index_hash(value: ValueRef<'_>) -> u64 {
    super::write::index_hash(&mut Vec::new(), value)
}

/// `$orderby` terms then the primary key: a total order of the items.
struct Order<'q> {
    keys: &'q [OrderKey],
    primary_key: usize,
}

impl Order<'_> {
    /// The values a row is ranked by: one per order key, then the primary key.
    fn sort_values(&self, row: &[ValueRef<'_>]) -> Vec<Value> {
        self.keys
            .iter()
            .map(|k| row.value(k.field).to_owned_value())
            .chain(std::iter::once(
                row.value(self.primary_key).to_owned_value(),
            ))
            .collect()
    }

    fn compare<'a>(&self, a: impl Fn(usize) -> ValueRef<'a>, b: &[Value]) -> Ordering {
        for (n, key) in self.keys.iter().enumerate() {
            let ordering = a(n).sort_cmp(b.value(n));
            let ordering = if key.descending {
                ordering.reverse()
            } else {
                ordering
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        let last = self.keys.len();
        a(last).sort_cmp(b.value(last))
    }

    fn row_vs_owned(&self, row: &[ValueRef<'_>], ranked: &[Value]) -> Ordering {
        self.compare(
            |n| match self.keys.get(n) {
                Some(key) => row.value(key.field),
                None => row.value(self.primary_key),
            },
            ranked,
        )
    }
}

struct Ranked<'o> {
    order: &'o Order<'o>,
    values: Vec<Value>,
    offset: u64,
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order.compare(|n| self.values.value(n), &other.values)
    }
}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}
