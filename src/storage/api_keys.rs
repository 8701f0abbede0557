//! API keys: records keyed by id, holding a hash of the secret and never the key itself.
//! A revoked key keeps its record (for `api-key list`) and stops authenticating.

use chrono::{DateTime, Utc};

use super::db::{T, WriteSet};
use super::{Result, Store};
use crate::domain::{ApiKeyId, ApiKeyRecord};

impl Store {
    /// Stores a new key's record; it works once this returns.
    pub async fn insert_api_key(&self, record: &ApiKeyRecord) -> Result<()> {
        let record = record.clone();
        self.write(move |db| {
            let mut set = WriteSet::default();
            set.put_json(T::ApikeyidApikey, record.id.as_bytes(), &record)?;
            db.commit(set)
        })
        .await
    }

    pub fn api_key(&self, id: ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        self.db()?.get_json(T::ApikeyidApikey, id.as_bytes())
    }

    /// Every key, revoked ones included, oldest first.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        let mut keys: Vec<ApiKeyRecord> = self.db()?.scan_json(T::ApikeyidApikey, &[])?;
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    /// Marks the key revoked. `None` when no such key exists; revoking twice keeps the first
    /// revocation time.
    pub async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        now: DateTime<Utc>,
    ) -> Result<Option<ApiKeyRecord>> {
        self.write(move |db| {
            let Some(mut record) = db.get_json::<ApiKeyRecord>(T::ApikeyidApikey, id.as_bytes())?
            else {
                return Ok(None);
            };
            record.revoked_at.get_or_insert(now);
            let mut set = WriteSet::default();
            set.put_json(T::ApikeyidApikey, id.as_bytes(), &record)?;
            db.commit(set)?;
            Ok(Some(record))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NewApiKey, TenantId};

    #[tokio::test]
    async fn a_revoked_key_is_kept_with_its_revocation_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let tenant = TenantId::parse("tenant-a").unwrap();
        let new = NewApiKey::generate(tenant, vec!["platform".into()], None, Utc::now()).unwrap();
        store.insert_api_key(&new.record).await.unwrap();
        let revoked = store
            .revoke_api_key(new.record.id, Utc::now())
            .await
            .unwrap()
            .unwrap();
        assert!(revoked.revoked_at.is_some());
        let listed = store.api_keys().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].revoked_at, revoked.revoked_at);
        assert!(
            store
                .api_key(new.record.id)
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
        store.close().await.unwrap();
    }
}
