//! Values rendered into a call or a response parse back equal.

use proptest::prelude::*;

use super::{call, response_as_call};
use crate::parse::is_xml_char;
use crate::render::render_call;
use crate::Value;
use crate::{render_response, WideInt};

fn every_type() -> Vec<Value> {
    vec![
        Value::Int(0),
        Value::Int(i32::MAX.into()),
        Value::Int(i64::from(i32::MAX) + 1),
        Value::Int(i64::from(i32::MIN) - 1),
        Value::Int(i64::MIN),
        Value::Bool(true),
        Value::str(" spaced \n & <tagged> \r\n"),
        Value::str(""),
        Value::Double(-0.0),
        Value::Double(f64::MAX),
        Value::Double(f64::MIN_POSITIVE),
        Value::Double(5e-324),
        Value::DateTime("20240102T03:04:05".into()),
        Value::Base64((0..=255).collect()),
        Value::Base64(vec![]),
        Value::Nil,
        Value::Struct(vec![
            ("id".into(), Value::str("4294967295")),
            ("status".into(), Value::Array(vec![Value::str("ASSURED")])),
            ("".into(), Value::Struct(vec![])),
        ]),
        Value::Array(vec![Value::Array(vec![]), Value::Nil, Value::Int(-1)]),
    ]
}

#[test]
fn every_type_round_trips_in_a_call() {
    let params = every_type();
    let parsed = call(&render_call("system.multicall", &params)).unwrap();
    assert_eq!(parsed.name, "system.multicall");
    assert_eq!(parsed.params, params);
}

#[test]
fn every_type_round_trips_in_a_response() {
    for value in every_type() {
        let parsed = call(&response_as_call(&render_response(&value, WideInt::I8))).unwrap();
        assert_eq!(parsed.params, vec![value]);
    }
}

fn arb_text() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        Just('&'),
        Just('<'),
        Just('>'),
        Just('\r'),
        Just('\n'),
        Just(' '),
        Just(']')
    ];
    let c = prop_oneof![
        special,
        any::<char>().prop_filter("XML char", |c| is_xml_char(*c))
    ];
    proptest::collection::vec(c, 0..12).prop_map(|cs| cs.into_iter().collect())
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<i32>().prop_map(Value::int),
        any::<bool>().prop_map(Value::Bool),
        arb_text().prop_map(Value::Str),
        any::<f64>()
            .prop_filter("finite", |d| d.is_finite())
            .prop_map(Value::Double),
        "[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}".prop_map(Value::DateTime),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Base64),
        Just(Value::Nil),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_text(), inner), 0..6).prop_map(Value::Struct),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_round_trips(params in proptest::collection::vec(arb_value(), 0..4)) {
        let parsed = call(&render_call("m", &params)).unwrap();
        prop_assert_eq!(parsed.params, params.clone());
        for value in params {
            let parsed = call(&response_as_call(&render_response(&value, WideInt::I8))).unwrap();
            prop_assert_eq!(parsed.params, vec![value]);
        }
    }
}
