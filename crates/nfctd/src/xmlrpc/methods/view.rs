//! `view(sid, filters, order_by, order_dir, start, length)` -> one page.

use crate::service::{PageRange, ViewRequest};
use crate::xmlrpc::method::{Cost, Ctx, Method};
use crate::xmlrpc::Value;
use crate::xmlrpc::{reply, Fault, Params};
use nfctd_table::query::Order;

pub const METHOD: Method = Method {
    name: "view",
    signatures: &[&["struct", "string", "struct", "string", "string", "int", "int"]],
    help: "view(sid, filters, order_by, order_dir, start, length) -> {total, start, length, table_size, autorefresh, snapshot, connections}. Empty or nil arguments mean: no filter, order by id, ascending, from 0, length 0 (totals only).",
    cost: Cost::Heavy,
    handler,
};

fn handler(ctx: &Ctx<'_>, p: &Params<'_>) -> Result<Value, Fault> {
    let filter = p.filters(1)?;
    let order = Order::parse(p.opt_str(2, "order_by")?, p.opt_str(3, "order_dir")?)
        .map_err(crate::service::ApiError::from)?;
    let page = PageRange::new(
        p.opt_int(4, "start")?.unwrap_or(0),
        p.opt_int(5, "length")?.unwrap_or(0),
    )?;
    let request = ViewRequest {
        filter,
        order,
        page,
    };
    Ok(reply::view_page(&ctx.service.view(p.sid()?, &request)?))
}
