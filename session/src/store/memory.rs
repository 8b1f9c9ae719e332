//! A store that keeps the grant in memory.

use std::fmt;
use std::sync::Arc;

use tokio::sync::RwLock;

use super::{StoreError, StoredToken, TokenStore};

/// Keeps the grant in memory, for tests and for processes that need no restart.
///
/// Clones share the same slot, so a test can keep one clone and hand the other to a
/// [`SharedSession`](crate::SharedSession). It never fails.
#[derive(Clone, Default)]
pub struct MemoryStore {
    slot: Arc<RwLock<Option<StoredToken>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that already holds `token`.
    pub fn with_token(token: StoredToken) -> Self {
        Self {
            slot: Arc::new(RwLock::new(Some(token))),
        }
    }
}

impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.slot.read().await.clone())
    }

    async fn save(&self, token: &StoredToken) -> Result<(), StoreError> {
        *self.slot.write().await = Some(token.clone());
        Ok(())
    }

    async fn clear(&self) -> Result<(), StoreError> {
        *self.slot.write().await = None;
        Ok(())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let holds_token = self.slot.try_read().map(|slot| slot.is_some()).ok();
        f.debug_struct("MemoryStore")
            .field("holds_token", &holds_token)
            .finish()
    }
}
