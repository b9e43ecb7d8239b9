//! Instance identity (`docs/security.md`): the license files the vendor issues, the check of an
//! instance's first contact (an enrollment made with one of them), key resets and each
//! instance's key history.
//!
//! An instance key is taken only on a first contact that carries an enrollment which verifies
//! against the root key, describes the instance as the cloud knows it now (ids, account path,
//! air-gapped flag), was made within its license's validity, and whose enrollment key the cloud
//! issued for the instance and has not revoked.

use chrono::{DateTime, Duration, Utc};
use rand::{CryptoRng, RngCore};
use usagedesk_airgap::{
    Enrollment, InstanceLicense, KnownInstance, LicenseFile, LicenseRequest, PublicKey, UsageData,
    Verified,
};
use usagedesk_domain::Instance;

use super::instances::{self, Asker};
use super::{when, Refusal};
use crate::storage::{EnrollmentKeyState, KeyEvent, KeyReset, LicenseFileRecord, PinGrant, Store};

/// How long a license file enrolls unless asked otherwise.
pub const DEFAULT_LICENSE_DAYS: i64 = 90;
/// The longest a license file may enroll: ten years.
pub const MAX_LICENSE_DAYS: i64 = 3650;

/// A license file just issued.
#[derive(Debug, Clone)]
pub struct IssuedLicenseFile {
    /// The armored file, with its enrollment secret: for the customer only.
    pub text: String,
    pub license: InstanceLicense,
}

/// Issues a license file for `instance_id` (registered in `instances.csv`), valid from `now`
/// for `valid_for`, and records its enrollment public key (never the secret) and who issued it.
pub fn issue_license_file<R: RngCore + CryptoRng>(
    storage: &dyn Store,
    instance_id: &str,
    valid_for: Duration,
    issued_by: &str,
    now: DateTime<Utc>,
    rng: &mut R,
) -> Result<IssuedLicenseFile, Refusal> {
    if valid_for <= Duration::zero() || valid_for > Duration::days(MAX_LICENSE_DAYS) {
        return Err(Refusal::Invalid(format!(
            "a license file is valid for 1 to {MAX_LICENSE_DAYS} days"
        )));
    }
    let instance = instances::find(storage, Asker::Instance, instance_id)?;
    let account_path = instances::account_path(storage, &instance)?;
    let root = storage.vendor_root_key()?;
    let text = LicenseFile::issue(
        &root,
        &LicenseRequest {
            license_id: instance.license_id.clone(),
            instance_id: instance.id.clone(),
            account_path,
            airgapped: instance.airgapped,
            expires_at: now + valid_for,
        },
        rng,
        now,
    )?;
    let license = LicenseFile::parse(text.as_bytes())?
        .verify(&root.public_key(), now)?
        .into_inner()
        .license;
    storage.record_license_file(&LicenseFileRecord {
        instance_id: instance.id.clone(),
        license_id: license.license_id.clone(),
        enrollment_key: license.enrollment_key.to_string(),
        account_path: license.account_path.clone(),
        airgapped: license.airgapped,
        issued_at: license.issued_at,
        expires_at: license.expires_at,
        issued_by: issued_by.to_owned(),
    })?;
    Ok(IssuedLicenseFile { text, license })
}

/// How a refused first contact is answered: `403` online, `422` for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact {
    Online,
    File,
}

impl Contact {
    fn refuse(self, message: String) -> Refusal {
        match self {
            Contact::Online => Refusal::Forbidden(message),
            Contact::File => Refusal::Invalid(message),
        }
    }
}

/// Who makes a first contact, and when the cloud received it.
#[derive(Debug, Clone, Copy)]
pub struct FirstContact<'a> {
    pub contact: Contact,
    /// `instance (online)`, or the name of the manager token that uploaded the file.
    pub actor: &'a str,
    pub now: DateTime<Utc>,
}

