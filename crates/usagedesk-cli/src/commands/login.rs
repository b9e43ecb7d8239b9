//! `login` and `logout`: the token goes to the OS keyring, never to a file.

use std::io::Read;

use anyhow::{bail, Context as _, Result};
use usagedesk_secrets::SecretStore;
use usagedesk_sync::{Client, ClientOptions, Settings};

use crate::context::Context;

/// Longest token read from stdin.
const MAX_TOKEN_BYTES: u64 = 1024;

pub fn login(ctx: &Context, url: &str, force: bool, allow_insecure_http: bool) -> Result<()> {
    let mut token = String::new();
    std::io::stdin()
        .take(MAX_TOKEN_BYTES + 1)
        .read_to_string(&mut token)
        .context("cannot read the token from stdin")?;
    let token = token.trim();
    if token.is_empty() {
        bail!(
            "no token on stdin: pipe it in, e.g. `echo $TOKEN | usagedesk-cli login --url {url}`"
        );
    }
    if token.len() as u64 > MAX_TOKEN_BYTES {
        bail!("the token on stdin is longer than {MAX_TOKEN_BYTES} bytes; is it the right file?");
    }
    let options = ClientOptions {
        allow_insecure_http,
    };
    let client = Client::new_with(url, token, options)?;
    let me = super::runtime()?.block_on(async {
        client.check_version().await?;
        client.whoami().await
    })?;
    // Imported files queued for another cloud or account are never sent to this one:
    // switching needs --force, and then the cache starts over for the new source.
    let binding = usagedesk_cache::OutboxBinding {
        cloud_url: client.base_url().to_owned(),
        account_id: me.account_id.clone(),
    };
    let mut cache = ctx.open_cache()?;
    if usagedesk_sync::outbox::current_binding(&cache)?.as_ref() != Some(&binding) {
        if let Some(pending) = usagedesk_sync::outbox::kept_elsewhere(&cache, &binding)? {
            if !force {
                bail!("not signed in: {pending} (`usagedesk-cli airgap outbox` lists them; --force confirms)");
            }
            cache.clear()?;
            cache.sync_mut().set_server_url(&binding.cloud_url)?;
            cache.sync_mut().set_scope_account_id(&binding.account_id)?;
            eprintln!("switched: {pending}");
        }
    }
    let secrets = ctx.secrets();
    secrets.set(client.base_url(), token)?;
    let mut settings = Settings::load(&ctx.data_dir)?;
    settings.cloud_url = Some(client.base_url().to_string());
    settings.allow_insecure_http = allow_insecure_http;
    settings.save(&ctx.data_dir)?;
    println!(
        "Signed in to {} as '{}' ({}); the token is kept in {}.",
        client.base_url(),
        me.token_name,
        me.account_name,
        secrets.describe()
    );
    println!("Next: usagedesk-cli sync");
    Ok(())
}

pub fn logout(ctx: &Context) -> Result<()> {
    let Some(url) = Settings::load(&ctx.data_dir)?.cloud_url else {
        bail!("not signed in: no cloud URL is configured");
    };
    ctx.forget_token(&url)?;
    let mut cache = ctx.open_cache()?;
    let source = cache.sync().server_url()?.unwrap_or_else(|| url.clone());
    usagedesk_exchange::forget_signer(&mut cache, &ctx.secrets(), &source)?;
    println!(
        "Signed out of {url}: the token and this computer's air-gap signing key were removed \
         from the keyring, and the signing certificate from the cache. Cached data stays until \
         cleared."
    );
    let kept = cache.outbox().items()?;
    if !kept.is_empty() {
        let mut bindings: Vec<String> = kept
            .iter()
            .map(|i| usagedesk_sync::outbox::describe(&i.binding))
            .collect();
        bindings.dedup();
        println!(
            "{} imported usage data file(s) stay queued for {}: they are uploaded when you \
             sign in to it again and sync.",
            kept.len(),
            bindings.join(", ")
        );
    }
    Ok(())
}
