//! Rendering responses and faults, checked as exact strings.

use super::{call, response_as_call};
use crate::Value;
use crate::{render_fault, render_response, WideInt};

fn body(value: &Value) -> String {
    body_as(value, WideInt::I8)
}

fn body_as(value: &Value, wide: WideInt) -> String {
    let response = render_response(value, wide);
    let inner = response
        .strip_prefix("<?xml version=\"1.0\"?><methodResponse><params><param>")
        .and_then(|rest| rest.strip_suffix("</param></params></methodResponse>"));
    inner.expect("response envelope").to_string()
}

#[test]
fn integers_switch_to_i8_beyond_32_bits() {
    let cases = [
        (2147483647, "<value><int>2147483647</int></value>"),
        (2147483648, "<value><i8>2147483648</i8></value>"),
        (-2147483648, "<value><int>-2147483648</int></value>"),
        (-2147483649, "<value><i8>-2147483649</i8></value>"),
        (i64::MAX, "<value><i8>9223372036854775807</i8></value>"),
    ];
    for (i, expected) in cases {
        assert_eq!(body(&Value::Int(i)), expected);
    }
}

#[test]
fn wide_integers_as_double_or_string_for_clients_without_i8() {
    let mark = Value::Struct(vec![
        ("mark".into(), Value::Int(3_000_000_000)),
        ("n".into(), Value::Int(7)),
    ]);
    let members = |wide| body_as(&mark, wide);
    assert!(members(WideInt::Double).contains("<double>3000000000</double>"));
    assert!(members(WideInt::String).contains("<string>3000000000</string>"));
    assert!(members(WideInt::I8).contains("<i8>3000000000</i8>"));
    for wide in [WideInt::I8, WideInt::Double, WideInt::String] {
        assert!(
            members(wide).contains("<int>7</int>"),
            "small ints stay <int>"
        );
        assert_eq!(
            body_as(&Value::Int(-2_147_483_648), wide),
            "<value><int>-2147483648</int></value>"
        );
    }
    assert_eq!(
        body_as(&Value::Int(1 << 53), WideInt::Double),
        "<value><double>9007199254740992</double></value>"
    );
}

#[test]
fn scalars_render_as_python_reads_them() {
    let cases = [
        (Value::Bool(true), "<value><boolean>1</boolean></value>"),
        (Value::Bool(false), "<value><boolean>0</boolean></value>"),
        (Value::Double(0.1), "<value><double>0.1</double></value>"),
        (
            Value::Double(-2.5e-7),
            "<value><double>-0.00000025</double></value>",
        ),
        (
            Value::Double(1e21),
            "<value><double>1000000000000000000000</double></value>",
        ),
        (Value::Double(f64::NAN), "<value><double>0</double></value>"),
        (
            Value::Double(f64::NEG_INFINITY),
            "<value><double>0</double></value>",
        ),
        (
            Value::DateTime("20240102T03:04:05".into()),
            "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>",
        ),
        (
            Value::Base64(b"hello".to_vec()),
            "<value><base64>aGVsbG8=</base64></value>",
        ),
        (Value::Nil, "<value><nil/></value>"),
        (Value::str(""), "<value><string></string></value>"),
    ];
    for (value, expected) in cases {
        assert_eq!(body(&value), expected, "{value:?}");
    }
}

#[test]
fn text_is_escaped_and_forbidden_characters_replaced() {
    let value = Value::str("a&b<c>d\r\n\te\u{0}\u{1b}\u{FFFE}é");
    let expected =
        "<value><string>a&amp;b&lt;c&gt;d&#13;\n\te\u{FFFD}\u{FFFD}\u{FFFD}é</string></value>";
    assert_eq!(body(&value), expected);
    // And it reads back, with the forbidden characters replaced.
    let back = call(&response_as_call(&render_response(&value, WideInt::I8))).unwrap();
    let replaced = Value::str("a&b<c>d\r\n\te\u{FFFD}\u{FFFD}\u{FFFD}é");
    assert_eq!(back.params, vec![replaced]);
}

#[test]
fn containers_render_nested() {
    let value = Value::Struct(vec![
        ("a<".into(), Value::Array(vec![Value::Int(1), Value::Nil])),
        ("b".into(), Value::Struct(vec![])),
        ("c".into(), Value::Array(vec![])),
    ]);
    let expected = "<value><struct>\
        <member><name>a&lt;</name><value><array><data><value><int>1</int></value>\
        <value><nil/></value></data></array></value></member>\
        <member><name>b</name><value><struct></struct></value></member>\
        <member><name>c</name><value><array><data></data></array></value></member>\
        </struct></value>";
    assert_eq!(body(&value), expected);
}

#[test]
fn fault_is_the_struct_python_expects() {
    let expected = "<?xml version=\"1.0\"?><methodResponse><fault><value><struct>\
        <member><name>faultCode</name><value><int>-32700</int></value></member>\
        <member><name>faultString</name><value><string>bad &lt;xml&gt;</string></value></member>\
        </struct></value></fault></methodResponse>";
    assert_eq!(render_fault(-32700, "bad <xml>"), expected);
}
