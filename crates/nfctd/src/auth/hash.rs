//! Password hashes as the password file holds them: argon2id (what `nfctd
//! passwd` writes), sha-crypt and yescrypt (copied from /etc/shadow), and
//! pyctd's unsalted SHA-1; parsing, verifying and making new ones.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Why a hash field was not understood. Never carries the hash itself: the
/// message may reach a log or a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    #[error("unrecognised hash format (expected an argon2 PHC string, $6$ or $5$ sha-crypt, $y$ yescrypt, {{SHA}}base64 or 40 hex digits)")]
    Unknown,
    #[error("malformed {0} hash")]
    Malformed(&'static str),
    #[error("cannot make a new hash: {0}")]
    Hashing(String),
}

/// One stored hash, checked for form when the file is read.
#[derive(Clone, PartialEq, Eq)]
pub enum Hash {
    /// A PHC string (`$argon2id$v=19$...`).
    Argon2(String),
    /// `$6$...` (SHA-512) or `$5$...` (SHA-256) crypt.
    ShaCrypt(String),
    /// `$y$...`.
    Yescrypt(String),
    /// pyctd's `auth_sha.py`: SHA-1 of the password, no salt; and the
    /// spelling it was read in, written back as it was.
    LegacySha1([u8; 20], String),
}

impl std::fmt::Debug for Hash {
    // Hashes are secrets too (offline guessing): debug prints name the kind only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

impl Hash {
    pub fn parse(text: &str) -> Result<Hash, HashError> {
        if text.starts_with("$argon2") {
            PasswordHash::new(text).map_err(|_| HashError::Malformed("argon2"))?;
            return Ok(Hash::Argon2(text.to_string()));
        }
        if text.starts_with("$6$") || text.starts_with("$5$") {
            sha_crypt::PasswordHashRef::new(text).map_err(|_| HashError::Malformed("sha-crypt"))?;
            return Ok(Hash::ShaCrypt(text.to_string()));
        }
        if text.starts_with("$y$") {
            if text.split('$').count() != 5 {
                return Err(HashError::Malformed("yescrypt"));
            }
            return Ok(Hash::Yescrypt(text.to_string()));
        }
        if let Some(b64) = text.strip_prefix("{SHA}") {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| HashError::Malformed("{SHA}"))?;
            let digest = <[u8; 20]>::try_from(bytes.as_slice())
                .map_err(|_| HashError::Malformed("{SHA}"))?;
            return Ok(Hash::LegacySha1(digest, text.to_string()));
        }
        if text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut digest = [0u8; 20];
            for (i, byte) in digest.iter_mut().enumerate() {
                // Proven: 40 ASCII hex digits, so every pair parses.
                *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0);
            }
            return Ok(Hash::LegacySha1(digest, text.to_string()));
        }
        Err(HashError::Unknown)
    }

    /// Whether `password` matches. The comparison inside each scheme is
    /// constant-time (the RustCrypto verifiers, `subtle` for SHA-1).
    pub fn verify(&self, password: &str) -> bool {
        let password = password.as_bytes();
        match self {
            Hash::Argon2(phc) => PasswordHash::new(phc)
                .is_ok_and(|h| Argon2::default().verify_password(password, &h).is_ok()),
            Hash::ShaCrypt(mcf) => sha_crypt::ShaCrypt::default()
                .verify_password(password, mcf.as_str())
                .is_ok(),
            Hash::Yescrypt(mcf) => yescrypt::Yescrypt::default()
                .verify_password(password, mcf.as_str())
                .is_ok(),
            Hash::LegacySha1(digest, _) => {
                let actual: [u8; 20] = Sha1::digest(password).into();
                actual.ct_eq(digest).into()
            }
        }
    }

    /// Unsalted, fast: to be replaced (`nfctd passwd add` rehashes).
    pub fn is_legacy(&self) -> bool {
        matches!(self, Hash::LegacySha1(..))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Hash::Argon2(_) => "argon2",
            Hash::ShaCrypt(_) => "sha-crypt",
            Hash::Yescrypt(_) => "yescrypt",
            Hash::LegacySha1(..) => "unsalted SHA-1",
        }
    }

    /// The text written to the file.
    pub fn text(&self) -> String {
        match self {
            Hash::Argon2(s) | Hash::ShaCrypt(s) | Hash::Yescrypt(s) | Hash::LegacySha1(_, s) => {
                s.clone()
            }
        }
    }

    /// A new argon2id hash (default parameters, random salt).
    pub fn new_argon2(password: &str) -> Result<Hash, HashError> {
        let phc = Argon2::default()
            .hash_password(password.as_bytes())
            .map_err(|e| HashError::Hashing(e.to_string()))?;
        Ok(Hash::Argon2(phc.to_string()))
    }
}

