//! The one rule for repeating caller input in a fault, an error or the audit
//! log: short, no control characters, no quotes. A security rule (log forging,
//! echoing request bodies), so every message that quotes input goes through here.

/// How much of a caller's input a message repeats, at most.
pub const ECHO_CHARS: usize = 64;

/// `input` made safe to repeat: at most [`ECHO_CHARS`] characters, control
/// characters and double quotes replaced by `?`, an ellipsis where it was cut.
pub fn clip(input: &str) -> String {
    let mut out: String = input
        .chars()
        .take(ECHO_CHARS)
        .map(|c| if c.is_control() || c == '"' { '?' } else { c })
        .collect();
    if input.chars().nth(ECHO_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// [`clip`] in double quotes.
pub fn quoted(input: &str) -> String {
    format!("\"{}\"", clip(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_and_controls_and_quotes_replaced() {
        let long = "x".repeat(1000);
        let q = quoted(&long);
        assert_eq!(q.chars().count(), ECHO_CHARS + 3);
        assert!(q.ends_with("…\""));
        assert_eq!(quoted("a\"b\nc"), "\"a?b?c\"");
        assert_eq!(
            clip("admin\n2026 audit: forged"),
            "admin?2026 audit: forged"
        );
        assert_eq!(clip(""), "");
    }
}
