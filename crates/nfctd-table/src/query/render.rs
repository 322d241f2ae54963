//! Rendering one row as the API's connection (docs/xmlrpc-api.md, "Methods"):
//! the typed `Connection` and `render` are declared with the keys (field.rs),
//! the one place every front (XML-RPC, JSON, web) gets a row's values from;
//! each front writes it in its own wire format. Here: what a key's reading
//! becomes in a `Connection`, and `Shown`, a key's value by kind for fronts
//! that write values without serde.

use std::net::IpAddr;

use ctnetlink::names::status_names;

use super::extract::{ResolvedUser, StatusBits};

/// One key's value as a front writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shown<'a> {
    /// A connection id (XML-RPC writes it as a decimal string: a u32 does not
    /// fit `<int>`).
    Id(u32),
    /// A count, a port, a mark, seconds.
    Int(u64),
    /// A rate.
    Number(f64),
    /// A name (protocol, state, user).
    Text(&'a str),
    /// An address.
    Addr(IpAddr),
    /// A set of names (status flags).
    Texts(&'a [&'static str]),
}

/// The `shown as` column of field.rs: one function per kind of [`Shown`].
pub(super) mod shown {
    use std::net::IpAddr;

    use super::Shown;

    pub fn id(id: &u32) -> Shown<'_> {
        Shown::Id(*id)
    }

    pub fn int<N: Copy + Into<u64>>(n: &N) -> Shown<'_> {
        Shown::Int((*n).into())
    }

    pub fn number(x: &f64) -> Shown<'_> {
        Shown::Number(*x)
    }

    pub fn text<T: AsRef<str>>(text: &T) -> Shown<'_> {
        Shown::Text(text.as_ref())
    }

    pub fn addr(a: &IpAddr) -> Shown<'_> {
        Shown::Addr(*a)
    }

    pub fn texts<'a>(names: &'a [&'static str]) -> Shown<'a> {
        Shown::Texts(names)
    }
}

// A key's reading becomes its `Connection` field by `From`: most keys read
// the field's own type, these two convert.

impl From<StatusBits> for Vec<&'static str> {
    fn from(bits: StatusBits) -> Self {
        status_names(bits.0).collect()
    }
}

impl From<ResolvedUser> for String {
    fn from(user: ResolvedUser) -> Self {
        match user.name {
            Some(name) => name.to_string(),
            None => user.uid.to_string(),
        }
    }
}
