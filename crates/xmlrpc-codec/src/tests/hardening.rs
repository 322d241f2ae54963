//! Refusals: malformed XML, non-calls, bad scalars, DTDs, and the limits.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{call, fault, one, with_params};
use crate::{parse_call, Limits};

const LOLZ: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<methodCall><methodName>lol</methodName><params><param><value>&lol9;</value></param></params></methodCall>"#;

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let started = Instant::now();
    assert_eq!(fault(call(LOLZ), "lol"), -32700);
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn external_entities_and_undeclared_entities_are_refused() {
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
               <methodCall><methodName>a</methodName></methodCall>";
    assert_eq!(fault(call(xxe), "passwd"), -32700);
    let undeclared = with_params("<param><value>&secret;</value></param>");
    assert_eq!(fault(call(&undeclared), "secret"), -32700);
    let bad_char = with_params("<param><value>&#0;</value></param>");
    assert_eq!(fault(call(&bad_char), "&#0"), -32700);
}

#[test]
fn processing_instructions_and_late_declarations_are_refused() {
    let pi =
        "<?xml version=\"1.0\"?><?evil stuff?><methodCall><methodName>a</methodName></methodCall>";
    assert_eq!(fault(call(pi), "evil"), -32700);
    let late = " <?xml version=\"1.0\"?><methodCall><methodName>a</methodName></methodCall>";
    assert_eq!(fault(call(late), "methodCall"), -32700);
}

fn nested_arrays(depth: usize) -> String {
    let open = "<value><array><data>".repeat(depth);
    let close = "</data></array></value>".repeat(depth);
    with_params(&format!("<param>{open}{close}</param>"))
}

#[test]
fn nesting_is_limited_while_parsing() {
    let limits = Limits::default();
    let ok = nested_arrays(limits.max_depth);
    assert!(call(&ok).is_ok());
    let too_deep = nested_arrays(limits.max_depth + 1);
    assert_eq!(fault(call(&too_deep), "array"), -32600);
    for depth in [10_000, 100_000] {
        let started = Instant::now();
        assert_eq!(fault(call(&nested_arrays(depth)), "array"), -32600);
        assert!(started.elapsed() < Duration::from_secs(1), "{depth}");
    }
    let unclosed = "<methodCall><methodName>a</methodName><params><param>".to_string()
        + &"<value><struct><member><name>x</name>".repeat(100_000);
    assert_eq!(fault(call(&unclosed), "struct"), -32600);
}

#[test]
fn value_count_and_body_size_are_limited() {
    let limits = Limits {
        max_values: 10,
        ..Limits::default()
    };
    let items = "<value><i4>1</i4></value>".repeat(9);
    let body = with_params(&format!(
        "<param><value><array><data>{items}</data></array></value></param>"
    ));
    assert!(parse_call(body.as_bytes(), &limits).is_ok());
    let body = body.replacen("<data>", "<data><value/>", 1);
    assert_eq!(fault(parse_call(body.as_bytes(), &limits), "i4"), -32600);
    let limits = Limits {
        max_body: 10,
        ..Limits::default()
    };
    assert_eq!(fault(parse_call(body.as_bytes(), &limits), "i4"), -32600);
}

#[test]
fn integers_out_of_range_are_refused() {
    for xml in [
        "<value><int>9223372036854775808</int></value>",
        "<value><i4>-9223372036854775809</i4></value>",
        "<value><i8>9223372036854775808</i8></value>",
        "<value><int>1.0</int></value>",
        "<value><int></int></value>",
    ] {
        assert_eq!(fault(one(xml), "92233720"), -32600, "{xml}");
    }
}

#[test]
fn bad_scalar_text_is_refused_without_quoting_it() {
    for xml in [
        "<value><int>SECRET</int></value>",
        "<value><boolean>SECRET</boolean></value>",
        "<value><boolean>true</boolean></value>",
        "<value><double>SECRET</double></value>",
        "<value><double>NaN</double></value>",
        "<value><double>inf</double></value>",
        "<value><base64>SECRET!!</base64></value>",
        "<value><dateTime.iso8601>SECRET</dateTime.iso8601></value>",
    ] {
        assert_eq!(fault(one(xml), "SECRET"), -32600, "{xml}");
    }
}

