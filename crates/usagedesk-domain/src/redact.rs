//! Masking secrets in text that leaves a program (error bodies, log lines, files): API
//! tokens, secret keys, bearer credentials and `user:password@` in URLs. A last line of
//! defence: messages are written not to carry secrets in the first place.

use std::borrow::Cow;

/// What replaces a masked secret.
const MASK: &str = "[redacted]";

/// Prefixes after which everything up to the end of the word is secret: API tokens, secret
/// keys in text form, bearer credentials.
const SECRET_PREFIXES: [&str; 3] = ["udk_", "ed25519-secret:", "Bearer "];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=' | b'.' | b'~')
}

/// `text` with every secret-looking run masked.
pub fn redact_secrets(text: &str) -> Cow<'_, str> {
    let needs = SECRET_PREFIXES.iter().any(|p| text.contains(p))
        || (text.contains("://") && text.contains('@'));
    if !needs {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < bytes.len() {
        for prefix in SECRET_PREFIXES {
            if text[i..].starts_with(prefix) {
                out.push_str(prefix);
                out.push_str(MASK);
                i += prefix.len();
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                continue 'scan;
            }
        }
        if text[i..].starts_with("://") {
            out.push_str("://");
            i += 3;
            // user:password@ before the host: mask it.
            let rest = &bytes[i..];
            let end = rest
                .iter()
                .position(|b| matches!(b, b'/' | b' ' | b'\n' | b'"' | b'\'' | b'?' | b'#'))
                .unwrap_or(rest.len());
            if let Some(at) = rest[..end].iter().rposition(|b| *b == b'@') {
                out.push_str(MASK);
                out.push('@');
                i += at + 1;
            }
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_secret_keys_bearers_and_url_passwords_are_masked() {
        let token = format!("udk_{}", "ab12".repeat(16));
        let text = format!(
            "cursor '{token}' unknown; key ed25519-secret:QUJD+/== here; \
             Authorization: Bearer xyz.abc; see https://bob:hunter2@cloud.example/api and \
             http://cloud.example/a@b"
        );
        let r = redact_secrets(&text);
        for secret in [token.as_str(), "QUJD", "xyz.abc", "hunter2", "bob:"] {
            assert!(!r.contains(secret), "{secret} left in {r}");
        }
        assert!(r.contains("https://[redacted]@cloud.example/api"), "{r}");
        assert!(
            r.contains("http://cloud.example/a@b"),
            "an @ in the path is no credential: {r}"
        );
        assert!(matches!(redact_secrets("plain text"), Cow::Borrowed(_)));
    }
}