/// Checked against for unknown users, so a refusal costs the same argon2id
/// verification whether or not the user exists, and timing does not tell
/// which names are in the file. Made once, from a random password.
pub fn dummy() -> &'static Option<Hash> {
    static DUMMY: OnceLock<Option<Hash>> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = format!("{:032x}", rand::random::<u128>());
        Hash::new_argon2(&password).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = Hash::new_argon2("s3cret").unwrap();
        assert!(h.text().starts_with("$argon2id$"));
        let parsed = Hash::parse(&h.text()).unwrap();
        assert!(parsed.verify("s3cret"));
        assert!(!parsed.verify("s3cret "));
        assert!(!parsed.is_legacy());
    }

    #[test]
    fn legacy_sha1_in_both_spellings() {
        // python3 -c 'import hashlib; print(hashlib.sha1(b"pyctd").hexdigest())'
        let h = Hash::parse("499151674e56117e059b6095fd777bdc98d24757").unwrap();
        assert!(h.verify("pyctd") && !h.verify("pyctD") && h.is_legacy());
        let digest: [u8; 20] = Sha1::digest(b"pyctd").into();
        let b64 = format!(
            "{{SHA}}{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        let h = Hash::parse(&b64).unwrap();
        assert!(h.verify("pyctd") && !h.verify(""));
        assert_eq!(h.text(), b64);
    }

    #[test]
    fn yescrypt_from_libxcrypt() {
        // python3 -c 'import crypt; print(crypt.crypt("secret", "$y$j9T$saltsaltsaltsalt$"))'
        let y = "$y$j9T$saltsaltsaltsalt$.Zt5W26jjocuW0wIHGgB6AJelofw6GEpOypHGyow2y5";
        let h = Hash::parse(y).unwrap();
        assert!(h.verify("secret"));
        assert!(!h.verify("Secret"));
    }

    #[test]
    fn sha_crypt_from_openssl() {
        // openssl passwd -6 -salt saltsalt secret
        let six = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";
        let h = Hash::parse(six).unwrap();
        assert!(h.verify("secret"), "sha-512 crypt");
        assert!(!h.verify("secreT"));
        // openssl passwd -5 -salt saltsalt secret
        let five = "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA";
        let h = Hash::parse(five).unwrap();
        assert!(h.verify("secret"), "sha-256 crypt");
        assert!(!h.verify("nope"));
    }

    #[test]
    fn unknown_and_malformed_hashes_are_refused_without_echo() {
        for bad in ["plain", "$1$abc$def", "{SHA}!!", "abcd", "$argon2id$junk"] {
            let e = Hash::parse(bad).unwrap_err().to_string();
            assert!(!e.contains(bad), "{e}");
        }
        assert!(
            format!(
                "{:?}",
                Hash::parse("$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA").unwrap()
            ) == "sha-crypt"
        );
    }

    #[test]
    fn the_dummy_hash_exists_and_matches_nothing_guessable() {
        let dummy = dummy().as_ref().unwrap();
        assert!(!dummy.verify(""));
    }
}
