//! One async lock per volume name, so operations on one volume run one at a
//! time while different volumes never wait on each other. Entries for names
//! nobody holds are dropped as new locks are taken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct NameLocks {
    locks: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl NameLocks {
    /// Wait for, then hold, the lock of `name` until the guard drops.
    pub async fn lock(&self, name: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap();
            locks.retain(|_, weak| weak.strong_count() > 0);
            match locks.get(name).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(AsyncMutex::new(()));
                    locks.insert(name.to_string(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_name_waits_other_names_do_not() {
        let locks = Arc::new(NameLocks::default());
        let held = locks.lock("a").await;
        // Another name is free at once.
        let other = tokio::time::timeout(Duration::from_secs(5), locks.lock("b")).await;
        assert!(other.is_ok());
        // The same name waits until the holder lets go.
        let waiter = tokio::spawn({
            let locks = locks.clone();
            async move { locks.lock("a").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
