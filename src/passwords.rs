//! Room passwords: hashed with Argon2id when a room is created, checked
//! against that hash when someone joins, with the cost of both bounded.
//!
//! Argon2 is slow and memory-hard on purpose: one check fills 19 MiB. Run
//! for every caller at once, a hundred parallel guesses would take two
//! gigabytes (and the allocator keeps much of it afterwards). So at most
//! [`Passwords::new`]'s `parallel` hashes run at a time, each in one of as
//! many memory areas allocated once and reused: the memory Argon2 can ever
//! hold is `parallel` × 19 MiB. Callers beyond those wait in a short queue
//! ([`MAX_WAITING`] in the server); past it they are told the server is
//! busy.
//!
//! How often wrong guesses may be made is the edge's business
//! (`routes/limits`): this module only bounds the work.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, PasswordHash, SaltString, rand_core::OsRng},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Callers that may wait for a free hashing slot before the next is
/// refused: at about 50 ms a hash on one core, the last waits a second or
/// two.
pub const MAX_WAITING: usize = 64;

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every hashing slot is taken and the queue is full.
    #[error("too many password checks at once")]
    Busy,
    /// A stored hash that does not parse, or a failure inside Argon2.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Cheap handle; a field of `AppState`.
#[derive(Clone)]
pub struct Passwords {
    inner: Arc<Inner>,
}

struct Inner {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Memory areas of finished hashes, handed to the next one: never more
    /// than there are slots.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl Passwords {
    /// At most `parallel` (at least one) hashes run at once, and at most
    /// `max_waiting` callers wait for a turn.
    pub fn new(parallel: usize, max_waiting: usize) -> Passwords {
        Passwords {
            inner: Arc::new(Inner {
                slots: Arc::new(Semaphore::new(parallel.max(1))),
                waiting: AtomicUsize::new(0),
                max_waiting,
                memory: Arc::default(),
            }),
        }
    }

    /// Hashes a new room password (Argon2id, the crate's default cost, a
    /// random salt), as a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let salt = SaltString::generate(&mut OsRng);
        self.run(move |memory| {
            let params = Params::default();
            let output = compute(
                Algorithm::default(),
                Version::default(),
                &params,
                password.as_bytes(),
                salt.as_salt(),
                Params::DEFAULT_OUTPUT_LEN,
                memory,
            )?;
            let hash = PasswordHash {
                algorithm: Algorithm::default().ident(),
                version: Some(Version::default().into()),
                params: (&params).try_into().map_err(failed)?,
                salt: Some(salt.as_salt()),
                hash: Some(output),
            };
            Ok(hash.to_string())
        })
        .await?
    }

    /// Whether `given` is the password whose PHC hash is `stored`.
    pub async fn verify(&self, given: String, stored: String) -> Result<bool, PasswordError> {
        self.run(move |memory| {
            let hash = PasswordHash::new(&stored).map_err(failed)?;
            let algorithm = Algorithm::try_from(hash.algorithm).map_err(failed)?;
            let version = match hash.version {
                Some(v) => Version::try_from(v).map_err(failed)?,
                None => Version::default(),
            };
            let params = Params::try_from(&hash).map_err(failed)?;
            let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
                return Err(PasswordError::Failed(
                    "the stored hash is incomplete".into(),
                ));
            };
            let output = compute(
                algorithm,
                version,
                &params,
                given.as_bytes(),
                salt,
                expected.len(),
                memory,
            )?;
            // `Output`'s equality is constant-time.
            Ok(output == expected)
        })
        .await?
    }

    /// Runs `work` on the blocking pool in a hashing slot, with a memory
    /// area to hash in. The slot and the area go with the blocking task, so
    /// a caller that gives up (a client hanging up) does not free its slot
    /// while the hash still runs.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        let slot = self.slot().await?;
        let memory = self.inner.memory.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut area = lock(&memory).pop().unwrap_or_default();
            let result = work(&mut area);
            lock(&memory).push(area);
            result
        })
        .await
        .map_err(failed)
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        if let Ok(slot) = self.inner.slots.clone().try_acquire_owned() {
            return Ok(slot);
        }
        let waiting = &self.inner.waiting;
        if waiting.fetch_add(1, Ordering::AcqRel) >= self.inner.max_waiting {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(PasswordError::Busy);
        }
        let slot = self.inner.slots.clone().acquire_owned().await;
        waiting.fetch_sub(1, Ordering::AcqRel);
        // The semaphore is never closed.
        slot.map_err(failed)
    }
}

/// One Argon2 hash of `password` into `output_len` bytes, in `memory`
/// (grown to what `params` need the first time).
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: argon2::password_hash::Salt<'_>,
    output_len: usize,
    memory: &mut Vec<Block>,
) -> Result<Output, PasswordError> {
    let blocks = params.block_count();
    if blocks > Params::DEFAULT_M_COST as usize * 4 {
        // Not a hash this server made: refuse to spend that much on it.
        return Err(PasswordError::Failed(format!(
            "a stored hash asks for {blocks} KiB of memory"
        )));
    }
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(failed)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    Output::init_with(output_len, |out| {
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(argon2::password_hash::Error::from)
    })
    .map_err(failed)
}

fn failed(e: impl std::fmt::Display) -> PasswordError {
    PasswordError::Failed(e.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new(2, MAX_WAITING);
        let hash = passwords.hash("hunter42".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            passwords
                .verify("hunter42".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("hunter43".into(), hash.clone())
                .await
                .unwrap()
        );
        // The standard verifier agrees, both ways: hashes made before this
        // module keep working.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"hunter42", &parsed)
                .is_ok()
        );
        let salt = SaltString::generate(&mut OsRng);
        let standard = Argon2::default()
            .hash_password(b"older", &salt)
            .unwrap()
            .to_string();
        assert!(passwords.verify("older".into(), standard).await.unwrap());
    }

    #[tokio::test]
    async fn memory_areas_are_reused_and_never_more_than_the_slots() {
        let passwords = Passwords::new(2, MAX_WAITING);
        let hash = passwords.hash("pw".into()).await.unwrap();
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                tokio::spawn(async move { passwords.verify("no".into(), hash).await })
            })
            .collect();
        for check in checks {
            assert!(!check.await.unwrap().unwrap());
        }
        let areas = lock(&passwords.inner.memory).len();
        assert!((1..=2).contains(&areas), "{areas} areas for 2 slots");
    }

    #[tokio::test]
    async fn callers_past_the_queue_are_told_the_server_is_busy() {
        let passwords = Passwords::new(1, 2);
        let hash = passwords.hash("pw".into()).await.unwrap();
        let checks: Vec<_> = (0..10)
            .map(|_| {
                let (passwords, hash) = (passwords.clone(), hash.clone());
                tokio::spawn(async move { passwords.verify("no".into(), hash).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(false) => {}
                Err(PasswordError::Busy) => busy += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(busy, 7, "one hashing, two waiting, the rest refused");
    }

    #[tokio::test]
    async fn a_garbled_stored_hash_is_an_error_not_a_match() {
        let passwords = Passwords::new(1, 0);
        let answer = passwords.verify("x".into(), "not a hash".into()).await;
        assert!(matches!(answer, Err(PasswordError::Failed(_))));
    }
}
