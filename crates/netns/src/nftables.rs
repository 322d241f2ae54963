//! Switching conntrack on in a namespace: one nf_tables batch installing a rule with a `ct` expression.
//!
//! A fresh network namespace tracks no connections until something there needs conntrack.
//! The rule installed here is `nft add rule inet nfctd out ct state new,established counter`
//! in a base chain `type filter hook output priority 0`. Loading the `ct` expression takes a
//! reference on conntrack for the whole `inet` family of the namespace, which registers the
//! conntrack hooks on prerouting/output/input/postrouting for IPv4 and IPv6: incoming and
//! forwarded traffic is tracked too, so one chain is enough.

use std::os::fd::OwnedFd;

use crate::nl::{Request, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_REQUEST};
use crate::Error;

/// Name of the table this crate owns in each namespace.
pub const TABLE: &str = "nfctd";
/// Name of its base chain (hooked on output).
pub const CHAIN: &str = "out";

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_DELTABLE: u16 = 2;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NFPROTO_INET: u8 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NF_INET_LOCAL_OUT: u32 = 3;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFT_CT_STATE: u32 = 0;
const NFT_REG_1: u32 = 1;
const NFTA_BITWISE_SREG: u16 = 1;
const NFTA_BITWISE_DREG: u16 = 2;
const NFTA_BITWISE_LEN: u16 = 3;
const NFTA_BITWISE_MASK: u16 = 4;
const NFTA_BITWISE_XOR: u16 = 5;
const NFTA_DATA_VALUE: u16 = 1;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFT_CMP_NEQ: u32 = 1;
/// NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_NEW): bits 1 and 3, host byte order.
const CT_STATE_NEW_ESTABLISHED: u32 = (1 << 1) | (1 << 3);

/// Makes the namespace of `nfnl_sock` (a NETLINK_NETFILTER socket) track connections.
///
/// Sends one atomic batch: add table `inet nfctd`, delete it, add it again with its chain and
/// rule. The add-delete-add makes the call idempotent: calling it again replaces the table
/// instead of stacking rules. Every message is ACK-checked.
pub fn enable_conntrack(nfnl_sock: &OwnedFd) -> Result<(), Error> {
    let mut req = Request::new();
    let batch_hdr = nfgenmsg(libc::AF_UNSPEC as u8, NFNL_SUBSYS_NFTABLES);
    req.begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, &batch_hdr, "");
    req.end();

    let create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE;
    add_table(
        &mut req,
        create,
        NFT_MSG_NEWTABLE,
        "adding nftables table inet nfctd",
    );
    add_table(
        &mut req,
        NLM_F_REQUEST | NLM_F_ACK,
        NFT_MSG_DELTABLE,
        "deleting the old nftables table inet nfctd",
    );
    add_table(
        &mut req,
        create,
        NFT_MSG_NEWTABLE,
        "re-adding nftables table inet nfctd",
    );

    req.begin(
        msg_type(NFT_MSG_NEWCHAIN),
        create,
        &inet(),
        "adding nftables chain inet nfctd out (hook output)",
    );
    req.attr_str(NFTA_CHAIN_TABLE, TABLE)
        .attr_str(NFTA_CHAIN_NAME, CHAIN);
    req.nest(NFTA_CHAIN_HOOK)
        .attr_be32(NFTA_HOOK_HOOKNUM, NF_INET_LOCAL_OUT)
        .attr_be32(NFTA_HOOK_PRIORITY, 0)
        .nest_end();
    req.attr_str(NFTA_CHAIN_TYPE, "filter");
    req.end();

    let what = "adding nftables rule `ct state new,established counter`";
    req.begin(
        msg_type(NFT_MSG_NEWRULE),
        create | NLM_F_APPEND,
        &inet(),
        what,
    );
    req.attr_str(NFTA_RULE_TABLE, TABLE)
        .attr_str(NFTA_RULE_CHAIN, CHAIN);
    req.nest(NFTA_RULE_EXPRESSIONS);
    rule_expressions(&mut req);
    req.nest_end();
    req.end();

    req.begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST, &batch_hdr, "");
    req.end();
    req.transact(nfnl_sock)
}

/// ct state → reg1; reg1 = reg1 & (new|established); reg1 != 0; counter.
fn rule_expressions(req: &mut Request) {
    req.nest(NFTA_LIST_ELEM)
        .attr_str(NFTA_EXPR_NAME, "ct")
        .nest(NFTA_EXPR_DATA);
    req.attr_be32(NFTA_CT_DREG, NFT_REG_1)
        .attr_be32(NFTA_CT_KEY, NFT_CT_STATE);
    req.nest_end().nest_end();

    req.nest(NFTA_LIST_ELEM)
        .attr_str(NFTA_EXPR_NAME, "bitwise")
        .nest(NFTA_EXPR_DATA);
    req.attr_be32(NFTA_BITWISE_SREG, NFT_REG_1)
        .attr_be32(NFTA_BITWISE_DREG, NFT_REG_1)
        .attr_be32(NFTA_BITWISE_LEN, 4);
    req.nest(NFTA_BITWISE_MASK)
        .attr(NFTA_DATA_VALUE, &CT_STATE_NEW_ESTABLISHED.to_ne_bytes())
        .nest_end();
    req.nest(NFTA_BITWISE_XOR)
        .attr(NFTA_DATA_VALUE, &0u32.to_ne_bytes())
        .nest_end();
    req.nest_end().nest_end();

    req.nest(NFTA_LIST_ELEM)
        .attr_str(NFTA_EXPR_NAME, "cmp")
        .nest(NFTA_EXPR_DATA);
    req.attr_be32(NFTA_CMP_SREG, NFT_REG_1)
        .attr_be32(NFTA_CMP_OP, NFT_CMP_NEQ);
    req.nest(NFTA_CMP_DATA)
        .attr(NFTA_DATA_VALUE, &0u32.to_ne_bytes())
        .nest_end();
    req.nest_end().nest_end();

    req.nest(NFTA_LIST_ELEM)
        .attr_str(NFTA_EXPR_NAME, "counter")
        .nest_end();
}

fn add_table(req: &mut Request, flags: u16, ty: u16, what: &str) {
    req.begin(msg_type(ty), flags, &inet(), what);
    req.attr_str(NFTA_TABLE_NAME, TABLE);
    req.end();
}

fn msg_type(nft_msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | nft_msg
}

fn inet() -> [u8; 4] {
    nfgenmsg(NFPROTO_INET, 0)
}

/// struct nfgenmsg { nfgen_family: u8, version: u8 (NFNETLINK_V0), res_id: be16 }
fn nfgenmsg(family: u8, res_id: u16) -> [u8; 4] {
    let id = res_id.to_be_bytes();
    [family, 0, id[0], id[1]]
}
