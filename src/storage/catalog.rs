//! The instance catalog: data sources, segments and measures with their latest state.

use super::db::T;
use super::{Result, Store, keys};
use crate::domain::{CatalogItem, CatalogKind, InstanceId, ItemId};

impl Store {
    pub fn catalog_item(
        &self,
        instance: InstanceId,
        kind: CatalogKind,
        id: &ItemId,
    ) -> Result<Option<CatalogItem>> {
        self.db()?
            .get_json(T::CatalogkeyItem, &keys::catalog_item(instance, kind, id))
    }

    pub fn catalog(&self, instance: InstanceId, kind: CatalogKind) -> Result<Vec<CatalogItem>> {
        self.db()?
            .scan_json(T::CatalogkeyItem, &keys::catalog_prefix(instance, kind))
    }
}