#[test]
fn malformed_xml_is_32700_and_not_quoted() {
    for body in [
        "",
        "   ",
        "SECRET garbage",
        "<methodCall><methodName>SECRET</methodName>",
        "<methodCall><methodName>SECRET</methodCall>",
        "<methodCall><methodName>a</methodName></methodCall><SECRET/>",
        "<methodCall><methodName>a</methodName></methodCall>SECRET",
        "<methodCall><methodName>a</methodName></SECRET></methodCall>",
        "<methodCall><methodName a='SECRET>a</methodName></methodCall>",
        "<methodCall><methodName>a&SECRET</methodName></methodCall>",
        "<methodCall><!-- SECRET",
        "<methodCall><methodName>a</methodName></methodCall",
    ] {
        assert_eq!(fault(call(body), "SECRET"), -32700, "{body:?}");
    }
    let latin1 = b"<methodCall><methodName>SECRET\xe9</methodName></methodCall>";
    let result = parse_call(latin1, &Limits::default());
    assert_eq!(fault(result, "SECRET"), -32700);
}

#[test]
fn well_formed_non_calls_are_32600() {
    let response = "<?xml version=\"1.0\"?><methodResponse><params><param><value>\
                    <string>SECRET</string></value></param></params></methodResponse>";
    assert_eq!(fault(call(response), "SECRET"), -32600);
    for body in [
        "<methodCall></methodCall>",
        "<methodCall><params/></methodCall>",
        "<methodCall><methodName></methodName></methodCall>",
        "<methodCall><methodName>SECRET name</methodName></methodCall>",
        "<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>",
        "<methodCall><methodName>a</methodName><params>SECRET</params></methodCall>",
        "<methodCall><methodName>a</methodName><params><param/></params></methodCall>",
        "<methodCall><methodName>a</methodName><SECRET_LONG_ELEMENT_NAME_THAT_IS_NOT_QUOTED/></methodCall>",
    ] {
        assert_eq!(fault(call(body), "SECRET"), -32600, "{body}");
    }
    for xml in [
        "<value><int>1</int><int>2</int></value>",
        "<value>SECRET<int>1</int></value>",
        "<value><int>1</int>SECRET</value>",
        "<value><nil>SECRET</nil></value>",
        "<value><bogus>1</bogus></value>",
        "<value><array><value/></array></value>",
        "<value><struct><member><name>k</name></member></struct></value>",
        "<value><struct><member><value/></member></struct></value>",
        "<value><struct><value/></struct></value>",
        "<value><int><int>1</int></int></value>",
    ] {
        assert_eq!(fault(one(xml), "SECRET"), -32600, "{xml}");
    }
}

#[test]
fn short_element_names_may_be_quoted() {
    let err = call("<methodCall><methodName>a</methodName><bogus/></methodCall>").unwrap_err();
    assert!(err.to_string().contains("<bogus>"), "{err}");
}

proptest! {
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_call(&body, &Limits::default());
    }

    #[test]
    fn random_markup_never_panics(parts in proptest::collection::vec(prop_oneof![
        Just("<methodCall>"), Just("</methodCall>"), Just("<methodName>"), Just("m"),
        Just("</methodName>"), Just("<params>"), Just("</params>"), Just("<param>"),
        Just("</param>"), Just("<value>"), Just("</value>"), Just("<array>"), Just("<data>"),
        Just("</data>"), Just("</array>"), Just("<struct>"), Just("<member>"), Just("<name>"),
        Just("</name>"), Just("</member>"), Just("</struct>"), Just("<int>"), Just("</int>"),
        Just("<nil/>"), Just("&amp;"), Just("&#x41;"), Just("1"), Just(" "),
    ], 0..64)) {
        let _ = parse_call(parts.concat().as_bytes(), &Limits::default());
    }
}
