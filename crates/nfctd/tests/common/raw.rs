//! Raw XML-RPC for the cases Python's client will not send (`<i8>`, `<nil/>`,
//! hand-made bodies): a tiny request builder and a response reader that turns
//! a `methodResponse` into the same [`Answer`] the Python client gives.

use serde_json::{json, Map, Value as Json};

use super::{Answer, Daemon};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `<value><string>..</string></value>`
pub fn s(text: &str) -> String {
    format!("<value><string>{}</string></value>", escape(text))
}

/// `<value><int>..</int></value>` (any number: the server decides whether it fits)
pub fn int(n: i64) -> String {
    format!("<value><int>{n}</int></value>")
}

/// `<value><i8>..</i8></value>`
pub fn i8(n: i64) -> String {
    format!("<value><i8>{n}</i8></value>")
}

pub fn boolean(b: bool) -> String {
    format!("<value><boolean>{}</boolean></value>", u8::from(b))
}

pub fn nil() -> String {
    "<value><nil/></value>".to_string()
}

pub fn array(items: &[String]) -> String {
    format!(
        "<value><array><data>{}</data></array></value>",
        items.concat()
    )
}

pub fn strukt(members: &[(&str, String)]) -> String {
    let inner: String = members
        .iter()
        .map(|(k, v)| format!("<member><name>{}</name>{v}</member>", escape(k)))
        .collect();
    format!("<value><struct>{inner}</struct></value>")
}

/// A whole `methodCall` body.
pub fn call(method: &str, params: &[String]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param>{p}</param>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    )
}

impl Daemon {
    /// Posts a hand-built call to /RPC2; panics unless HTTP 200.
    pub fn raw(&self, method: &str, params: &[String]) -> Answer {
        self.post_call(&call(method, params))
    }

    /// Posts a whole call body to /RPC2; panics unless HTTP 200.
    pub fn post_call(&self, body: &str) -> Answer {
        let (status, answer) = self.post("/RPC2", body.as_bytes());
        assert_eq!(status, 200, "HTTP {status}: {answer}");
        parse_response(&answer)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open(String),
    Close(String),
    Empty(String),
    Text(String),
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("entity end") + at;
        let name = &rest[at + 1..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ if name.starts_with("#x") => {
                char::from_u32(u32::from_str_radix(&name[2..], 16).unwrap()).unwrap()
            }
            _ if name.starts_with('#') => char::from_u32(name[1..].parse().unwrap()).unwrap(),
            _ => panic!("unknown entity {name}"),
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn tokens(xml: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        if let Some(tail) = rest.strip_prefix('<') {
            let end = tail.find('>').expect("tag end");
            let tag = &tail[..end];
            rest = &tail[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            let name = |t: &str| t.split_whitespace().next().unwrap_or("").to_string();
            if let Some(closing) = tag.strip_prefix('/') {
                out.push(Token::Close(name(closing)));
            } else if let Some(empty) = tag.strip_suffix('/') {
                out.push(Token::Empty(name(empty)));
            } else {
                out.push(Token::Open(name(tag)));
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            out.push(Token::Text(unescape(&rest[..end])));
            rest = &rest[end..];
        }
    }
    out
}

struct Reader {
    tokens: Vec<Token>,
    at: usize,
}

impl Reader {
    fn next(&mut self) -> Token {
        let t = self.tokens[self.at].clone();
        self.at += 1;
        t
    }

    /// The next token that is not whitespace-only text.
    fn next_tag(&mut self) -> Token {
        loop {
            match self.next() {
                Token::Text(t) if t.trim().is_empty() => continue,
                other => return other,
            }
        }
    }

    fn expect_open(&mut self, name: &str) {
        assert_eq!(self.next_tag(), Token::Open(name.into()));
    }

    fn expect_close(&mut self, name: &str) {
        assert_eq!(self.next_tag(), Token::Close(name.into()));
    }

    /// Text up to the closing tag `name`.
    fn text_until(&mut self, name: &str) -> String {
        let mut text = String::new();
        loop {
            match self.next() {
                Token::Text(t) => text.push_str(&t),
                Token::Close(n) if n == name => return text,
                other => panic!("unexpected {other:?} in <{name}>"),
            }
        }
    }

    fn value(&mut self) -> Json {
        match self.next_tag() {
            Token::Open(n) if n == "value" => {}
            Token::Empty(n) if n == "value" => return json!(""),
            other => panic!("expected <value>, got {other:?}"),
        }
        let mut untyped = String::new();
        let v = loop {
            match self.next() {
                Token::Text(t) => untyped.push_str(&t),
                Token::Close(n) if n == "value" => return Json::String(untyped),
                Token::Empty(n) => {
                    let local = n.rsplit(':').next().unwrap().to_string();
                    break match local.as_str() {
                        "nil" => Json::Null,
                        "string" => json!(""),
                        "struct" => json!({}),
                        other => panic!("empty <{other}/>"),
                    };
                }
                Token::Open(n) => break self.typed(&n),
                other => panic!("unexpected {other:?}"),
            }
        };
        self.expect_close("value");
        v
    }

    fn typed(&mut self, tag: &str) -> Json {
        match tag {
            "int" | "i4" | "i8" => {
                let t = self.text_until(tag);
                let n: i64 = t.trim().parse().expect("integer");
                json!(n)
            }
            "boolean" => json!(self.text_until(tag).trim() == "1"),
            "string" => Json::String(self.text_until(tag)),
            "double" => json!(self.text_until(tag).trim().parse::<f64>().unwrap()),
            "dateTime.iso8601" => json!({"$datetime": self.text_until(tag).trim()}),
            "base64" => json!({"$base64": self.text_until(tag).trim()}),
            "array" => {
                let mut items = Vec::new();
                match self.next_tag() {
                    Token::Empty(d) if d == "data" => {}
                    Token::Open(d) if d == "data" => loop {
                        let save = self.at;
                        match self.next_tag() {
                            Token::Close(d) if d == "data" => break,
                            _ => {
                                self.at = save;
                                items.push(self.value());
                            }
                        }
                    },
                    other => panic!("expected <data>, got {other:?}"),
                }
                self.expect_close("array");
                Json::Array(items)
            }
            "struct" => {
                let mut map = Map::new();
                loop {
                    match self.next_tag() {
                        Token::Close(n) if n == "struct" => break,
                        Token::Open(n) if n == "member" => {
                            self.expect_open("name");
                            let name = self.text_until("name");
                            let v = self.value();
                            self.expect_close("member");
                            map.insert(name, v);
                        }
                        other => panic!("unexpected {other:?} in <struct>"),
                    }
                }
                Json::Object(map)
            }
            other => panic!("unknown type <{other}>"),
        }
    }
}

/// Reads a `methodResponse` body into a value or a fault.
pub fn parse_response(body: &str) -> Answer {
    let mut r = Reader {
        tokens: tokens(body),
        at: 0,
    };
    r.expect_open("methodResponse");
    match r.next_tag() {
        Token::Open(n) if n == "params" => {
            r.expect_open("param");
            Answer::Ok(r.value())
        }
        Token::Open(n) if n == "fault" => {
            let f = r.value();
            Answer::Fault(
                f["faultCode"].as_i64().expect("faultCode"),
                f["faultString"].as_str().expect("faultString").to_string(),
            )
        }
        other => panic!("not a methodResponse: {other:?} in {body}"),
    }
}
