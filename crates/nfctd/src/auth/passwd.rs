//! The password file, `name:hash:role` one user a line: reading it (errors
//! name the line, never the hash), the permission rule, the cheap change
//! check, and writing it back atomically with mode 0600.

use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::hash::{Hash, HashError};
use super::Role;

/// Why the password file cannot be used. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum PasswdError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: mode {mode:04o} lets group or others read or write it; run `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: owned by uid {uid}, neither the daemon's user (uid {euid}) nor root, so that user could hand out admin; run `chown {euid} {path}` (or make root its owner)")]
    Owner { path: PathBuf, uid: u32, euid: u32 },
    #[error("{path}: its directory {dir} (mode {mode:04o}) may be written by anyone and lacks the sticky bit, so anyone could put another file in its place; run `chmod o-w {dir}`")]
    Directory {
        path: PathBuf,
        dir: PathBuf,
        mode: u32,
    },
    #[error("{path}, line {line}: {why}")]
    Syntax {
        path: PathBuf,
        line: usize,
        why: LineError,
    },
}

/// What is wrong with a line of the file. Names the user, never the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("expected name:hash:role, found {0} field(s)")]
    Fields(usize),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("user {user:?}: {source}")]
    Hash { user: String, source: HashError },
    #[error("user {0:?}: role must be admin or viewer")]
    Role(String),
    #[error("user {0:?} appears twice")]
    Twice(String),
}

/// Longest user name, in characters.
pub const MAX_NAME: usize = 64;

/// Why a name cannot be a user name of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a user name has 1 to {MAX_NAME} characters")]
    Length,
    #[error("a user name may not contain ':' or control characters")]
    Characters,
}

/// A user name the file can hold: 1 to 64 characters, no `:`, no control
/// characters (which covers newlines).
pub fn check_name(name: &str) -> Result<(), NameError> {
    let count = name.chars().count();
    if count == 0 || count > MAX_NAME {
        return Err(NameError::Length);
    }
    if name.chars().any(|c| c == ':' || c.is_control()) {
        return Err(NameError::Characters);
    }
    Ok(())
}

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub hash: Hash,
    pub role: Role,
}

/// A line of the file: a user, or a comment or blank line kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    User(Entry),
    Other(String),
}

/// The whole file, in order, so a rewrite keeps comments where they were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PasswdFile {
    pub lines: Vec<Line>,
}

impl PasswdFile {
    pub fn parse(path: &Path, text: &str) -> Result<PasswdFile, PasswdError> {
        let mut lines = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, raw) in text.lines().enumerate() {
            let syntax = |why: LineError| PasswdError::Syntax {
                path: path.to_path_buf(),
                line: i + 1,
                why,
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Other(raw.to_string()));
                continue;
            }
            let fields: Vec<&str> = raw.split(':').collect();
            let [name, hash, role] = fields[..] else {
                return Err(syntax(LineError::Fields(fields.len())));
            };
            check_name(name).map_err(|e| syntax(e.into()))?;
            let hash = Hash::parse(hash).map_err(|source| {
                syntax(LineError::Hash {
                    user: name.to_string(),
                    source,
                })
            })?;
            let role = Role::parse(role.trim())
                .ok_or_else(|| syntax(LineError::Role(name.to_string())))?;
            if !seen.insert(name.to_string()) {
                return Err(syntax(LineError::Twice(name.to_string())));
            }
            lines.push(Line::User(Entry {
                name: name.to_string(),
                hash,
                role,
            }));
        }
        Ok(PasswdFile { lines })
    }

    pub fn users(&self) -> impl Iterator<Item = &Entry> {
        self.lines.iter().filter_map(|l| match l {
            Line::User(e) => Some(e),
            Line::Other(_) => None,
        })
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.users().find(|e| e.name == name)
    }

    /// Adds the user, or replaces their hash and role in place.
    pub fn set(&mut self, entry: Entry) {
        for line in &mut self.lines {
            if let Line::User(e) = line {
                if e.name == entry.name {
                    *e = entry;
                    return;
                }
            }
        }
        self.lines.push(Line::User(entry));
    }

    /// Whether the user was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::User(e) if e.name == name));
        self.lines.len() != before
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            match line {
                Line::User(e) => {
                    out.push_str(&format!("{}:{}:{}\n", e.name, e.hash.text(), e.role.name()))
                }
                Line::Other(text) => {
                    out.push_str(text);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// What identifies a version of the file without reading it: a rename gives
/// a new inode, an edit in place a new mtime or size, a `chmod` or `chown`
/// (fixing a refused file) a new ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    ctime: i64,
    ctime_nsec: i64,
}

pub fn stamp(path: &Path) -> Result<Stamp, PasswdError> {
    let m = std::fs::metadata(path).map_err(|source| io(path, source))?;
    Ok(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
        ctime: m.ctime(),
        ctime_nsec: m.ctime_nsec(),
    })
}

