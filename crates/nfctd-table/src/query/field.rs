//! `Field`: the keys of one connection as the API names them, with pyctd's aliases.

/// One key of a connection in the API (docs/xmlrpc-api.md, "Methods"), in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Id,
    Family,
    Proto,
    L4proto,
    OrigSrc,
    OrigDst,
    ReplSrc,
    ReplDst,
    OrigSport,
    OrigDport,
    ReplSport,
    ReplDport,
    State,
    Status,
    Mark,
    Timeout,
    Zone,
    OrigBytes,
    OrigPackets,
    ReplBytes,
    ReplPackets,
    Rate,
    Age,
    Uid,
    User,
}

/// pyctd's names for some keys.
const ALIASES: [(&str, Field); 5] = [
    ("orig_ipv4_src", Field::OrigSrc),
    ("orig_ipv4_dst", Field::OrigDst),
    ("orig_port_src", Field::OrigSport),
    ("orig_port_dst", Field::OrigDport),
    ("orig_l4proto", Field::L4proto),
];

impl Field {
    /// Every key, in the order a rendered connection lists them.
    pub const ALL: [Field; 25] = [
        Field::Id,
        Field::Family,
        Field::Proto,
        Field::L4proto,
        Field::OrigSrc,
        Field::OrigDst,
        Field::ReplSrc,
        Field::ReplDst,
        Field::OrigSport,
        Field::OrigDport,
        Field::ReplSport,
        Field::ReplDport,
        Field::State,
        Field::Status,
        Field::Mark,
        Field::Timeout,
        Field::Zone,
        Field::OrigBytes,
        Field::OrigPackets,
        Field::ReplBytes,
        Field::ReplPackets,
        Field::Rate,
        Field::Age,
        Field::Uid,
        Field::User,
    ];

    /// The key's name in the API.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Family => "family",
            Field::Proto => "proto",
            Field::L4proto => "l4proto",
            Field::OrigSrc => "orig_src",
            Field::OrigDst => "orig_dst",
            Field::ReplSrc => "repl_src",
            Field::ReplDst => "repl_dst",
            Field::OrigSport => "orig_sport",
            Field::OrigDport => "orig_dport",
            Field::ReplSport => "repl_sport",
            Field::ReplDport => "repl_dport",
            Field::State => "state",
            Field::Status => "status",
            Field::Mark => "mark",
            Field::Timeout => "timeout",
            Field::Zone => "zone",
            Field::OrigBytes => "orig_bytes",
            Field::OrigPackets => "orig_packets",
            Field::ReplBytes => "repl_bytes",
            Field::ReplPackets => "repl_packets",
            Field::Rate => "rate",
            Field::Age => "age",
            Field::Uid => "uid",
            Field::User => "user",
        }
    }

    /// The key of an API name or pyctd alias (case-sensitive, like the API).
    pub fn parse(name: &str) -> Option<Field> {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map(|(_, field)| *field)
            .or_else(|| Field::ALL.iter().copied().find(|f| f.name() == name))
    }

    /// Whether the key exists only when a uid mask is configured (`--uid-mask`).
    pub fn needs_uid_mask(self) -> bool {
        matches!(self, Field::Uid | Field::User)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
        }
        assert_eq!(Field::parse("orig_ipv4_src"), Some(Field::OrigSrc));
        assert_eq!(Field::parse("orig_ipv4_dst"), Some(Field::OrigDst));
        assert_eq!(Field::parse("orig_port_src"), Some(Field::OrigSport));
        assert_eq!(Field::parse("orig_port_dst"), Some(Field::OrigDport));
        assert_eq!(Field::parse("orig_l4proto"), Some(Field::L4proto));
        assert_eq!(Field::parse("ID"), None);
        assert_eq!(Field::parse(""), None);
        assert_eq!(Field::parse("addr"), None);
    }
}
