//! The `password` backend: the users of the password file in memory,
//! checked against on login on the checking threads (`pool`), with every
//! answer padded to the same time (`timing`), and re-read when the file
//! changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use super::hash::{self, Hash, Memory};
use super::passwd::{self, Entry, PasswdError, Stamp};
use super::pool::{Busy, Pool};
use super::timing::Floor;
use super::Role;

/// Every user's role after a reload: sessions of users missing here end,
/// the others take the role given here.
pub type Roles = HashMap<String, Role>;

#[derive(Debug)]
pub struct PasswordUsers {
    path: PathBuf,
    users: RwLock<Arc<HashMap<String, Entry>>>,
    /// The version last looked at, good or bad, so a bad file is reported
    /// once rather than at every check; `None` while the file is missing
    /// (or cannot be looked at), reported once too.
    seen: Mutex<Option<Stamp>>,
    pool: Pool,
    floor: Floor,
}

fn index(path: &Path) -> Result<(HashMap<String, Entry>, Stamp), PasswdError> {
    let (file, stamp) = passwd::load_trusted(path)?;
    let users: HashMap<String, Entry> = file.users().map(|e| (e.name.clone(), e.clone())).collect();
    for e in users.values().filter(|e| e.hash.is_legacy()) {
        tracing::warn!(
            file = %path.display(), user = ?e.name,
            "unsalted SHA-1 hash (pyctd era): set a new password with `nfctd passwd add`"
        );
    }
    Ok((users, stamp))
}

/// The check a checking thread runs. Unknown users, and users whose hash is
/// not argon2, cost the dummy argon2id work first, so no check is cheaper
/// than an unknown user's; [`Floor`] then evens out the dearer ones.
fn check(hash: Option<&Hash>, password: &str, memory: &mut Memory) -> bool {
    match hash {
        None => {
            let _ = hash::dummy_check(password, memory);
            false
        }
        Some(h) if h.is_argon2() => h.verify_with(password, memory),
        Some(h) => {
            let _ = hash::dummy_check(password, memory);
            h.verify_with(password, memory)
        }
    }
}

/// A checking thread's first job: take its argon2 memory now, and have the
/// dummy's cost known before the first login.
fn warm_up(memory: &mut Memory) {
    let _ = hash::dummy_check("", memory);
}

impl PasswordUsers {
    pub fn open(path: &Path) -> Result<PasswordUsers, PasswdError> {
        PasswordUsers::with_pool(
            path,
            Pool::new(
                super::pool::default_workers(),
                super::pool::MAX_WAITING,
                super::pool::DEADLINE,
            ),
        )
    }

    fn with_pool(path: &Path, pool: Pool) -> Result<PasswordUsers, PasswdError> {
        let (users, stamp) = index(path)?;
        tracing::info!(file = %path.display(), users = users.len(), "password file read");
        Ok(PasswordUsers {
            path: path.to_path_buf(),
            users: RwLock::new(Arc::new(users)),
            seen: Mutex::new(Some(stamp)),
            pool: pool.with_warm_up(warm_up),
            floor: Floor::default(),
        })
    }

    /// Starts the checking threads (after the daemon dropped its privileges).
    pub fn start(&self) {
        self.pool.start();
        tracing::info!(
            threads = self.pool.workers(),
            "password checks run on their own threads, each keeping its argon2 memory"
        );
    }