/// Checks an online first contact: `enrollment` proves `instance_key` for `instance` at the
/// cloud's clock, and the cloud issued its enrollment key for the instance and did not revoke
/// it. Returns the grant that lets the write pin the key (re-checked there).
pub fn check_enrollment(
    storage: &dyn Store,
    instance: &Instance,
    enrollment: &Enrollment,
    instance_key: &PublicKey,
    who: FirstContact<'_>,
) -> Result<PinGrant, Refusal> {
    let path = instances::account_path(storage, instance)?;
    let root = storage.vendor_root_key()?.public_key();
    enrollment
        .verify(&root, instance_key, &known(instance, &path), who.now)
        .map_err(|e| who.contact.refuse(e.to_string()))?;
    usable_enrollment_key(storage, instance, &enrollment.license, who.contact)?;
    Ok(grant(enrollment, who))
}

fn grant(enrollment: &Enrollment, who: FirstContact<'_>) -> PinGrant {
    PinGrant {
        enrollment_key: enrollment.license.enrollment_key.to_string(),
        actor: who.actor.to_owned(),
        now: who.now,
    }
}

/// A usage data file's first contact: [`Verified::check_enrollment`] (at the file's
/// `created_at`) against the instance as the cloud knows it, then the enrollment key's
/// standing. Refusals are `422`.
///
/// `account_path` is the path of the sync key the file answers, which the caller checked
/// ends in the instance's account: where the account sat when the key was issued. A file
/// answering a key issued before the account moved is accepted under that path (see
/// `imports::check_place`), and the license file the agent holds names the same path (the
/// agent answers no sync key whose path differs from its license's), so its enrollment is
/// checked against it too.
pub fn check_file_enrollment(
    storage: &dyn Store,
    instance: &Instance,
    account_path: &[String],
    usage: &Verified<UsageData>,
    who: FirstContact<'_>,
) -> Result<PinGrant, Refusal> {
    if account_path.last() != Some(&instance.account_id) {
        return Err(who.contact.refuse(format!(
            "the sync key this file answers does not name the account of instance '{}'",
            instance.id
        )));
    }
    let root = storage.vendor_root_key()?.public_key();
    usage
        .check_enrollment(&root, &known(instance, account_path))
        .map_err(|e| who.contact.refuse(e.to_string()))?;
    let Some(enrollment) = &usage.enrollment else {
        return Err(who
            .contact
            .refuse("the usage data file carries no enrollment".into()));
    };
    usable_enrollment_key(storage, instance, &enrollment.license, who.contact)?;
    Ok(grant(enrollment, who))
}

fn known<'a>(instance: &'a Instance, path: &'a [String]) -> KnownInstance<'a> {
    KnownInstance {
        instance_id: &instance.id,
        license_id: &instance.license_id,
        account_path: path,
        airgapped: instance.airgapped,
    }
}

fn usable_enrollment_key(
    storage: &dyn Store,
    instance: &Instance,
    license: &InstanceLicense,
    contact: Contact,
) -> Result<(), Refusal> {
    match storage.enrollment_key_state(&instance.id, &license.enrollment_key.to_string())? {
        EnrollmentKeyState::Usable => Ok(()),
        EnrollmentKeyState::Revoked(at) => Err(contact.refuse(format!(
            "the license file of instance '{}' that made this enrollment was revoked on {}: ask \
             the vendor for a new license file and set the agent up with it \
             (usagedesk-agent license)",
            instance.id,
            when(&at)
        ))),
        EnrollmentKeyState::Unknown => Err(contact.refuse(format!(
            "this cloud issued no such license file for instance '{}': set the agent up with \
             the license file the vendor issued for the instance (usagedesk-agent license)",
            instance.id
        ))),
    }
}

/// Resets an instance's key (`usagedesk-cloud instance reset-key`): see
/// [`crate::storage::InstanceIdentity::reset_instance_key`].
pub fn reset_key(
    storage: &dyn Store,
    instance_id: &str,
    revoke_license_files: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<KeyReset, Refusal> {
    instances::find(storage, Asker::Instance, instance_id)?;
    Ok(storage.reset_instance_key(instance_id, revoke_license_files, actor, now)?)
}

/// An instance's key history (`usagedesk-cloud instance history`).
pub fn history(storage: &dyn Store, instance_id: &str) -> Result<Vec<KeyEvent>, Refusal> {
    instances::find(storage, Asker::Instance, instance_id)?;
    Ok(storage.instance_key_events(instance_id)?)
}
