//! `login` and `logout`: the token goes to the OS keyring, never to a file.

use std::io::Read;

use anyhow::{bail, Context as _, Result};
use usagedesk_secrets::SecretStore;
use usagedesk_sync::{Client, ClientOptions, Settings};

use crate::context::Context;

/// Longest token read from stdin.
const MAX_TOKEN_BYTES: u64 = 1024;

pub fn login(ctx: &Context, url: &str, allow_insecure_http: bool) -> Result<()> {
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
    println!("Signed out of {url}: the token was removed from the keyring. Cached data stays until cleared.");
    Ok(())
}
