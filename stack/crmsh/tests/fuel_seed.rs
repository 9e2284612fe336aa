//! The Fuel controller configuration from the seed document, in its own
//! crm syntax, parsed with the seed's line numbers.

use std::path::PathBuf;

use hasim_cib::ResourceKind;

/// The seed's crm literal blocks (lines indented under a `::` paragraph
/// whose first line is a crm command; the corosync.conf block is not);
/// other lines are blanked so line numbers stay the file's.
pub fn literal_blocks(doc: &str) -> String {
    const CRM: [&str; 5] = ["primitive", "clone", "colocation", "order", "property"];
    let lines: Vec<&str> = doc.lines().collect();
    let mut keep = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].trim_end().ends_with("::") || lines[i].starts_with(' ') {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < lines.len() && (lines[end].trim().is_empty() || lines[end].starts_with("  ")) {
            end += 1;
        }
        let first = lines[start..end].iter().find(|l| !l.trim().is_empty());
        let is_crm = first
            .and_then(|l| l.split_whitespace().next())
            .is_some_and(|w| CRM.contains(&w));
        for k in keep.iter_mut().take(end).skip(start) {
            *k = is_crm;
        }
        i = end;
    }
    let out: Vec<&str> = lines
        .iter()
        .zip(&keep)
        .map(|(l, k)| if *k { *l } else { "" })
        .collect();
    out.join("\n")
}

fn seed() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seeds/001_8a02210644ca144b.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn fuel_configuration_parses_into_the_model() {
    let text = literal_blocks(&seed());
    let cib = hasim_crmsh::parse(&text).unwrap_or_else(|e| panic!("001_8a02210644ca144b.txt:{e}"));
    let clones = cib
        .resources
        .iter()
        .filter(|r| matches!(r.kind, ResourceKind::Clone { .. }))
        .count();
    assert_eq!(clones, 4);
    assert_eq!(cib.primitives().len(), 8);
    assert_eq!(cib.constraints.len(), 9, "5 colocations, 4 orders");
    let vip = cib
        .primitives()
        .into_iter()
        .find(|p| p.id == "vip__public_old")
        .unwrap();
    let xml = hasim_crmsh::to_cib_xml(&text).unwrap();
    assert!(xml.contains(r#"name="ip" value="172.18.94.46""#));
    assert_eq!(vip.ops.len(), 3);
}

#[test]
fn a_broken_seed_line_is_reported_with_its_line() {
    let text = literal_blocks(&seed()).replacen(
        "colocation dhcp-without-l3 -100:",
        "colocation dhcp-without-l3 -100",
        1,
    );
    let e = hasim_crmsh::parse(&text).unwrap_err();
    assert_eq!(e.line, 152, "{e}");
}
