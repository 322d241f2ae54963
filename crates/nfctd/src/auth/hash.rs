//! Password hashes as the password file holds them: argon2id (what `nfctd
//! passwd` writes), sha-crypt and yescrypt (copied from /etc/shadow), and
//! pyctd's unsalted SHA-1; parsing, verifying (argon2 into memory the caller
//! keeps, so a checking thread allocates it once) and making new ones.

use std::sync::OnceLock;

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
};
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
            // Taken apart now, so a hash that could never be recomputed
            // (unknown variant, bad parameters, short salt) stops the load.
            Argon2Target::from_phc(text).ok_or(HashError::Malformed("argon2"))?;
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

    /// Whether `password` matches, with fresh argon2 memory (tests; the
    /// daemon uses [`Hash::verify_with`] on its checking threads).
    #[cfg(test)]
    pub fn verify(&self, password: &str) -> bool {
        self.verify_with(password, &mut Memory::default())
    }

    /// Whether `password` matches. An argon2 hash is recomputed into
    /// `memory`, which grows to the largest cost seen and is kept; the other
    /// schemes allocate what little they need. Every comparison is
    /// constant-time (`subtle`, or the RustCrypto verifiers).
    pub fn verify_with(&self, password: &str, memory: &mut Memory) -> bool {
        let password = password.as_bytes();
        match self {
            Hash::Argon2(phc) => {
                Argon2Target::from_phc(phc).is_some_and(|t| t.check(password, memory))
            }
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

    /// What a check of this hash costs, as a class of equal costs: argon2
    /// by its parameters, the others by their scheme.
    pub fn cost(&self) -> Cost {
        match self {
            Hash::Argon2(phc) => {
                Argon2Target::from_phc(phc).map_or(Cost::Scheme("argon2"), |t| t.cost())
            }
            other => Cost::Scheme(other.kind()),
        }
    }

    /// Whether a check of this hash is an argon2 recomputation (else the
    /// caller adds the dummy's, so it costs at least what an unknown user's does).
    pub fn is_argon2(&self) -> bool {
        matches!(self, Hash::Argon2(_))
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

/// A class of checks that cost the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cost {
    /// Memory (KiB), passes, lanes.
    Argon2 {
        m: u32,
        t: u32,
        p: u32,
    },
    Scheme(&'static str),
}

/// Scratch memory for argon2, owned by one checking thread and reused by
/// each check it runs, so memory is allocated once per thread rather than
/// once per login (19 MiB with the default parameters).
#[derive(Default)]
pub struct Memory {
    blocks: Vec<Block>,
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memory({} KiB)", self.blocks.len())
    }
}

impl Memory {
    /// The first `n` blocks, grown (once) if need be.
    fn blocks(&mut self, n: usize) -> &mut [Block] {
        if self.blocks.len() < n {
            self.blocks.resize(n, Block::default());
        }
        &mut self.blocks[..n]
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }
}

/// An argon2 PHC string taken apart, ready to recompute.
struct Argon2Target {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    digest: Vec<u8>,
}

impl Argon2Target {
    fn from_phc(phc: &str) -> Option<Argon2Target> {
        let hash = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::new(hash.algorithm.as_str()).ok()?;
        let version = match hash.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        // Sets the output length to the stored digest's.
        let params = Params::try_from(&hash).ok()?;
        let salt = hash.salt.as_ref()?.to_vec();
        let digest = hash.hash.as_ref()?.as_bytes().to_vec();
        if salt.len() < argon2::MIN_SALT_LEN {
            return None;
        }
        Some(Argon2Target {
            algorithm,
            version,
            params,
            salt,
            digest,
        })
    }

    fn cost(&self) -> Cost {
        Cost::Argon2 {
            m: self.params.m_cost(),
            t: self.params.t_cost(),
            p: self.params.p_cost(),
        }
    }

    /// Recomputes the digest from `password` into `memory` and compares it
    /// in constant time.
    fn check(&self, password: &[u8], memory: &mut Memory) -> bool {
        let mut out = vec![0u8; self.digest.len()];
        let blocks = memory.blocks(self.params.block_count());
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        argon2
            .hash_password_into_with_memory(password, &self.salt, &mut out, blocks)
            .is_ok()
            && bool::from(out.ct_eq(&self.digest))
    }
}

/// Checked against for unknown users (and before any hash that is not
/// argon2), so a refusal costs the same argon2id work as a known user's,
/// and timing does not tell which names are in the file: the default
/// parameters `nfctd passwd` uses, a random salt and a random digest, which
/// no password gives. Nothing is hashed to make it.
fn dummy() -> &'static Argon2Target {
    static DUMMY: OnceLock<Argon2Target> = OnceLock::new();
    DUMMY.get_or_init(|| Argon2Target {
        algorithm: Algorithm::Argon2id,
        version: Version::V0x13,
        params: Params::DEFAULT,
        salt: rand::random::<[u8; 16]>().to_vec(),
        digest: rand::random::<[u8; 32]>().to_vec(),
    })
}

/// The dummy check: argon2id with the default parameters, into `memory`.
/// Never matches.
pub fn dummy_check(password: &str, memory: &mut Memory) -> bool {
    dummy().check(password.as_bytes(), memory)
}

/// What the dummy check costs.
pub fn dummy_cost() -> Cost {
    dummy().cost()
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
    fn the_dummy_matches_nothing_and_costs_what_a_default_argon2_hash_does() {
        let mut memory = Memory::default();
        assert!(!dummy_check("", &mut memory) && !dummy_check("x", &mut memory));
        let h = Hash::new_argon2("s3cret").unwrap();
        assert_eq!(h.cost(), dummy_cost());
        assert_eq!(memory.bytes(), 19 * 1024 * 1024);
        assert!(h.verify_with("s3cret", &mut memory), "memory is reused");
        assert_eq!(memory.bytes(), 19 * 1024 * 1024);
    }

    #[test]
    fn argon2_with_other_parameters_and_variants_verifies_and_grows_memory() {
        // Other variants and costs than `nfctd passwd` writes, as another
        // tool may have made them.
        let mut memory = Memory::default();
        for (alg, m, t, p) in [
            (Algorithm::Argon2i, 64, 1, 1),
            (Algorithm::Argon2d, 256, 3, 2),
            (Algorithm::Argon2id, 32 * 1024, 1, 1),
        ] {
            let params = Params::new(m, t, p, None).unwrap();
            let phc = Argon2::new(alg, Version::V0x13, params)
                .hash_password_with_salt(b"pw", b"saltsalt")
                .unwrap()
                .to_string();
            let h = Hash::parse(&phc).unwrap();
            assert_eq!(h.cost(), Cost::Argon2 { m, t, p });
            assert!(h.verify_with("pw", &mut memory), "{phc}");
            assert!(!h.verify_with("pW", &mut memory), "{phc}");
        }
        assert_eq!(memory.bytes(), 32 * 1024 * 1024, "the largest cost seen");
    }
}
