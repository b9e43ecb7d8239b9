//! Deserializer messages without the values they quote; secrets masked
//! ([`usagedesk_domain::redact`]).

pub use usagedesk_domain::redact::redact_secrets;

/// A deserializer's message with the values it quotes (`"…"`) masked, keeping field and
/// variant names (`` `…` ``) when they are short identifiers.
pub fn without_quoted_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
                out.push_str("\"…\"");
            }
            '`' => {
                let mut name = String::new();
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                    name.push(d);
                }
                let identifier = name.len() <= 40
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
                out.push('`');
                out.push_str(if identifier { &name } else { "…" });
                out.push('`');
            }
            c => out.push(c),
        }
    }
    redact_secrets(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_go_and_field_names_stay() {
        let m = without_quoted_values(
            "sync_key: invalid type: string \"udk_0123 secret\", expected u64; unknown field \
             `public_key`, expected one of `a`; unknown field `ed25519-secret:AAAA` \
             `a b c`",
        );
        assert!(!m.contains("secret\""), "{m}");
        assert!(!m.contains("AAAA") && !m.contains("a b c"), "{m}");
        assert!(m.contains("`public_key`") && m.contains("\"…\""), "{m}");
    }
}