fn io(path: &Path, source: std::io::Error) -> PasswdError {
    PasswdError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads and checks the file: refused if group or others may read or write it
/// (the hashes are offline-guessable, and a writable file hands out admin).
pub fn load(path: &Path) -> Result<(PasswdFile, Stamp), PasswdError> {
    let before = stamp(path)?;
    let mode = std::fs::metadata(path)
        .map_err(|e| io(path, e))?
        .permissions()
        .mode();
    if mode & 0o066 != 0 {
        return Err(PasswdError::Permissions {
            path: path.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    Ok((PasswdFile::parse(path, &text)?, before))
}

/// [`load`], for the daemon: also refused if the file belongs to a user
/// other than the daemon's (effective uid) or root, or if its directory may
/// be written by anyone without the sticky bit (anyone could rename another
/// file over it). `nfctd passwd`, run by root on the daemon's file, uses
/// plain [`load`].
pub fn load_trusted(path: &Path) -> Result<(PasswdFile, Stamp), PasswdError> {
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid && meta.uid() != 0 {
        return Err(PasswdError::Owner {
            path: path.to_path_buf(),
            uid: meta.uid(),
            euid,
        });
    }
    // The given path's directory, and the real file's: a symlink in a safe
    // directory may point into an open one, where anyone could replace
    // what it points to.
    let real = std::fs::canonicalize(path).map_err(|e| io(path, e))?;
    for file in [path, real.as_path()] {
        check_directory(path, file)?;
    }
    load(path)
}

/// Refuses `file`'s directory if anyone may write it and it lacks the sticky
/// bit; the error names `path`, the file as configured.
fn check_directory(path: &Path, file: &Path) -> Result<(), PasswdError> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let dir_mode = std::fs::metadata(&dir).map_err(|e| io(&dir, e))?.mode();
    if dir_mode & 0o002 != 0 && dir_mode & 0o1000 == 0 {
        return Err(PasswdError::Directory {
            path: path.to_path_buf(),
            dir,
            mode: dir_mode & 0o7777,
        });
    }
    Ok(())
}

/// Replaces the file atomically: a temporary file in the same directory, mode
/// 0600 from its creation, synced, then renamed over the old one (and the
/// directory synced), so a reader sees the old file or the new, never half.
pub fn write_atomically(path: &Path, file: &PasswdFile) -> Result<(), PasswdError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "passwd".into());
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let result = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        // The umask cannot widen 0600, but an explicit chmod says what we mean.
        out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        keep_owner(path, &out)?;
        out.write_all(file.render().as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| io(path, e))
}

/// Gives the new file the old one's owner and group. The packaged file
/// belongs to the daemon's user (nfctd), and `nfctd passwd` runs as root: a
/// root-owned 0600 replacement would lock the daemon out of its users. A
/// writer who may not chown (not root, and the file is someone else's)
/// makes the file its own, as any editor would.
fn keep_owner(path: &Path, new: &std::fs::File) -> std::io::Result<()> {
    let Ok(old) = std::fs::metadata(path) else {
        return Ok(());
    };
    match std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid())) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA1_PYCTD: &str = "499151674e56117e059b6095fd777bdc98d24757";

    #[test]
    fn parses_users_comments_and_roles() {
        let text = format!("# users\n\nalice:{SHA1_PYCTD}:admin\nbob:{SHA1_PYCTD}:viewer\n");
        let f = PasswdFile::parse(Path::new("p"), &text).unwrap();
        let names: Vec<_> = f.users().map(|e| (e.name.as_str(), e.role)).collect();
        assert_eq!(names, [("alice", Role::Admin), ("bob", Role::Viewer)]);
        assert_eq!(f.render(), text);
    }

    #[test]
    fn errors_name_the_file_and_line_never_the_hash() {
        for (text, line, what) in [
            (
                format!("a:{SHA1_PYCTD}:admin\nb:{SHA1_PYCTD}\n"),
                2,
                "field",
            ),
            (format!("a:{SHA1_PYCTD}:root\n"), 1, "role"),
            (format!("\n:{SHA1_PYCTD}:admin\n"), 2, "user name"),
            ("a:secretpassword:admin\n".to_string(), 1, "hash"),
            (
                format!("a:{SHA1_PYCTD}:admin\na:{SHA1_PYCTD}:viewer\n"),
                2,
                "twice",
            ),
        ] {
            let e = PasswdFile::parse(Path::new("/etc/x"), &text)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("/etc/x") && e.contains(&format!("line {line}")),
                "{e}"
            );
            assert!(e.contains(what), "{e}");
            assert!(
                !e.contains(SHA1_PYCTD) && !e.contains("secretpassword"),
                "{e}"
            );
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("alice").is_ok());
        assert!(check_name(&"x".repeat(64)).is_ok());
        for bad in ["", &"x".repeat(65)] {
            assert_eq!(check_name(bad), Err(NameError::Length), "{bad:?}");
        }
        for bad in ["a:b", "a\nb", "a\u{7f}"] {
            assert_eq!(check_name(bad), Err(NameError::Characters), "{bad:?}");
        }
        assert_eq!(
            NameError::Length.to_string(),
            "a user name has 1 to 64 characters"
        );
    }

    #[test]
    fn set_and_remove_edit_in_place() {
        let text = format!("# c\na:{SHA1_PYCTD}:admin\nb:{SHA1_PYCTD}:admin\n");
        let mut f = PasswdFile::parse(Path::new("p"), &text).unwrap();
        let mut a = f.get("a").unwrap().clone();
        a.role = Role::Viewer;
        f.set(a);
        assert!(f.remove("b") && !f.remove("b"));
        assert_eq!(f.render(), format!("# c\na:{SHA1_PYCTD}:viewer\n"));
    }

    #[test]
    fn atomic_write_keeps_the_owner_of_the_file_it_replaces() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped: changing a file's owner needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "").unwrap();
        // nobody:nogroup stands for the packaged nfctd:nfctd.
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let file = PasswdFile::parse(&path, &format!("a:{SHA1_PYCTD}:admin\n")).unwrap();
        write_atomically(&path, &file).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
        assert_eq!(meta.mode() & 0o777, 0o600);
    }

    #[test]
    fn the_daemon_refuses_a_file_of_another_user_or_in_an_open_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let f = PasswdFile::parse(&path, &format!("a:{SHA1_PYCTD}:admin\n")).unwrap();
        write_atomically(&path, &f).unwrap();
        assert_eq!(load_trusted(&path).unwrap().0, f);

        // World-writable without the sticky bit: refused, naming both and the fix.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = load_trusted(&path).unwrap_err().to_string();
        let d = dir.path().display().to_string();
        assert!(
            e.contains(&format!("{}:", path.display()))
                && e.contains(&format!("chmod o-w {d}"))
                && e.contains("0777"),
            "{e}"
        );
        assert!(
            load(&path).is_ok(),
            "`nfctd passwd` does not check the directory"
        );
        // With the sticky bit (as /tmp): fine.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        load_trusted(&path).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();

        if !nix::unistd::geteuid().is_root() {
            eprintln!("skipped the owner check: changing a file's owner needs root");
            return;
        }
        // Root's own file is fine; nobody's is not.
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        load_trusted(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let e = load_trusted(&path).unwrap_err().to_string();
        assert!(
            e.contains(path.to_str().unwrap()) && e.contains("uid 65534") && e.contains("chown 0 "),
            "{e}"
        );
    }

    #[test]
    fn a_symlink_into_an_open_directory_is_refused() {
        let top = tempfile::tempdir().unwrap();
        let safe = top.path().join("safe");
        let open = top.path().join("open");
        std::fs::create_dir(&safe).unwrap();
        std::fs::create_dir(&open).unwrap();
        let target = open.join("passwd");
        let f = PasswdFile::parse(&target, &format!("a:{SHA1_PYCTD}:admin\n")).unwrap();
        write_atomically(&target, &f).unwrap();
        let link = safe.join("passwd");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(
            load_trusted(&link).unwrap().0,
            f,
            "fine while both are safe"
        );

        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = load_trusted(&link).unwrap_err().to_string();
        let real = std::fs::canonicalize(&open).unwrap();
        assert!(
            e.contains(&format!("{}:", link.display()))
                && e.contains(&format!("chmod o-w {}", real.display()))
                && e.contains("0777"),
            "{e}"
        );
        // A symlinked directory on the way is resolved too.
        let via = top.path().join("via");
        std::os::unix::fs::symlink(&open, &via).unwrap();
        assert!(load_trusted(&via.join("passwd")).is_err());
        // With the sticky bit (as /tmp): fine.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        load_trusted(&link).unwrap();
    }

    #[test]
    fn atomic_write_is_0600_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        let f = PasswdFile::parse(&path, &format!("a:{SHA1_PYCTD}:admin\n")).unwrap();
        write_atomically(&path, &f).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load(&path).unwrap().0, f);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.contains(path.to_str().unwrap()) && e.contains("0640"),
            "{e}"
        );
    }
}
