//! Instances, scoped to their tenant.

use super::db::{T, WriteSet};
use super::{Result, StorageError, Store, keys};
use crate::domain::{Instance, InstanceId, TenantId};

impl Store {
    /// Stores a new instance, unless its tenant already holds as many as its limit allows.
    pub async fn create_instance(&self, instance: Instance) -> Result<Instance> {
        let limit = self.limits.instances_per_tenant;
        self.write(move |db| {
            let held = db
                .scan_keys(
                    T::TenantInstanceidUnit,
                    &keys::tenant_prefix(&instance.tenant),
                )?
                .len() as u64;
            if held >= limit {
                return Err(StorageError::Quota {
                    what: "instances",
                    limit,
                });
            }
            let mut set = WriteSet::default();
            set.put_json(T::InstanceidInstance, instance.id.as_bytes(), &instance)?;
            set.put(
                T::TenantInstanceidUnit,
                keys::tenant_instance(&instance.tenant, instance.id),
                [],
            );
            db.commit(set)?;
            Ok(instance)
        })
        .await
    }

    /// The instance when it exists and belongs to `tenant`: another tenant's is not found.
    pub fn instance(&self, tenant: &TenantId, id: InstanceId) -> Result<Option<Instance>> {
        let found: Option<Instance> = self.db()?.get_json(T::InstanceidInstance, id.as_bytes())?;
        Ok(found.filter(|instance| &instance.tenant == tenant))
    }

    /// The tenant's instances, oldest first.
    pub fn instances(&self, tenant: &TenantId) -> Result<Vec<Instance>> {
        let db = self.db()?;
        let mut out = Vec::new();
        for key in db.scan_keys(T::TenantInstanceidUnit, &keys::tenant_prefix(tenant))? {
            let Some(id) = keys::trailing_uuid(&key) else {
                return Err(StorageError::Corrupt {
                    tree: T::TenantInstanceidUnit.name(),
                    detail: "a key without an instance id".into(),
                });
            };
            if let Some(instance) = self.instance(tenant, InstanceId(id))? {
                out.push(instance);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}
