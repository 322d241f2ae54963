//! Parsing valid calls: every type, entities, what Python and Apache clients send.

use super::{call, one, with_params};
use crate::Value;

const PYTHON_VIEW: &str = "<?xml version='1.0'?>
<methodCall>
<methodName>view</methodName>
<params>
<param>
<value><string>abc</string></value>
</param>
<param>
<value><struct>
<member>
<name>proto</name>
<value><string>tcp</string></value>
</member>
<member>
<name>port</name>
<value><array><data>
<value><int>22</int></value>
<value><int>80</int></value>
</data></array></value>
</member>
</struct></value>
</param>
<param>
<value><string></string></value>
</param>
<param>
<value><string>ASC</string></value>
</param>
<param>
<value><int>0</int></value>
</param>
<param>
<value><int>50</int></value>
</param>
</params>
</methodCall>
";

#[test]
fn python_view_request_parses() {
    let call = call(PYTHON_VIEW).unwrap();
    assert_eq!(call.name, "view");
    let filters = Value::Struct(vec![
        ("proto".into(), Value::str("tcp")),
        (
            "port".into(),
            Value::Array(vec![Value::Int(22), Value::Int(80)]),
        ),
    ]);
    let expected = vec![
        Value::str("abc"),
        filters,
        Value::str(""),
        Value::str("ASC"),
        Value::Int(0),
        Value::Int(50),
    ];
    assert_eq!(call.params, expected);
}

#[test]
fn python_login_without_arguments_parses() {
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>login</methodName>\n\
                <params>\n</params>\n</methodCall>\n";
    let call = call(body).unwrap();
    assert_eq!((call.name.as_str(), call.params.len()), ("login", 0));
}

#[test]
fn params_element_may_be_absent_or_empty() {
    let body = "<methodCall><methodName>system.listMethods</methodName></methodCall>";
    assert_eq!(call(body).unwrap().params, vec![]);
    let body = "<methodCall><methodName>a</methodName><params/></methodCall>";
    assert_eq!(call(body).unwrap().params, vec![]);
}

#[test]
fn python_scalars_parse() {
    // As Python 3's marshaller writes them (base64 with its line breaks).
    let cases = [
        ("<value><boolean>1</boolean></value>", Value::Bool(true)),
        ("<value><boolean>0</boolean></value>", Value::Bool(false)),
        ("<value><double>0.5</double></value>", Value::Double(0.5)),
        (
            "<value><double>-1e-07</double></value>",
            Value::Double(-1e-7),
        ),
        (
            "<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>",
            Value::DateTime("20240102T03:04:05".into()),
        ),
        (
            "<value><base64>\naGVsbG8gd29y\nbGQ=\n</base64></value>",
            Value::Base64(b"hello world".to_vec()),
        ),
        ("<value><nil/></value>", Value::Nil),
    ];
    for (xml, expected) in cases {
        assert_eq!(one(xml).unwrap(), expected, "{xml}");
    }
}

#[test]
fn every_integer_tag_is_accepted() {
    assert_eq!(one("<value><int>-7</int></value>").unwrap(), Value::Int(-7));
    // Frontier::Client and Ruby send numbers beyond 32 bits in <i4>/<int>.
    assert_eq!(
        one("<value><i4>3398211665</i4></value>").unwrap(),
        Value::Int(3_398_211_665)
    );
    assert_eq!(
        one("<value><int>-2147483649</int></value>").unwrap(),
        Value::Int(-2_147_483_649)
    );
    assert_eq!(one("<value><i4> 7 </i4></value>").unwrap(), Value::Int(7));
    assert_eq!(
        one("<value><i8>9223372036854775807</i8></value>").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        one("<value><i8>-9223372036854775808</i8></value>").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(
        one("<value><int>2147483647</int></value>").unwrap(),
        Value::Int(2147483647)
    );
    assert_eq!(
        one("<value><i4>-2147483648</i4></value>").unwrap(),
        Value::Int(-2147483648)
    );
}

#[test]
fn apache_ex_nil_and_i8_are_accepted() {
    let xml =
        "<value><ex:nil xmlns:ex=\"http://ws.apache.org/xmlrpc/namespaces/extensions\"/></value>";
    assert_eq!(one(xml).unwrap(), Value::Nil);
    assert_eq!(
        one("<value><ex:i8>5</ex:i8></value>").unwrap(),
        Value::Int(5)
    );
}

#[test]
fn untyped_value_is_a_string_kept_verbatim() {
    assert_eq!(one("<value> a b </value>").unwrap(), Value::str(" a b "));
    assert_eq!(one("<value></value>").unwrap(), Value::str(""));
    assert_eq!(one("<value/>").unwrap(), Value::str(""));
    assert_eq!(one("<value><string/></value>").unwrap(), Value::str(""));
    assert_eq!(
        one("<value><string> x\ny </string></value>").unwrap(),
        Value::str(" x\ny ")
    );
}

#[test]
fn references_and_cdata_are_decoded() {
    let xml = "<value><string>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;</string></value>";
    assert_eq!(one(xml).unwrap(), Value::str("&<>\"'AB\u{1F600}"));
    let xml = "<value>a&amp;b</value>";
    assert_eq!(one(xml).unwrap(), Value::str("a&b"));
    let xml = "<value><string><![CDATA[<x>&amp;]]></string></value>";
    assert_eq!(one(xml).unwrap(), Value::str("<x>&amp;"));
    let xml = "<value><string>a&#13;\r\nb</string></value>";
    assert_eq!(one(xml).unwrap(), Value::str("a\r\nb"));
}

#[test]
fn containers_nest_and_may_be_empty() {
    let xml = "<value><struct/></value>";
    assert_eq!(one(xml).unwrap(), Value::Struct(vec![]));
    let xml = "<value><array><data/></array></value>";
    assert_eq!(one(xml).unwrap(), Value::Array(vec![]));
    let xml = "<value><array><data><value><struct><member><value><i4>1</i4></value>\
               <name>k</name></member></struct></value><value>s</value></data></array></value>";
    let expected = Value::Array(vec![
        Value::Struct(vec![("k".into(), Value::Int(1))]),
        Value::str("s"),
    ]);
    assert_eq!(one(xml).unwrap(), expected);
}

#[test]
fn comments_whitespace_and_bom_are_ignored() {
    let body = format!(
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- hi -->\n{}\n<!-- bye -->\n",
        with_params("<!-- c --><param> <value> <int>1</int> </value> </param>")
    )
    .replacen("<?xml version=\"1.0\"?>", "", 1);
    assert_eq!(call(&body).unwrap().params, vec![Value::Int(1)]);
}

#[test]
fn iso_8859_1_is_decoded_when_declared() {
    let body = b"<?xml version='1.0' encoding='iso-8859-1'?>\n<methodCall>\
        <methodName>m</methodName><params><param><value><string>\xe9</string></value>\
        </param></params></methodCall>";
    let call = crate::parse_call(body, &crate::Limits::default()).unwrap();
    assert_eq!(call.params, vec![Value::str("é")]);
    let body = "<?xml version='1.0' encoding='utf-16'?><methodCall/>";
    assert_eq!(call_fault_code(body), -32700);
}

fn call_fault_code(body: &str) -> i32 {
    super::fault(call(body), "utf-16")
}
