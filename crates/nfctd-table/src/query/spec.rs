//! `FilterSpec`: a `view` filter as every front hands it over, free of any
//! wire format. Fronts convert their own values at the door (XML-RPC structs,
//! JSON query parameters); [`super::Filter::compile`] then reads the filter
//! language (prefixes, ranges, masks, names) from it, once for all fronts.

/// One filter value.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    /// Nothing given (XML-RPC `<nil/>`, JSON `null`): constrains nothing.
    Absent,
    /// An integer.
    Int(i64),
    /// A number with a fraction (XML-RPC `<double>`).
    Number(f64),
    /// Text: an address, a prefix, a range, a name, a pattern.
    Text(String),
    /// Any of these.
    List(Vec<FilterValue>),
    /// A value of a kind no filter takes (a struct, a boolean, bytes...),
    /// named by the front's own type name for the error message.
    Unsupported(&'static str),
}

impl FilterValue {
    /// The kind's name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FilterValue::Absent => "nil",
            FilterValue::Int(_) => "int",
            FilterValue::Number(_) => "double",
            FilterValue::Text(_) => "string",
            FilterValue::List(_) => "array",
            FilterValue::Unsupported(name) => name,
        }
    }

    /// A [`FilterValue::Text`].
    pub fn text(s: impl Into<String>) -> FilterValue {
        FilterValue::Text(s.into())
    }
}

/// The keys of one filter with their values, in the order given; every key
/// must match (a key given twice is two tests, both applied).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterSpec {
    /// Key and value pairs, in the order given.
    pub terms: Vec<(String, FilterValue)>,
}

impl FilterSpec {
    /// A filter that constrains nothing.
    pub fn none() -> FilterSpec {
        FilterSpec::default()
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(k, _)| k.as_str())
    }
}

impl<K: Into<String>> FromIterator<(K, FilterValue)> for FilterSpec {
    fn from_iter<I: IntoIterator<Item = (K, FilterValue)>>(iter: I) -> FilterSpec {
        FilterSpec {
            terms: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}
