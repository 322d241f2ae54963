//! The free-text needle against IPv4 addresses without rendering them: a
//! needle found in "a.b.c.d" is a suffix of one octet's text, whole octets,
//! then a prefix of another, so per-needle tables over the 256 octet values
//! decide it with a few lookups.

use std::net::Ipv4Addr;

/// A lowercase needle compiled against dotted quads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Dotted {
    /// Dots in the needle (0 to 3).
    dots: usize,
    /// With no dot: whether the needle occurs in the octet's text. Else:
    /// whether the needle's part before its first dot ends the octet's text.
    first: Box<[bool; 256]>,
    /// Whether the part after the last dot starts the octet's text.
    last: Box<[bool; 256]>,
    /// The octets the parts between dots must be.
    middle: Vec<u8>,
}

fn text(octet: u8) -> String {
    octet.to_string()
}

impl Dotted {
    /// The compiled needle, or `None` when no IPv4 address can contain it.
    pub(super) fn new(needle: &[u8]) -> Option<Dotted> {
        if !needle.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
            return None;
        }
        let needle = std::str::from_utf8(needle).ok()?;
        let parts: Vec<&str> = needle.split('.').collect();
        let dots = parts.len() - 1;
        if dots > 3 {
            return None;
        }
        let (head, tail) = (parts[0], parts[dots]);
        let mut middle = Vec::new();
        for part in &parts[1..dots.max(1)] {
            // Only an octet's own text (no leading zero) can stand whole between dots.
            let value: u8 = part.parse().ok()?;
            if text(value) != *part {
                return None;
            }
            middle.push(value);
        }
        let mut first = Box::new([false; 256]);
        let mut last = Box::new([false; 256]);
        for octet in 0..=u8::MAX {
            let t = text(octet);
            let i = usize::from(octet);
            if dots == 0 {
                first[i] = t.contains(head);
            } else {
                first[i] = t.ends_with(head);
                last[i] = t.starts_with(tail);
            }
        }
        Some(Dotted {
            dots,
            first,
            last,
            middle,
        })
    }

    /// Whether the address's text contains the needle.
    pub(super) fn found(&self, addr: &Ipv4Addr) -> bool {
        let o = addr.octets();
        let at = |i: usize| usize::from(o[i]);
        if self.dots == 0 {
            return (0..4).any(|i| self.first[at(i)]);
        }
        (0..=3 - self.dots).any(|i| {
            self.first[at(i)]
                && self.last[at(i + self.dots)]
                && self.middle.iter().zip(&o[i + 1..]).all(|(m, x)| m == x)
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_searching_the_text() {
        let addrs: Vec<Ipv4Addr> = [
            "198.18.1.7",
            "198.18.10.1",
            "10.198.18.1",
            "0.0.0.0",
            "255.255.255.255",
            "1.2.3.4",
            "100.20.3.40",
            "8.8.8.8",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let needles = [
            "198.18.1",
            "98.18.1",
            "8.1",
            ".",
            "..",
            "...",
            "....",
            "1",
            "18.1.",
            ".18.",
            "0.0.0.0",
            "255.255.255.255",
            "55.255.2",
            "1.2.3.4",
            "01",
            "2.3",
            "3.40",
            "100.20",
            "x",
            "",
            "4.",
            ".4",
            "8.8.8.8.8",
            "256",
        ];
        for n in needles {
            let d = Dotted::new(n.as_bytes());
            for a in &addrs {
                let want = a.to_string().contains(n);
                let got = d.as_ref().is_some_and(|d| d.found(a));
                assert_eq!(got, want, "{n:?} in {a}");
            }
        }
    }
}
