//! Parsing a `methodCall` body, event by event on quick-xml's reader, with an explicit
//! stack of open elements (no recursion) so limits hold while reading.
//!
//! Hardening: a DOCTYPE (hence any DTD or custom entity) is refused at once, so no
//! entity is ever expanded; only the five predefined entities and character references
//! resolve. Processing instructions are refused; an XML declaration is allowed only at
//! the very start. Nesting of `<value>` and the count of values and members are
//! checked as each element opens. Raw control characters in text are passed through
//! (quick-xml does not check them); the renderer replaces them on the way out.
//!
//! Leniency, as Python's unmarshaller: element names match by local name (any
//! namespace prefix, e.g. Apache's `<ex:nil/>`, is dropped); `<params>` may be
//! absent; `<array>` without `<data>` is empty; struct members keep their order and
//! duplicates are kept (the first wins for [`Value::member`]).

use quick_xml::errors::{Error as XmlError, IllFormedError};
use quick_xml::events::{BytesRef, Event};
use quick_xml::Reader;

use super::decode::body_text;
use super::error::quote_name;
use super::scalar::{is_xml_space, Scalar};
use super::{CodecError, Limits, MethodCall, MAX_METHOD_NAME};
use crate::Value;

/// Parses one XML-RPC `methodCall`.
pub fn parse_call(body: &[u8], limits: &Limits) -> Result<MethodCall, CodecError> {
    if body.len() > limits.max_body {
        return Err(CodecError::call("body too large", limits.max_body as u64));
    }
    let text = body_text(body)?;
    let mut reader = Reader::from_str(&text);
    reader.config_mut().expand_empty_elements = true;
    let mut parser = Parser {
        limits,
        stack: Vec::new(),
        depth: 0,
        values: 0,
        done: None,
    };
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| CodecError::xml(xml_error(&e), reader.error_position()))?;
        match event {
            Event::Decl(_) if pos != 0 => {
                return Err(CodecError::xml("XML declaration not at the start", pos))
            }
            Event::Decl(_) => {}
            Event::DocType(_) => return Err(CodecError::xml("DOCTYPE is not allowed", pos)),
            Event::PI(_) => {
                return Err(CodecError::xml(
                    "processing instructions are not allowed",
                    pos,
                ))
            }
            Event::Comment(_) => {}
            Event::Start(start) | Event::Empty(start) => {
                parser.start(start.name().as_ref(), start.local_name().as_ref(), pos)?
            }
            Event::End(_) => parser.end(pos)?,
            Event::Text(t) => parser.text(&t.xml10_content(), pos)?,
            Event::CData(c) => parser.text(&c.xml10_content(), pos)?,
            Event::GeneralRef(r) => {
                let c = resolve_ref(&r).map_err(|what| CodecError::xml(what, pos))?;
                parser.text(c.encode_utf8(&mut [0; 4]), pos)?
            }
            Event::Eof => return parser.finish(reader.buffer_position()),
        }
    }
}

/// An open element and what it has collected so far.
enum Frame {
    Call {
        name: Option<String>,
        params: Option<Vec<Value>>,
    },
    MethodName(String),
    Params(Vec<Value>),
    Param(Option<Value>),
    Value {
        text: String,
        typed: Option<Value>,
    },
    Scalar(Scalar, String),
    Nil,
    Struct(Vec<(String, Value)>),
    Member {
        name: Option<String>,
        value: Option<Value>,
    },
    Name(String),
    Array(Option<Vec<Value>>),
    Data(Vec<Value>),
}

impl Frame {
    fn tag(&self) -> &'static str {
        match self {
            Frame::Call { .. } => "methodCall",
            Frame::MethodName(_) => "methodName",
            Frame::Params(_) => "params",
            Frame::Param(_) => "param",
            Frame::Value { .. } => "value",
            Frame::Scalar(s, _) => s.tag(),
            Frame::Nil => "nil",
            Frame::Struct(_) => "struct",
            Frame::Member { .. } => "member",
            Frame::Name(_) => "name",
            Frame::Array(_) => "array",
            Frame::Data(_) => "data",
        }
    }
}

struct Parser<'l> {
    limits: &'l Limits,
    stack: Vec<Frame>,
    /// Open `<value>` elements.
    depth: usize,
    /// `<value>` and `<member>` elements seen.
    values: usize,
    done: Option<MethodCall>,
}

