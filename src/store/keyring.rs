//! The keyring: the file `keyring` in the data directory, beside sled's files and outside its
//! log, holding the epoch keys wrapped by the master key and a canary.
//!
//! ```text
//! {"format":1, "kdf":null | {"salt":hex, "params":{"m_kib":…,"t":…,"p":…}},
//!  "canary":hex, "current":N, "epochs":[{"id":N, "keys":hex}, …]}
//! ```
//! `canary` and each epoch's `keys` are sealed by the master key (see `seal::wrap`): the canary
//! opening is how a wrong key is told from a damaged store, before anything is written. The
//! file is replaced atomically (a temporary file, fsync, rename, fsync of the directory), so an
//! epoch key removed from it is gone from the disk's live data: that is what makes `/stop`
//! hold on disk (see `rotation.rs`). Never in a log; a backup carries the file as it is (its
//! keys wrapped), so that only the master key opens it, and the master key never touches the
//! data directory or a backup.

use super::{
    StoreError,
    seal::{self, EpochKeys, Kdf, Key},
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The file's name in the data directory.
pub const FILE: &str = "keyring";
const FORMAT: u32 = 1;
const CANARY: &[u8] = b"tribune keyring canary v1";

/// The public test key's bytes (tests write them to a key file for `tribune serve`).
#[doc(hidden)]
pub const PUBLIC_TEST_KEY: &[u8; 32] = b"tribune public test key, no use!";

/// What unlocks the store: a key, or a passphrase that derives one. Named after the variable
/// it came from, so every error can say which one to fix.
pub struct Secret {
    kind: SecretKind,
    var: &'static str,
}

enum SecretKind {
    Key(Key),
    Passphrase(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret(from {}, [redacted])", self.var)
    }
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {var} ({path}): {source}")]
    Unreadable { var: &'static str, path: String, source: std::io::Error },
    #[error(
        "{var} ({path}) does not hold a key: expected 32 bytes or 64 hex digits (`tribune keygen FILE` writes one)"
    )]
    NotAKey { var: &'static str, path: String },
    #[error("{var} ({path}) is empty: write a passphrase in it")]
    EmptyPassphrase { var: &'static str, path: String },
}

impl Secret {
    /// The key or passphrase the configuration names.
    pub fn load(source: &crate::config::KeySource) -> Result<Secret, KeyError> {
        match source {
            crate::config::KeySource::File(path) => Secret::from_key_file(path),
            crate::config::KeySource::Passphrase(path) => Secret::from_passphrase_file(path),
        }
    }

    /// The key in the file `TRIBUNE_KEY_FILE` names.
    pub fn from_key_file(path: &Path) -> Result<Secret, KeyError> {
        let var = "TRIBUNE_KEY_FILE";
        let shown = path.display().to_string();
        let raw = Zeroizing::new(std::fs::read(path).map_err(|source| KeyError::Unreadable {
            var,
            path: shown.clone(),
            source,
        })?);
        let key = Key::parse(&raw).ok_or(KeyError::NotAKey { var, path: shown })?;
        Ok(Secret { kind: SecretKind::Key(key), var })
    }

    /// The passphrase in the file `TRIBUNE_PASSPHRASE_FILE` names (its first line).
    pub fn from_passphrase_file(path: &Path) -> Result<Secret, KeyError> {
        let var = "TRIBUNE_PASSPHRASE_FILE";
        let shown = path.display().to_string();
        let raw = Zeroizing::new(std::fs::read(path).map_err(|source| KeyError::Unreadable {
            var,
            path: shown.clone(),
            source,
        })?);
        let line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Err(KeyError::EmptyPassphrase { var, path: shown });
        }
        Ok(Secret { kind: SecretKind::Passphrase(Zeroizing::new(line.to_vec())), var })
    }

    /// A key given directly (`tribune keygen`'s, a test's).
    pub fn from_key(key: Key, var: &'static str) -> Secret {
        Secret { kind: SecretKind::Key(key), var }
    }

    /// The fixed, **public** key of tests, benchmarks and the demo: it protects nothing.
    /// `serve` and the other commands never use it (`tests/it/architecture.rs` checks).
    #[doc(hidden)]
    pub fn public_test_key() -> Secret {
        Secret::from_key(Key::from_bytes(*PUBLIC_TEST_KEY), "the test key")
    }

    /// The variable this secret came from, for errors.
    pub fn var(&self) -> &'static str {
        self.var
    }

    /// The master key, derived with `kdf` and `salt` for a passphrase.
    fn master(&self, kdf: Option<&KdfRecord>) -> Result<Key, StoreError> {
        match (&self.kind, kdf) {
            (SecretKind::Key(key), None) => Ok(key.clone()),
            (SecretKind::Passphrase(pass), Some(kdf)) => {
                let mut salt = [0u8; 16];
                if !seal::decode_hex(&kdf.salt, &mut salt) {
                    return Err(damaged("its passphrase salt"));
                }
                Key::from_passphrase(pass, &salt, &kdf.params)
                    .ok_or_else(|| damaged("its passphrase parameters"))
            }
            (SecretKind::Key(_), Some(_)) => Err(StoreError::KeyKind {
                var: self.var,
                why: "this data directory is locked with a passphrase: set TRIBUNE_PASSPHRASE_FILE instead",
            }),
            (SecretKind::Passphrase(_), None) => Err(StoreError::KeyKind {
                var: self.var,
                why: "this data directory is locked with a key file: set TRIBUNE_KEY_FILE instead",
            }),
        }
    }

    /// A new master key for a new keyring: a passphrase gets a fresh salt.
    fn fresh_master(&self) -> Result<(Key, Option<KdfRecord>), StoreError> {
        let kdf = match &self.kind {
            SecretKind::Key(_) => None,
            SecretKind::Passphrase(_) => {
                let mut salt = [0u8; 16];
                seal::random(&mut salt);
                Some(KdfRecord { salt: seal::to_hex(&salt), params: Kdf::DEFAULT })
            }
        };
        let master = self.master(kdf.as_ref())?;
        Ok((master, kdf))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct KdfRecord {
    salt: String,
    params: Kdf,
}

#[derive(Serialize, Deserialize)]
struct KeyringFile {
    format: u32,
    kdf: Option<KdfRecord>,
    canary: String,
    current: u32,
    epochs: Vec<WrappedEpoch>,
}

#[derive(Serialize, Deserialize)]
struct WrappedEpoch {
    id: u32,
    keys: String,
}

/// The keyring, open: the master key and every epoch still kept.
pub struct Keyring {
    master: Key,
    kdf: Option<KdfRecord>,
    /// Oldest first; the last is the current one.
    epochs: Vec<EpochKeys>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u32> = self.epochs.iter().map(|e| e.id).collect();
        write!(f, "Keyring(epochs {ids:?}, [redacted])")
    }
}

fn damaged(what: &str) -> StoreError {
    StoreError::Keyring(format!("{what} does not read"))
}

impl Keyring {
    /// Whether `dir` holds a keyring.
    pub fn exists(dir: &Path) -> bool {
        path(dir).exists()
    }

    /// Reads the keyring in `dir` and checks `secret` against its canary; writes nothing.
    pub fn load(dir: &Path, secret: &Secret) -> Result<Keyring, StoreError> {
        let raw = std::fs::read(path(dir)).map_err(|e| StoreError::Keyring(e.to_string()))?;
        Keyring::decode(&raw, secret)
    }

    /// A keyring file's bytes (from a backup), opened with `secret`.
    pub fn decode(raw: &[u8], secret: &Secret) -> Result<Keyring, StoreError> {
        let file: KeyringFile =
            serde_json::from_slice(raw).map_err(|_| damaged("the keyring file"))?;
        if file.format > FORMAT {
            return Err(StoreError::Keyring(format!(
                "it is in format {}, this build reads {FORMAT}: use a newer Tribune",
                file.format
            )));
        }
        let master = secret.master(file.kdf.as_ref())?;
        let canary = hex(&file.canary).ok_or_else(|| damaged("its canary"))?;
        match seal::unwrap(&master, "canary", &canary) {
            Some(plain) if plain == CANARY => {}
            _ => return Err(StoreError::WrongKey { var: secret.var }),
        }
        let mut epochs = Vec::with_capacity(file.epochs.len());
        for wrapped in &file.epochs {
            let sealed = hex(&wrapped.keys).ok_or_else(|| damaged("an epoch key"))?;
            let plain = Zeroizing::new(
                seal::unwrap(&master, &epoch_label(wrapped.id), &sealed)
                    .ok_or_else(|| damaged("an epoch key"))?,
            );
            let raw: [u8; 64] = plain.as_slice().try_into().map_err(|_| damaged("an epoch key"))?;
            epochs.push(EpochKeys::from_raw(wrapped.id, Zeroizing::new(raw)));
        }
        epochs.sort_by_key(|e| e.id);
        if epochs.last().map(|e| e.id) != Some(file.current) {
            return Err(damaged("its current epoch"));
        }
        Ok(Keyring { master, kdf: file.kdf, epochs })
    }

    /// A new keyring with one epoch, written to `dir`.
    pub fn create(dir: &Path, secret: &Secret) -> Result<Keyring, StoreError> {
        let (master, kdf) = secret.fresh_master()?;
        let keyring = Keyring { master, kdf, epochs: vec![EpochKeys::generate(1)] };
        keyring.save(dir)?;
        Ok(keyring)
    }

    /// The epoch new records are sealed under.
    pub fn current(&self) -> &EpochKeys {
        // Never empty: `load` and `create` make sure of it, `retire` keeps the current one.
        self.epochs.last().expect("a keyring has a current epoch")
    }

    /// The epoch with this id, if still kept.
    pub fn epoch(&self, id: u32) -> Option<&EpochKeys> {
        self.epochs.iter().find(|e| e.id == id)
    }

    /// Every epoch still kept, oldest first.
    pub fn epochs(&self) -> &[EpochKeys] {
        &self.epochs
    }

    /// Adds a new current epoch and saves the keyring; returns its id.
    pub fn begin_epoch(&mut self, dir: &Path) -> Result<u32, StoreError> {
        let id = self.current().id + 1;
        self.epochs.push(EpochKeys::generate(id));
        if let Err(e) = self.save(dir) {
            self.epochs.pop();
            return Err(e);
        }
        Ok(id)
    }

    /// Forgets every epoch but the current one and saves the keyring: what was sealed under
    /// them no longer opens, even with the master key.
    pub fn retire_old(&mut self, dir: &Path) -> Result<(), StoreError> {
        let current = self.current().clone();
        let old = std::mem::replace(&mut self.epochs, vec![current]);
        if let Err(e) = self.save(dir) {
            self.epochs = old;
            return Err(e);
        }
        Ok(())
    }

    /// Wraps the epochs under another secret (`tribune rekey`) and saves the keyring.
    pub fn rewrap(&mut self, dir: &Path, secret: &Secret) -> Result<(), StoreError> {
        let (master, kdf) = secret.fresh_master()?;
        let old =
            (std::mem::replace(&mut self.master, master), std::mem::replace(&mut self.kdf, kdf));
        if let Err(e) = self.save(dir) {
            (self.master, self.kdf) = old;
            return Err(e);
        }
        Ok(())
    }

    /// The keyring file's bytes (the backup carries them: only the master key opens them).
    pub fn encode(&self) -> Vec<u8> {
        let file = KeyringFile {
            format: FORMAT,
            kdf: self.kdf.clone(),
            canary: seal::to_hex(&seal::wrap(&self.master, "canary", CANARY)),
            current: self.current().id,
            epochs: self
                .epochs
                .iter()
                .map(|e| WrappedEpoch {
                    id: e.id,
                    keys: seal::to_hex(&seal::wrap(&self.master, &epoch_label(e.id), e.raw())),
                })
                .collect(),
        };
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// Replaces the keyring file in `dir` atomically and durably.
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        write_atomically(dir, &self.encode())
    }
}

/// Writes `bytes` as the keyring file of `dir`: a temporary file (mode 0600), fsync, rename,
/// fsync of the directory.
pub fn write_atomically(dir: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace_file(dir, FILE, bytes)
}

/// Replaces the file `name` in `dir` with `bytes` whole: a temporary file beside it, synced,
/// renamed over it, the directory synced.
pub(super) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| StoreError::Unwritable(format!("the file {name}: {e}"));
    let mut file =
        tempfile::Builder::new().prefix(&format!(".{name}-")).tempfile_in(dir).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.as_file().sync_all().map_err(fail)?;
    file.persist(dir.join(name)).map_err(|e| fail(e.error))?;
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(fail)?;
    Ok(())
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

fn epoch_label(id: u32) -> String {
    format!("epoch {id}")
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let mut out = vec![0u8; text.len() / 2];
    (text.len() % 2 == 0 && seal::decode_hex(text, &mut out)).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_opens_with_its_key_and_tells_a_wrong_one() {
        let dir = tempfile::tempdir().unwrap();
        let secret = Secret::from_key(Key::generate(), "TRIBUNE_KEY_FILE");
        let made = Keyring::create(dir.path(), &secret).unwrap();
        let loaded = Keyring::load(dir.path(), &secret).unwrap();
        assert_eq!(loaded.current().tag(5), made.current().tag(5));
        let wrong = Secret::from_key(Key::generate(), "TRIBUNE_KEY_FILE");
        let err = Keyring::load(dir.path(), &wrong).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { var: "TRIBUNE_KEY_FILE" }), "{err}");
        // A damaged file is not a wrong key.
        std::fs::write(path(dir.path()), b"{\"format\":1").unwrap();
        assert!(matches!(Keyring::load(dir.path(), &secret), Err(StoreError::Keyring(_))));
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(!text.contains(secret_hex(&secret).as_str()));
    }

    fn secret_hex(secret: &Secret) -> String {
        match &secret.kind {
            SecretKind::Key(k) => k.to_hex().to_string(),
            SecretKind::Passphrase(_) => String::new(),
        }
    }

    #[test]
    fn a_retired_epoch_is_gone_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let secret = Secret::from_key(Key::generate(), "TRIBUNE_KEY_FILE");
        let mut keyring = Keyring::create(dir.path(), &secret).unwrap();
        let sealed = keyring.current().seal("subs", b"k", b"reader");
        keyring.begin_epoch(dir.path()).unwrap();
        let reloaded = Keyring::load(dir.path(), &secret).unwrap();
        assert_eq!(reloaded.epochs().len(), 2);
        assert!(reloaded.epoch(1).unwrap().open("subs", b"k", &sealed).is_some());
        keyring.retire_old(dir.path()).unwrap();
        let reloaded = Keyring::load(dir.path(), &secret).unwrap();
        assert_eq!(reloaded.epochs().iter().map(|e| e.id).collect::<Vec<_>>(), vec![2]);
        assert!(reloaded.epochs().iter().all(|e| e.open("subs", b"k", &sealed).is_none()));
    }

    #[test]
    fn a_passphrase_keyring_needs_the_passphrase_and_rekey_moves_it() {
        let dir = tempfile::tempdir().unwrap();
        let pass = |p: &str| Secret {
            kind: SecretKind::Passphrase(Zeroizing::new(p.as_bytes().to_vec())),
            var: "TRIBUNE_PASSPHRASE_FILE",
        };
        let mut keyring = Keyring::create(dir.path(), &pass("first")).unwrap();
        assert!(Keyring::load(dir.path(), &pass("first")).is_ok());
        assert!(matches!(
            Keyring::load(dir.path(), &pass("other")),
            Err(StoreError::WrongKey { .. })
        ));
        let key = Secret::from_key(Key::generate(), "TRIBUNE_KEY_FILE");
        assert!(matches!(Keyring::load(dir.path(), &key), Err(StoreError::KeyKind { .. })));
        let tag = keyring.current().tag(7);
        keyring.rewrap(dir.path(), &key).unwrap();
        assert_eq!(Keyring::load(dir.path(), &key).unwrap().current().tag(7), tag);
        assert!(Keyring::load(dir.path(), &pass("first")).is_err());
    }
}
