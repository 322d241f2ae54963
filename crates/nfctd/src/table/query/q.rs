//! The free-text filter `q`: a case-insensitive substring of a row's rendered
//! addresses, ports, protocol name, state or user.

use std::fmt::{self, Write};

use ctnetlink::names::{proto_name, state_name};

use super::Context;
use crate::table::Row;

/// A lowercased needle. Case is folded for ASCII only; other characters
/// match exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Needle(Box<[u8]>);

impl Needle {
    pub(super) fn new(text: &str) -> Needle {
        Needle(text.to_ascii_lowercase().into_bytes().into_boxed_slice())
    }

    pub(super) fn matches(&self, row: &Row, ctx: &Context) -> bool {
        let conn = &row.conn;
        let mut buf = StackText::default();
        let addrs = [conn.orig.src, conn.orig.dst, conn.reply.src, conn.reply.dst];
        let ports = [
            conn.orig.sport,
            conn.orig.dport,
            conn.reply.sport,
            conn.reply.dport,
        ];
        addrs
            .iter()
            .any(|a| buf.render(a) && self.found(buf.text()))
            || ports
                .iter()
                .any(|p| buf.render(p) && self.found(buf.text()))
            || self.found(proto_name(conn.l4proto).as_bytes())
            || self.found(state_name(conn.l4proto, conn.proto_state).as_bytes())
            || ctx.uid(row).is_some_and(|uid| match ctx.users.name(uid) {
                Some(name) => self.found(name.as_bytes()),
                None => buf.render(&uid) && self.found(buf.text()),
            })
    }

    /// Whether the needle occurs in `hay`, ASCII case folded.
    fn found(&self, hay: &[u8]) -> bool {
        let n = &self.0;
        n.len() <= hay.len()
            && hay.windows(n.len()).any(|w| {
                w.iter()
                    .zip(n.iter())
                    .all(|(h, c)| h.to_ascii_lowercase() == *c)
            })
    }
}

/// A small formatting buffer on the stack (long enough for any IPv6 address),
/// so that `q` allocates nothing per row.
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl StackText {
    /// Formats `value` in place of the previous text; false if it did not fit.
    fn render(&mut self, value: &dyn fmt::Display) -> bool {
        self.len = 0;
        write!(self, "{value}").is_ok()
    }

    fn text(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::table::query::testutil::{tcp, v6_udp};
    use std::sync::Arc;

    #[test]
    fn matches_rendered_fields() {
        let row = tcp(1, "10.1.2.3", 40000, "192.168.7.9", 443);
        let ctx = Context::new(0, 0);
        let yes = |q: &str| Needle::new(q).matches(&row, &ctx);
        assert!(yes("10.1.2"));
        assert!(yes("168.7.9"));
        assert!(yes("4000"));
        assert!(yes("443"));
        assert!(yes("TcP"));
        assert!(yes("establ"));
        assert!(!yes("udp"));
        assert!(!yes("10.1.2.4"));
        assert!(!yes("1000"));
        let row6 = v6_udp(2, "2001:DB8::1", 53, "2001:db8::2", 5353);
        assert!(Needle::new("2001:DB8::2").matches(&row6, &ctx));
        assert!(Needle::new("udp").matches(&row6, &ctx));
    }

    #[test]
    fn matches_user_names_and_uids() {
        let mut row = tcp(1, "10.0.0.1", 1, "10.0.0.2", 2);
        row.conn.mark = 1000;
        let names = |uid: u32| (uid == 1000).then(|| Arc::<str>::from("Alice"));
        let ctx = Context::new(0, 0).with_users(u32::MAX, &names);
        assert!(Needle::new("alice").matches(&row, &ctx));
        assert!(!Needle::new("1000").matches(&row, &ctx));
        row.conn.mark = 1001;
        assert!(Needle::new("1001").matches(&row, &ctx));
        assert!(!Needle::new("1001").matches(&row, &Context::new(0, 0)));
    }

    #[test]
    fn stack_text_reports_overflow() {
        let mut t = StackText::default();
        assert!(t.render(&"x".repeat(64)));
        assert!(!t.render(&"x".repeat(65)));
    }
}