    fn current(&self) -> Arc<HashMap<String, Entry>> {
        // Replaced whole under the lock: a poisoned lock still holds a valid map.
        Arc::clone(&self.users.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The user's role if `password` is theirs, or `Busy` when no checking
    /// thread was free in time (the password was not looked at). Whoever
    /// asks, known or not, the answer takes at least the floor of recent
    /// check times; the wait is spent here, not on a checking thread.
    pub fn verify(&self, user: &str, password: &str) -> Result<Option<Role>, Busy> {
        let entry = self.current().get(user).cloned();
        let cost = entry
            .as_ref()
            .map_or_else(hash::dummy_cost, |e| e.hash.cost());
        let password = password.to_string();
        let (matched, took) = self.pool.run(move |memory| {
            let hash = entry.as_ref().map(|e| &e.hash);
            check(hash, &password, memory).then_some(entry).flatten()
        })?;
        std::thread::sleep(self.floor.record(cost, took));
        Ok(matched.map(|e| {
            if e.hash.is_legacy() {
                tracing::warn!(user = ?e.name, "logged in with an unsalted SHA-1 hash: set a new password with `nfctd passwd add`");
            }
            e.role
        }))
    }

    /// The time every check is padded to, now.
    #[cfg(test)]
    pub fn floor(&self) -> std::time::Duration {
        self.floor.floor()
    }

    /// Re-reads the file if its inode, size or mtime changed (one `stat`).
    /// `None` when nothing changed or the new file was refused (logged; the
    /// old users stay). Each change is logged once: a file that went
    /// missing is reported when it goes, not at every look.
    pub fn reload_if_changed(&self) -> Option<Roles> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        match passwd::stamp(&self.path) {
            Ok(now) if *seen == Some(now) => None,
            Ok(_) => self.reload_locked(&mut seen),
            Err(e) => {
                if seen.take().is_some() {
                    tracing::warn!("the password file is gone or cannot be looked at, the previous users stay until it is back: {e}");
                }
                None
            }
        }
    }

    /// Re-reads the file whatever its stamp (SIGHUP).
    pub fn reload(&self) -> Option<Roles> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_locked(&mut seen)
    }

    fn reload_locked(&self, seen: &mut Option<Stamp>) -> Option<Roles> {
        match index(&self.path) {
            Ok((users, stamp)) => {
                *seen = Some(stamp);
                let roles = users.iter().map(|(n, e)| (n.clone(), e.role)).collect();
                tracing::info!(file = %self.path.display(), users = users.len(), "password file re-read");
                *self.users.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(users);
                Some(roles)
            }
            Err(e) => {
                *seen = passwd::stamp(&self.path).ok();
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
    use std::time::Duration;

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
        assert_eq!(u.verify("a", "pyctd"), Ok(Some(Role::Admin)));
        assert_eq!(u.verify("b", "pyctd"), Ok(Some(Role::Viewer)));
        assert_eq!(u.verify("a", "wrong"), Ok(None));
        assert_eq!(u.verify("nobody", "pyctd"), Ok(None));
        assert!(u.reload_if_changed().is_none(), "unchanged");

        write(&path, &format!("b:{SHA1_PYCTD}:admin\n# grown\n"));
        let roles = u.reload_if_changed().unwrap();
        assert_eq!(roles, HashMap::from([("b".to_string(), Role::Admin)]));
        assert_eq!(u.verify("a", "pyctd"), Ok(None));

        write(&path, "b:broken:admin\n");
        assert!(u.reload_if_changed().is_none());
        assert_eq!(
            u.verify("b", "pyctd"),
            Ok(Some(Role::Admin)),
            "the old users stay"
        );
    }

    #[test]
    fn a_missing_file_keeps_the_users_until_it_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        write(&path, &format!("a:{SHA1_PYCTD}:admin\n"));
        let u = PasswordUsers::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for _ in 0..3 {
            assert!(u.reload_if_changed().is_none());
        }
        assert!(u.seen.lock().unwrap().is_none(), "noticed once, as missing");
        assert_eq!(u.verify("a", "pyctd"), Ok(Some(Role::Admin)));
        write(&path, &format!("b:{SHA1_PYCTD}:viewer\n"));
        let roles = u.reload_if_changed().unwrap();
        assert_eq!(roles, HashMap::from([("b".to_string(), Role::Viewer)]));
        assert!(u.reload_if_changed().is_none());
    }

    #[test]
    fn every_kind_of_check_is_padded_to_the_same_floor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        // openssl passwd -6 -salt saltsalt secret
        let six = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        write(
            &path,
            &format!("sha1:{SHA1_PYCTD}:admin\nsix:{six}:viewer\n"),
        );
        let u = PasswordUsers::open(&path).unwrap();
        let time = |user: &str| {
            let t = std::time::Instant::now();
            let _ = u.verify(user, "wrong");
            t.elapsed()
        };
        // Warm: each class has an average.
        for user in ["nobody", "sha1", "six"] {
            time(user);
        }
        let floor = u.floor();
        assert!(floor > Duration::from_millis(1), "{floor:?}");
        for user in ["nobody", "sha1", "six"] {
            let took = time(user);
            assert!(took >= floor.mul_f32(0.75), "{user}: {took:?} < {floor:?}");
        }
    }
}
