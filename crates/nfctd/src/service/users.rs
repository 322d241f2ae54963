//! User names for uids, from the system user database, cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nfctd_table::query::UserNames;

/// Enough for any real user database; past it, lookups are simply not cached.
const MAX_CACHED: usize = 65_536;

/// Resolves uids through getpwuid_r (so NSS sources work), caching answers.
#[derive(Debug, Default)]
pub struct SystemUsers {
    cache: Mutex<HashMap<u32, Option<Arc<str>>>>,
}

impl UserNames for SystemUsers {
    fn name(&self, uid: u32) -> Option<Arc<str>> {
        if let Some(known) = self.lock().get(&uid) {
            return known.clone();
        }
        // The lookup may ask NSS (LDAP, files...): not while holding the lock.
        let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(|u| Arc::<str>::from(u.name));
        let mut cache = self.lock();
        if cache.len() < MAX_CACHED {
            cache.insert(uid, name.clone());
        }
        name
    }
}

impl SystemUsers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Option<Arc<str>>>> {
        // The cache holds only complete answers; a poisoned one is still valid.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_a_name_and_unknown_uids_do_not() {
        let users = SystemUsers::default();
        assert_eq!(users.name(0).as_deref(), Some("root"));
        assert_eq!(users.name(3_999_999_999), None);
    }
}
