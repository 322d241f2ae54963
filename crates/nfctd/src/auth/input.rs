//! What a user name or password given to `login` may look like, checked
//! before the throttle or any backend sees it.

/// Longest user name accepted, in bytes. No real name comes near it; a
/// bound keeps a request from handing a backend megabytes as a name.
pub const MAX_USER_BYTES: usize = 256;
/// Longest password accepted, in bytes. Passphrases fit; a bound keeps a
/// `--auth command` program's stdin far below a pipe's buffer, and hashing
/// cheap to bound.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Why an argument was refused; shown after the argument's name, it never
/// quotes the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// A line break or NUL: the command backend gives the program
    /// `user\npassword\n`, so a name `alice\n<guess>` would have it check
    /// alice's password while the throttle counted another name.
    #[error("must not contain a line break or NUL")]
    LineBreak,
    /// Any other control character (tab, vertical tab, escape...).
    #[error("must not contain a control character")]
    Control,
    /// Leading or trailing whitespace: a program reading with `read -r`
    /// strips it, and would check `admin` while the throttle counted
    /// `" admin"`, a name that is not locked out.
    #[error("must not begin or end with whitespace")]
    Padded,
    #[error("must be at most {max} bytes long")]
    TooLong { max: usize },
}

fn line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\0')
}

/// A user name: no control character (Unicode Cc), no whitespace (any
/// Unicode White_Space) at either end, at most [`MAX_USER_BYTES`].
pub fn check_user(name: &str) -> Result<(), Invalid> {
    if name.contains(line_break) {
        return Err(Invalid::LineBreak);
    }
    if name.len() > MAX_USER_BYTES {
        return Err(Invalid::TooLong {
            max: MAX_USER_BYTES,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(Invalid::Control);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(Invalid::Padded);
    }
    Ok(())
}

/// A password: no line break or NUL, at most [`MAX_PASSWORD_BYTES`]. Other
/// characters, spaces at either end included, are the user's business.
pub fn check_password(password: &str) -> Result<(), Invalid> {
    if password.contains(line_break) {
        return Err(Invalid::LineBreak);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(Invalid::TooLong {
            max: MAX_PASSWORD_BYTES,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for ok in ["admin", "a b", "Ünïcode", "x@example.org", &"a".repeat(256)] {
            assert_eq!(check_user(ok), Ok(()), "{ok:?}");
        }
        for (bad, why) in [
            ("admin\n", Invalid::LineBreak),
            ("\radmin", Invalid::LineBreak),
            ("ad\0min", Invalid::LineBreak),
            (" admin", Invalid::Padded),
            ("admin ", Invalid::Padded),
            ("\u{a0}admin", Invalid::Padded),
            ("admin\u{2003}", Invalid::Padded),
            ("admin\u{3000}", Invalid::Padded),
            ("\tadmin", Invalid::Control),
            ("admin\t", Invalid::Control),
            ("ad\u{b}min", Invalid::Control),
            ("ad\u{1b}min", Invalid::Control),
            ("ad\u{7f}min", Invalid::Control),
            ("ad\u{85}min", Invalid::Control),
        ] {
            assert_eq!(check_user(bad), Err(why), "{bad:?}");
        }
        assert_eq!(
            check_user(&"a".repeat(257)),
            Err(Invalid::TooLong { max: 256 })
        );
        // 128 two-byte characters are 256 bytes; one more is too many.
        assert_eq!(check_user(&"é".repeat(128)), Ok(()));
        assert_eq!(
            check_user(&"é".repeat(129)),
            Err(Invalid::TooLong { max: 256 })
        );
    }

    #[test]
    fn passwords() {
        for ok in [" spaced ", "\ttab", "", &"p".repeat(4096)] {
            assert_eq!(check_password(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_password("a\nb"), Err(Invalid::LineBreak));
        assert_eq!(check_password("a\0"), Err(Invalid::LineBreak));
        assert_eq!(
            check_password(&"p".repeat(4097)),
            Err(Invalid::TooLong { max: 4096 })
        );
    }
}
