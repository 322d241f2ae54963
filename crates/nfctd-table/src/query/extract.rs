//! A key's value as read from a row: the typed `Datum` that filters test
//! and sorting compares, and what each kind of value a key reads (field.rs)
//! is as a `Datum`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use super::Context;

/// One field's value, typed for comparison.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Datum {
    Int(u64),
    Addr(IpAddr),
    Float(f64),
    Text(Cow<'static, str>),
    /// A user name from the resolver.
    Name(Arc<str>),
    /// The status bits (sorted numerically, rendered as flag names).
    Status(u32),
    /// `uid`/`user` without a uid mask.
    Absent,
}

impl Datum {
    fn text(&self) -> Option<&str> {
        match self {
            Datum::Text(t) => Some(t),
            Datum::Name(n) => Some(n),
            _ => None,
        }
    }

    /// Numbers numerically, addresses numerically (IPv4 before IPv6), texts
    /// ASCII-case-insensitively; unlike kinds (never met within one field) by kind.
    pub(super) fn compare(&self, other: &Datum) -> Ordering {
        match (self, other) {
            (Datum::Int(a), Datum::Int(b)) => a.cmp(b),
            (Datum::Addr(a), Datum::Addr(b)) => a.cmp(b),
            (Datum::Float(a), Datum::Float(b)) => a.total_cmp(b),
            (Datum::Status(a), Datum::Status(b)) => a.cmp(b),
            _ => match (self.text(), other.text()) {
                (Some(a), Some(b)) => a
                    .bytes()
                    .map(|c| c.to_ascii_lowercase())
                    .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
                _ => self.rank().cmp(&other.rank()),
            },
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Datum::Absent => 0,
            Datum::Int(_) => 1,
            Datum::Float(_) => 2,
            Datum::Addr(_) => 3,
            Datum::Status(_) => 4,
            Datum::Text(_) | Datum::Name(_) => 5,
        }
    }
}

/// The status bits of a row: compared as a number, rendered as flag names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StatusBits(pub u32);

/// The user of a uid: the resolver's name, or none (the uid then stands for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ResolvedUser {
    pub uid: u32,
    pub name: Option<Arc<str>>,
}

impl ResolvedUser {
    pub(super) fn of(uid: u32, ctx: &Context) -> ResolvedUser {
        ResolvedUser {
            uid,
            name: ctx.users.name(uid),
        }
    }
}

// Unsigned integers of every width read as `Int`.
macro_rules! int_datum {
    ($($t:ty),*) => {$(
        impl From<$t> for Datum {
            fn from(n: $t) -> Datum {
                Datum::Int(u64::from(n))
            }
        }
    )*};
}
int_datum!(u8, u16, u32, u64);

impl From<IpAddr> for Datum {
    fn from(a: IpAddr) -> Datum {
        Datum::Addr(a)
    }
}

impl From<f64> for Datum {
    fn from(x: f64) -> Datum {
        Datum::Float(x)
    }
}

impl From<&'static str> for Datum {
    fn from(t: &'static str) -> Datum {
        Datum::Text(Cow::Borrowed(t))
    }
}

impl From<Cow<'static, str>> for Datum {
    fn from(t: Cow<'static, str>) -> Datum {
        Datum::Text(t)
    }
}

impl From<StatusBits> for Datum {
    fn from(bits: StatusBits) -> Datum {
        Datum::Status(bits.0)
    }
}

impl From<ResolvedUser> for Datum {
    fn from(user: ResolvedUser) -> Datum {
        match user.name {
            Some(name) => Datum::Name(name),
            None => Datum::Text(Cow::Owned(user.uid.to_string())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn compare_kinds() {
        let t = |s: &'static str| Datum::Text(Cow::Borrowed(s));
        assert_eq!(t("abc").compare(&Datum::Name("ABD".into())), Ordering::Less);
        assert_eq!(t("TCP").compare(&t("tcp")), Ordering::Equal);
        let v4 = Datum::Addr("255.255.255.255".parse().unwrap());
        let v6 = Datum::Addr("::".parse().unwrap());
        assert_eq!(v4.compare(&v6), Ordering::Less);
        assert_eq!(Datum::Int(9).compare(&Datum::Int(10)), Ordering::Less);
        assert_eq!(
            Datum::Float(1.5).compare(&Datum::Float(0.5)),
            Ordering::Greater
        );
        assert_eq!(Datum::Absent.compare(&Datum::Absent), Ordering::Equal);
        assert_eq!(Datum::Absent.compare(&t("a")), Ordering::Less);
    }
}
