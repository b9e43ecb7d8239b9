//! The cloud token lives only in the OS keyring (or, for headless use, an environment
//! variable): never in the cache, logs or config files. Code depends on [`SecretStore`], so
//! tests use [`MemoryStore`] instead of the machine's keyring.

use std::collections::HashMap;
use std::sync::Mutex;

/// The environment variable a headless CLI may take the token from.
pub const TOKEN_ENV: &str = "USAGEDESK_TOKEN";
const SERVICE: &str = "usagedesk";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the OS keyring is not available ({0}); set {TOKEN_ENV} to pass the token instead")]
    Unavailable(String),
    #[error("the OS keyring refused the operation: {0}")]
    Keyring(String),
}

/// Stores one token per cloud URL.
pub trait SecretStore: Send + Sync {
    fn get(&self, url: &str) -> Result<Option<String>, SecretError>;
    fn set(&self, url: &str, token: &str) -> Result<(), SecretError>;
    /// Removes the token; removing a missing token is not an error.
    fn delete(&self, url: &str) -> Result<(), SecretError>;
    /// Where tokens go, for the settings screen ("Secret Service", "kernel keyring", …).
    fn describe(&self) -> String;
}

// Every desktop target gets a persistent OS store (see Cargo.toml). On any other target the
// keyring crate would fall back to its in-memory mock, which accepts a token and forgets it at
// exit: refuse to build rather than lose a manager's token and signing key.
#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
compile_error!(
    "usagedesk-secrets has no persistent OS keyring for this target: add its store to crates/usagedesk-secrets/Cargo.toml and to KeyringStore::detect"
);

/// Which OS keyring backend is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The desktop's Secret Service (GNOME Keyring, KWallet): persistent.
    SecretService,
    /// The Linux kernel keyring: works headless, but is lost at reboot.
    KernelKeyring,
    /// The macOS login Keychain: persistent.
    Keychain,
    /// The Windows Credential Manager: persistent.
    CredentialManager,
}

/// The OS keyring.
pub struct KeyringStore {
    backend: Backend,
}

