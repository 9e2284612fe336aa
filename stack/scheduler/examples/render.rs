//! Print what hasim's `crm_simulate -S` equivalent prints for a CIB file.
//! Usage: cargo run -p hasim-scheduler --example render -- FILE.xml [--actions]

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: render FILE.xml [--actions]");
        std::process::exit(2);
    };
    let actions = args.any(|a| a == "--actions");
    let xml = match std::fs::read_to_string(&path) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    match hasim_scheduler::simulate::render(&xml) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    }
    if actions {
        let cib = hasim_scheduler::hasim_cib::Cib::from_xml(&xml).expect("parsed above");
        let g = hasim_scheduler::schedule(&cib);
        for a in &g.actions {
            println!(
                "{:>3} {:<10} {:<20} {:<10} pseudo={} runnable={} reason={:?}",
                a.id,
                a.task,
                a.resource.clone().unwrap_or_default(),
                a.node.clone().unwrap_or_default(),
                a.pseudo,
                a.runnable,
                a.reason
            );
        }
        for p in g.placements() {
            println!(
                "placement {} {:?} {:?} -> {:?} {:?}",
                p.resource, p.role, p.running_on, p.next_role, p.node
            );
        }
        for (a, b) in &g.edges {
            println!("  {a} -> {b}");
        }
    }
}
