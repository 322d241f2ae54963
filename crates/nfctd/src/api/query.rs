//! Reading filters, order and page from a URL's query string, in the same
//! filter language as XML-RPC: every parameter other than `order_by`,
//! `order_dir`, `start` and `length` is a filter key. A comma lists values,
//! any of which matches (`orig_dport=80,443`); a key given twice is ANDed,
//! as in XML-RPC; `q` is free text and never split.

use crate::service::{PageRange, ViewRequest};
use nfctd_table::query::{FilterSpec, FilterValue, Order};

use super::error::JsonError;

/// Rows a page holds when the query does not say (or `--max-page`, if less).
pub const DEFAULT_LENGTH: usize = 100;

/// Parses the query string of `GET /api/v1/connections` (and the filter of
/// `POST /api/v1/connections/kill`).
pub fn parse(query: Option<&str>, max_page: usize) -> Result<ViewRequest, JsonError> {
    let mut terms = Vec::new();
    let (mut order_by, mut order_dir) = (String::new(), String::new());
    let default_length = i64::try_from(DEFAULT_LENGTH.min(max_page)).unwrap_or(i64::MAX);
    let (mut start, mut length) = (0, default_length);
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "order_by" => order_by = value.into_owned(),
            "order_dir" => order_dir = value.into_owned(),
            "start" => start = integer("start", &value)?,
            "length" => length = integer("length", &value)?,
            "q" => terms.push((key.into_owned(), FilterValue::Text(value.into_owned()))),
            _ => terms.push((key.into_owned(), filter_value(&value))),
        }
    }
    Ok(ViewRequest {
        filter: FilterSpec { terms },
        order: Order::parse(&order_by, &order_dir).map_err(crate::service::ApiError::from)?,
        page: PageRange::new(start, length)?,
    })
}

fn integer(name: &str, text: &str) -> Result<i64, JsonError> {
    text.trim()
        .parse()
        .map_err(|_| JsonError::invalid(name, "not a decimal integer"))
}

/// Text as the filter language reads it; commas make a list. Empty items
/// (`proto=tcp,`) are dropped, as empty values constrain nothing.
fn filter_value(text: &str) -> FilterValue {
    if text.contains(',') {
        FilterValue::List(
            text.split(',')
                .filter(|item| !item.trim().is_empty())
                .map(FilterValue::text)
                .collect(),
        )
    } else {
        FilterValue::text(text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nfctd_table::query::Field;

    #[test]
    fn filters_order_and_page() {
        let q = parse(Some(
            "proto=tcp&orig_dport=80,443&q=a%2Cb&order_by=rate&order_dir=desc&start=20&length=10&port=1-9&port=5-",
        ), 10_000)
        .unwrap();
        assert_eq!(q.order.field, Field::Rate);
        assert!(q.order.descending);
        assert_eq!((q.page.start, q.page.length), (20, 10));
        assert_eq!(
            q.filter.terms,
            vec![
                ("proto".to_string(), FilterValue::text("tcp")),
                (
                    "orig_dport".to_string(),
                    FilterValue::List(vec![FilterValue::text("80"), FilterValue::text("443")])
                ),
                ("q".to_string(), FilterValue::text("a,b")),
                ("port".to_string(), FilterValue::text("1-9")),
                ("port".to_string(), FilterValue::text("5-")),
            ]
        );
    }

    #[test]
    fn empty_list_items_constrain_nothing() {
        let q = parse(Some("proto=tcp,&port=,"), 10_000).unwrap();
        assert_eq!(
            q.filter.terms,
            vec![
                (
                    "proto".to_string(),
                    FilterValue::List(vec![FilterValue::text("tcp")])
                ),
                ("port".to_string(), FilterValue::List(vec![])),
            ]
        );
    }

    #[test]
    fn defaults_and_errors_name_the_parameter() {
        let q = parse(None, 10_000).unwrap();
        assert_eq!(
            parse(None, 20).unwrap().page.length,
            20,
            "never more than --max-page"
        );
        assert_eq!((q.page.start, q.page.length), (0, 100));
        assert!(q.filter.terms.is_empty());
        let e = |s| format!("{:?}", parse(Some(s), 10_000).unwrap_err());
        assert!(e("length=x").contains("length"));
        assert!(e("start=-1").contains("start"));
        assert!(e("order_by=colour").contains("order_by"));
    }
}
