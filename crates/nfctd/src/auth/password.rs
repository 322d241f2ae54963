//! The `password` backend: the users of the password file in memory,
//! checked against on login, and re-read when the file changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::hash;
use super::passwd::{self, Entry, PasswdError, Stamp};
use super::Role;

/// Every user's role after a reload: sessions of users missing here end,
/// the others take the role given here.
pub type Roles = HashMap<String, Role>;

#[derive(Debug)]
pub struct PasswordUsers {
    path: PathBuf,
    users: RwLock<Arc<HashMap<String, Entry>>>,
    /// The version last looked at, good or bad, so a bad file is reported
    /// once rather than at every check.
    seen: Mutex<Stamp>,
}

fn index(path: &Path) -> Result<(HashMap<String, Entry>, Stamp), PasswdError> {
    let (file, stamp) = passwd::load(path)?;
    let users: HashMap<String, Entry> = file.users().map(|e| (e.name.clone(), e.clone())).collect();
    for e in users.values().filter(|e| e.hash.is_legacy()) {
        tracing::warn!(
            file = %path.display(), user = ?e.name,
            "unsalted SHA-1 hash (pyctd era): set a new password with `nfctd passwd add`"
        );
    }
    Ok((users, stamp))
}

impl PasswordUsers {
    pub fn open(path: &Path) -> Result<PasswordUsers, PasswdError> {
        let (users, stamp) = index(path)?;
        tracing::info!(file = %path.display(), users = users.len(), "password file read");
        Ok(PasswordUsers {
            path: path.to_path_buf(),
            users: RwLock::new(Arc::new(users)),
            seen: Mutex::new(stamp),
        })
    }

    fn current(&self) -> Arc<HashMap<String, Entry>> {
        // Replaced whole under the lock: a poisoned lock still holds a valid map.
        Arc::clone(&self.users.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The user's role if `password` is theirs. An unknown user costs one
    /// argon2id verification all the same (see [`hash::dummy`]).
    pub fn verify(&self, user: &str, password: &str) -> Option<Role> {
        let users = self.current();
        match users.get(user) {
            Some(e) => {
                if !e.hash.verify(password) {
                    return None;
                }
                if e.hash.is_legacy() {
                    tracing::warn!(user = ?e.name, "logged in with an unsalted SHA-1 hash: set a new password with `nfctd passwd add`");
                }
                Some(e.role)
            }
            None => {
                if let Some(dummy) = hash::dummy() {
                    let _ = dummy.verify(password);
                }
                None
            }
        }
    }

    /// Re-reads the file if its inode, size or mtime changed (one `stat`).
    /// `None` when nothing changed or the new file was refused (logged; the
    /// old users stay).
    pub fn reload_if_changed(&self) -> Option<Roles> {
        let now = passwd::stamp(&self.path).ok();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if now.is_some_and(|s| s == *seen) {
            return None;
        }
        self.reload_locked(&mut seen)
    }

    /// Re-reads the file whatever its stamp (SIGHUP).
    pub fn reload(&self) -> Option<Roles> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_locked(&mut seen)
    }

    fn reload_locked(&self, seen: &mut Stamp) -> Option<Roles> {
        match index(&self.path) {
            Ok((users, stamp)) => {
                *seen = stamp;
                let roles = users.iter().map(|(n, e)| (n.clone(), e.role)).collect();
                tracing::info!(file = %self.path.display(), users = users.len(), "password file re-read");
                *self.users.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(users);
                Some(roles)
            }
            Err(e) => {
                if let Ok(stamp) = passwd::stamp(&self.path) {
                    *seen = stamp;
                }
                tracing::error!(
                    "the changed password file is refused, the previous users stay: {e}"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    const SHA1_PYCTD: &str = "499151674e56117e059b6095fd777bdc98d24757";

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn verifies_and_reloads_only_good_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        write(
            &path,
            &format!("a:{SHA1_PYCTD}:admin\nb:{SHA1_PYCTD}:viewer\n"),
        );
        let u = PasswordUsers::open(&path).unwrap();
        assert_eq!(u.verify("a", "pyctd"), Some(Role::Admin));
        assert_eq!(u.verify("b", "pyctd"), Some(Role::Viewer));
        assert_eq!(u.verify("a", "wrong"), None);
        assert_eq!(u.verify("nobody", "pyctd"), None);
        assert!(u.reload_if_changed().is_none(), "unchanged");

        write(&path, &format!("b:{SHA1_PYCTD}:admin\n# grown\n"));
        let roles = u.reload_if_changed().unwrap();
        assert_eq!(roles, HashMap::from([("b".to_string(), Role::Admin)]));
        assert_eq!(u.verify("a", "pyctd"), None);

        write(&path, "b:broken:admin\n");
        assert!(u.reload_if_changed().is_none());
        assert_eq!(
            u.verify("b", "pyctd"),
            Some(Role::Admin),
            "the old users stay"
        );
    }
}