impl Parser<'_> {
    fn start(&mut self, qname: &str, local: &str, pos: u64) -> Result<(), CodecError> {
        let Some(top) = self.stack.last() else {
            if self.done.is_some() {
                return Err(CodecError::xml("content after the root element", pos));
            }
            if local != "methodCall" {
                let what = format!("root is {}, not <methodCall>", quote_name(qname));
                return Err(CodecError::call(&what, pos));
            }
            self.stack.push(Frame::Call {
                name: None,
                params: None,
            });
            return Ok(());
        };
        let open_value = matches!(
            (top, local),
            (Frame::Param(None), "value")
                | (Frame::Data(_), "value")
                | (Frame::Member { value: None, .. }, "value")
        );
        let in_value = matches!(top, Frame::Value { typed: None, .. });
        let frame = match (top, local) {
            _ if open_value => self.open_value(pos)?,
            (Frame::Call { name: None, .. }, "methodName") => Frame::MethodName(String::new()),
            (
                Frame::Call {
                    name: Some(_),
                    params: None,
                },
                "params",
            ) => Frame::Params(Vec::new()),
            (Frame::Params(_), "param") => Frame::Param(None),
            (Frame::Struct(_), "member") => {
                self.count(pos)?;
                Frame::Member {
                    name: None,
                    value: None,
                }
            }
            (Frame::Member { name: None, .. }, "name") => Frame::Name(String::new()),
            (Frame::Array(None), "data") => Frame::Data(Vec::new()),
            (_, "struct") if in_value => Frame::Struct(Vec::new()),
            (_, "array") if in_value => Frame::Array(None),
            (_, "nil") if in_value => Frame::Nil,
            (_, tag) => match Scalar::from_tag(tag) {
                Some(scalar) if in_value => Frame::Scalar(scalar, String::new()),
                _ => {
                    let what = format!("unexpected {} in <{}>", quote_name(qname), top.tag());
                    return Err(CodecError::call(&what, pos));
                }
            },
        };
        self.stack.push(frame);
        Ok(())
    }

    fn open_value(&mut self, pos: u64) -> Result<Frame, CodecError> {
        if self.depth >= self.limits.max_depth {
            let what = format!("values nested deeper than {}", self.limits.max_depth);
            return Err(CodecError::call(&what, pos));
        }
        self.count(pos)?;
        self.depth += 1;
        Ok(Frame::Value {
            text: String::new(),
            typed: None,
        })
    }

    fn count(&mut self, pos: u64) -> Result<(), CodecError> {
        self.values += 1;
        if self.values > self.limits.max_values {
            let what = format!("more than {} values", self.limits.max_values);
            return Err(CodecError::call(&what, pos));
        }
        Ok(())
    }

    fn text(&mut self, s: &str, pos: u64) -> Result<(), CodecError> {
        match self.stack.last_mut() {
            Some(
                Frame::MethodName(buf)
                | Frame::Value { text: buf, .. }
                | Frame::Scalar(_, buf)
                | Frame::Name(buf),
            ) => buf.push_str(s),
            Some(frame) if !is_blank(s) => {
                let what = format!("text in <{}>", frame.tag());
                return Err(CodecError::call(&what, pos));
            }
            None if !is_blank(s) => {
                return Err(CodecError::xml("text outside the root element", pos))
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, pos: u64) -> Result<(), CodecError> {
        let Some(frame) = self.stack.pop() else {
            return Err(CodecError::xml("end tag without start tag", pos));
        };
        let tag = frame.tag();
        let missing = |child: &str| CodecError::call(&format!("<{tag}> without <{child}>"), pos);
        let value = match frame {
            Frame::Call { name, params } => {
                let name = name.ok_or_else(|| missing("methodName"))?;
                let params = params.unwrap_or_default();
                self.done = Some(MethodCall { name, params });
                return Ok(());
            }
            Frame::MethodName(name) => {
                let name = name.trim_matches(is_xml_space);
                if !method_name_ok(name) {
                    return Err(CodecError::call("invalid <methodName>", pos));
                }
                if let Some(Frame::Call { name: slot, .. }) = self.stack.last_mut() {
                    *slot = Some(name.to_string());
                }
                return Ok(());
            }
            Frame::Params(list) => {
                if let Some(Frame::Call { params, .. }) = self.stack.last_mut() {
                    *params = Some(list);
                }
                return Ok(());
            }
            Frame::Param(value) => {
                let value = value.ok_or_else(|| missing("value"))?;
                if let Some(Frame::Params(list)) = self.stack.last_mut() {
                    list.push(value);
                }
                return Ok(());
            }
            Frame::Name(name) => {
                if let Some(Frame::Member { name: slot, .. }) = self.stack.last_mut() {
                    *slot = Some(name);
                }
                return Ok(());
            }
            Frame::Data(items) => {
                if let Some(Frame::Array(slot)) = self.stack.last_mut() {
                    *slot = Some(items);
                }
                return Ok(());
            }
            Frame::Member { name, value } => {
                let name = name.ok_or_else(|| missing("name"))?;
                let value = value.ok_or_else(|| missing("value"))?;
                if let Some(Frame::Struct(members)) = self.stack.last_mut() {
                    members.push((name, value));
                }
                return Ok(());
            }
            Frame::Value { text, typed } => {
                self.depth -= 1;
                return self.close_value(text, typed, pos);
            }
            Frame::Scalar(scalar, text) => scalar.decode(text).ok_or_else(|| {
                CodecError::call(&format!("invalid <{}> value", scalar.tag()), pos)
            })?,
            Frame::Nil => Value::Nil,
            Frame::Struct(members) => Value::Struct(members),
            Frame::Array(items) => Value::Array(items.unwrap_or_default()),
        };
        // A typed child closes into its `<value>` (the only parent `start` allows).
        if let Some(Frame::Value { typed, .. }) = self.stack.last_mut() {
            *typed = Some(value);
        }
        Ok(())
    }

    /// A `<value>` closes into its `<param>`, `<data>` or `<member>`.
    fn close_value(
        &mut self,
        text: String,
        typed: Option<Value>,
        pos: u64,
    ) -> Result<(), CodecError> {
        let value = match typed {
            Some(value) if is_blank(&text) => value,
            Some(_) => return Err(CodecError::call("text beside a typed <value>", pos)),
            None => Value::Str(text),
        };
        match self.stack.last_mut() {
            Some(Frame::Param(slot) | Frame::Member { value: slot, .. }) => *slot = Some(value),
            Some(Frame::Data(items)) => items.push(value),
            _ => {}
        }
        Ok(())
    }

    fn finish(self, pos: u64) -> Result<MethodCall, CodecError> {
        match (self.stack.last(), self.done) {
            (Some(frame), _) => {
                let what = format!("input ends inside <{}>", frame.tag());
                Err(CodecError::xml(&what, pos))
            }
            (None, Some(call)) => Ok(call),
            (None, None) => Err(CodecError::xml("no root element", pos)),
        }
    }
}

fn is_blank(s: &str) -> bool {
    s.chars().all(is_xml_space)
}

fn method_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_METHOD_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/'))
}