impl KeyringStore {
    /// Picks the best keyring available: the Secret Service when a desktop session offers
    /// one, else (Linux, headless) the kernel keyring, with a warning that it is not
    /// persistent; the Keychain on macOS; the Credential Manager on Windows.
    pub fn detect() -> Self {
        #[cfg(target_os = "linux")]
        {
            let probe =
                keyring::secret_service::SsCredential::new_with_target(None, SERVICE, "probe")
                    .and_then(
                        |c| match keyring::credential::CredentialApi::get_password(&c) {
                            Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
                            Err(e) => Err(e),
                        },
                    );
            let backend = match probe {
                Ok(()) if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() => {
                    Backend::SecretService
                }
                _ => {
                    tracing::warn!(
                        "no Secret Service (desktop keyring) is running; the token is kept in the kernel keyring, which forgets it at reboot"
                    );
                    Backend::KernelKeyring
                }
            };
            keyring::set_default_credential_builder(platform_builder(backend));
            Self { backend }
        }
        #[cfg(target_os = "macos")]
        {
            keyring::set_default_credential_builder(platform_builder(Backend::Keychain));
            Self {
                backend: Backend::Keychain,
            }
        }
        #[cfg(target_os = "windows")]
        {
            keyring::set_default_credential_builder(platform_builder(Backend::CredentialManager));
            Self {
                backend: Backend::CredentialManager,
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn entry(&self, url: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(SERVICE, url).map_err(map_err)
    }
}

/// The keyring crate's store for `backend`, named explicitly: each module exists only with
/// its feature enabled, so a build that would fall back to the in-memory mock fails here.
#[cfg(target_os = "linux")]
fn platform_builder(backend: Backend) -> Box<keyring::CredentialBuilder> {
    match backend {
        Backend::KernelKeyring => keyring::keyutils::default_credential_builder(),
        _ => keyring::secret_service::default_credential_builder(),
    }
}

#[cfg(target_os = "macos")]
fn platform_builder(_: Backend) -> Box<keyring::CredentialBuilder> {
    keyring::macos::default_credential_builder()
}

#[cfg(target_os = "windows")]
fn platform_builder(_: Backend) -> Box<keyring::CredentialBuilder> {
    keyring::windows::default_credential_builder()
}

fn map_err(e: keyring::Error) -> SecretError {
    match e {
        keyring::Error::PlatformFailure(_) | keyring::Error::NoStorageAccess(_) => {
            SecretError::Unavailable(e.to_string())
        }
        other => SecretError::Keyring(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, url: &str) -> Result<Option<String>, SecretError> {
        #[cfg(target_os = "linux")]
        if self.backend == Backend::KernelKeyring {
            return kernel::get(url);
        }
        match self.entry(url)?.get_password() {
            Ok(t) => Ok(Some(t)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }

    fn set(&self, url: &str, token: &str) -> Result<(), SecretError> {
        #[cfg(target_os = "linux")]
        if self.backend == Backend::KernelKeyring {
            return kernel::set(url, token);
        }
        self.entry(url)?.set_password(token).map_err(map_err)
    }

    fn delete(&self, url: &str) -> Result<(), SecretError> {
        #[cfg(target_os = "linux")]
        if self.backend == Backend::KernelKeyring {
            return kernel::delete(url);
        }
        match self.entry(url)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        }
    }

    fn describe(&self) -> String {
        match self.backend {
            Backend::SecretService => "the desktop keyring (Secret Service)".into(),
            Backend::KernelKeyring => "the kernel keyring (not kept across reboots)".into(),
            Backend::Keychain => "the macOS Keychain".into(),
            Backend::CredentialManager => "the Windows Credential Manager".into(),
        }
    }
}

/// The Linux kernel's per-user keyring (`@u`): it exists for every user without a desktop
/// session, unlike the session keyring, which processes started by services may lack.
#[cfg(target_os = "linux")]
mod kernel {
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

    use super::{SecretError, SERVICE};

    fn ring() -> Result<KeyRing, SecretError> {
        KeyRing::from_special_id(KeyRingIdentifier::User, true)
            .map_err(|e| SecretError::Unavailable(format!("kernel user keyring: {e:?}")))
    }

    fn description(url: &str) -> String {
        format!("{SERVICE}:{url}")
    }

    fn failed(e: KeyError) -> SecretError {
        SecretError::Keyring(format!("kernel keyring: {e:?}"))
    }

    pub fn get(url: &str) -> Result<Option<String>, SecretError> {
        match ring()?.search(&description(url)) {
            Ok(key) => {
                let bytes = key.read_to_vec().map_err(failed)?;
                String::from_utf8(bytes).map(Some).map_err(|_| {
                    SecretError::Keyring("the stored token is not text; sign in again".into())
                })
            }
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => {
                Ok(None)
            }
            Err(e) => Err(failed(e)),
        }
    }

    pub fn set(url: &str, token: &str) -> Result<(), SecretError> {
        ring()?
            .add_key(&description(url), token)
            .map(|_| ())
            .map_err(failed)
    }

    pub fn delete(url: &str) -> Result<(), SecretError> {
        match ring()?.search(&description(url)) {
            Ok(key) => key.invalidate().map_err(failed),
            Err(KeyError::KeyDoesNotExist | KeyError::KeyExpired | KeyError::KeyRevoked) => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}

/// An in-memory store for tests and for the embedded demo.
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<String, String>>);

impl SecretStore for MemoryStore {
    fn get(&self, url: &str) -> Result<Option<String>, SecretError> {
        Ok(self
            .0
            .lock()
            .map_err(|e| SecretError::Keyring(e.to_string()))?
            .get(url)
            .cloned())
    }
    fn set(&self, url: &str, token: &str) -> Result<(), SecretError> {
        self.0
            .lock()
            .map_err(|e| SecretError::Keyring(e.to_string()))?
            .insert(url.into(), token.into());
        Ok(())
    }
    fn delete(&self, url: &str) -> Result<(), SecretError> {
        self.0
            .lock()
            .map_err(|e| SecretError::Keyring(e.to_string()))?
            .remove(url);
        Ok(())
    }
    fn describe(&self) -> String {
        "memory (not saved)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_round_trips_and_deletes() {
        let s = MemoryStore::default();
        assert_eq!(s.get("http://a").unwrap(), None);
        s.set("http://a", "udk_1").unwrap();
        s.set("http://b", "udk_2").unwrap();
        assert_eq!(
            s.get("http://a").unwrap().as_deref(),
            Some("udk_1"),
            "tokens are kept per URL"
        );
        s.delete("http://a").unwrap();
        s.delete("http://a").unwrap();
        assert_eq!(s.get("http://a").unwrap(), None);
        assert_eq!(s.get("http://b").unwrap().as_deref(), Some("udk_2"));
    }

    #[test]
    fn the_os_stores_keep_secrets_beyond_the_process() {
        use keyring::credential::CredentialPersistence;
        // The mock keeps an entry's secret in the entry itself (EntryOnly); a real store keeps
        // it until deleted (or, for the kernel keyring, until reboot).
        let kept = |p: CredentialPersistence| {
            matches!(
                p,
                CredentialPersistence::UntilDelete | CredentialPersistence::UntilReboot
            )
        };
        assert!(
            kept(keyring::default::default_credential_builder().persistence()),
            "this target's default keyring store is persistent, not the mock"
        );
        for backend in [
            Backend::SecretService,
            Backend::KernelKeyring,
            Backend::Keychain,
            Backend::CredentialManager,
        ] {
            assert!(
                kept(platform_builder(backend).persistence()),
                "{backend:?} maps to a persistent store"
            );
        }
        assert!(!kept(
            keyring::mock::default_credential_builder().persistence()
        ));
    }

    #[test]
    fn the_store_is_named_for_the_settings_screen() {
        let named = |backend| KeyringStore { backend }.describe();
        assert_eq!(named(Backend::Keychain), "the macOS Keychain");
        assert_eq!(
            named(Backend::CredentialManager),
            "the Windows Credential Manager"
        );
        assert!(named(Backend::KernelKeyring).contains("not kept across reboots"));
    }

    #[test]
    fn keyring_crate_mock_store_round_trips() {
        // The keyring crate's own mock: the same Entry API our KeyringStore calls.
        keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
        let e = keyring::Entry::new(SERVICE, "http://mock").unwrap();
        e.set_password("udk_x").unwrap();
        assert_eq!(e.get_password().unwrap(), "udk_x");
    }
}

#[cfg(all(test, target_os = "linux"))]
mod kernel_tests {
    use super::*;

    #[test]
    fn the_kernel_user_keyring_round_trips_a_token() {
        // The real kernel keyring of this user, as headless machines (and CI) use it.
        let store = KeyringStore {
            backend: Backend::KernelKeyring,
        };
        let url = format!("http://test.invalid/{}/", std::process::id());
        store.delete(&url).unwrap();
        assert_eq!(store.get(&url).unwrap(), None);
        store.set(&url, "udk_kernel").unwrap();
        assert_eq!(store.get(&url).unwrap().as_deref(), Some("udk_kernel"));
        store.set(&url, "udk_kernel_2").unwrap();
        assert_eq!(
            store.get(&url).unwrap().as_deref(),
            Some("udk_kernel_2"),
            "setting again replaces"
        );
        store.delete(&url).unwrap();
        assert_eq!(store.get(&url).unwrap(), None, "deleted tokens are gone");
    }
}
