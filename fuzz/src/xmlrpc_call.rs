//! Target `xmlrpc_call`: a request body through the XML-RPC codec and the
//! parameter door, without a live service.
//!
//! Bytes go to `parse_call`. When they parse, every parameter is read every
//! way a method reads one (`filters`, `opt_int`, `int`, `id`, `ids`, `flag`,
//! `opt_str`), as are the parameters of each call inside a
//! `system.multicall`; a filter that converts is compiled and, when it
//! compiles, run over a fixed table (see `table::check_query`). Faults are
//! rendered and must parse back. Finally the parameters, as one array, are
//! rendered as a response and parsed back: that must succeed, and rendering
//! the result again must give the same body (the codec's round trip).

use nfctd::fuzzing::{ApiError, Fault, PageRange, Params};
use nfctd_table::query::{Filter, Order};
use xmlrpc_codec::{parse_call, render_response, Limits, Value, WideInt};

use crate::table::{check_query, context};

pub fn run(data: &[u8]) {
    let limits = Limits::default();
    let Ok(call) = parse_call(data, &limits) else {
        return;
    };
    door(&call.params);
    if call.name == "system.multicall" {
        if let Some(Value::Array(calls)) = call.params.first() {
            for inner in calls {
                if let Some(Value::Array(params)) = inner.member("params") {
                    door(params);
                }
            }
        }
    }
    round_trip(&Value::Array(call.params), &limits);
}

/// Reads the parameters as the methods do.
fn door(values: &[Value]) {
    let p = match Params::new("m", values, 0, 99) {
        Ok(p) => p,
        Err(fault) => return check_fault(&fault),
    };
    for i in 0..p.len().min(8) {
        match p.filters(i) {
            Ok(spec) => match Filter::compile(&spec) {
                Ok(filter) => view(&p, &filter),
                Err(e) => check_fault(&Fault::from(ApiError::from(e))),
            },
            Err(fault) => check_fault(&fault),
        }
        ok_or_fault(p.opt_int(i, "start"));
        ok_or_fault(p.int(i, "length"));
        ok_or_fault(p.id(i));
        ok_or_fault(p.ids(i));
        ok_or_fault(p.flag(i, "on"));
        ok_or_fault(p.opt_str(i, "order_by"));
        ok_or_fault(p.str(i, "name"));
    }
}

/// A compiled filter run as `view` would, with the order and page read
/// from parameters 3 to 6 as `view` reads them (defaults where they fail).
fn view(p: &Params<'_>, filter: &Filter) {
    let order = match (p.opt_str(2, "order_by"), p.opt_str(3, "order_dir")) {
        (Ok(by), Ok(dir)) => Order::parse(by, dir).unwrap_or_default(),
        _ => Order::default(),
    };
    let page = match (p.opt_int(4, "start"), p.opt_int(5, "length")) {
        (Ok(start), Ok(length)) => PageRange::new(start.unwrap_or(0), length.unwrap_or(0))
            .unwrap_or(PageRange {
                start: 0,
                length: 0,
            }),
        _ => PageRange {
            start: 0,
            length: 0,
        },
    };
    let with_users = p.len().is_multiple_of(2);
    check_query(
        filter,
        &order,
        page.start,
        page.length,
        &context(with_users),
    );
}

fn ok_or_fault<T>(result: Result<T, Fault>) {
    if let Err(fault) = result {
        check_fault(&fault);
    }
}

/// A fault's message repeats little of the input and no control characters,
/// and the fault renders into a body that parses back.
fn check_fault(fault: &Fault) {
    let message = &fault.message;
    assert!(message.chars().count() <= 400, "long fault: {message:?}");
    assert!(
        !message.chars().any(char::is_control),
        "control character in fault: {message:?}"
    );
    round_trip(&fault.to_struct(), &Limits::default());
}

/// Renders `value` as a response and parses it back; the result renders to
/// the same body. Also renders with the other wide-integer modes.
fn round_trip(value: &Value, limits: &Limits) {
    // The array around the parameters is one more value, one level deeper.
    let limits = Limits {
        max_body: usize::MAX,
        max_depth: limits.max_depth + 1,
        max_values: limits.max_values + 1,
    };
    let body = render_response(value, WideInt::I8);
    let back = reparse(&body, &limits);
    assert_eq!(
        render_response(&back, WideInt::I8),
        body,
        "render(parse(render(v))) differs"
    );
    for wide in [WideInt::Double, WideInt::String] {
        let _ = reparse(&render_response(value, wide), &limits);
    }
}

/// The one value of a rendered response, read by the call parser.
fn reparse(response: &str, limits: &Limits) -> Value {
    let as_call = response
        .replacen(
            "<methodResponse><params>",
            "<methodCall><methodName>r</methodName><params>",
            1,
        )
        .replacen("</methodResponse>", "</methodCall>", 1);
    let mut call = match parse_call(as_call.as_bytes(), limits) {
        Ok(call) => call,
        Err(e) => panic!("a rendered response does not parse back: {e}\n{response}"),
    };
    assert_eq!(call.params.len(), 1);
    call.params.remove(0)
}
