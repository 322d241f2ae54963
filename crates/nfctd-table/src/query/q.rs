//! The free-text filter `q`: a case-insensitive substring of a row's rendered
//! addresses, ports, protocol name, state or user. Nothing is rendered for
//! IPv4 addresses (`dotted`) or protocol names (a table per needle).

use std::fmt::{self, Write};
use std::net::IpAddr;

use ctnetlink::names::{proto_name, state_name};

use super::dotted::Dotted;
use super::Context;
use crate::Row;

/// A lowercased needle. Case is folded for ASCII only; other characters
/// match exactly. What cannot depend on the row is worked out once: which
/// protocol names contain it, and whether a port could.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Needle {
    text: Box<[u8]>,
    /// Whether the needle occurs in the name of each protocol number.
    protos: Box<[bool; 256]>,
    /// Ports render as at most 5 digits: only such a needle can match one.
    in_ports: bool,
    /// The needle against IPv4 addresses (`None`: it cannot match one).
    dotted: Option<Dotted>,
}

impl Needle {
    pub(super) fn new(text: &str) -> Needle {
        let text = text.to_ascii_lowercase().into_bytes().into_boxed_slice();
        let mut protos = Box::new([false; 256]);
        for (n, hit) in (0..=u8::MAX).zip(protos.iter_mut()) {
            *hit = found(&text, proto_name(n).as_bytes());
        }
        let in_ports = text.len() <= 5 && text.iter().all(u8::is_ascii_digit);
        let dotted = Dotted::new(&text);
        Needle {
            text,
            protos,
            in_ports,
            dotted,
        }
    }

    pub(super) fn matches(&self, row: &Row, ctx: &Context) -> bool {
        let mut buf = StackText::default();
        // Without NAT the reply tuple is the original one reversed: the same
        // texts, so they are searched once.
        let addrs = [
            row.orig_src(),
            row.orig_dst(),
            row.repl_src(),
            row.repl_dst(),
        ];
        let mirrored = addrs[2] == addrs[1] && addrs[3] == addrs[0];
        let addrs = if mirrored { &addrs[..2] } else { &addrs[..] };
        let ports = [
            row.orig_sport(),
            row.orig_dport(),
            row.repl_sport(),
            row.repl_dport(),
        ];
        let ports_mirrored = ports[2] == ports[1] && ports[3] == ports[0];
        let ports = if ports_mirrored {
            &ports[..2]
        } else {
            &ports[..]
        };
        // The cheap tests first.
        self.protos[usize::from(row.l4proto())]
            || addrs.iter().any(|a| self.in_addr(a, &mut buf))
            || (self.in_ports && ports.iter().any(|p| self.found(buf.digits(u64::from(*p)))))
            || self.found(state_name(row.l4proto(), row.proto_state()).as_bytes())
            || ctx.uid(row).is_some_and(|uid| match ctx.users.name(uid) {
                Some(name) => self.found(name.as_bytes()),
                None => self.found(buf.digits(u64::from(uid))),
            })
    }

    fn in_addr(&self, a: &IpAddr, buf: &mut StackText) -> bool {
        match a {
            IpAddr::V4(v4) => self.dotted.as_ref().is_some_and(|d| d.found(v4)),
            IpAddr::V6(_) => buf.render(a) && self.found(buf.text()),
        }
    }

    /// Whether the needle occurs in `hay`, ASCII case folded.
    fn found(&self, hay: &[u8]) -> bool {
        found(&self.text, hay)
    }
}

/// Whether the lowercase `needle` occurs in `hay`, ASCII case folded.
fn found(needle: &[u8], hay: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if needle.len() > hay.len() {
        return false;
    }
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i + 1..i + needle.len()]
                .iter()
                .zip(rest)
                .all(|(h, c)| h.to_ascii_lowercase() == *c)
    })
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

    /// `n` in decimal, as the text.
    fn digits(&mut self, n: u64) -> &[u8] {
        self.len = 0;
        self.number(n);
        self.text()
    }

    fn number(&mut self, mut n: u64) {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &b in &tmp[i..] {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
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
    use crate::query::testutil::{tcp, v6_udp};
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
        row.edit(|c| c.mark = 1000);
        let names = |uid: u32| (uid == 1000).then(|| Arc::<str>::from("Alice"));
        let ctx = Context::new(0, 0).with_users(u32::MAX, &names);
        assert!(Needle::new("alice").matches(&row, &ctx));
        assert!(!Needle::new("1000").matches(&row, &ctx));
        row.edit(|c| c.mark = 1001);
        assert!(Needle::new("1001").matches(&row, &ctx));
        assert!(!Needle::new("1001").matches(&row, &Context::new(0, 0)));
    }

    #[test]
    fn hand_rendering_matches_display() {
        let mut t = StackText::default();
        for n in [0u64, 9, 10, 65535, u64::from(u32::MAX)] {
            assert_eq!(t.digits(n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn nat_rows_search_the_reply_tuple_too() {
        let mut row = tcp(1, "10.1.2.3", 40000, "192.168.7.9", 443);
        row.edit(|c| {
            c.reply.src = "172.16.5.5".parse().unwrap();
            c.reply.dport = 61000;
        });
        let ctx = Context::new(0, 0);
        assert!(Needle::new("172.16.5").matches(&row, &ctx));
        assert!(Needle::new("6100").matches(&row, &ctx));
        assert!(Needle::new("").matches(&row, &ctx));
    }

    #[test]
    fn stack_text_reports_overflow() {
        let mut t = StackText::default();
        assert!(t.render(&"x".repeat(64)));
        assert!(!t.render(&"x".repeat(65)));
    }

    use proptest::prelude::*;

    /// The same answers as searching every rendered text, as before `dotted`.
    fn reference(needle: &str, row: &Row) -> bool {
        let c = row.conn(0);
        let n = needle.to_ascii_lowercase();
        let texts = [
            c.orig.src.to_string(),
            c.orig.dst.to_string(),
            c.reply.src.to_string(),
            c.reply.dst.to_string(),
            c.orig.sport.to_string(),
            c.orig.dport.to_string(),
            c.reply.sport.to_string(),
            c.reply.dport.to_string(),
            proto_name(c.l4proto).to_string(),
            state_name(c.l4proto, c.proto_state).to_string(),
        ];
        texts.iter().any(|t| t.to_ascii_lowercase().contains(&n))
    }

    proptest! {
        #[test]
        fn agrees_with_rendering_every_text(
            octets in prop::array::uniform8(prop::sample::select(vec![0u8, 1, 9, 10, 18, 19, 100, 198, 255])),
            ports in prop::array::uniform2(prop::sample::select(vec![0u16, 1, 53, 443, 1980, 65535])),
            nat in any::<bool>(),
            needle in "[0-9.]{1,9}|tcp|TCP|est|udp|sctp|2001:db8|::",
        ) {
            let ip = |o: &[u8]| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
            let mut row = tcp(1, &ip(&octets[..4]), ports[0], &ip(&octets[4..]), ports[1]);
            if nat {
                row.edit(|c| {
                    c.reply.src = "2001:db8::1980".parse().unwrap();
                    c.reply.sport = 18;
                });
            }
            let ctx = Context::new(0, 0);
            prop_assert_eq!(Needle::new(&needle).matches(&row, &ctx), reference(&needle, &row));
        }
    }
}
