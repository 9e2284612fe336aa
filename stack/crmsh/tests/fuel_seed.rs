//! The Fuel controller configuration from the seed document, in its own
//! crm syntax, parsed with the seed's line numbers.

use std::path::PathBuf;

use hasim_cib::ResourceKind;

fn seed() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seeds/001_8a02210644ca144b.txt");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn fuel_configuration_parses_into_the_model() {
    let text = hasim_crmsh::rst_crm_blocks(&seed());
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
    let text = hasim_crmsh::rst_crm_blocks(&seed()).replacen(
        "colocation dhcp-without-l3 -100:",
        "colocation dhcp-without-l3 -100",
        1,
    );
    let e = hasim_crmsh::parse(&text).unwrap_err();
    assert_eq!(e.line, 152, "{e}");
}