/// A character or predefined entity reference; any other entity is undeclared (no
/// DTD is ever read), which makes the document not well-formed.
fn resolve_ref(r: &BytesRef) -> Result<char, &'static str> {
    match r.resolve_char_ref() {
        Ok(Some(c)) if is_xml_char(c) => Ok(c),
        Ok(Some(_)) | Err(_) => Err("invalid character reference"),
        Ok(None) => match &**r {
            "amp" => Ok('&'),
            "lt" => Ok('<'),
            "gt" => Ok('>'),
            "quot" => Ok('"'),
            "apos" => Ok('\''),
            _ => Err("undefined entity"),
        },
    }
}

/// XML 1.0's Char production (Rust chars are never surrogates).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// quick-xml's own messages quote element names from the input; ours do not.
fn xml_error(e: &XmlError) -> &'static str {
    match e {
        XmlError::Syntax(_) => "syntax error (unclosed tag, comment or declaration)",
        XmlError::IllFormed(IllFormedError::MismatchedEndTag { .. }) => "mismatched end tag",
        XmlError::IllFormed(IllFormedError::UnmatchedEndTag(_)) => "end tag without start tag",
        XmlError::IllFormed(IllFormedError::MissingEndTag(_)) => "unclosed element",
        XmlError::IllFormed(IllFormedError::UnclosedReference) => "unterminated reference",
        XmlError::IllFormed(_) => "ill-formed markup",
        XmlError::InvalidAttr(_) => "malformed attribute",
        XmlError::Escape(_) => "invalid reference",
        XmlError::Encoding(_) | XmlError::Io(_) | XmlError::Namespace(_) => "unreadable input",
    }
}
