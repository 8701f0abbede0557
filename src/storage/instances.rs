//! Instances, scoped to their tenant.

use super::{Result, Store, T, WriteSet, keys};
use crate::domain::{Instance, InstanceId, TenantId};

impl Store {
    pub fn insert_instance(&self, instance: &Instance) -> Result<()> {
        let mut set = WriteSet::default();
        set.put_json(T::InstanceidInstance, instance.id.as_bytes(), instance)?;
        set.put(
            T::TenantInstanceidUnit,
            keys::tenant_instance(&instance.tenant, instance.id),
            [],
        );
        self.commit(set)
    }

    /// The instance when it exists and belongs to `tenant`: another tenant's is not found.
    pub fn instance(&self, tenant: &TenantId, id: InstanceId) -> Result<Option<Instance>> {
        let found: Option<Instance> = self.get_json(T::InstanceidInstance, id.as_bytes())?;
        Ok(found.filter(|instance| &instance.tenant == tenant))
    }

    pub fn instances(&self, tenant: &TenantId) -> Result<Vec<Instance>> {
        let mut out = Vec::new();
        for key in self
            .tree(T::TenantInstanceidUnit)
            .scan_prefix(keys::tenant_prefix(tenant))
            .keys()
        {
            let key = key?;
            let Some(id) = keys::trailing_uuid(&key) else {
                continue;
            };
            if let Some(instance) = self.instance(tenant, InstanceId(id))? {
                out.push(instance);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}
