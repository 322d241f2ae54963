//! Sort keys: one field of a row packed into integers that compare the way
//! the field's [`Datum`] does, so selecting a page compares two words per
//! step instead of two `Datum`s, and nothing is allocated per row.

use std::cmp::Ordering;
use std::net::IpAddr;

use super::extract::Datum;
use super::reader::{Reader, Use};
use super::{Context, Order};
use crate::{Row, Snapshot};

/// Bytes of a text kept in its key; longer texts compare in full on a tie.
const TEXT_PREFIX: usize = 15;

/// One matching row as a sort sees it: its key, its id (the tie-breaker) and
/// where it is in the snapshot (its slot). Ascending order of `(class, value)` is the
/// order the page wants (a descending order stores both inverted).
#[derive(Debug, Clone, Copy)]
pub(super) struct Keyed {
    pub value: u128,
    /// IPv4 before IPv6; 0 for other fields.
    pub class: u8,
    /// A text longer than its prefix (or holding a NUL): equal keys then
    /// compare the whole texts.
    pub long: bool,
    pub id: u32,
    pub index: usize,
}

/// A key's sort key, ascending: by the kind of value the key reads, so a
/// key sorts as its `Datum` compares.
pub(super) struct Ascending;

impl Use for Ascending {
    type Out = (u8, u128, bool);

    #[inline(always)]
    fn of(value: Datum) -> (u8, u128, bool) {
        match value {
            Datum::Int(n) => (0, u128::from(n), false),
            Datum::Float(x) => (0, u128::from(float_bits(x)), false),
            Datum::Status(bits) => (0, u128::from(bits), false),
            Datum::Addr(IpAddr::V4(a)) => (0, u128::from(u32::from(a)), false),
            Datum::Addr(IpAddr::V6(a)) => (1, u128::from(a), false),
            text @ (Datum::Text(_) | Datum::Name(_)) => text_key(&text),
            Datum::Absent => (0, 0, false),
        }
    }
}

/// `f64::total_cmp` as an unsigned integer order.
fn float_bits(f: f64) -> u64 {
    let bits = f.to_bits() as i64;
    let ordered = bits ^ ((((bits >> 63) as u64) >> 1) as i64);
    (ordered as u64) ^ (1 << 63)
}

/// A text's ASCII-lowercased first bytes, big-endian, zero-padded: shorter
/// texts sort first, as in `Datum::compare`. `Absent` (no uid mask) is 0.
fn text_key(d: &Datum) -> (u8, u128, bool) {
    let text: &[u8] = match d {
        Datum::Text(t) => t.as_bytes(),
        Datum::Name(n) => n.as_bytes(),
        _ => return (0, 0, false),
    };
    let mut bytes = [0u8; 16];
    for (slot, b) in bytes.iter_mut().zip(text.iter().take(TEXT_PREFIX)) {
        *slot = b.to_ascii_lowercase();
    }
    let long = text.len() > TEXT_PREFIX || text.contains(&0);
    (0, u128::from_be_bytes(bytes), long)
}

/// Keys rows for one order and compares them; ties go to the lower id.
#[derive(Clone, Copy)]
pub(super) struct Sorter<'a> {
    ascending: Reader<Ascending>,
    descending: bool,
    rows: &'a Snapshot,
    pub ctx: &'a Context<'a>,
}

impl<'a> Sorter<'a> {
    pub(super) fn new(order: &Order, rows: &'a Snapshot, ctx: &'a Context<'a>) -> Sorter<'a> {
        Sorter {
            ascending: Reader::new(order.field),
            descending: order.descending,
            rows,
            ctx,
        }
    }

    pub(super) fn key(&self, index: usize, row: &Row) -> Keyed {
        // The id first: its load then overlaps the key's (both usually miss
        // the cache) instead of waiting for it.
        let id = row.id();
        let (class, value, long) = self.ascending.read(row, self.ctx);
        let (class, value) = if self.descending {
            (!class, !value)
        } else {
            (class, value)
        };
        Keyed {
            value,
            class,
            long,
            id,
            index,
        }
    }

    pub(super) fn compare(&self, a: &Keyed, b: &Keyed) -> Ordering {
        (a.class, a.value)
            .cmp(&(b.class, b.value))
            .then_with(|| {
                if a.long || b.long {
                    self.whole_texts(a, b)
                } else {
                    Ordering::Equal
                }
            })
            .then_with(|| a.id.cmp(&b.id))
    }

    /// Two texts whose prefixes tie, compared whole.
    fn whole_texts(&self, a: &Keyed, b: &Keyed) -> Ordering {
        let (Some(ra), Some(rb)) = (self.rows.get(a.index), self.rows.get(b.index)) else {
            return Ordering::Equal;
        };
        let field = self.ascending.field;
        let by = field
            .datum(ra, self.ctx)
            .compare(&field.datum(rb, self.ctx));
        if self.descending {
            by.reverse()
        } else {
            by
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn float_bits_follow_total_order() {
        let xs = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            1.0,
            7e9,
            f64::INFINITY,
        ];
        for w in xs.windows(2) {
            assert!(float_bits(w[0]) < float_bits(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn text_keys_order_like_datums() {
        let t = |s: &'static str| Datum::Text(std::borrow::Cow::Borrowed(s));
        let words = ["", "a", "AB", "abc", "ipv6-icmp", "tcp", "TIME_WAIT", "udp"];
        for a in words {
            for b in words {
                let (ka, kb) = (text_key(&t(a)), text_key(&t(b)));
                assert_eq!(ka.1.cmp(&kb.1), t(a).compare(&t(b)), "{a} vs {b}");
            }
        }
        assert!(text_key(&t("a-very-long-user-name")).2);
    }
}
