//! Prints the conntrack table of the current network namespace, one entry a line,
//! and the kernel statistics: a debugging aid (`cargo run --example ctdump`).

fn main() -> Result<(), ctnetlink::Error> {
    let mut sock = ctnetlink::CtSocket::open()?;
    let started = std::time::Instant::now();
    let conns = sock.dump_all()?;
    let took = started.elapsed();
    if std::env::args().any(|a| a == "--count") {
        println!("{} entries in {:?}", conns.len(), took);
    } else {
        for c in &conns {
            println!("{c:?}");
        }
    }
    println!("{:?}", sock.stats()?);
    Ok(())
}
