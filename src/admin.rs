//! Operator commands on API keys, run against the database directly or, while a server holds
//! it, through that server's admin socket (`admin.sock` in the data directory, mode 0600).
//! One JSON line in, one JSON line out; nothing here is reachable over the network.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::domain::{ApiKeyId, ApiKeyRecord, NewApiKey, TenantId};
use crate::storage::Store;

/// Longest request line read from the socket.
const MAX_LINE_BYTES: u64 = 64 * 1024;
/// How long a command waits for the server's answer.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum AdminRequest {
    CreateApiKey {
        tenant: TenantId,
        roles: Vec<String>,
        name: Option<String>,
    },
    ListApiKeys,
    RevokeApiKey {
        id: ApiKeyId,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum AdminResponse {
    /// The key is shown here once and stored nowhere.
    Created {
        record: ApiKeyRecord,
        key: String,
    },
    Listed {
        keys: Vec<ApiKeyRecord>,
    },
    /// `None` when no key had the id.
    Revoked {
        record: Option<ApiKeyRecord>,
    },
    Failed {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("the admin socket failed")]
    Io(#[from] std::io::Error),
    #[error("the admin socket answered something unreadable")]
    Protocol(#[from] serde_json::Error),
    #[error("the server could not do it: {0}")]
    Failed(String),
    #[error("the server did not answer on its admin socket within {CALL_TIMEOUT:?}")]
    Timeout,
}

/// Where a server on `data_dir` listens for admin requests.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.sock")
}

/// Runs `request` on `store`.
pub async fn handle(store: &Store, request: AdminRequest) -> AdminResponse {
    let result = match request {
        AdminRequest::CreateApiKey {
            tenant,
            roles,
            name,
        } => match NewApiKey::generate(tenant, roles, name, chrono::Utc::now()) {
            Ok(new) => store
                .insert_api_key(&new.record)
                .await
                .map(|()| {
                    tracing::info!(api_key_id = %new.record.id, tenant = %new.record.tenant,
                        "API key created");
                    AdminResponse::Created {
                        record: new.record,
                        key: new.key,
                    }
                })
                .map_err(|err| err.to_string()),
            Err(err) => Err(err.to_string()),
        },
        AdminRequest::ListApiKeys => store
            .api_keys()
            .map(|keys| AdminResponse::Listed { keys })
            .map_err(|err| err.to_string()),
        AdminRequest::RevokeApiKey { id } => store
            .revoke_api_key(id, chrono::Utc::now())
            .await
            .map(|record| {
                tracing::info!(api_key_id = %id, found = record.is_some(), "API key revoked");
                AdminResponse::Revoked { record }
            })
            .map_err(|err| err.to_string()),
    };
    result.unwrap_or_else(|message| AdminResponse::Failed { message })
}

/// Sends `request` to the server holding `data_dir`. `Ok(None)` when no server listens there.
pub async fn call(
    data_dir: &Path,
    request: &AdminRequest,
) -> Result<Option<AdminResponse>, AdminError> {
    let mut stream = match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => stream,
        Err(err)
            if matches!(
                err.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    let mut line = serde_json::to_vec(request)?;
    line.push(b'\n');
    let exchange = async {
        stream.write_all(&line).await?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| AdminError::Timeout)??;
    match serde_json::from_str(&answer)? {
        AdminResponse::Failed { message } => Err(AdminError::Failed(message)),
        response => Ok(Some(response)),
    }
}

/// Listens on the data directory's admin socket, readable by the service's user only.
pub fn listen(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = socket_path(data_dir);
    // A socket left by a crashed server: this process holds the database lock, so no live
    // server can own it.
    match std::fs::remove_file(&path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Answers admin requests until the task is aborted.
pub async fn serve(listener: UnixListener, store: Arc<Store>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(error = %err, "admin socket accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            if let Err(err) = answer(stream, &store).await {
                tracing::warn!(error = %err, "admin request failed");
            }
        });
    }
}

async fn answer(stream: UnixStream, store: &Store) -> Result<(), AdminError> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_LINE_BYTES))
        .read_line(&mut line)
        .await?;
    let response = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(request) => handle(store, request).await,
        Err(err) => AdminResponse::Failed {
            message: format!("unreadable request: {err}"),
        },
    };
    let mut out = serde_json::to_vec(&response)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}
